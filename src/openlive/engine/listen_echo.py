"""Server-side echo rejection: is a speech onset only the reply's own audio, coming back?

A client without acoustic echo cancellation plays the 24 kHz reply through a speaker and its microphone
sends it straight back. The VAD rightly hears speech in it, and without this check the session would
interrupt itself. The server knows exactly what it sent, so it can recognise it: the listener keeps the
last few seconds of reply audio (resampled to 16 kHz, stamped with the time it was sent) and, before it
commits an onset, compares the onset audio with that reference by normalized cross-correlation over
every delay the playback path can plausibly add (the speaker's lead, the client's buffering, the
microphone's chunking: 0 to ``MAX_ECHO_DELAY_S`` after sending).

The peak correlation ``rho`` is the share of the window's energy that one scaled, delayed copy of the
reply explains (``rho**2``). An echo (attenuated, low-passed, with room noise) stays near 0.95 or above;
another voice mostly ~0.5, rarely above 0.7. When the user talks over the echo the mix is explained only
in part, so ``rho`` drops with the user's share of the energy (equal loudness: ~1/sqrt(2)) and the onset
counts as the user's. Measured values are in ``ECHO_THRESHOLD``'s comment. A user much quieter than the
echo at the microphone is not told apart from it until the reply pauses: the limit of comparing waveforms.

Both signals are band-passed alike (100-1500 Hz) before the comparison: that removes DC and rumble,
the fundamental a small speaker reproduces poorly, and the upper band where white noise has most of
its energy relative to speech and where a loudspeaker or a codec alters the signal most. One check
(320 ms against ~2.8 s of reference, at 8 kHz) costs ~1.3 ms on one core.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr

from openlive.stages.speech import INPUT_SAMPLE_RATE, OUTPUT_SAMPLE_RATE, Audio

# Sent → heard back: the speaker sends up to ~1 s ahead of playback, the client buffers a little more and
# the microphone's chunks add their own length. Beyond this delay nothing is treated as echo.
MAX_ECHO_DELAY_S = 2.5
# Reference kept: the longest delay plus a window and the slack of chunk time stamps.
REFERENCE_KEEP_S = MAX_ECHO_DELAY_S + 1.0
# The input compared with the reference: the onset's frames and what precedes them. Long enough for a
# syllable or two (a sharp correlation peak), short enough that a user who starts talking over the
# echo is most of what the window holds.
WINDOW_S = 0.32
# Peak normalized correlation at or above which the window is the echo. Measured on Piper speech
# (320 ms windows ending in speech, every 100 ms of a 7.5 s reply): echoes at gain 0.3-1.0, 20-300 ms
# late, low-passed at 2-3.4 kHz score at least 0.97 with white noise at 20 dB SNR and 0.84 (5th
# percentile 0.91) at 10 dB; another voice alone (Piper, espeak-ng) at most 0.4-0.74 (16 renderings);
# another voice as loud as the echo over it 0.65-0.75 in the median (80% of checks below 0.85), as loud
# as half of it ~0.91.
ECHO_THRESHOLD = 0.85
# The band compared, in Hz. Below it: DC, rumble and the fundamental that a small speaker does not
# reproduce; above it: the part a loudspeaker, a microphone or a codec alters most, and where white
# noise has most of its energy relative to speech.
BAND_HZ = (100.0, 1500.0)
# The comparison runs at 8 kHz: the band fits, and the transforms are half the size.
_RATE = INPUT_SAMPLE_RATE // 2
# Windows quieter than this (RMS, full scale 1.0) carry no usable waveform: nothing to decide on.
_MIN_RMS = 1e-4


def _band_mask(size: int, band: tuple[float, float]) -> npt.NDArray[np.float64]:
    """A smooth band-pass over rfft bins at ``_RATE`` (raised-cosine edges an octave wide, so the
    filter rings little)."""
    freqs = np.fft.rfftfreq(size, 1.0 / _RATE)
    low, high = band
    mask = np.ones(freqs.size)
    mask[freqs < low / 2] = 0.0
    rise = (freqs >= low / 2) & (freqs < low)
    mask[rise] = 0.5 - 0.5 * np.cos(np.pi * (freqs[rise] - low / 2) / (low / 2))
    fall = (freqs > high) & (freqs <= 2 * high)
    mask[fall] = 0.5 + 0.5 * np.cos(np.pi * (freqs[fall] - high) / high)
    mask[freqs > 2 * high] = 0.0
    return mask


def _to_8k(audio: Audio) -> npt.NDArray[np.float64]:
    return np.asarray(soxr.resample(audio, INPUT_SAMPLE_RATE, _RATE, "QQ"), dtype=np.float64)


def echo_correlation(window: Audio, reference: Audio, *, band: tuple[float, float] = BAND_HZ) -> float:
    """Peak normalized cross-correlation of ``window`` against every position of ``reference`` (both
    16 kHz), band-passed alike (which also removes DC): the square is the share of the window's energy
    that one scaled, delayed copy of the reference explains.

    Partial overlaps at either end count (the window may start before the reply did), but only the
    overlapping part can explain the window's energy, so a few samples of overlap cannot score high.
    0.0 when either signal is too short or the window is silent.
    """
    if window.size < 64 or reference.size < 64:
        return 0.0
    if float(np.sqrt(np.mean(np.square(window, dtype=np.float64)))) < _MIN_RMS:
        return 0.0
    x, r = _to_8k(window), _to_8k(reference)
    n, m = x.size, r.size
    # The window is filtered on its own (a small transform) and cut back to its length, so that it is
    # compared as the stretch of signal it is.
    small = 1 << int(2 * n).bit_length()
    x = np.fft.irfft(np.fft.rfft(x, small) * _band_mask(small, band), small)[:n]
    x_norm = float(np.sqrt(np.dot(x, x)))
    if x_norm < 1e-9:
        return 0.0
    # One circular buffer holds the reference with room for every lag from -(n - 1) to m - 1 without
    # wrapping onto itself; what wraps is the band filter's faint tails.
    size = 1 << int(m + 2 * n).bit_length()
    r_spec = np.fft.rfft(r, size) * _band_mask(size, band)
    r = np.fft.irfft(r_spec, size)
    products = np.fft.irfft(r_spec * np.conj(np.fft.rfft(x, size)), size)
    products = np.concatenate([products[size - (n - 1) :], products[:m]])
    stretch = np.concatenate([r[size - (n - 1) :], r[: m + n - 1]])
    energy = np.concatenate([[0.0], np.cumsum(stretch * stretch)])
    local = np.maximum(energy[n:] - energy[:-n], 0.0)
    # The floor keeps silent stretches of the reference from dividing by ~0; Cauchy-Schwarz bounds the
    # rest by 1.
    rho = products / (x_norm * np.sqrt(local + 1e-12 * n))
    return float(np.max(rho))


@dataclass(slots=True)
class _Sent:
    wall: float  # clock() when the chunk was sent
    audio: Audio  # 16 kHz


class EchoReference:
    """The reply audio sent recently, at 16 kHz, with send times (fed from the speaker's send path)."""

    def __init__(self, keep_s: float = REFERENCE_KEEP_S) -> None:
        self._keep_s = keep_s
        self._sent: deque[_Sent] = deque()
        self._resampler = soxr.ResampleStream(OUTPUT_SAMPLE_RATE, INPUT_SAMPLE_RATE, 1, "float32", "HQ")

    def add(self, pcm24k: bytes, wall: float) -> None:
        usable = len(pcm24k) - len(pcm24k) % 2
        samples = np.frombuffer(pcm24k, dtype="<i2", count=usable // 2).astype(np.float32) / 32768.0
        audio = np.asarray(self._resampler.resample_chunk(samples), dtype=np.float32)
        self._sent.append(_Sent(wall, audio))
        while self._sent and self._sent[0].wall < wall - self._keep_s:
            self._sent.popleft()

    def last_sent(self) -> float | None:
        return self._sent[-1].wall if self._sent else None

    def between(self, since: float, until: float) -> Audio:
        """The audio of the chunks sent in [since, until], in the order sent (= the order played)."""
        parts = [s.audio for s in self._sent if since <= s.wall <= until]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


class EchoGate:
    """Decides whether an onset's audio is the echo of what was sent; keeps the last score for logs."""

    def __init__(
        self,
        *,
        threshold: float = ECHO_THRESHOLD,
        max_delay_s: float = MAX_ECHO_DELAY_S,
        window_s: float = WINDOW_S,
    ) -> None:
        self.reference = EchoReference(keep_s=max_delay_s + 1.0)
        self.threshold = threshold
        self.max_delay_s = max_delay_s
        self.window_samples = round(window_s * INPUT_SAMPLE_RATE)
        self.last_score: float | None = None
        self.rejected = 0

    def note_playback(self, pcm24k: bytes, wall: float) -> None:
        self.reference.add(pcm24k, wall)

    def may_echo(self, first_arrival: float) -> bool:
        """Whether anything was sent recently enough to come back in input that arrived from then on."""
        last = self.reference.last_sent()
        return last is not None and last >= first_arrival - self.max_delay_s

    def is_echo(self, window: Audio, first_arrival: float, last_arrival: float) -> bool:
        """``window``: the latest input (16 kHz) whose samples arrived between the two clock() times."""
        self.last_score = None
        if not self.may_echo(first_arrival):
            return False
        # Chunk stamps mark a chunk's first sample; its last one played up to a chunk later.
        reference = self.reference.between(first_arrival - self.max_delay_s - 0.2, last_arrival)
        score = echo_correlation(window, reference)
        self.last_score = score
        if score >= self.threshold:
            self.rejected += 1
            return True
        return False


__all__ = ["ECHO_THRESHOLD", "MAX_ECHO_DELAY_S", "EchoGate", "EchoReference", "echo_correlation"]
