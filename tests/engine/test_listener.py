"""The listener with scripted stages: turn timing, modes, transcripts, noise."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from listener_fakes import (
    SR,
    EventLog,
    FakeDetectingRecognizer,
    FakeRecognizer,
    FakeTurnDetector,
    FakeVad,
    noise,
    pcm,
    silence,
    stream,
    tone,
)

from openlive.engine.listen_language import DETECT_MIN_SAMPLES
from openlive.engine.listener import (
    MAX_QUEUED_AUDIO_S,
    InterimTranscript,
    Listener,
    SpeechResumed,
    SpeechStarted,
    TurnDropped,
    TurnEnded,
)
from openlive.protocol.errors import CloseCode, ProtocolError
from openlive.protocol.messages import (
    AutomaticActivityDetection,
    EndSensitivity,
    RealtimeInputConfig,
    StartSensitivity,
    TurnCoverage,
)

FRAME_S = 512 / SR


def make(
    *,
    vad: FakeVad | None = None,
    turn: FakeTurnDetector | None = None,
    asr: FakeRecognizer | dict[str, FakeRecognizer] | None = None,
    language: str | None = "en-US",
    **aad: object,
) -> tuple[Listener, EventLog]:
    coverage = aad.pop("turn_coverage", TurnCoverage.UNSPECIFIED)
    config = RealtimeInputConfig(
        automatic_activity_detection=AutomaticActivityDetection(**aad),  # type: ignore[arg-type]
        turn_coverage=coverage,  # type: ignore[arg-type]
    )
    recognizers = asr if isinstance(asr, dict) else {"en": asr or FakeRecognizer()}
    listener = Listener(
        vad=vad if vad is not None else FakeVad(),
        turn=turn,
        recognizers=recognizers,  # type: ignore[arg-type]
        config=config,
        language=language,
    )
    return listener, EventLog(listener)


async def test_onset_and_end_of_turn_timing() -> None:
    turn = FakeTurnDetector(0.9)
    listener, log = make(turn=turn)
    await stream(listener, np.concatenate([silence(1.0), tone(1.5), silence(1.0)]))
    await log.settle()
    started = log.of(SpeechStarted)
    ended = log.of(TurnEnded)
    assert len(started) == 1 and len(ended) == 1
    assert started[0].at_s == pytest.approx(1.0, abs=FRAME_S)
    assert ended[0].speech_end_s == pytest.approx(2.5, abs=FRAME_S)
    assert ended[0].text == "front center is where the speaker"  # 1.5 s of tone = 6 words
    # Asked once, after a 160 ms pause (end sensitivity HIGH), sure (0.9): the turn ended there.
    assert len(turn.calls) == 1
    assert ended[0].language == "en"
    assert isinstance(log.events[-1], TurnEnded)
    await log.close()


async def test_speech_started_is_emitted_while_the_user_still_speaks() -> None:
    listener, log = make(turn=FakeTurnDetector(0.9))
    await stream(listener, np.concatenate([silence(0.5), tone(0.2)]))
    await log.settle()
    assert [type(e) for e in log.events] == [SpeechStarted]
    # HIGH start sensitivity: 2 frames (64 ms) of speech commit the onset.
    assert listener.speaking
    await log.close()


async def test_prefix_padding_audio_is_kept_before_the_onset() -> None:
    asr = FakeRecognizer()
    listener, log = make(turn=FakeTurnDetector(0.9), asr=asr)
    await stream(listener, np.concatenate([noise(1.0, amp=0.001), tone(1.0), silence(0.6)]))
    await log.settle()
    (ended,) = log.of(TurnEnded)
    fed = asr.streams[0].audio()
    first_voiced = int(np.argmax(np.abs(fed) > 0.05))
    # 300 ms of audio before the first speech frame went to the recogniser and into the turn's audio.
    assert first_voiced / SR == pytest.approx(0.3, abs=FRAME_S)
    assert int(np.argmax(np.abs(ended.audio) > 0.05)) / SR == pytest.approx(0.3, abs=FRAME_S)
    # ONLY_ACTIVITY: the turn's audio stops 200 ms after the speech.
    assert ended.audio.size / SR == pytest.approx(0.3 + 1.0 + 0.2, abs=2 * FRAME_S)
    await log.close()


async def test_short_pause_with_low_end_probability_does_not_end_the_turn() -> None:
    # P(end) is low while the utterance is short (mid-sentence), high once it is long.
    turn = FakeTurnDetector(lambda audio: 0.1 if audio.size < 2 * SR else 0.95)
    listener, log = make(turn=turn)
    speech = np.concatenate([tone(0.8), silence(0.4), tone(0.8), silence(0.6)])
    await stream(listener, np.concatenate([silence(0.3), speech]))
    await log.settle()
    assert len(log.of(SpeechStarted)) == 1
    (ended,) = log.of(TurnEnded)
    assert ended.speech_end_s == pytest.approx(0.3 + 2.0, abs=FRAME_S)
    assert len(turn.calls) == 3  # at 160 and 320 ms into the 400 ms pause, at 160 ms into the last
    await log.close()


async def test_silence_bound_ends_the_turn_when_the_model_disagrees() -> None:
    turn = FakeTurnDetector(0.05)
    listener, log = make(turn=turn, silence_duration_ms=700)
    await stream(listener, np.concatenate([tone(1.0), silence(0.6)]))
    await log.settle()
    assert not log.of(TurnEnded)
    await stream(listener, silence(0.2))
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert ended.speech_end_s == pytest.approx(1.0, abs=FRAME_S)
    await log.close()


async def test_default_silence_bound_with_a_turn_model_is_one_second() -> None:
    listener, log = make(turn=FakeTurnDetector(0.0))
    await stream(listener, np.concatenate([tone(1.0), silence(0.9)]))
    await log.settle()
    assert not log.of(TurnEnded)
    await stream(listener, silence(0.2))
    await log.settle()
    assert len(log.of(TurnEnded)) == 1
    await log.close()


async def test_without_a_turn_model_a_500_ms_silence_ends_the_turn() -> None:
    listener, log = make(turn=None)
    await stream(listener, np.concatenate([tone(1.0), silence(0.3)]))
    await log.settle()
    assert not log.of(TurnEnded)
    await stream(listener, silence(0.3))
    await log.settle()
    assert len(log.of(TurnEnded)) == 1
    await log.close()


async def test_low_start_sensitivity_ignores_a_short_burst() -> None:
    listener, log = make(turn=FakeTurnDetector(0.9), start_of_speech_sensitivity=StartSensitivity.LOW)
    await stream(listener, np.concatenate([silence(0.3), tone(0.1), silence(0.5)]))
    await log.settle()
    assert not log.events  # at most 5 frames (160 ms) < 192 ms: no onset at all
    await stream(listener, np.concatenate([tone(1.0), silence(0.6)]))
    await log.settle()
    assert [type(e) for e in log.events if not isinstance(e, InterimTranscript)] == [SpeechStarted, TurnEnded]
    await log.close()


async def test_high_start_sensitivity_reports_the_onset_but_drops_a_click() -> None:
    listener, log = make(turn=FakeTurnDetector(0.9))
    await stream(listener, np.concatenate([silence(0.3), tone(0.15), silence(0.6)]))
    await log.settle()
    assert [type(e) for e in log.events] == [SpeechStarted, TurnDropped]
    await log.close()


async def test_audio_stream_end_flushes_a_pending_turn() -> None:
    listener, log = make(turn=FakeTurnDetector(0.0))
    await stream(listener, np.concatenate([silence(0.2), tone(1.0), silence(0.1)]))
    await log.settle()
    assert not log.of(TurnEnded)
    listener.audio_stream_end()
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert ended.speech_end_s == pytest.approx(1.2, abs=FRAME_S)
    # Stream end resets the VAD: what comes next is not a continuation.
    assert listener._vad is not None and listener._vad.resets == 1  # type: ignore[attr-defined]
    count = len(log.events)
    listener.audio_stream_end()  # nothing pending: no event
    await log.settle()
    assert len(log.events) == count
    await log.close()


async def test_noise_only_produces_no_events() -> None:
    turn = FakeTurnDetector(0.9)
    asr = FakeRecognizer()
    listener, log = make(turn=turn, asr=asr)
    await stream(listener, noise(3.0, amp=0.01))
    listener.audio_stream_end()
    await log.settle()
    assert log.events == []
    assert asr.streams == [] and turn.calls == []
    await log.close()


@pytest.mark.parametrize(
    "text",
    ["[BLANK_AUDIO]", "(noise)", " ... ", "♪", "*music*"],
)
async def test_annotation_only_transcripts_are_dropped(text: str) -> None:
    listener, log = make(turn=FakeTurnDetector(0.9), asr=FakeRecognizer(final_text=text))
    await stream(listener, np.concatenate([tone(1.0), silence(0.4)]))
    await log.settle()
    assert [type(e) for e in log.events] == [SpeechStarted, TurnDropped]
    await log.close()


async def test_thank_you_is_a_turn_when_really_spoken_and_dropped_on_a_blip() -> None:
    listener, log = make(turn=FakeTurnDetector(0.9), asr=FakeRecognizer(final_text="Thank you."))
    await stream(listener, np.concatenate([tone(0.4), silence(0.6), tone(0.8), silence(0.4)]))
    await log.settle()
    kinds = [type(e) for e in log.events if not isinstance(e, InterimTranscript)]
    assert kinds == [SpeechStarted, TurnDropped, SpeechStarted, TurnEnded]
    assert log.of(TurnEnded)[0].text == "Thank you."  # type: ignore[attr-defined]
    await log.close()


async def test_interim_transcripts_while_speaking_never_concurrent() -> None:
    asr = FakeRecognizer(partial_delay=0.05)
    listener, log = make(turn=FakeTurnDetector(0.9), asr=asr)
    audio = np.concatenate([tone(3.0), silence(0.5)])
    step = SR // 50
    for i in range(0, audio.size, step):
        listener.feed(pcm(audio[i : i + step]), SR)
        await asyncio.sleep(0.004)  # ~5x real time: partials overlap with new audio
    await log.settle()
    interims = log.of(InterimTranscript)
    assert len(interims) >= 2
    assert asr.max_concurrent == 1
    assert asr.partial_calls <= 3.0 / 0.6 + 1
    texts = [e.text for e in interims if not e.at_pause]  # type: ignore[attr-defined]
    assert len(set(texts)) == len(texts)  # emitted only when the text changes (but see at_pause)
    end = log.events.index(log.of(TurnEnded)[0])
    assert all(log.events.index(e) < end for e in interims)
    await log.close()


async def test_a_pause_reports_its_transcript_and_speech_after_it_voids_it() -> None:
    # The end-of-turn model says "not finished" until the silence bound, so the short pause goes on.
    listener, log = make(turn=FakeTurnDetector(0.1), asr=FakeRecognizer())
    await stream(listener, np.concatenate([silence(0.3), tone(1.0), silence(0.2)]))
    await log.settle()
    at_pause = [e for e in log.of(InterimTranscript) if e.at_pause]  # type: ignore[attr-defined]
    assert len(at_pause) == 1, log.events
    assert not log.of(SpeechResumed)
    await stream(listener, np.concatenate([tone(0.5), silence(1.2)]))
    await log.settle()
    kinds = [type(e) for e in log.events if not isinstance(e, InterimTranscript)]
    assert kinds == [SpeechStarted, SpeechResumed, TurnEnded], log.events
    # The resumption came after the pause's transcript, and a second pause reported its own.
    resumed = log.events.index(log.of(SpeechResumed)[0])
    assert log.events.index(at_pause[0]) < resumed
    later = [e for e in log.events[resumed:] if isinstance(e, InterimTranscript) and e.at_pause]
    assert later, log.events
    await log.close()


@pytest.mark.parametrize("rate", [8_000, 16_000, 22_050, 44_100, 48_000])
async def test_any_input_rate_is_resampled_to_16k(rate: int) -> None:
    asr = FakeRecognizer()
    listener, log = make(turn=FakeTurnDetector(0.9), asr=asr)
    audio = np.concatenate([silence(0.5, rate=rate), tone(1.0, rate=rate, freq=440), silence(0.6, rate=rate)])
    await stream(listener, audio, rate=rate)
    await log.settle()
    (started,) = log.of(SpeechStarted)
    (ended,) = log.of(TurnEnded)
    assert started.at_s == pytest.approx(0.5, abs=2 * FRAME_S)
    assert ended.speech_end_s == pytest.approx(1.5, abs=2 * FRAME_S)
    # The recogniser got 16 kHz audio: a 440 Hz tone peaks at bin 440 Hz of its spectrum.
    fed = asr.streams[0].audio()
    voiced = fed[np.abs(fed) > 0.0][: SR // 2]
    spectrum = np.abs(np.fft.rfft(voiced * np.hanning(voiced.size)))
    assert np.argmax(spectrum) * SR / voiced.size == pytest.approx(440, abs=8)
    await log.close()


async def test_odd_byte_chunks_are_stitched() -> None:
    listener, log = make(turn=FakeTurnDetector(0.9))
    raw = pcm(np.concatenate([silence(0.3), tone(1.0), silence(0.5)]))
    for i in range(0, len(raw), 333):  # odd chunk sizes split samples
        listener.feed(raw[i : i + 333], SR)
        await asyncio.sleep(0)
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert ended.speech_end_s == pytest.approx(1.3, abs=FRAME_S)
    await log.close()


async def test_manual_mode_brackets_the_turn() -> None:
    asr = FakeRecognizer()
    listener, log = make(asr=asr, vad=FakeVad(script=[]), disabled=True)
    await stream(listener, tone(0.5))  # before activityStart: not part of any turn
    listener.activity_start()
    await stream(listener, np.concatenate([tone(1.0), silence(2.0)]))  # a long silence ends nothing
    await log.settle()
    assert [type(e) for e in log.events if not isinstance(e, InterimTranscript)] == [SpeechStarted]
    listener.activity_end()
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert ended.text == "front center is where"
    assert ended.audio.size / SR == pytest.approx(3.0, abs=0.01)
    assert log.of(SpeechStarted)[0].at_s == pytest.approx(0.5, abs=0.01)  # type: ignore[attr-defined]
    assert ended.speech_end_s == pytest.approx(3.5, abs=0.01)
    await log.close()


async def test_manual_mode_needs_no_vad_and_ignores_stray_signals() -> None:
    config = RealtimeInputConfig(automatic_activity_detection=AutomaticActivityDetection(disabled=True))
    listener = Listener(
        vad=None, turn=None, recognizers={"en": FakeRecognizer()}, config=config, language=None
    )
    log = EventLog(listener)
    listener.activity_end()  # no activity open: ignored
    listener.audio_stream_end()  # not sent in manual mode; ignored
    await stream(listener, tone(0.5))
    await log.settle()
    assert log.events == []
    await log.close()


async def test_activity_signals_in_automatic_mode_are_invalid() -> None:
    listener, log = make(turn=FakeTurnDetector(0.9))
    with pytest.raises(ProtocolError) as err:
        listener.activity_start()
    assert err.value.code == CloseCode.INVALID_ARGUMENT
    with pytest.raises(ProtocolError) as err:
        listener.activity_end()
    assert err.value.code == CloseCode.INVALID_ARGUMENT
    with pytest.raises(ProtocolError):
        listener.feed(b"\0\0", 0)
    await log.close()


async def test_automatic_mode_without_a_vad_is_an_internal_error() -> None:
    with pytest.raises(ProtocolError) as err:
        Listener(
            vad=None,
            turn=None,
            recognizers={"en": FakeRecognizer()},
            config=RealtimeInputConfig(),
            language=None,
        )
    assert err.value.code == CloseCode.INTERNAL


async def test_language_is_detected_then_kept() -> None:
    multi = FakeRecognizer(detected="ja", languages=("en", "ja"))
    english = FakeRecognizer()
    listener, log = make(turn=FakeTurnDetector(0.9), asr={"*": multi, "en": english}, language=None)
    await stream(listener, np.concatenate([tone(1.5), silence(0.4)]))
    await log.settle()
    assert multi.streams[0].language is None  # detecting
    assert log.of(TurnEnded)[0].language == "ja"  # type: ignore[attr-defined]
    await stream(listener, np.concatenate([tone(1.0), silence(0.4)]))
    await log.settle()
    assert multi.streams[1].language == "ja"  # kept as a hint; no "ja" recogniser of its own
    assert english.streams == []
    await log.close()


async def test_an_unknown_language_is_identified_while_speaking_and_its_recogniser_transcribes() -> None:
    multi = FakeDetectingRecognizer({"en": 0.2, "ja": 0.01}, detect_delay=0.02, languages=("en", "ja"))
    english = FakeRecognizer()
    listener, log = make(turn=FakeTurnDetector(0.9), asr={"*": multi, "en": english}, language=None)
    await stream(listener, np.concatenate([silence(0.5), tone(1.5), silence(0.4)]))
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert ended.language == "en"  # type: ignore[attr-defined]
    # Identified once, from the first partial request (0.6 s of speech + pre-roll), long before the end.
    assert len(multi.detect_calls) == 1
    assert DETECT_MIN_SAMPLES <= multi.detect_calls[0] <= 1.0 * SR
    assert multi.streams == []  # the multilingual model never transcribed
    # tiny.en's stream got the whole utterance: the audio identified, what came during identification
    # and after it, in order (the turn's audio is the same tape from the same start).
    (first,) = english.streams
    assert first.language == "en"
    fed, turn_audio = first.audio(), ended.audio  # type: ignore[attr-defined]
    assert fed.size >= turn_audio.size - 512 and fed.size >= 1.5 * SR
    n = min(fed.size, turn_audio.size)
    np.testing.assert_array_equal(fed[:n], turn_audio[:n])
    assert ended.text == "front center is where the speaker"  # type: ignore[attr-defined]
    # Kept for the session: the next utterance goes straight to tiny.en.
    await stream(listener, np.concatenate([tone(1.0), silence(0.4)]))
    await log.settle()
    assert len(multi.detect_calls) == 1 and len(english.streams) == 2
    assert english.streams[1].language == "en"
    await log.close()


async def test_an_identified_language_without_its_own_recogniser_is_a_hint_to_the_multilingual_one() -> None:
    multi = FakeDetectingRecognizer({"en": 0.05, "ja": 0.6}, languages=("en", "ja"))
    english = FakeRecognizer()
    listener, log = make(turn=FakeTurnDetector(0.9), asr={"*": multi, "en": english}, language=None)
    await stream(listener, np.concatenate([tone(1.5), silence(0.4)]))
    await log.settle()
    assert [s.language for s in multi.streams] == ["ja"] and english.streams == []
    assert log.of(TurnEnded)[0].language == "ja"  # type: ignore[attr-defined]
    await log.close()


async def test_a_fixed_session_language_picks_its_recogniser() -> None:
    multi = FakeRecognizer(detected="en", languages=("en", "ja"))
    japanese = FakeRecognizer(detected="ja", languages=("ja",))
    listener, log = make(turn=FakeTurnDetector(0.9), asr={"*": multi, "ja": japanese}, language="ja-JP")
    await stream(listener, np.concatenate([tone(1.0), silence(0.4)]))
    await log.settle()
    assert multi.streams == [] and japanese.streams[0].language == "ja"
    assert log.of(TurnEnded)[0].language == "ja"  # type: ignore[attr-defined]
    await log.close()


async def test_all_input_coverage_includes_audio_between_turns() -> None:
    listener, log = make(turn=FakeTurnDetector(0.9), turn_coverage=TurnCoverage.TURN_INCLUDES_ALL_INPUT)
    await stream(listener, np.concatenate([silence(2.0), tone(1.0), silence(0.5)]))
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert ended.audio.size / SR == pytest.approx(2.0 + 1.0 + 0.2, abs=2 * FRAME_S)
    await log.close()


def tiered_vad(audio: np.ndarray) -> FakeVad:
    """P(speech) per 32 ms frame: 1.0 for loud tone, 0.3 for quiet tone (speech the VAD is unsure of:
    no onset), 0.0 for silence."""
    frames = audio[: audio.size // 512 * 512].reshape(-1, 512)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return FakeVad(script=[1.0 if r > 0.1 else 0.3 if r > 0.02 else 0.0 for r in rms])


@pytest.mark.parametrize(
    ("coverage", "words"),
    [(TurnCoverage.TURN_INCLUDES_ONLY_ACTIVITY, 4), (TurnCoverage.TURN_INCLUDES_ALL_INPUT, 8)],
)
async def test_all_input_coverage_recognises_quiet_speech_before_the_onset(
    coverage: TurnCoverage, words: int
) -> None:
    """One second of speech the VAD does not take for an onset (P = 0.3), then a second it does: only
    with TURN_INCLUDES_ALL_INPUT are the quiet words recognised into the turn (the fake recogniser
    hears a word per 0.25 s of audible tone fed to its stream)."""
    audio = np.concatenate([silence(1.0), tone(1.0, amp=0.05), silence(0.3), tone(1.0), silence(0.6)])
    asr = FakeRecognizer(words=[f"w{i}" for i in range(12)])
    listener, log = make(vad=tiered_vad(audio), asr=asr, turn=FakeTurnDetector(0.9), turn_coverage=coverage)
    await stream(listener, audio)
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert len(ended.text.split()) == words, ended.text
    assert log.of(SpeechStarted)[0].at_s == pytest.approx(2.3, abs=2 * FRAME_S)  # type: ignore[attr-defined]
    await log.close()


async def test_all_input_coverage_leaves_out_quiet_sound_while_a_reply_plays() -> None:
    """Sound that arrives while the reply is played back may be its echo: not recognised into the turn."""
    audio = np.concatenate([silence(1.0), tone(1.0, amp=0.05), silence(0.3), tone(1.0), silence(0.6)])
    asr = FakeRecognizer(words=[f"w{i}" for i in range(12)])
    listener, log = make(
        vad=tiered_vad(audio),
        asr=asr,
        turn=FakeTurnDetector(0.9),
        turn_coverage=TurnCoverage.TURN_INCLUDES_ALL_INPUT,
    )
    listener.note_playback(b"\x00\x10" * 24_000)  # a second of reply audio, just sent
    await stream(listener, audio)
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert len(ended.text.split()) == 4, ended.text
    await log.close()


@pytest.mark.parametrize(
    ("coverage", "text"),
    [
        (TurnCoverage.TURN_INCLUDES_ONLY_ACTIVITY, "front center is where"),
        (TurnCoverage.TURN_INCLUDES_ALL_INPUT, "front center is where the speaker"),
    ],
)
async def test_all_input_coverage_in_manual_mode_recognises_speech_before_activity_start(
    coverage: TurnCoverage, text: str
) -> None:
    listener, log = make(vad=FakeVad(script=[]), disabled=True, turn_coverage=coverage)
    await stream(listener, tone(0.5))  # before activityStart
    listener.activity_start()
    await stream(listener, tone(1.0))
    listener.activity_end()
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert ended.text == text
    await log.close()


async def test_speech_end_wall_time_and_clock() -> None:
    now = [100.0]
    config = RealtimeInputConfig()
    listener = Listener(
        vad=FakeVad(),
        turn=FakeTurnDetector(0.9),
        recognizers={"en": FakeRecognizer()},
        config=config,
        language="en",
        clock=lambda: now[0],
    )
    log = EventLog(listener)
    audio = np.concatenate([tone(1.0), silence(0.5)])
    step = SR // 50
    for i in range(0, audio.size, step):  # a real-time client, on a fake clock
        now[0] = 100.0 + (i + step) / SR
        listener.feed(pcm(audio[i : i + step]), SR)
        await asyncio.sleep(0)
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert ended.speech_end_wall == pytest.approx(101.0, abs=FRAME_S + 0.02)  # 20 ms chunks
    assert listener.last_speech_end_wall == ended.speech_end_wall
    assert ended.decided_wall - ended.speech_end_wall == pytest.approx(0.16, abs=2 * FRAME_S)
    assert ended.decided_s - ended.speech_end_s == pytest.approx(0.16, abs=FRAME_S)
    await log.close()


async def test_a_failing_recogniser_surfaces_from_events() -> None:
    class BrokenRecognizer(FakeRecognizer):
        def new_stream(self, language: str | None = None) -> object:  # type: ignore[override]
            raise RuntimeError("model gone")

    listener, log = make(turn=FakeTurnDetector(0.9), asr=BrokenRecognizer())
    await stream(listener, np.concatenate([tone(0.5), silence(0.2)]))
    await log.settle()
    assert isinstance(log.error, RuntimeError)
    listener.feed(pcm(tone(0.1)), SR)  # after a failure feeding is a no-op
    await log.close()


async def test_a_lone_short_word_is_only_asked_about_after_480_ms() -> None:
    turn = FakeTurnDetector(0.99)
    listener, log = make(turn=turn)
    await stream(listener, np.concatenate([silence(0.2), tone(0.4), silence(0.45)]))
    await log.settle()
    assert turn.calls == [] and not log.of(TurnEnded)
    await stream(listener, silence(0.1))
    await log.settle()
    assert len(turn.calls) == 1 and len(log.of(TurnEnded)) == 1


async def test_a_doubtful_end_waits_for_the_second_question() -> None:
    turn = FakeTurnDetector(0.8)  # below the 160 ms bar (0.9), above the 320 ms one (0.7)
    listener, log = make(turn=turn)
    await stream(listener, np.concatenate([tone(1.0), silence(0.6)]))
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert len(turn.calls) == 2
    assert ended.decided_wall >= ended.speech_end_wall


async def test_end_sensitivity_low_waits_longer_before_asking() -> None:
    turn = FakeTurnDetector(0.99)
    listener, log = make(turn=turn, end_of_speech_sensitivity=EndSensitivity.LOW)
    await stream(listener, np.concatenate([tone(1.0), silence(0.25)]))
    await log.settle()
    assert turn.calls == []  # HIGH would have asked after 160 ms
    await stream(listener, silence(0.1))
    await log.settle()
    assert len(turn.calls) == 1 and len(log.of(TurnEnded)) == 1
    await log.close()


async def test_a_pause_starts_a_decode_before_the_end_of_turn_is_decided() -> None:
    asr = FakeRecognizer()
    turn = FakeTurnDetector(0.0)
    listener, log = make(turn=turn, asr=asr)
    await stream(listener, np.concatenate([tone(0.5), silence(0.05)]))  # < 0.6 s: no periodic partial
    await log.settle()
    assert asr.partial_calls == 0
    await stream(listener, silence(0.05))  # 64 ms into the pause
    await log.settle()
    assert asr.partial_calls == 1 and turn.calls == []
    await stream(listener, silence(0.2))  # the same pause: no second speculation
    await log.settle()
    assert asr.partial_calls == 1
    await stream(listener, np.concatenate([tone(0.3), silence(0.1)]))  # a new pause: a new one
    await log.settle()
    assert asr.partial_calls == 2
    await log.close()


@pytest.mark.parametrize(
    ("text", "decided_ms"),
    [
        ("What time is lunch served?", 480),  # a question: at the model's last question
        ("That's all, thank you. Goodbye!", 1000),  # "!" comes inside speeches too ("Ask not!")
        ("I want to vote for the talk on", 1000),  # unfinished: the silence bound, as before
        ("I want a table.", 1000),  # Whisper's full stop comes at almost every pause
    ],
)
async def test_a_pause_whose_words_ask_a_question_ends_the_turn_at_the_last_question(
    text: str, decided_ms: int
) -> None:
    # Smart Turn judges prosody: for a flat voice it gives P(end) ~0.05 after a finished question.
    turn = FakeTurnDetector(0.05)
    asr = FakeRecognizer(final_text=text, partial_text=text)
    listener, log = make(turn=turn, asr=asr)
    await stream(listener, np.concatenate([tone(1.0), silence(1.2)]))
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert ended.decided_s - ended.speech_end_s == pytest.approx(decided_ms / 1000, abs=2 * FRAME_S)
    assert ended.speak_after_wall == 0.0  # a question's reply is not held, nor one after 1 s of silence
    await log.close()


async def test_words_of_an_earlier_pause_do_not_end_the_turn() -> None:
    # The pause's own transcript counts: a question asked before more speech does not end the turn at
    # the next pause, whose decode has not come back (it waits here until the silence bound).
    asr = FakeRecognizer(final_text="Is it open? And when", partial_text="Is it open?")
    listener, log = make(turn=FakeTurnDetector(0.05), asr=asr)
    await stream(listener, np.concatenate([tone(1.0), silence(0.3)]))  # a pause reports "Is it open?"
    await log.settle()
    asr.partial_delay = 5.0  # the next pause's decode is slow
    await stream(listener, np.concatenate([tone(0.7), silence(1.2)]))
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert ended.decided_s - ended.speech_end_s == pytest.approx(1.0, abs=2 * FRAME_S)
    await log.close()


async def test_a_failing_turn_model_falls_back_to_the_silence_bound() -> None:
    def broken(audio: object) -> float:
        raise RuntimeError("inference failed")

    listener, log = make(turn=FakeTurnDetector(broken))  # type: ignore[arg-type]
    await stream(listener, np.concatenate([tone(1.0), silence(1.1)]))
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert ended.decided_s - ended.speech_end_s == pytest.approx(1.0, abs=2 * FRAME_S)
    assert log.error is None
    await log.close()


async def test_audio_waiting_past_its_bound_closes_with_1008_and_is_drained_as_processed() -> None:
    listener, _ = make()
    second = pcm(silence(1.0))
    for _ in range(int(MAX_QUEUED_AUDIO_S)):  # fed at once: nothing processed yet
        listener.feed(second, SR)
    assert listener.queued_audio_s == pytest.approx(MAX_QUEUED_AUDIO_S)  # the backlog the metrics report
    with pytest.raises(ProtocolError) as refused:
        listener.feed(second, SR)
    assert refused.value.code == CloseCode.POLICY and "30 s of audio" in refused.value.reason
    await listener.drained()
    assert listener.queued_audio_s == 0.0
    listener.feed(second, SR)  # processed: room again
    await listener.aclose()


async def test_a_statement_ended_by_the_turn_model_holds_its_reply_for_the_reply_gap() -> None:
    # Smart Turn is sure at the end of any sentence; a reply heard 160 ms into a sentence pause would
    # be cut by the user's next sentence. Held 800 ms from the end of speech, it is still unseen then.
    listener, log = make(turn=FakeTurnDetector(0.9), asr=FakeRecognizer(final_text="I want a table."))
    await stream(listener, np.concatenate([silence(0.5), tone(1.5), silence(1.0)]))
    await log.settle()
    (ended,) = log.of(TurnEnded)
    assert listener.policy.reply_gap_ms == 800
    assert ended.speak_after_wall == pytest.approx(ended.speech_end_wall + 0.8)
    await log.close()


@pytest.mark.parametrize(
    ("text", "p_end", "aad", "gap_ms"),
    [
        ("What time is lunch?", 0.9, {}, 0),  # a question asks for its answer now
        ("昼食は何時ですか？", 0.9, {}, 0),
        ("I want a table.", 0.1, {}, 0),  # ended by 1 s of silence, not in a short pause
        ("I want a table.", 0.9, {"end_of_speech_sensitivity": EndSensitivity.LOW}, 1000),
        ("I want a table.", 0.9, {"silence_duration_ms": 300}, 300),  # never more than the app's silence
    ],
)
async def test_the_reply_gap_by_question_ending_and_configuration(
    text: str, p_end: float, aad: dict[str, object], gap_ms: int
) -> None:
    listener, log = make(turn=FakeTurnDetector(p_end), asr=FakeRecognizer(final_text=text), **aad)
    await stream(listener, np.concatenate([silence(0.5), tone(1.5), silence(1.5)]))
    await log.settle()
    (ended,) = log.of(TurnEnded)
    held = ended.speak_after_wall - ended.speech_end_wall if ended.speak_after_wall else 0.0
    assert held == pytest.approx(gap_ms / 1000), (text, aad, listener.policy)
    await log.close()
