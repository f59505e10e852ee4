"""A spoken reply that opens with a function call says a short acknowledgement before the call
(engine/acknowledgement.py, Reply._acknowledge), driven with scripted fake stages."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from engine_fakes import (
    RecordingOutbox,
    ScriptedLanguageModel,
    ScriptedSynthesizer,
    fake_profile,
    live_session,
    user,
)

from openlive.engine.acknowledgement import ACKNOWLEDGEMENTS, Acknowledgements, acknowledgement
from openlive.engine.session import LiveSession
from openlive.protocol.messages import (
    AudioTranscriptionConfig,
    FunctionDeclaration,
    FunctionResponse,
    Modality,
    Tool,
    ToolCall,
    ToolResponse,
)
from openlive.stages.language_model import CallStarted, ToolCallRequest

pytestmark = pytest.mark.looptime

CALL = ToolCallRequest(id="call-1", name="submit_request", args={"kind": "lost_item"})
TOOLS = [Tool(function_declarations=[FunctionDeclaration(name="submit_request")])]


def make_session(
    llm: ScriptedLanguageModel,
    *,
    acknowledge: bool = True,
    modality: Modality = Modality.AUDIO,
    tts: ScriptedSynthesizer | None = None,
    shared: Acknowledgements | None = None,
) -> tuple[LiveSession, RecordingOutbox, ScriptedSynthesizer]:
    tts = tts or ScriptedSynthesizer()
    profile = dataclasses.replace(fake_profile(llm, tts), call_acknowledgement=acknowledge)
    session, outbox = live_session(
        llm,
        profile=profile,
        modality=modality,
        acknowledgements=shared,
        tools=TOOLS,
        output_audio_transcription=AudioTranscriptionConfig(),
    )
    return session, outbox, tts


async def answer_the_call(session: LiveSession, outbox: RecordingOutbox) -> int:
    """Wait for the toolCall, answer it, wait for the turn's end; the toolCall's index in the outbox."""
    for _ in range(1000):
        if any(isinstance(m, ToolCall) for m, _ in outbox.messages):
            break
        await asyncio.sleep(0.01)
    index = next(i for i, (m, _) in enumerate(outbox.messages) if isinstance(m, ToolCall))
    await session.handle(ToolResponse(function_responses=[FunctionResponse(id="call-1", response={})]))
    await outbox.wait_turn()
    return index


def audio_indexes(outbox: RecordingOutbox) -> list[int]:
    return [
        i
        for i, (m, _) in enumerate(outbox.messages)
        if getattr(m, "model_turn", None) is not None and any(p.inline_data for p in m.model_turn.parts)
    ]


async def test_a_reply_that_opens_with_a_call_says_an_acknowledgement_before_the_tool_call() -> None:
    # The call's arguments take a while to write (delay_s between the script's items).
    script = [CallStarted(name="submit_request"), CALL]
    llm = ScriptedLanguageModel(replies=[script, ["Reported."]], delay_s=1.0)
    session, outbox, tts = make_session(llm)
    await session.start()
    await asyncio.sleep(0.1)
    # The phrases were synthesised at the start, in the session's voice: not while the call is written.
    prepared = [(text, voice) for text, voice, _ in tts.calls]
    assert prepared == [(phrase, session.voice) for phrase in ACKNOWLEDGEMENTS["en"]]
    await session.handle(user("I lost my backpack. Can you report it?"))
    call_at = await answer_the_call(session, outbox)
    assert [text for text, _, _ in tts.calls[len(prepared) :]] == ["Reported."]
    transcripts = [c.output_transcription.text for c in outbox.contents() if c.output_transcription]
    phrase = transcripts[0].strip()
    assert phrase in ACKNOWLEDGEMENTS["en"]
    assert audio_indexes(outbox)[0] < call_at, "the acknowledgement was not heard before the toolCall"
    # Heard and transcribed, but the server's word, not the model's: the history has the call alone,
    # then the answer to its result.
    transcript = "".join(c.output_transcription.text for c in outbox.contents() if c.output_transcription)
    assert transcript.startswith(phrase)
    model_turns = [c for c in session.history if c.role == "model"]
    assert model_turns[0].text() == "" and [
        p.function_call.name for p in model_turns[0].parts if p.function_call
    ] == ["submit_request"]
    assert model_turns[-1].text() == "Reported."
    await session.aclose()


async def test_sessions_that_share_acknowledgements_synthesise_each_phrase_once_per_voice() -> None:
    tts = ScriptedSynthesizer(delay_s=0.05)  # each synthesis takes a while: the preparations overlap
    shared = Acknowledgements(tts)
    sessions = [make_session(ScriptedLanguageModel(), tts=tts, shared=shared)[0] for _ in range(3)]
    for session in sessions:  # all at once: a phrase being prepared is not prepared again
        await session.start()
    await asyncio.sleep(1.0)
    assert sorted(text for text, _, _ in tts.calls) == sorted(ACKNOWLEDGEMENTS["en"])
    assert all(shared.audio(sessions[0].voice, "en", p) for p in ACKNOWLEDGEMENTS["en"])
    assert shared.audio("Kore" if sessions[0].voice != "Kore" else "Puck", "en", "Okay.") is None
    for session in sessions:
        await session.aclose()


async def test_an_acknowledgement_not_prepared_is_synthesised_when_it_is_said() -> None:
    llm = ScriptedLanguageModel(replies=[[CallStarted(name="submit_request"), CALL], ["Reported."]])
    session, outbox, tts = make_session(llm)  # not started: nothing prepared
    await session.handle(user("Report my lost backpack."))
    call_at = await answer_the_call(session, outbox)
    said = [text for text, _, _ in tts.calls]
    assert said[0] in ACKNOWLEDGEMENTS["en"] and said[1:] == ["Reported."]
    assert audio_indexes(outbox)[0] < call_at
    await session.aclose()


async def test_no_acknowledgement_when_it_is_off_in_text_replies_or_after_words() -> None:
    cases = [
        (False, Modality.AUDIO, [CallStarted(name="submit_request"), CALL]),
        (True, Modality.TEXT, [CallStarted(name="submit_request"), CALL]),
        (True, Modality.AUDIO, ["Let me report that.", CallStarted(name="submit_request"), CALL]),
    ]
    for acknowledge, modality, script in cases:
        llm = ScriptedLanguageModel(replies=[list(script), ["Reported."]])
        session, outbox, tts = make_session(llm, acknowledge=acknowledge, modality=modality)
        await session.start()
        await asyncio.sleep(0.1)
        if not acknowledge or modality is Modality.TEXT:
            assert not tts.calls, "phrases prepared for a session that never says them"
        await session.handle(user("Report my lost backpack."))
        await answer_the_call(session, outbox)
        transcripts = [c.output_transcription.text for c in outbox.contents() if c.output_transcription]
        words = [m.model_turn.text() for m, _ in outbox.messages if getattr(m, "model_turn", None)]
        heard = " ".join(transcripts) + " ".join(words)
        assert not any(phrase in heard for phrase in ACKNOWLEDGEMENTS["en"]), (acknowledge, modality, heard)
        await session.aclose()


def test_acknowledgements_take_turns_and_follow_the_language() -> None:
    english = {acknowledgement("en-US", turn) for turn in range(len(ACKNOWLEDGEMENTS["en"]))}
    assert english == set(ACKNOWLEDGEMENTS["en"])
    assert acknowledgement("ja", 0) in ACKNOWLEDGEMENTS["ja"]
    assert acknowledgement("fr-FR", 1) in ACKNOWLEDGEMENTS["fr"]
    assert acknowledgement("sw", 0) is None  # no phrases for it: no acknowledgement
