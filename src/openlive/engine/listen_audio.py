"""Incoming audio for the listener: PCM decoding, streaming resampling to 16 kHz, and a sample tape.

The engine must not import ``openlive.backends``, so this holds its own (small) copy of the PCM helpers.
"""

from __future__ import annotations

import numpy as np
import soxr

from openlive.stages.speech import INPUT_SAMPLE_RATE, Audio

_INT16_SCALE = 32768.0


def _empty() -> Audio:
    return np.zeros(0, dtype=np.float32)


class PcmDecoder:
    """s16le bytes → float32. A chunk may end in the middle of a sample: the odd byte is carried over."""

    def __init__(self) -> None:
        self._carry = b""

    def decode(self, pcm: bytes) -> Audio:
        data = self._carry + pcm if self._carry else pcm
        usable = len(data) - (len(data) % 2)
        self._carry = data[usable:]
        samples = np.frombuffer(data, dtype="<i2", count=usable // 2)
        return (samples.astype(np.float32) / _INT16_SCALE).astype(np.float32)

    def reset(self) -> None:
        self._carry = b""


class InputResampler:
    """Resamples chunks of any rate to 16 kHz, keeping soxr's filter state across chunks.

    A client may change its rate mid-stream (a new MIME type): the old stream's tail is flushed first,
    so the 16 kHz output stays continuous and its length matches the input's duration.
    """

    def __init__(self) -> None:
        self._rate = INPUT_SAMPLE_RATE
        self._stream: soxr.ResampleStream | None = None

    def process(self, audio: Audio, rate: int) -> Audio:
        head = self.flush() if rate != self._rate else _empty()
        if rate != self._rate:
            self._rate = rate
            self._stream = (
                None
                if rate == INPUT_SAMPLE_RATE
                else soxr.ResampleStream(rate, INPUT_SAMPLE_RATE, 1, "float32", "HQ")
            )
        if self._stream is None:
            out = audio
        else:
            out = np.asarray(self._stream.resample_chunk(audio), dtype=np.float32)
        return np.concatenate([head, out]) if head.size else out

    def flush(self) -> Audio:
        """The filter's tail (soxr holds back a few ms); afterwards the resampler starts afresh."""
        if self._stream is None:
            return _empty()
        tail = np.asarray(self._stream.resample_chunk(_empty(), last=True), dtype=np.float32)
        self._stream.clear()
        return tail


class AudioTape:
    """The recent 16 kHz input, addressed by absolute sample index since the session began.

    Samples before ``start`` have been dropped; callers trim what no utterance can need any more
    (the pre-roll window while idle, everything before the utterance while speaking).
    """

    def __init__(self) -> None:
        self._buf = np.zeros(16 * INPUT_SAMPLE_RATE, dtype=np.float32)
        self._len = 0
        self.start = 0  # absolute index of self._buf[0]

    @property
    def end(self) -> int:
        """Absolute index one past the newest sample (= samples received so far)."""
        return self.start + self._len

    def append(self, audio: Audio) -> None:
        need = self._len + audio.size
        if need > self._buf.size:
            grown = np.zeros(max(need, 2 * self._buf.size), dtype=np.float32)
            grown[: self._len] = self._buf[: self._len]
            self._buf = grown
        self._buf[self._len : need] = audio
        self._len = need

    def slice(self, begin: int, end: int) -> Audio:
        """A copy of samples [begin, end), clamped to what the tape still holds."""
        lo = max(begin, self.start) - self.start
        hi = min(end, self.end) - self.start
        if hi <= lo:
            return _empty()
        return self._buf[lo:hi].copy()

    def trim_before(self, index: int) -> None:
        """Forget samples before absolute ``index``.

        Compaction moves memory, so it only happens once at least a second can go; until then the old
        samples simply stay readable.
        """
        drop = min(max(index - self.start, 0), self._len)
        if drop < INPUT_SAMPLE_RATE:
            return
        self._buf[: self._len - drop] = self._buf[drop : self._len]
        self._len -= drop
        self.start += drop
