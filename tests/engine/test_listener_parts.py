"""The listener's pure parts: sensitivity mapping, the segmenter, transcript filter, audio plumbing."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
import soxr

from openlive.engine.listen_audio import AudioTape, InputResampler, PcmDecoder
from openlive.engine.listen_language import (
    DETECT_MIN_SAMPLES,
    MAX_IDENTIFICATIONS,
    RECHECK_MIN_NEW_SAMPLES,
    SETTLE_MIN_SAMPLES,
    DetectingStream,
    RecognizerChoice,
)
from openlive.engine.turn_filter import clean_transcript, drop_reason
from openlive.engine.turn_policy import FRAME_SAMPLES, turn_policy
from openlive.engine.turn_segmenter import AskTurnModel, EndOfTurn, Onset, TurnSegmenter
from openlive.protocol.messages import AutomaticActivityDetection, EndSensitivity, StartSensitivity
from openlive.stages.speech import RecognitionResult


def aad(**kw: object) -> AutomaticActivityDetection:
    return AutomaticActivityDetection(**kw)  # type: ignore[arg-type]


def test_sensitivity_mapping() -> None:
    high = turn_policy(aad(), has_turn_model=True)
    assert (high.start_threshold, high.min_speech_frames) == (0.5, 2)
    assert high.turn_checks == ((5, 0.9), (10, 0.7), (15, 0.5))
    assert high.silence_frames == 32
    assert high.stop_threshold == pytest.approx(0.35)
    assert high.preroll_samples == 4800
    explicit_high = turn_policy(
        aad(start_of_speech_sensitivity=StartSensitivity.HIGH, end_of_speech_sensitivity=EndSensitivity.HIGH),
        has_turn_model=True,
    )
    assert explicit_high == high
    low = turn_policy(
        aad(start_of_speech_sensitivity=StartSensitivity.LOW, end_of_speech_sensitivity=EndSensitivity.LOW),
        has_turn_model=True,
    )
    assert (low.start_threshold, low.min_speech_frames) == (0.7, 6)
    assert low.turn_checks == ((10, 0.95), (15, 0.85), (20, 0.7))
    assert low.silence_frames == 50
    assert turn_policy(aad(), has_turn_model=False).silence_frames == 16  # 500 ms
    assert (
        turn_policy(aad(end_of_speech_sensitivity=EndSensitivity.LOW), has_turn_model=False).silence_frames
        == 25
    )


def test_explicit_prefix_padding_and_silence_duration() -> None:
    p = turn_policy(aad(prefix_padding_ms=20, silence_duration_ms=100), has_turn_model=True)
    assert p.min_speech_frames == 1  # at least one frame
    assert p.preroll_samples == 4800  # never less look-back than the default
    assert p.silence_frames == 4
    p = turn_policy(aad(prefix_padding_ms=500), has_turn_model=True)
    assert p.min_speech_frames == 16 and p.preroll_samples == 8000


def run(seg: TurnSegmenter, probs: list[float], start_frame: int = 0) -> list[tuple[int, object]]:
    out = []
    for i, p in enumerate(probs, start_frame):
        d = seg.push(p, (i + 1) * FRAME_SAMPLES)
        if d is not None:
            out.append((i, d))
    return out


def test_segmenter_onset_needs_a_sustained_run() -> None:
    seg = TurnSegmenter(turn_policy(aad(), has_turn_model=True))
    # One speech frame then a pause: no onset. A doubtful frame (0.4) neither breaks nor extends a run.
    decisions = run(seg, [0.0, 0.9, 0.1, 0.9, 0.4, 0.9])
    assert decisions == [(5, Onset(3 * FRAME_SAMPLES))]
    assert seg.speaking and seg.voiced_frames == 2


def test_segmenter_asks_with_a_falling_bar_and_bounds_silence() -> None:
    seg = TurnSegmenter(turn_policy(aad(silence_duration_ms=800), has_turn_model=True))
    decisions = run(seg, [0.9] * 20 + [0.0] * 5)
    assert decisions[-1] == (24, AskTurnModel())  # 160 ms into the pause
    assert seg.speech_end == 20 * FRAME_SAMPLES
    assert seg.answer(0.85) is None  # not sure enough this early
    decisions = run(seg, [0.0] * 5, start_frame=25)
    assert decisions == [(29, AskTurnModel())]  # 320 ms
    assert seg.answer(0.6) is None
    decisions = run(seg, [0.0] * 5, start_frame=30)
    assert decisions == [(34, AskTurnModel())]  # 480 ms, the last question
    assert seg.answer(0.3) is None  # mid-sentence: keep listening
    decisions = run(seg, [0.0] * 10, start_frame=35)
    assert decisions == [(44, EndOfTurn("silence"))]  # 25 frames = 800 ms
    # Speech resumes: a new pause starts the questions again, and a sure answer ends the turn.
    seg2 = TurnSegmenter(turn_policy(aad(), has_turn_model=True))
    decisions = run(seg2, [0.9] * 20 + [0.0] * 5 + [0.9] * 3 + [0.0] * 5)
    assert [d for _, d in decisions] == [Onset(0), AskTurnModel(), AskTurnModel()]
    assert seg2.answer(0.92) == EndOfTurn("end_of_turn_model")
    assert seg2.speech_end == 28 * FRAME_SAMPLES


def test_segmenter_asks_about_a_lone_word_only_at_the_last_step() -> None:
    seg = TurnSegmenter(turn_policy(aad(), has_turn_model=True))
    decisions = run(seg, [0.9] * 15 + [0.0] * 15)  # 480 ms of speech < 600 ms
    assert decisions == [(1, Onset(0)), (29, AskTurnModel())]  # 480 ms into the pause
    assert seg.answer(0.6) == EndOfTurn("end_of_turn_model")  # the last bar (0.5)


def test_segmenter_ends_a_question_at_the_last_step_whatever_the_model_says() -> None:
    seg = TurnSegmenter(turn_policy(aad(), has_turn_model=True))
    run(seg, [0.9] * 20 + [0.0] * 5)  # 160 ms into the pause
    assert seg.answer(0.05, question=True) is None  # earlier questions keep to the model
    run(seg, [0.0] * 5, start_frame=25)  # 320 ms
    assert seg.answer(0.05, question=True) is None
    decisions = run(seg, [0.0] * 5, start_frame=30)
    assert decisions == [(34, AskTurnModel())]  # 480 ms, the last question
    assert seg.answer(0.05) is None  # not a question: on to the silence bound
    assert seg.answer(0.05, question=True) == EndOfTurn("question")
    assert seg.answer(0.6, question=True) == EndOfTurn("end_of_turn_model")


def test_segmenter_hysteresis_keeps_soft_tails_in_speech() -> None:
    seg = TurnSegmenter(turn_policy(aad(), has_turn_model=False))
    run(seg, [0.9] * 5 + [0.4] * 20)  # doubtful frames: neither speech nor a pause
    assert seg.speaking and not seg.in_pause
    assert seg.speech_end == 25 * FRAME_SAMPLES


def test_segmenter_caps_an_endless_utterance() -> None:
    seg = TurnSegmenter(turn_policy(aad(), has_turn_model=True))
    decisions = run(seg, [0.9] * 1000)
    first_end = next(i for i, d in decisions if d == EndOfTurn("max_length"))
    assert (first_end + 1) * 32 == pytest.approx(30_000, abs=32)


@pytest.mark.parametrize(
    ("raw", "cleaned", "voiced", "dropped"),
    [
        ("[BLANK_AUDIO]", "", 1.0, True),
        (" (noise) ", "", 1.0, True),
        ("♪ ♪", "", 1.0, True),
        ("...", "...", 1.0, True),
        ("Thank you.", "Thank you.", 0.4, True),
        ("Thank you.", "Thank you.", 1.0, False),
        ("Thank you.", "Thank you.", None, False),  # manual mode: the client said it was a turn
        ("you", "you", 0.3, True),
        ("[MUSIC] Front center.", "Front center.", 0.5, False),
        ("ご視聴ありがとうございました", "ご視聴ありがとうございました", 0.5, True),
        ("こんにちは", "こんにちは", 0.5, False),
        ("No.", "No.", 0.3, False),
    ],
)
def test_transcript_filter(raw: str, cleaned: str, voiced: float | None, dropped: bool) -> None:
    text = clean_transcript(raw)
    assert text == cleaned
    assert (drop_reason(text, voiced_s=voiced) is not None) is dropped


class FakeLangRecognizer:
    def __init__(self, langs: list[str]) -> None:
        self.langs = langs
        self.hints: list[str | None] = []

    def languages(self) -> list[str]:
        return self.langs

    def new_stream(self, language: str | None = None) -> object:
        self.hints.append(language)
        return object()


def test_recognizer_choice() -> None:
    en, multi = FakeLangRecognizer(["en"]), FakeLangRecognizer(["en", "ja"])
    choice = RecognizerChoice({"en": en, "*": multi}, "en-US")  # type: ignore[dict-item]
    choice.new_stream()
    assert en.hints == ["en"] and multi.hints == []
    choice = RecognizerChoice({"en": en, "*": multi}, "ja-JP")  # type: ignore[dict-item]
    choice.new_stream()
    assert multi.hints == ["ja"]
    choice = RecognizerChoice({"en": en, "*": multi}, None)  # type: ignore[dict-item]
    choice.new_stream()
    choice.observe("en", 0.5)  # too short to trust
    choice.new_stream()
    choice.observe("en", 1.2)
    choice.new_stream()
    assert multi.hints == ["ja", None, None] and en.hints == ["en", "en"]
    only_en = RecognizerChoice({"en": en}, "ja-JP")  # type: ignore[dict-item]
    only_en.new_stream()
    assert en.hints[-1] is None  # cannot do Japanese: no misleading hint
    with pytest.raises(ValueError):
        RecognizerChoice({}, None)


def test_pcm_decoder_carries_odd_bytes() -> None:
    dec = PcmDecoder()
    raw = np.array([1000, -2000, 3000], dtype="<i2").tobytes()
    a = dec.decode(raw[:3])
    b = dec.decode(raw[3:])
    assert np.allclose(np.concatenate([a, b]) * 32768, [1000, -2000, 3000])


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_streaming_resampler_matches_one_shot(rate: int) -> None:
    t = np.arange(rate) / rate
    x = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    r = InputResampler()
    parts = [r.process(x[i : i + 777], rate) for i in range(0, x.size, 777)]
    out = np.concatenate([*parts, r.flush()])
    ref = soxr.resample(x, rate, 16_000, quality="HQ")
    assert out.size == pytest.approx(16_000, abs=2)
    n = min(out.size, ref.size)
    assert np.max(np.abs(out[:n] - ref[:n])) < 1e-4


def test_resampler_switches_rate_midstream_without_losing_audio() -> None:
    r = InputResampler()
    a = r.process(np.ones(8000, dtype=np.float32) * 0.1, 8_000)
    b = r.process(np.ones(48000, dtype=np.float32) * 0.1, 48_000)
    c = r.process(np.ones(16000, dtype=np.float32) * 0.1, 16_000)
    total = a.size + b.size + c.size + r.flush().size
    assert total == pytest.approx(16_000 * 3, abs=4)


def test_audio_tape_addresses_absolute_samples() -> None:
    tape = AudioTape()
    for i in range(40):
        tape.append(np.full(1000, i, dtype=np.float32))
    assert tape.end == 40_000
    tape.trim_before(500)  # less than a second: kept readable
    assert tape.start == 0
    tape.trim_before(20_000)
    assert tape.start == 20_000
    assert tape.slice(19_000, 21_000).tolist() == [20.0] * 1000
    assert tape.slice(39_500, 50_000).size == 500


class ScriptedDetector:
    """Language identification that returns ``scores`` once ``release`` is set; records audio lengths."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.calls: list[int] = []
        self.release = asyncio.Event()
        self.release.set()

    async def detect_language(self, audio: np.ndarray) -> dict[str, float]:
        self.calls.append(audio.size)
        await self.release.wait()
        return self.scores


