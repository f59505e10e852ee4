"""Smart Turn v3.2: end-of-turn probability from the audio."""

from __future__ import annotations

import numpy as np
import pytest
from speech_samples import alsa_sample, piper_speech, smart_turn, tts_pcm_to_16k

from openlive.backends.turn_smart import WINDOW_SAMPLES, last_window, smart_turn_model_path

pytestmark = pytest.mark.models

SILENCE_200MS = np.zeros(3200, dtype=np.float32)


def test_window_keeps_the_end_and_pads_at_the_start() -> None:
    short = np.ones(1000, dtype=np.float32)
    window = last_window(short)
    assert window.shape == (WINDOW_SAMPLES,)
    assert window[-1000:].tolist() == [1.0] * 1000 and not window[:-1000].any()
    long = np.arange(WINDOW_SAMPLES + 5, dtype=np.float32)
    assert last_window(long)[0] == 5.0


def test_model_file_comes_from_the_pipecat_wheel_without_importing_pipecat() -> None:
    import sys

    assert smart_turn_model_path().name == "smart-turn-v3.2-cpu.onnx"
    assert "pipecat" not in sys.modules


def test_features_have_the_shape_the_model_expects() -> None:
    features = smart_turn().features(np.zeros(16000, dtype=np.float32))
    assert features.shape == (1, 80, 800) and features.dtype == np.float32


async def test_finished_sentence_scores_high_and_cut_off_sentence_low() -> None:
    finished = tts_pcm_to_16k(await piper_speech("Can you tell me what the weather is like today?"))
    cut = tts_pcm_to_16k(await piper_speech("I was wondering if you could tell me about the"))
    p_finished = await smart_turn().end_of_turn_probability(np.concatenate((finished, SILENCE_200MS)))
    p_cut = await smart_turn().end_of_turn_probability(np.concatenate((cut, SILENCE_200MS)))
    assert p_finished > 0.7
    assert p_cut < 0.3


@pytest.mark.parametrize("name", ["Front_Center", "Rear_Right"])
async def test_a_finished_real_recording_scores_high(name: str) -> None:
    assert await smart_turn().end_of_turn_probability(alsa_sample(name)) > 0.7
