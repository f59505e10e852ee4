"""PCM conversion, resampling and chunking (no models)."""

from __future__ import annotations

import numpy as np
import pytest

from openlive.backends.audio import (
    StreamResampler,
    chunk_pcm,
    duration_s,
    float_to_pcm16,
    pcm16_to_float,
    resample,
)


def test_pcm16_round_trip_is_within_one_step() -> None:
    x = np.linspace(-1.0, 1.0, 1001, dtype=np.float32)
    y = pcm16_to_float(float_to_pcm16(x))
    assert y.dtype == np.float32
    # Encoding scales by 32767 (no overflow at +1.0), decoding by 32768 (-32768 maps to -1.0): ≤1.5 steps.
    assert np.max(np.abs(x - y)) <= 1.5 / 32767


def test_float_to_pcm16_clips_instead_of_wrapping() -> None:
    pcm = float_to_pcm16(np.array([2.0, -2.0, 0.0], dtype=np.float32))
    assert np.frombuffer(pcm, "<i2").tolist() == [32767, -32767, 0]


def test_pcm16_to_float_is_little_endian_and_ignores_an_odd_byte() -> None:
    pcm = (1000).to_bytes(2, "little", signed=True) + (-2).to_bytes(2, "little", signed=True) + b"\x7f"
    assert pcm16_to_float(pcm).tolist() == pytest.approx([1000 / 32768, -2 / 32768])


def test_resample_changes_length_by_the_rate_ratio_and_keeps_a_tone() -> None:
    t = np.arange(22050) / 22050
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = resample(tone, 22050, 24000)
    assert out.dtype == np.float32
    assert out.shape[0] == 24000
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(int(np.argmax(spectrum)) - 440) <= 1  # 1 s of signal: bin index = Hz
    assert float(np.sqrt(np.mean(out**2))) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)


def test_resample_same_rate_returns_a_copy() -> None:
    x = np.ones(10, dtype=np.float32)
    y = resample(x, 16000, 16000)
    y[0] = 0
    assert x[0] == 1


def test_stream_resampler_matches_one_shot_resampling() -> None:
    x = (np.random.default_rng(0).standard_normal(48000) * 0.1).astype(np.float32)
    whole = resample(x, 48000, 16000)
    stream = StreamResampler(48000, 16000)
    sizes = [1, 333, 960, 4800, 7, 12000]
    parts, start = [], 0
    while start < x.size:
        size = sizes[len(parts) % len(sizes)]
        parts.append(stream.process(x[start : start + size]))
        start += size
    parts.append(stream.flush())
    joined = np.concatenate(parts)
    assert joined.shape == whole.shape
    assert np.max(np.abs(joined - whole)) < 1e-5


def test_chunk_pcm_splits_into_whole_samples_of_at_most_max_ms() -> None:
    pcm = bytes(range(256)) * 40  # 10240 bytes = 5120 samples
    chunks = list(chunk_pcm(pcm, 24000, max_ms=100))
    assert b"".join(chunks) == pcm
    assert all(len(c) % 2 == 0 and len(c) <= 4800 for c in chunks)
    assert [len(c) for c in chunks] == [4800, 4800, 640]
    assert duration_s(pcm, 24000) == pytest.approx(5120 / 24000)