class ScriptedStream:
    def __init__(self, language: str | None) -> None:
        self.language = language
        self.fed: list[np.ndarray] = []
        self.partials = 0

    def feed(self, audio: np.ndarray) -> None:
        self.fed.append(audio)

    async def partial(self) -> RecognitionResult | None:
        self.partials += 1
        return RecognitionResult(text="partial", language=self.language)

    async def finish(self) -> RecognitionResult:
        return RecognitionResult(text="final", language=self.language)


def detecting(scores: dict[str, float]) -> tuple[DetectingStream, ScriptedDetector, list[ScriptedStream]]:
    detector, routed = ScriptedDetector(scores), []

    def stream_for(language: str | None) -> ScriptedStream:
        routed.append(ScriptedStream(language))
        return routed[-1]

    return DetectingStream(detector, stream_for), detector, routed  # type: ignore[arg-type]


def ramp(n: int, start: int = 0) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.float32)


async def test_detecting_stream_waits_for_enough_audio_then_routes_all_of_it() -> None:
    stream, detector, routed = detecting({"en": 0.1, "ja": 0.4})
    stream.feed(ramp(DETECT_MIN_SAMPLES - 1))
    assert await stream.partial() is None and detector.calls == []  # too little to tell a language by
    stream.feed(ramp(1, DETECT_MIN_SAMPLES - 1))
    detector.release.clear()
    first = asyncio.ensure_future(stream.partial())
    await asyncio.sleep(0)
    assert detector.calls == [DETECT_MIN_SAMPLES]
    stream.feed(ramp(100, DETECT_MIN_SAMPLES))  # arrives while the detector runs
    assert await stream.partial() is None  # one thing at a time
    detector.release.set()
    result = await first
    assert result is not None and result.language == "ja" and stream.language == "ja"
    stream.feed(ramp(50, DETECT_MIN_SAMPLES + 100))
    (inner,) = routed
    np.testing.assert_array_equal(np.concatenate(inner.fed), ramp(DETECT_MIN_SAMPLES + 150))
    assert (await stream.finish()).text == "final"
    assert len(detector.calls) == 1 and len(routed) == 1  # identified once per utterance


