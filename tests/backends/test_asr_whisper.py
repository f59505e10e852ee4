"""Whisper through faster-whisper: real recordings, synthesized English, Japanese language ID, streaming."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import soxr
from speech_samples import (
    alsa_sample,
    kokoro,
    model_cache,
    piper_speech,
    recognizers,
    tts_pcm_to_16k,
    word_error_rate,
    words,
)

from openlive.backends import whisper_window
from openlive.backends.asr_whisper import (
    PARTIAL_MIN_NEW_S,
    WhisperRecognizer,
    load_recognizers,
    without_repeated_sentences,
)
from openlive.backends.core_share import CoreShare
from openlive.backends.tts_stream import split_segments
from openlive.backends.voices import VoiceChoice
from openlive.stages.speech import Audio

pytestmark = pytest.mark.models

SENTENCE = "The quick brown fox jumps over the lazy dog, and then it runs back into the forest."


@pytest.mark.parametrize("key", ["en", "*"])
async def test_real_recording_is_transcribed(key: str) -> None:
    result = await recognizers()[key].transcribe(alsa_sample("Front_Center"))
    assert word_error_rate("Front center", result.text) == 0.0, result.text
    assert result.language == "en"


@pytest.mark.parametrize("key", ["en", "*"])
async def test_synthesized_english_sentence_is_transcribed(key: str) -> None:
    audio = tts_pcm_to_16k(await piper_speech(SENTENCE))
    result = await recognizers()[key].transcribe(audio)
    assert word_error_rate(SENTENCE, result.text) <= 0.15, result.text


async def test_multilingual_model_detects_japanese() -> None:
    # Kokoro output stands in for a Japanese speaker: used for language identification only.
    text = "今日はとても良い天気ですね。散歩に行きましょう。"
    pcm = b"".join([kokoro().render(s, VoiceChoice("jf_alpha", 1.0)) for s in split_segments(text)])
    result = await recognizers()["*"].transcribe(tts_pcm_to_16k(pcm))
    assert result.language == "ja"
    assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in result.text), result.text


def test_languages() -> None:
    assert recognizers()["en"].languages() == ["en"]
    assert {"en", "ja", "de", "zh"} <= set(recognizers()["*"].languages())
    assert recognizers()["*"].multilingual and not recognizers()["en"].multilingual


class DecodeCounter:
    """Wraps a real recognizer's decode to count how often the model actually runs."""

    def __init__(self, recognizer: WhisperRecognizer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = recognizer.decode

        def counting(*args: object, **kwargs: object) -> object:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(recognizer, "decode", counting)


async def test_stream_decodes_incrementally_and_finish_reuses_the_last_partial(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recognizer = recognizers()["en"]
    counter = DecodeCounter(recognizer, monkeypatch)
    speech = tts_pcm_to_16k(await piper_speech(SENTENCE))
    # Padded to whole 0.5 s so that the last partial covers all the speech.
    audio = np.concatenate((speech, np.zeros(-speech.size % 8000, dtype=np.float32)))
    stream = recognizer.new_stream("en")
    step = 1600  # 100 ms, as the engine feeds it
    partials = []
    for start in range(0, audio.size, step):
        stream.feed(audio[start : start + step])
        result = await stream.partial()
        if result is not None:
            partials.append(result.text)
    assert len(partials) >= 3
    # Each partial needed at least PARTIAL_MIN_NEW_S of new audio.
    assert len(partials) == audio.size / (PARTIAL_MIN_NEW_S * 16000)
    assert word_error_rate(SENTENCE, partials[-1]) <= 0.15
    decodes = counter.calls
    stream.feed(np.zeros(4800, dtype=np.float32))  # the 300 ms of silence that ended the turn
    final = await stream.finish()
    assert counter.calls == decodes, "finish should reuse the partial when only silence followed"
    assert final.text == partials[-1] and final.language == "en"


async def test_finish_decodes_new_speech_since_the_last_partial(monkeypatch: pytest.MonkeyPatch) -> None:
    recognizer = recognizers()["en"]
    counter = DecodeCounter(recognizer, monkeypatch)
    audio = tts_pcm_to_16k(await piper_speech(SENTENCE))
    stream = recognizer.new_stream()
    half = audio.size // 2
    stream.feed(audio[:half])
    assert await stream.partial() is not None
    assert await stream.partial() is None  # nothing new since
    stream.feed(audio[half:])
    started = time.perf_counter()
    final = await stream.finish()
    assert counter.calls == 2
    assert word_error_rate(SENTENCE, final.text) <= 0.15
    assert time.perf_counter() - started < 5.0


async def test_empty_stream_finishes_with_empty_text() -> None:
    result = await recognizers()["*"].new_stream().finish()
    assert result.text == ""


@pytest.mark.parametrize("language", ["en-US", "EN", "xx"])
async def test_session_language_codes_are_normalised_or_detected(language: str) -> None:
    # BCP-47 codes from speechConfig.languageCode; an unknown code falls back to detection.
    result = await recognizers()["*"].transcribe(alsa_sample("Front_Center"), language)
    assert word_error_rate("Front center", result.text) == 0.0, result.text
    assert result.language == "en"


async def test_the_protocols_mandarin_code_asks_whisper_for_chinese() -> None:
    # speechConfig.languageCode "cmn-CN" is Mandarin; Whisper calls it "zh" (and would otherwise detect).
    result = await recognizers()["*"].transcribe(alsa_sample("Front_Center"), "cmn-CN")
    assert result.language == "zh"


NAME_SENTENCE = "Please send the report to Kwazimir Zolbrecht tomorrow."


@pytest.mark.parametrize("key", ["en", "*"])
async def test_custom_vocabulary_spells_a_made_up_name(key: str) -> None:
    """customVocabulary reaches Whisper as its previous text: a name it cannot know is spelled as given
    (without it: "Quizamir's Albrecht", "Quesimir's Ulbrich")."""
    audio = tts_pcm_to_16k(await piper_speech(NAME_SENTENCE))
    recognizer = recognizers()[key]
    plain = await recognizer.transcribe(audio, "en")
    hinted = await recognizer.transcribe(audio, "en", vocabulary=["Kwazimir Zolbrecht"])
    assert "Kwazimir Zolbrecht" not in plain.text, plain.text
    assert "send the report to Kwazimir Zolbrecht" in hinted.text, hinted.text  # no words left out
    stream = recognizer.new_stream("en", vocabulary=["Kwazimir Zolbrecht"])
    stream.feed(audio)
    assert "Kwazimir Zolbrecht" in (await stream.finish()).text


async def test_custom_vocabulary_on_the_full_window_path_keeps_the_words_before_the_term(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The 30 s path (long utterances, or a refused short window): with the terms as an unfinished
    sentence, tiny.en heard only "tomorrow."; the full stop after them keeps the whole utterance."""
    monkeypatch.setattr(whisper_window.WindowedWhisper, "decode", lambda *args, **kwargs: None)
    audio = tts_pcm_to_16k(await piper_speech(NAME_SENTENCE))
    result = await recognizers()["en"].transcribe(audio, "en", vocabulary=["Kwazimir Zolbrecht"])
    assert "send the report to Kwazimir Zolbrecht" in result.text, result.text


QUESTION_EN = "How many days are in a week?"
QUESTION_JA = "日本の首都はどこですか？"


def espeak_16k(text: str, tmp_path: Path) -> Audio:
    """espeak-ng's robotic English: over all of Whisper's languages, base takes it for Thai."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    path = tmp_path / "espeak.wav"
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return soxr.resample(samples.astype(np.float32) / 32768, rate, 16_000).astype(np.float32)


def kokoro_16k(text: str) -> Audio:
    return tts_pcm_to_16k(
        b"".join([kokoro().render(s, VoiceChoice("jf_alpha", 1.0)) for s in split_segments(text)])
    )


def best(scores: dict[str, float]) -> str:
    return max(scores, key=scores.__getitem__)


async def test_language_id_chooses_only_among_the_languages_the_profile_speaks(tmp_path: Path) -> None:
    english, japanese = espeak_16k(QUESTION_EN, tmp_path), kokoro_16k(QUESTION_JA)
    multilingual = recognizers()["*"]
    lead = np.zeros(4800, dtype=np.float32)  # the listener's 300 ms pre-roll
    for audio, language in ((english, "en"), (japanese, "ja")):
        # The whole question, and its first second (what the listener identifies on).
        for clip in (audio, np.concatenate([lead, audio[:16_000]])):
            scores = await multilingual.detect_language(clip)
            assert set(scores) == {"en", "ja"}, scores  # never Thai
            assert best(scores) == language, scores
    # Without a language, a transcription identifies it among the same two.
    result = await multilingual.transcribe(english)
    assert result.language == "en" and "days" in words(result.text), result
    assert await recognizers()["en"].detect_language(japanese) == {"en": 1.0}  # English only: nothing to ask


def test_a_sentence_decoded_twice_over_is_kept_once() -> None:
    assert (
        without_repeated_sentences("What time is lunch served? What time is lunch served?")
        == "What time is lunch served?"
    )
    assert without_repeated_sentences("Hello. hello! How are you?") == "Hello. How are you?"
    assert without_repeated_sentences("ランチは何時？ランチは何時？") == "ランチは何時？"
    # Not a repeat: kept as decoded, spacing and all.
    assert without_repeated_sentences("No. No way.  Really?") == "No. No way.  Really?"
    assert without_repeated_sentences("") == ""


async def test_recognisers_hold_the_core_share_while_they_decode() -> None:
    # The embedded LLM's prefills step aside while it is held (core_share.py): it must be held for
    # every decode and language identification, and released after.
    share = CoreShare()
    held = load_recognizers(model_cache(), core_share=share)
    seen: list[bool] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(share.busy)
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        audio = alsa_sample("Front_Center")
        result = await held["en"].transcribe(audio)
        busy_while_decoding = any(seen)
        seen.clear()
        probabilities = await held["*"].detect_language(audio)
    finally:
        stop.set()
        watcher.join()
    assert word_error_rate("Front center", result.text) == 0.0, result.text
    assert busy_while_decoding
    assert any(seen), "language identification ran without holding the share"
    assert max(probabilities, key=probabilities.__getitem__) == "en"
    assert not share.busy
