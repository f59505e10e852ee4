"""Speculative replies: the session starts answering the transcript of a pause before the turn ends.

Driven through the real listener over scripted speech stages (see listener_fakes), as in test_session.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from engine_fakes import RecordingOutbox, ScriptedLanguageModel, ScriptedSynthesizer, fake_profile
from listener_fakes import (
    FakeRecognitionStream,
    FakeRecognizer,
    FakeTurnDetector,
    FakeVad,
    silence,
    tone,
)
from test_session import speak
from test_session_races import model_text

from openlive.engine.session import LiveSession, SessionLimits
from openlive.protocol.messages import (
    AudioTranscriptionConfig,
    GenerationConfig,
    Modality,
    Setup,
    SpeechConfig,
)
from openlive.stages.speech import RecognitionResult

# Virtual time (looptime): the scripted delays and timers take no real time.
pytestmark = pytest.mark.looptime

WORDS = ("what", "is", "the", "capital", "of", "france")


class FakeStableStream(FakeRecognitionStream):
    """Its partial transcript is the whole text so far (the scripted default drops the last word)."""

    async def partial(self) -> RecognitionResult | None:
        return RecognitionResult(text=self._text(), language=self.language)


class FakeStableRecognizer(FakeRecognizer):
    def new_stream(self, language: str | None = None) -> FakeRecognitionStream:
        stream = FakeStableStream(self, language)
        self.streams.append(stream)
        return stream


def session_with(
    llm: ScriptedLanguageModel, asr: FakeRecognizer, *, modality: Modality = Modality.TEXT
) -> tuple[LiveSession, RecordingOutbox]:
    outbox = RecordingOutbox()
    setup = Setup(
        model="models/gemini-live-2.5-flash-native-audio",
        generation_config=GenerationConfig(
            response_modalities=[modality], speech_config=SpeechConfig(language_code="en-US")
        ),
        input_audio_transcription=AudioTranscriptionConfig(),
    )
    profile = dataclasses.replace(
        fake_profile(llm, ScriptedSynthesizer()),
        asr={"en": asr},
        vad=FakeVad(),
        turn=FakeTurnDetector(0.9),
    )
    session = LiveSession(setup, profile, outbox, session_id="s1", limits=SessionLimits(audio_lead_s=60.0))
    return session, outbox


def kinds(outbox: RecordingOutbox) -> list[str]:
    """The session's output in order: "final" (finished input transcription), "text", "audio", …"""
    out: list[str] = []
    for content in outbox.contents():
        if content.input_transcription is not None and content.input_transcription.finished:
            out.append("final")
        if content.model_turn is not None:
            out += ["audio" if p.inline_data else "text" for p in content.model_turn.parts]
        if content.interrupted:
            out.append("interrupted")
        if content.turn_complete:
            out.append("turn_complete")
    return out


async def test_a_pause_that_ends_the_turn_releases_the_reply_started_in_it() -> None:
    llm = ScriptedLanguageModel(replies=[["Paris."]])
    session, outbox = session_with(llm, FakeStableRecognizer(words=WORDS))
    await speak(session, np.concatenate([silence(0.3), tone(1.6), silence(0.6)]))
    await outbox.wait_turn()
    # One request, made in the pause, for exactly the words the turn ended with.
    assert [r.messages[-1].content for r in llm.requests] == ["what is the capital of france"]
    # Nothing of the reply went out before the turn had ended.
    assert kinds(outbox) == ["final", "text", "turn_complete"]
    assert [(c.role, c.text()) for c in session.history] == [
        ("user", "what is the capital of france"),
        ("model", "Paris."),
    ]
    assert session.last_reply is not None and "released" in session.last_reply.marks
    await session.aclose()


async def test_a_spoken_reply_is_synthesised_ahead_but_held_until_the_turn_ends() -> None:
    llm = ScriptedLanguageModel(replies=[["Paris is the capital."]])
    session, outbox = session_with(llm, FakeStableRecognizer(words=WORDS), modality=Modality.AUDIO)
    await speak(session, np.concatenate([silence(0.3), tone(1.6), silence(0.6)]))
    await outbox.wait_turn()
    sequence = kinds(outbox)
    assert sequence[0] == "final" and "audio" in sequence, sequence
    assert len(llm.requests) == 1
    await session.aclose()


