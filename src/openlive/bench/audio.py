"""PCM helpers for the benchmark: WAV decoding to the wire's 16 kHz, speech boundaries, silence tests.

Everything here works on 16-bit little-endian mono PCM bytes, the format the client sends and the
server returns. Boundaries are found with a plain frame-energy threshold: the benchmark must judge the
server's turn-taking from the audio it actually sent, so it cannot use the server's own VAD.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr

from openlive.backends.audio import float_to_pcm16 as float_to_pcm16

INPUT_RATE = 16_000
BYTES_PER_SAMPLE = 2
FRAME_MS = 10
# A frame counts as speech when it is within this many dB of the loudest frame of the clip...
RELATIVE_SPEECH_DB = 35.0
# ...and above this absolute floor (so a silent clip has no speech at all).
ABSOLUTE_SPEECH_DBFS = -50.0
# Reply audio below this level in every frame is "silent" (padding, not the start of the answer).
SILENCE_DBFS = -50.0

Int16Array = npt.NDArray[np.int16]


def decode_wav(data: bytes, *, rate: int = INPUT_RATE) -> bytes:
    """A PCM WAV file (8/16/32-bit, any channels, any rate) → mono 16-bit PCM at ``rate``."""
    with wave.open(io.BytesIO(data), "rb") as w:
        channels, width, src_rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 2:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 4:
        x = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    elif width == 1:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    else:
        raise ValueError(f"unsupported WAV sample width {width}")
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    if src_rate != rate:
        x = np.asarray(soxr.resample(x, src_rate, rate, quality="HQ"), dtype=np.float32)
    return float_to_pcm16(x)


def encode_wav(pcm: bytes, *, rate: int = INPUT_RATE) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(BYTES_PER_SAMPLE)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


def samples(pcm: bytes) -> Int16Array:
    usable = len(pcm) - len(pcm) % BYTES_PER_SAMPLE
    return np.frombuffer(pcm[:usable], dtype="<i2").astype(np.int16)


def duration_s(pcm: bytes, rate: int = INPUT_RATE) -> float:
    return len(pcm) / BYTES_PER_SAMPLE / rate


def frame_dbfs(pcm: bytes, rate: int = INPUT_RATE, frame_ms: int = FRAME_MS) -> npt.NDArray[np.float64]:
    """RMS level of each ``frame_ms`` frame in dBFS (a trailing partial frame counts as a frame)."""
    x = samples(pcm).astype(np.float64) / 32768.0
    n = max(1, rate * frame_ms // 1000)
    if x.size == 0:
        return np.zeros(0)
    pad = (-x.size) % n
    frames = np.pad(x, (0, pad)).reshape(-1, n)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return np.asarray(20.0 * np.log10(np.maximum(rms, 1e-10)), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class SpeechSpan:
    """Where the speech is, in samples of the clip: ``onset`` is the first speech sample, ``end`` the
    sample just after the last one."""

    onset: int
    end: int


def speech_span(pcm: bytes, rate: int = INPUT_RATE) -> SpeechSpan | None:
    """First and last speech of a clip by frame energy; None when no frame qualifies (silence, hum)."""
    levels = frame_dbfs(pcm, rate)
    if levels.size == 0:
        return None
    threshold = max(float(levels.max()) - RELATIVE_SPEECH_DB, ABSOLUTE_SPEECH_DBFS)
    loud = np.flatnonzero(levels >= threshold)
    if loud.size == 0 or float(levels.max()) < ABSOLUTE_SPEECH_DBFS:
        return None
    n = rate * FRAME_MS // 1000
    total = len(pcm) // BYTES_PER_SAMPLE
    return SpeechSpan(onset=int(loud[0]) * n, end=min(total, (int(loud[-1]) + 1) * n))


def first_sound_offset(pcm: bytes, rate: int) -> int | None:
    """Index of the first sample of the first frame above the silence level, or None if all silent."""
    levels = frame_dbfs(pcm, rate)
    loud = np.flatnonzero(levels >= SILENCE_DBFS)
    if loud.size == 0:
        return None
    return int(loud[0]) * (rate * FRAME_MS // 1000)


def is_silent(pcm: bytes, rate: int) -> bool:
    return first_sound_offset(pcm, rate) is None


def silence(seconds: float, rate: int = INPUT_RATE) -> bytes:
    return bytes(round(seconds * rate) * BYTES_PER_SAMPLE)


def cut(pcm: bytes, start_s: float, end_s: float | None = None, rate: int = INPUT_RATE) -> bytes:
    a = int(start_s * rate) * BYTES_PER_SAMPLE
    b = len(pcm) if end_s is None else int(end_s * rate) * BYTES_PER_SAMPLE
    return pcm[a:b]
