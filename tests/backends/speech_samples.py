"""Test data and model loaders shared by the speech backend tests (imported by name; not a conftest).

Real recordings come from Debian's ``alsa-utils`` (``make test`` installs it): ~1.4 s of a man saying
the file's name, e.g. Front_Center.wav → "Front center", and Noise.wav, a negative for VAD. The models
are the embedded ones, loaded once per test process (they are large and the machine has two cores).
"""

from __future__ import annotations

import functools
import os
import re
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from openlive.backends.asr_whisper import WhisperRecognizer, load_recognizers
from openlive.backends.assets import cache_dir
from openlive.backends.audio import pcm16_to_float, resample
from openlive.backends.tts_kokoro import KokoroJaSynthesizer, kokoro_model_path
from openlive.backends.tts_piper import PiperSynthesizer
from openlive.backends.turn_smart import SmartTurnDetector
from openlive.backends.vad_silero import SileroVad
from openlive.backends.voices import VoiceChoice
from openlive.stages.speech import INPUT_SAMPLE_RATE, OUTPUT_SAMPLE_RATE, Audio

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ALSA_SOUNDS = Path("/usr/share/sounds/alsa")


def read_wav_16k(path: Path) -> Audio:
    """A 16-bit PCM WAV file as mono float32 at 16 kHz."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: install Debian's alsa-utils (make setup-browser does)")
    with wave.open(str(path)) as wav:
        channels, rate = wav.getnchannels(), wav.getframerate()
        assert wav.getsampwidth() == 2, f"{path}: only 16-bit PCM is supported here"
        audio = pcm16_to_float(wav.readframes(wav.getnframes()))
    if channels > 1:
        audio = audio.reshape(-1, channels).mean(axis=1).astype(np.float32)
    return resample(audio, rate, INPUT_SAMPLE_RATE)


def alsa_sample(name: str) -> Audio:
    """e.g. alsa_sample("Front_Center") → the 16 kHz recording of "Front center"."""
    return read_wav_16k(ALSA_SOUNDS / f"{name}.wav")


def tts_pcm_to_16k(pcm: bytes) -> Audio:
    return resample(pcm16_to_float(pcm), OUTPUT_SAMPLE_RATE, INPUT_SAMPLE_RATE)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the reference length (case and punctuation ignored)."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[len(hyp)] / max(1, len(ref))


def model_cache() -> Path:
    return cache_dir()


@functools.cache
def silero_vad() -> SileroVad:
    return SileroVad()


@functools.cache
def smart_turn() -> SmartTurnDetector:
    return SmartTurnDetector()


@functools.cache
def recognizers() -> dict[str, WhisperRecognizer]:
    return load_recognizers(model_cache())


@functools.cache
def piper() -> PiperSynthesizer:
    return PiperSynthesizer()


@functools.cache
def kokoro() -> KokoroJaSynthesizer:
    return KokoroJaSynthesizer(kokoro_model_path(model_cache()))


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


_SPEECH: dict[tuple[str, str], bytes] = {}


async def piper_speech(text: str, voice: str = "Puck") -> bytes:
    """24 kHz PCM of ``text`` by Piper, memoised (several tests listen to the same sentences)."""
    if (text, voice) not in _SPEECH:
        _SPEECH[(text, voice)] = await collect(piper().synthesize(text, voice=voice, language="en"))
    return _SPEECH[(text, voice)]


def rms(audio: Audio) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0


class RenderSpy:
    """Wraps a real synthesizer's ``render`` (the per-piece synthesis step) to record its calls."""

    def __init__(
        self, synth: PiperSynthesizer | KokoroJaSynthesizer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.texts: list[str] = []
        self.voices: list[str] = []
        real = synth.render

        def render(text: str, choice: VoiceChoice) -> bytes:
            self.texts.append(text)
            self.voices.append(choice.voice)
            return real(text, choice)

        monkeypatch.setattr(synth, "render", render)
