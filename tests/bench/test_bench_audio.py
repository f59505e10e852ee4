import numpy as np

from openlive.bench.audio import (
    INPUT_RATE,
    cut,
    decode_wav,
    duration_s,
    encode_wav,
    first_sound_offset,
    float_to_pcm16,
    is_silent,
    silence,
    speech_span,
)


def _tone(seconds: float, amplitude: float, rate: int = INPUT_RATE, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * hz * t)


def _signal(*parts: np.ndarray) -> bytes:
    return float_to_pcm16(np.concatenate(parts))


def test_speech_span_finds_onset_and_end_of_a_burst_within_one_frame() -> None:
    # 0.5 s of faint room noise, 1.2 s "speech", 0.8 s of faint noise.
    rng = np.random.default_rng(0)
    pcm = _signal(
        rng.normal(0, 0.0005, 8000),
        _tone(1.2, 0.3) + rng.normal(0, 0.0005, 19200),
        rng.normal(0, 0.0005, 12800),
    )
    span = speech_span(pcm)
    assert span is not None
    frame = INPUT_RATE // 100
    assert abs(span.onset - 8000) <= frame
    assert abs(span.end - (8000 + 19200)) <= frame


def test_speech_span_includes_a_quiet_tail_within_35_db_of_the_peak() -> None:
    # The last word is 20 dB softer than the first: still speech.
    pcm = _signal(np.zeros(1600), _tone(0.5, 0.5), _tone(0.5, 0.05), np.zeros(4800))
    span = speech_span(pcm)
    assert span is not None
    assert abs(span.end - (1600 + 16000)) <= INPUT_RATE // 100


def test_silence_and_hum_below_the_floor_have_no_speech() -> None:
    assert speech_span(silence(1.0)) is None
    assert speech_span(_signal(_tone(1.0, 0.001))) is None  # -63 dBFS hum
    assert speech_span(b"") is None


def test_first_sound_offset_and_is_silent_on_reply_chunks() -> None:
    rate = 24_000
    pcm = _signal(np.zeros(2400), _tone(0.1, 0.2, rate))
    assert first_sound_offset(pcm, rate) == 2400
    assert not is_silent(pcm, rate)
    assert is_silent(bytes(4800), rate)


def test_decode_wav_resamples_and_mixes_down_to_16k_mono() -> None:
    stereo48 = np.stack([_tone(1.0, 0.3, 48_000), _tone(1.0, 0.3, 48_000)], axis=1).reshape(-1)
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(float_to_pcm16(stereo48))
    pcm = decode_wav(buf.getvalue())
    assert abs(duration_s(pcm) - 1.0) < 0.002
    level = np.abs(np.frombuffer(pcm, dtype="<i2")).max() / 32768
    assert 0.25 < level < 0.35


def test_encode_then_decode_round_trips_and_cut_takes_seconds() -> None:
    pcm = _signal(_tone(0.5, 0.2))
    assert decode_wav(encode_wav(pcm)) == pcm
    assert len(cut(pcm, 0.1, 0.3)) == int(0.2 * INPUT_RATE) * 2