async def test_a_doubtful_language_is_checked_again_with_more_audio() -> None:
    stream, detector, routed = detecting({"en": 0.1, "ja": 0.05})  # en, but only twice as likely
    stream.feed(ramp(DETECT_MIN_SAMPLES))
    assert (await stream.partial()) is not None and stream.language == "en"
    stream.feed(ramp(RECHECK_MIN_NEW_SAMPLES - 1, DETECT_MIN_SAMPLES))
    await stream.partial()
    assert len(detector.calls) == 1  # not enough new audio for a second look
    stream.feed(ramp(1, DETECT_MIN_SAMPLES + RECHECK_MIN_NEW_SAMPLES - 1))
    detector.scores = {"en": 0.02, "ja": 0.4}  # now Japanese: 0.45 against 0.12 in all, not yet sure
    await stream.partial()
    total = DETECT_MIN_SAMPLES + RECHECK_MIN_NEW_SAMPLES
    assert detector.calls == [DETECT_MIN_SAMPLES, total] and stream.language == "ja"
    assert [r.language for r in routed] == ["en", "ja"]
    detector.scores = {"en": 0.02, "ja": 0.9}  # now sure: settled, no further look
    for _ in range(3):
        stream.feed(ramp(RECHECK_MIN_NEW_SAMPLES, total))
        total += RECHECK_MIN_NEW_SAMPLES
        await stream.partial()
    result = await stream.finish()
    assert len(detector.calls) == 3 and result.language == "ja" and len(routed) == 2
    np.testing.assert_array_equal(np.concatenate(routed[1].fed), ramp(total))


