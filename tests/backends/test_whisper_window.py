"""Whisper on a window sized to the utterance: the window arithmetic, and the real models through it."""

from __future__ import annotations

import numpy as np
import pytest
from speech_samples import alsa_sample, piper_speech, recognizers, tts_pcm_to_16k, word_error_rate

from openlive.backends import whisper_window
from openlive.backends.whisper_window import (
    FULL_FRAMES,
    MIN_FRAMES,
    PAD_FRAMES,
    compression_ratio,
    window_frames,
)

SENTENCE = "What is the largest planet in our solar system?"


def test_the_window_is_the_utterance_plus_padding_never_under_ten_seconds() -> None:
    assert window_frames(16_000) == MIN_FRAMES  # 1 s of speech: the 10 s floor
    assert window_frames(12 * 16_000) == 1200 + PAD_FRAMES
    assert window_frames(12 * 16_000 + 1) == 1201 + PAD_FRAMES + 1  # rounded up to an even length
    assert window_frames((FULL_FRAMES - PAD_FRAMES) * 160) == FULL_FRAMES
    assert window_frames((FULL_FRAMES - PAD_FRAMES) * 160 + 160) is None  # longer: the 30 s path


def test_a_repetition_compresses_like_a_decoding_loop() -> None:
    assert compression_ratio("Side left. " * 12) > whisper_window.MAX_COMPRESSION_RATIO
    assert compression_ratio(SENTENCE) < whisper_window.MAX_COMPRESSION_RATIO
    assert compression_ratio("") == 0.0


@pytest.mark.models
@pytest.mark.parametrize("key", ["en", "*"])
async def test_short_windows_transcribe_as_the_full_window_does(key: str) -> None:
    recognizer = recognizers()[key]
    audio = tts_pcm_to_16k(await piper_speech(SENTENCE))
    window = whisper_window.WindowedWhisper(recognizer._model)
    encoded = window.encode(audio)
    assert encoded is not None
    result = window.decode(encoded, audio.size, "en")
    assert result is not None and word_error_rate(SENTENCE, result.text) == 0.0, result
    # The recognizer takes that path, and so gives the same words.
    assert (await recognizer.transcribe(audio)).text == result.text


@pytest.mark.models
async def test_a_decode_that_runs_out_of_its_token_budget_is_refused() -> None:
    recognizer = recognizers()["en"]
    long_sentence = (
        f"{SENTENCE} It is Jupiter, which is more than twice as massive as all the others combined."
    )
    audio = tts_pcm_to_16k(await piper_speech(long_sentence))
    window = whisper_window.WindowedWhisper(recognizer._model)
    encoded = window.encode(audio)
    # Told the audio is 0 s long, the budget is a dozen tokens: the sentences need about thirty.
    assert window.decode(encoded, 0, "en") is None
    result = window.decode(encoded, audio.size, "en")
    assert result is not None and word_error_rate(long_sentence, result.text) <= 0.1, result


@pytest.mark.models
async def test_the_recognizer_falls_back_to_the_full_window_when_the_short_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recognizer = recognizers()["en"]
    refused: list[int] = []

    def refuse(
        self: whisper_window.WindowedWhisper,
        encoded: object,
        samples: int,
        language: str | None,
        vocabulary: str = "",
    ) -> None:
        refused.append(samples)

    monkeypatch.setattr(whisper_window.WindowedWhisper, "decode", refuse)
    audio = alsa_sample("Front_Center")
    result = await recognizer.transcribe(audio)
    assert refused == [audio.size]
    assert word_error_rate("Front center", result.text) == 0.0, result.text


@pytest.mark.models
async def test_audio_longer_than_one_window_takes_the_full_path() -> None:
    recognizer = recognizers()["en"]
    window = whisper_window.WindowedWhisper(recognizer._model)
    assert window.encode(np.zeros(29 * 16_000, dtype=np.float32)) is None
