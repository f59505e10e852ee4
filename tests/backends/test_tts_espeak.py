"""The espeak-ng synthesizer (every language without a neural voice) and the router's choice of voice."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from openlive.backends.audio import pcm16_to_float
from openlive.backends.languages import WHISPER_LANGUAGES
from openlive.backends.tts_espeak import EspeakError, EspeakSynthesizer, parse_wav
from openlive.backends.tts_router import LanguageRoutingSynthesizer
from openlive.stages.speech import OUTPUT_SAMPLE_RATE

if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is needed (scripts/install-system-packages.sh)", allow_module_level=True)

BYTES_PER_S = OUTPUT_SAMPLE_RATE * 2


def rms(pcm: bytes) -> float:
    return float(np.sqrt(np.mean(pcm16_to_float(pcm) ** 2)))


async def collect(stream: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in stream]


@pytest.fixture(scope="module")
def espeak() -> EspeakSynthesizer:
    return EspeakSynthesizer(exclude=("en", "ja"))


def test_parse_wav_reads_espeaks_streamed_header() -> None:
    raw = subprocess.run(
        ["espeak-ng", "-v", "de", "--stdout", "Hallo"], capture_output=True, check=True
    ).stdout
    # espeak-ng writes placeholder sizes (0x7ffff000-ish) since it streams: the data runs to the end.
    assert int.from_bytes(raw[40:44], "little") > len(raw)
    samples, rate = parse_wav(raw)
    assert rate == 22050 and samples.dtype == np.float32 and samples.size == (len(raw) - 44) // 2
    with pytest.raises(EspeakError):
        parse_wav(b"not a wav file at all, but long enough to have a header.....")


def test_speaks_every_language_with_a_voice_except_the_neural_ones(espeak: EspeakSynthesizer) -> None:
    expected = {lang for lang, (_, voice) in WHISPER_LANGUAGES.items() if voice} - {"en", "ja"}
    assert set(espeak.languages()) == expected
    assert {"es", "de", "fr", "zh", "ko", "ru", "ar", "hi"} <= expected and len(expected) >= 70
    assert "espeak-ng:es" in espeak.voices()


async def test_output_is_24khz_pcm_in_short_chunks_one_piece_per_sentence(espeak: EspeakSynthesizer) -> None:
    one = b"".join(await collect(espeak.synthesize("Buenos días.", voice="Puck", language="es")))
    chunks = await collect(espeak.synthesize("Buenos días. ¿Cómo estás hoy?", voice="Puck", language="es"))
    pcm = b"".join(chunks)
    assert len(pcm) % 2 == 0 and max(len(c) for c in chunks) <= BYTES_PER_S // 10  # ≤ 100 ms
    # 24 kHz: "Buenos días." lasts about a second at 150 words a minute (at 22.05 kHz read as 24 it
    # would be 8 % shorter, and at 16 kHz half again as long).
    assert 0.6 < len(one) / BYTES_PER_S < 1.6
    assert len(pcm) > len(one) * 1.5 and rms(pcm) > 0.05


def test_voice_rate_and_gender_carry_over(espeak: EspeakSynthesizer) -> None:
    puck, kore, fenrir = (espeak.command("de", v) for v in ("Puck", "kore", "Fenrir"))
    assert puck[puck.index("-v") + 1] == "de" and kore[kore.index("-v") + 1] == "de+f2"  # Kore is female
    wpm = {name: int(cmd[cmd.index("-s") + 1]) for name, cmd in (("Puck", puck), ("Fenrir", fenrir))}
    assert wpm["Fenrir"] > wpm["Puck"] > 150  # Excitable 1.10 > Upbeat 1.08 > 1.0
    assert "--stdout" in puck and not any("Hallo" in part for part in puck)  # the text goes on stdin


async def test_text_that_looks_like_an_option_is_spoken(espeak: EspeakSynthesizer) -> None:
    assert b"".join(await collect(espeak.synthesize("--help -v xx", voice="Puck", language="fr")))


async def test_unknown_language_is_refused_and_aclose_stops_the_worker() -> None:
    synth = EspeakSynthesizer(exclude=("en", "ja"))
    with pytest.raises(ValueError):
        await collect(synth.synthesize("Hello.", voice="Puck", language="en"))
    await synth.aclose()
    with pytest.raises(RuntimeError):  # the executor is shut down
        await collect(synth.synthesize("Hola.", voice="Puck", language="es"))


def test_missing_binary_is_reported() -> None:
    with pytest.raises(FileNotFoundError):
        EspeakSynthesizer(binary="espeak-ng-not-installed")


class FakeSynth:
    def __init__(self, name: str, languages: list[str]) -> None:
        self.name = name
        self._languages = languages
        self.calls: list[tuple[str, str, str]] = []
        self.closed = False

    def voices(self) -> list[str]:
        return [self.name]

    def languages(self) -> list[str]:
        return self._languages

    async def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]:
        self.calls.append((text, voice, language))
        yield b"\0\0"

    def close(self) -> None:
        self.closed = True


async def test_router_prefers_a_neural_voice_and_uses_espeak_for_the_rest() -> None:
    piper, kokoro, others = (
        FakeSynth("joe", ["en"]),
        FakeSynth("kumo", ["ja"]),
        FakeSynth("esp", ["es", "de"]),
    )
    router = LanguageRoutingSynthesizer(piper, kokoro, others)  # type: ignore[arg-type]
    for text, lang in (
        ("Hi.", "en-US"),
        ("はい。", "ja-JP"),
        ("Hola.", "es-ES"),
        ("Hallo.", "de"),
        ("E kaaro.", "yo"),
    ):
        await collect(router.synthesize(text, voice="kore", language=lang))
    assert [c[0] for c in piper.calls] == ["Hi.", "E kaaro."]  # Yoruba: no voice speaks it
    assert kokoro.calls == [("はい。", "Kore", "ja")]
    assert others.calls == [("Hola.", "Kore", "es"), ("Hallo.", "Kore", "de")]
    assert router.languages() == ["en", "ja", "es", "de"]
    assert [router.engine_for(x) for x in ("en", "ja", "es", "yo")] == [
        "piper",
        "kokoro",
        "espeak-ng",
        "piper",
    ]
    await router.aclose()
    assert piper.closed and kokoro.closed and others.closed


async def test_router_without_espeak_speaks_other_languages_in_english() -> None:
    piper: Any = FakeSynth("joe", ["en"])
    router = LanguageRoutingSynthesizer(piper)
    await collect(router.synthesize("Hola.", voice="Puck", language="es"))
    assert piper.calls == [("Hola.", "Puck", "en")] and router.languages() == ["en"]


@pytest.mark.models
def test_whisper_hears_espeaks_german_as_german(espeak: EspeakSynthesizer) -> None:
    # The point of a robotic voice: the right language. Whisper base, choosing among every language
    # a voice speaks, must identify it (a short sentence in espeak-ng's voice can be heard as Dutch or
    # Latin; a natural-length question is German to it).
    from speech_samples import tts_pcm_to_16k

    from openlive.backends.asr_whisper import WhisperRecognizer, whisper_base_dir
    from openlive.backends.assets import cache_dir

    text = "Guten Tag, kannst du mir bitte sagen, was die Hauptstadt von Frankreich ist?"
    pcm = b"".join(asyncio.run(collect(espeak.synthesize(text, voice="Puck", language="de"))))
    languages = ["en", "ja", *espeak.languages()]
    whisper = WhisperRecognizer(whisper_base_dir(cache_dir(None)), cpu_threads=1, detect_among=languages)
    scores = whisper.identify(tts_pcm_to_16k(pcm))
    assert max(scores, key=scores.__getitem__) == "de", sorted(scores.items(), key=lambda kv: -kv[1])[:3]
    assert "frankreich" in whisper.decode(tts_pcm_to_16k(pcm), "de").text.lower()