async def test_one_odd_look_does_not_overturn_consistent_ones() -> None:
    # Measured on espeak-ng's German through the server: de 0.50, de 0.76, then Thai 0.64 on 2.1 s.
    stream, detector, routed = detecting({"de": 0.50, "ja": 0.15})
    samples = 0
    for scores in ({"de": 0.50, "ja": 0.15}, {"de": 0.76, "en": 0.05}, {"th": 0.64, "de": 0.18}):
        detector.scores = scores
        step = DETECT_MIN_SAMPLES if not samples else RECHECK_MIN_NEW_SAMPLES
        stream.feed(ramp(step, samples))
        samples += step
        await stream.partial()
    assert stream.language == "de" and [r.language for r in routed] == ["de"]


async def test_a_likely_but_improbable_language_on_short_audio_is_checked_again() -> None:
    # espeak-ng's German on its first 0.8 s: "en" at 0.39, well ahead of the next, yet wrong. Ahead
    # is not enough on little audio: the probability must be high too, or the audio long enough.
    stream, detector, routed = detecting({"en": 0.39, "ja": 0.12})
    stream.feed(ramp(DETECT_MIN_SAMPLES))
    await stream.partial()
    detector.scores = {"de": 0.76, "en": 0.04}
    samples = DETECT_MIN_SAMPLES
    while samples < SETTLE_MIN_SAMPLES:
        stream.feed(ramp(RECHECK_MIN_NEW_SAMPLES, samples))
        samples += RECHECK_MIN_NEW_SAMPLES
        await stream.partial()
    assert stream.language == "de" and [r.language for r in routed] == ["en", "de"]
    calls = len(detector.calls)
    stream.feed(ramp(RECHECK_MIN_NEW_SAMPLES, samples))
    await stream.partial()
    assert len(detector.calls) == calls  # de at 0.76 on 1.5 s or more: settled