async def test_speech_after_the_pause_drops_the_speculative_reply_without_a_trace() -> None:
    # Slow enough that the first speculative reply is still being generated when the user goes on.
    llm = ScriptedLanguageModel(replies=[["Too", " early", "."], ["Paris."]], delay_s=0.2)
    session, outbox = session_with(llm, FakeStableRecognizer(words=WORDS))
    await speak(session, np.concatenate([silence(0.3), tone(1.3), silence(0.1)]))  # a short pause
    assert [r.messages[-1].content for r in llm.requests] == ["what is the capital of"]
    # The tentative user turn lives on the speculative reply, never in the history.
    assert session.history == []
    assert session.last_reply is not None and session.last_reply.tentative is not None
    assert session.last_reply.tentative.text() == "what is the capital of"
    await speak(session, np.concatenate([tone(0.4), silence(0.6)]))  # goes on, then ends the turn
    await outbox.wait_turn()
    assert [r.messages[-1].content for r in llm.requests] == [
        "what is the capital of",
        "what is the capital of france",
    ]
    # The client saw one turn and one reply: no interruption, nothing of the dropped one.
    assert kinds(outbox) == ["final", "text", "turn_complete"]
    assert [(c.role, c.text()) for c in session.history] == [
        ("user", "what is the capital of france"),
        ("model", "Paris."),
    ]
    await session.aclose()


async def test_a_turn_that_ends_with_other_words_gets_a_fresh_reply() -> None:
    # The scripted recogniser's partials lack the last word, so the pause transcript never matches.
    llm = ScriptedLanguageModel(replies=[["Wrong", "."], ["Paris."]], delay_s=0.05)
    session, outbox = session_with(llm, FakeRecognizer(words=WORDS))
    await speak(session, np.concatenate([silence(0.3), tone(1.6), silence(0.6)]))
    await outbox.wait_turn()
    assert [r.messages[-1].content for r in llm.requests] == [
        "what is the capital of",
        "what is the capital of france",
    ]
    assert kinds(outbox) == ["final", "text", "turn_complete"]
    assert [c.text() for c in session.history] == ["what is the capital of france", "Paris."]
    await session.aclose()


async def test_a_reply_to_a_statement_waits_out_a_short_pause_and_going_on_leaves_one_reply() -> None:
    # A request in two sentences, 0.45 s apart: the turn model ends the turn 160 ms into the pause and
    # the reply read ahead in it is ready at once; held for the reply gap (800 ms from the end of the
    # speech), it is still unseen when the user goes on, and is withdrawn without a trace.
    llm = ScriptedLanguageModel(replies=[["Too", " early", "."], ["Paris."]])
    session, outbox = session_with(llm, FakeStableRecognizer(words=WORDS))
    await speak(
        session,
        np.concatenate([silence(0.3), tone(1.3), silence(0.45), tone(0.4), silence(1.5)]),
        pace_s=0.02,
    )
    await outbox.wait_turn()
    assert len(llm.requests) >= 2, llm.requests  # the first sentence was answered, then withdrawn
    assert "interrupted" not in kinds(outbox), kinds(outbox)
    assert kinds(outbox).count("turn_complete") == 1, kinds(outbox)
    assert model_text(outbox) == "Paris."
    assert session.last_reply is not None and "held" in session.last_reply.marks
    await session.aclose()


async def test_a_held_reply_is_heard_once_the_pause_reaches_the_reply_gap() -> None:
    llm = ScriptedLanguageModel(replies=[["Paris."]])
    session, outbox = session_with(llm, FakeStableRecognizer(words=WORDS))
    await speak(session, np.concatenate([silence(0.3), tone(1.6), silence(0.3)]), pace_s=0.02)
    assert "text" not in kinds(outbox), kinds(outbox)  # the turn has ended; the reply waits
    await outbox.wait_turn()
    reply = session.last_reply
    assert reply is not None and "held" in reply.marks
    # Heard 800 ms after the end of the speech, not before.
    assert reply.marks["audible"] - reply.marks["speech_end"] == pytest.approx(0.8, abs=0.03)
    await session.aclose()
