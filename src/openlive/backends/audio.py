"""PCM helpers shared by the speech backends: format conversion, resampling, chunking.

Above the wire everything is mono float32 in [-1, 1]; on the wire it is 16-bit little-endian PCM.
Resampling uses soxr's "HQ" preset: clean enough for ASR and TTS, and ~100x faster than real time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import soxr

Audio = npt.NDArray[np.float32]

_INT16_SCALE = 32768.0


def pcm16_to_float(pcm: bytes) -> Audio:
    """16-bit little-endian PCM bytes → float32 in [-1, 1). A trailing odd byte is ignored."""
    usable = len(pcm) - (len(pcm) % 2)
    samples = np.frombuffer(pcm[:usable], dtype="<i2")
    return (samples.astype(np.float32) / _INT16_SCALE).astype(np.float32)


def float_to_pcm16(audio: npt.NDArray[np.floating]) -> bytes:
    """float audio → 16-bit little-endian PCM; values beyond [-1, 1] are clipped, not wrapped."""
    scaled = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0) * 32767.0
    return bytes(np.rint(scaled).astype("<i2").tobytes())


def resample(audio: npt.NDArray[np.floating], src_rate: int, dst_rate: int) -> Audio:
    """Resample a whole mono signal (one call, no state)."""
    x = np.asarray(audio, dtype=np.float32)
    if src_rate == dst_rate or x.size == 0:
        return x.copy()
    return np.asarray(soxr.resample(x, src_rate, dst_rate, quality="HQ"), dtype=np.float32)


class StreamResampler:
    """Resamples a signal that arrives in chunks of any size, without clicks at chunk borders.

    soxr keeps the filter history between calls, so the output of many ``process`` calls followed by
    ``flush`` equals (to float precision) one ``resample`` call on the concatenated input.
    """

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._stream = None if src_rate == dst_rate else soxr.ResampleStream(src_rate, dst_rate, 1, "float32")

    def process(self, audio: npt.NDArray[np.floating], *, last: bool = False) -> Audio:
        x = np.asarray(audio, dtype=np.float32)
        if self._stream is None:
            return x.copy()
        return np.asarray(self._stream.resample_chunk(x, last=last), dtype=np.float32)

    def flush(self) -> Audio:
        """Drain the filter's tail at the end of the signal; the resampler can be reused afterwards."""
        if self._stream is None:
            return np.zeros(0, dtype=np.float32)
        tail = np.asarray(self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
        self._stream.clear()
        return tail.astype(np.float32)

    def reset(self) -> None:
        if self._stream is not None:
            self._stream.clear()


def chunk_pcm(pcm: bytes, rate: int, max_ms: int = 100) -> Iterator[bytes]:
    """Split 16-bit mono PCM into pieces of at most ``max_ms`` (whole samples only)."""
    step = max(2, (rate * max_ms // 1000) * 2)
    for start in range(0, len(pcm), step):
        yield pcm[start : start + step]


def duration_s(pcm: bytes, rate: int) -> float:
    """Length of 16-bit mono PCM in seconds."""
    return len(pcm) / 2 / rate