async def test_identification_stops_after_max_looks() -> None:
    stream, detector, _ = detecting({"en": 0.3, "ja": 0.2})  # never confident
    samples = 0
    for _ in range(MAX_IDENTIFICATIONS + 3):
        stream.feed(ramp(max(DETECT_MIN_SAMPLES, RECHECK_MIN_NEW_SAMPLES), samples))
        samples += max(DETECT_MIN_SAMPLES, RECHECK_MIN_NEW_SAMPLES)
        await stream.partial()
    assert len(detector.calls) == MAX_IDENTIFICATIONS  # the ASR worker's time is bounded


async def test_detecting_stream_identifies_at_finish_a_short_or_empty_utterance() -> None:
    stream, detector, routed = detecting({"en": 0.3})
    stream.feed(ramp(1000))
    result = await stream.finish()
    assert (result.text, result.language) == ("final", "en") and detector.calls == [1000]
    empty, detector, routed = detecting({"en": 0.3})
    assert (await empty.finish()).language is None  # nothing to identify: the detector is not asked
    assert detector.calls == [] and routed[0].language is None


def test_recognizer_choice_identifies_only_an_unknown_language_on_the_multilingual_recognizer() -> None:
    en, multi, plain = FakeLangRecognizer(["en"]), FakeLangDetector(["en", "ja"]), FakeLangRecognizer(["ja"])

    def first_stream(recognizers: dict[str, Any], language: str | None) -> object:
        return RecognizerChoice(recognizers, language).new_stream()

    assert isinstance(first_stream({"en": en, "*": multi}, None), DetectingStream)
    assert not isinstance(first_stream({"en": en, "*": multi}, "ja"), DetectingStream)
    assert not isinstance(first_stream({"en": en}, None), DetectingStream)
    assert not isinstance(first_stream({"en": en, "*": plain}, None), DetectingStream)  # cannot identify


class FakeLangDetector(FakeLangRecognizer):
    async def detect_language(self, audio: np.ndarray) -> dict[str, float]:
        return {"en": 1.0}
