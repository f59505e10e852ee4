"""PCM helpers: the Live API speaks 16-bit little-endian mono PCM (16 kHz in, 24 kHz out)."""

from __future__ import annotations

import re
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

INPUT_RATE = 16_000
OUTPUT_RATE = 24_000

AudioArray = npt.NDArray[np.generic]
AudioData = bytes | bytearray | memoryview | AudioArray

_RATE_RE = re.compile(r"rate\s*=\s*(\d+)")


def pcm_mime(sample_rate: int) -> str:
    return f"audio/pcm;rate={int(sample_rate)}"


def rate_from_mime(mime_type: str, default: int = OUTPUT_RATE) -> int:
    """``audio/pcm;rate=24000`` -> 24000; no ``rate`` means the direction's default."""
    match = _RATE_RE.search(mime_type)
    return int(match.group(1)) if match else default


def to_pcm16(audio: AudioData) -> bytes:
    """Bytes pass through (already s16le); arrays become s16le mono.

    Float arrays are taken to be in [-1, 1] and clipped; 2-D arrays are (frames, channels) and are
    mixed down, because the API takes mono only.
    """
    if isinstance(audio, bytes | bytearray | memoryview):
        raw = bytes(audio)
        if len(raw) % 2:
            raise ValueError("16-bit PCM must have an even number of bytes")
        return raw
    arr: npt.NDArray[Any] = np.asarray(audio)
    if arr.ndim == 2:
        # Mixing keeps the sample type: the mean of int16 samples is still an int16 sample, not a float.
        mixed = arr.astype(np.float64).mean(axis=1)
        arr = mixed if arr.dtype.kind == "f" else np.round(mixed).astype(arr.dtype)
    elif arr.ndim != 1:
        raise ValueError(f"audio arrays must be 1-D or (frames, channels), got shape {arr.shape}")
    if arr.dtype.kind == "f":
        scaled = np.clip(arr, -1.0, 1.0) * 32767.0
        return bytes(np.round(scaled).astype("<i2").tobytes())
    if arr.dtype.kind in "iu":
        if arr.dtype.itemsize == 2 and arr.dtype.kind == "i":
            return bytes(arr.astype("<i2").tobytes())
        # Wider or unsigned integer samples: rescale by the dtype's range to 16 bits.
        info = np.iinfo(np.dtype(arr.dtype.str))
        centred = arr.astype(np.float64) - (0 if info.min < 0 else (info.max + 1) / 2)
        scale = max(abs(info.min), info.max) if info.min < 0 else (info.max + 1) / 2
        return bytes(np.round(np.clip(centred / scale, -1.0, 1.0) * 32767.0).astype("<i2").tobytes())
    raise TypeError(f"unsupported audio dtype {arr.dtype}")


def resample_pcm16(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    if from_rate == to_rate or not pcm:
        return pcm
    import soxr  # imported lazily: only needed when rates differ

    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    out = soxr.resample(samples, from_rate, to_rate)
    return to_pcm16(np.asarray(out, dtype=np.float32))


def read_wav(path: str | Path) -> tuple[bytes, int]:
    """A WAV file as (s16le mono PCM, sample rate). Raises ``ValueError`` for what it cannot read."""
    try:
        with wave.open(str(path), "rb") as wf:
            channels, width, rate = wf.getnchannels(), wf.getsampwidth(), wf.getframerate()
            frames = wf.readframes(wf.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a PCM WAV file ({str(exc) or 'too short'})") from exc
    dtypes: dict[int, np.dtype[Any]] = {1: np.dtype(np.uint8), 2: np.dtype("<i2"), 4: np.dtype("<i4")}
    dtype = dtypes.get(width)
    if dtype is None:
        raise ValueError(f"unsupported WAV sample width: {8 * width} bits")
    arr: npt.NDArray[Any] = np.frombuffer(frames, dtype=dtype)
    if channels > 1:
        arr = arr[: len(arr) - len(arr) % channels].reshape(-1, channels)
    return to_pcm16(arr), rate


def write_wav(path: str | Path, pcm: bytes, sample_rate: int = OUTPUT_RATE) -> None:
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(sample_rate)
        wf.writeframes(pcm)


def duration_s(pcm: bytes, sample_rate: int) -> float:
    return len(pcm) / 2 / sample_rate
