"""Silero VAD v6 from its ONNX file, on real recordings."""

from __future__ import annotations

import numpy as np
import pytest
from speech_samples import alsa_sample, silero_vad

from openlive.backends.vad_silero import FRAME_SAMPLES

pytestmark = pytest.mark.models


def frame_probabilities(audio: np.ndarray) -> np.ndarray:
    stream = silero_vad().new_stream()
    n = audio.size // FRAME_SAMPLES
    return np.array([stream.process(audio[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]) for i in range(n)])


@pytest.mark.parametrize("name", ["Front_Center", "Rear_Left", "Side_Right"])
def test_speech_frames_are_detected_in_real_recordings(name: str) -> None:
    probs = frame_probabilities(alsa_sample(name))
    # ~1.4 s clips of two spoken words with short silences around them.
    assert (probs > 0.5).sum() >= 0.4 * probs.size
    assert probs.max() > 0.9


def test_noise_is_not_speech() -> None:
    probs = frame_probabilities(alsa_sample("Noise"))
    assert probs.size > 30
    assert (probs > 0.5).sum() == 0


def test_silence_is_not_speech() -> None:
    probs = frame_probabilities(np.zeros(FRAME_SAMPLES * 20, dtype=np.float32))
    assert probs.max() < 0.1


def test_streams_keep_their_own_state_and_reset_restores_it() -> None:
    audio = alsa_sample("Front_Center")[: FRAME_SAMPLES * 20]
    frames = [audio[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(20)]
    a, b = silero_vad().new_stream(), silero_vad().new_stream()
    first = [a.process(f) for f in frames]
    # Interleaving another stream on the same shared session must not disturb this one.
    b.process(frames[5])
    a.reset()
    again = [a.process(f) for f in frames]
    assert again == pytest.approx(first, abs=1e-6)
    # The recurrent state matters: a frame's probability depends on what came before it.
    fresh = silero_vad().new_stream().process(frames[12])
    assert fresh != pytest.approx(first[12], abs=1e-4)


def test_wrong_frame_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="512"):
        silero_vad().new_stream().process(np.zeros(480, dtype=np.float32))
