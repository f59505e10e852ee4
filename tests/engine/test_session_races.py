"""Regression tests for the races of issue 9, with scripted fake stages (unit tests, no models).

Each drives the session only through its public surface (``handle``, ``aclose``, the listener's events
as the listener itself emits them) and checks what the client would see; all were written before the
session became one serialised state machine, and failed on the earlier design.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
from engine_fakes import RecordingOutbox, ScriptedLanguageModel, ScriptedSynthesizer, fake_profile, user
from listener_fakes import SR, FakeRecognizer, FakeTurnDetector, FakeVad, pcm, silence
from session_checks import assert_well_formed, describe, live_tasks, until

from openlive.engine.listener import InterimTranscript, ListenerEvent, SpeechResumed, SpeechStarted
from openlive.engine.listener import TurnDropped as ListenerTurnDropped
from openlive.engine.listener import TurnEnded as ListenerTurnEnded
from openlive.engine.session import LiveSession, SessionLimits
from openlive.protocol.errors import CloseCode
from openlive.protocol.messages import (
    AudioTranscriptionConfig,
    Blob,
    Content,
    FunctionBehavior,
    FunctionDeclaration,
    FunctionResponse,
    FunctionResponseScheduling,
    GenerationConfig,
    Modality,
    RealtimeInput,
    ServerContent,
    SessionResumptionConfig,
    SessionResumptionUpdate,
    Setup,
    SpeechConfig,
    Tool,
    ToolCall,
    ToolResponse,
)
from openlive.stages.language_model import ChatEvent, ChatRequest, TextDelta, ToolCallRequest

# Virtual time (looptime): the scripted delays and timers take no real time.
pytestmark = pytest.mark.looptime

STORY = [f"w{i} " for i in range(60)]


def session_for(
    llm: ScriptedLanguageModel,
    *,
    modality: Modality = Modality.TEXT,
    tools: list[Tool] | None = None,
    resumption: object = None,
) -> tuple[LiveSession, RecordingOutbox]:
    outbox = RecordingOutbox()
    setup = Setup(
        model="models/gemini-live-2.5-flash-native-audio",
        generation_config=GenerationConfig(
            response_modalities=[modality], speech_config=SpeechConfig(language_code="en-US")
        ),
        input_audio_transcription=AudioTranscriptionConfig(),
        tools=tools or [],
        session_resumption=SessionResumptionConfig() if resumption is not None else None,
    )
    profile = dataclasses.replace(
        fake_profile(llm, ScriptedSynthesizer()),
        asr={"en": FakeRecognizer(words=("hello", "there"))},
        vad=FakeVad(),
        turn=FakeTurnDetector(0.9),
    )
    session = LiveSession(
        setup,
        profile,
        outbox,
        session_id="race",
        limits=SessionLimits(audio_lead_s=60.0),
        resumption=resumption,  # type: ignore[arg-type]
    )
    return session, outbox


async def open_microphone(session: LiveSession) -> None:
    """A few ms of silence: the session now has its listener, as with any client that sends audio."""
    blob = Blob(mime_type=f"audio/pcm;rate={SR}", data=pcm(silence(0.02)))
    await session.handle(RealtimeInput(audio=blob))


def listener_says(session: LiveSession, event: ListenerEvent) -> None:
    """The session's listener emits ``event`` now, as it does when it decides it."""
    listener = session._listener
    assert listener is not None
    listener._emit(event)


def turn_ended(text: str) -> ListenerTurnEnded:
    return ListenerTurnEnded(text=text, language="en", speech_end_s=1.0, audio=np.zeros(0, dtype=np.float32))


def model_text(outbox: RecordingOutbox) -> str:
    return "".join(c.model_turn.text() for c in outbox.contents() if c.model_turn)


def flags(outbox: RecordingOutbox) -> list[str]:
    return [w for w in describe(outbox) if w in ("interrupted", "generation_complete", "turn_complete")]


async def settle(outbox: RecordingOutbox, session: LiveSession, quiet_s: float = 0.3) -> None:
    """Until nothing has been sent for ``quiet_s`` (bounded)."""
    async with asyncio.timeout(10):
        while True:
            count = len(outbox.messages)
            await asyncio.sleep(quiet_s)
            if len(outbox.messages) == count:
                return


def user_texts(session: LiveSession) -> list[str]:
    return [c.text() for c in session.history if c.role == "user" and c.text()]


# ----------------------------------------------------------------------------------------- defect 1


@pytest.mark.parametrize("spoken_first", [True, False])
async def test_typed_and_spoken_turns_at_the_same_moment_answer_both_once(spoken_first: bool) -> None:
    llm = ScriptedLanguageModel(replies=[STORY, ["Ok."], ["Ok again."]], delay_s=0.01)
    session, outbox = session_for(llm)
    await open_microphone(session)
    await session.handle(user("tell me a long story"))
    await until(lambda: bool(model_text(outbox)))  # the story is being told
    if spoken_first:
        listener_says(session, turn_ended("hello there"))
        await session.handle(user("stop"))
    else:
        task = asyncio.ensure_future(session.handle(user("stop")))
        listener_says(session, turn_ended("hello there"))
        await task
    await settle(outbox, session)
    assert_well_formed(outbox)
    words = flags(outbox)
    assert words.count("interrupted") == 1, describe(outbox)
    assert words[-2:] == ["generation_complete", "turn_complete"], describe(outbox)
    # Both turns reached the model, and a reply after them was completed: nothing was dropped.
    answered = user_texts(session)
    assert "hello there" in answered and "stop" in answered
    assert session.history[-1].role == "model"
    assert [t for t in live_tasks() if "reply" in t.get_name()] == []  # no orphaned reply
    await session.aclose()


# ----------------------------------------------------------------------------------------- defect 2


@dataclasses.dataclass
class FailingLanguageModel(ScriptedLanguageModel):
    """Streams a few words, then fails like an engine that died mid-reply (unit tests only)."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        self.requests.append(request)
        yield TextDelta(text="The first clause, ")
        await asyncio.sleep(0.05)
        yield TextDelta(text="and then")
        raise RuntimeError("the engine died")


async def test_a_language_model_failing_mid_reply_leaves_no_task_behind() -> None:
    session, outbox = session_for(FailingLanguageModel(), modality=Modality.AUDIO)
    await session.handle(user("hi"))
    await until(lambda: outbox.closed is not None)
    assert outbox.closed is not None and outbox.closed[0] == CloseCode.INTERNAL
    await session.aclose()
    assert live_tasks() == []


async def test_aclose_in_the_middle_of_speech_leaves_no_task_and_sends_nothing_after() -> None:
    llm = ScriptedLanguageModel(replies=[["One sentence. " * 3, "Another one. " * 3]])
    session, outbox = session_for(llm, modality=Modality.AUDIO)
    session.limits.audio_lead_s = 0.1  # paced: the speaker is still sending when the session closes
    await session.handle(user("hi"))
    await until(lambda: any(c.model_turn for c in outbox.contents()))
    await session.aclose()
    count = len(outbox.messages)
    assert live_tasks() == []
    await asyncio.sleep(0.2)
    assert len(outbox.messages) == count


# ----------------------------------------------------------------------------------------- defect 3


CALL = ToolCallRequest(id="call-1", name="book_table", args={})
NB_TOOLS = [
    Tool(
        function_declarations=[FunctionDeclaration(name="book_table", behavior=FunctionBehavior.NON_BLOCKING)]
    )
]


async def test_when_idle_result_during_a_discarded_speculation_is_answered_once_idle() -> None:
    llm = ScriptedLanguageModel(
        replies=[[CALL], ["Speculative", " words", " never", " seen."], ["Booked for eight."]], delay_s=0.05
    )
    session, outbox = session_for(llm, tools=NB_TOOLS)
    await open_microphone(session)
    await session.handle(user("Book a table."))
    await outbox.wait_turn()  # the NON_BLOCKING call went out and the turn ended
    listener_says(session, SpeechStarted(at_s=0.1))
    listener_says(session, InterimTranscript("is it", at_pause=True))
    await until(lambda: len(llm.requests) == 2)  # the speculative reply is being generated
    response = FunctionResponse(
        id="call-1",
        name="book_table",
        response={"output": "booked"},
        scheduling=FunctionResponseScheduling.WHEN_IDLE,
    )
    await session.handle(ToolResponse(function_responses=[response]))
    listener_says(session, SpeechResumed())
    listener_says(session, ListenerTurnDropped(speech_end_s=1.0, reason="a cough"))
    await outbox.wait_turn()  # the result is answered now that nothing else is going on
    assert "Booked for eight." in model_text(outbox)
    assert "Speculative" not in model_text(outbox)
    assert_well_formed(outbox)
    await session.aclose()


# ----------------------------------------------------------------------------------------- defect 4


class SlowStore:
    """A resumption store whose save takes a while, like a disk or a remote Redis (unit tests only)."""

    def __init__(self) -> None:
        self.saved: list[list[Content]] = []
        self._lock = threading.Lock()

    def save(self, history: list[Content], *, replaces: str | None = None) -> str:
        time.sleep(0.05)
        with self._lock:
            self.saved.append(history)
            return f"handle-{len(self.saved)}"

    def load(self, handle: str) -> None:
        return None


async def test_client_content_right_after_turn_complete_does_not_interrupt_the_finished_turn() -> None:
    llm = ScriptedLanguageModel(replies=[["First answer."], ["Second answer."]])
    session, outbox = session_for(llm, resumption=SlowStore())
    await session.start()
    await session.handle(user("first"))
    await outbox.wait_turn()
    await session.handle(user("second"))  # before the sessionResumptionUpdate of the first turn
    await outbox.wait_turn()
    await settle(outbox, session, 0.2)
    assert flags(outbox) == ["generation_complete", "turn_complete"] * 2, describe(outbox)
    # A handle at the start and after each turnComplete; "not resumable" while each reply was in flight.
    updates = [m for m, _ in outbox.messages if isinstance(m, SessionResumptionUpdate)]
    assert [u.resumable for u in updates] == [True, False, True, False, True]
    assert all((u.new_handle is not None) == u.resumable for u in updates)
    await session.aclose()


# ----------------------------------------------------------------------------------------- defect 5


async def test_many_sessions_abandoned_at_once_all_close() -> None:
    sessions: list[tuple[LiveSession, RecordingOutbox]] = []
    for i in range(24):
        llm = ScriptedLanguageModel(replies=[STORY, STORY], delay_s=0.005)
        modality = Modality.AUDIO if i % 2 else Modality.TEXT
        session, outbox = session_for(llm, modality=modality, tools=NB_TOOLS, resumption=SlowStore())
        sessions.append((session, outbox))
    await asyncio.gather(*(s.start() for s, _ in sessions))
    await asyncio.gather(*(s.handle(user("go")) for s, _ in sessions))
    await asyncio.sleep(0.05)
    # Every connection goes at the same moment, some while a new turn is cutting the reply.
    cutting = [asyncio.ensure_future(s.handle(user("again"))) for s, _ in sessions[::3]]
    async with asyncio.timeout(10):
        await asyncio.gather(*(s.aclose() for s, _ in sessions))
    for task in cutting:
        task.cancel()
    await asyncio.wait(cutting)
    assert live_tasks() == []
    for _, outbox in sessions:
        assert_well_formed(outbox)


# ----------------------------------------------------------------------------------------- defects 6, 7


async def speculation_pending(session: LiveSession, llm: ScriptedLanguageModel, text: str) -> None:
    listener_says(session, SpeechStarted(at_s=0.1))
    listener_says(session, InterimTranscript(text, at_pause=True))
    await until(lambda: len(llm.requests) >= 1)


@pytest.mark.parametrize("modality", [Modality.TEXT, Modality.AUDIO])
async def test_stream_end_and_typed_turn_at_the_same_moment_answer_both(modality: Modality) -> None:
    llm = ScriptedLanguageModel(
        replies=[["Spoken", " answer."], ["Typed", " answer."], ["Both."]], delay_s=0.05
    )
    session, outbox = session_for(llm, modality=modality)
    await open_microphone(session)
    await speculation_pending(session, llm, "hello there")
    # The client ends its audio stream and sends a typed turn at the same moment; the listener then
    # ends the spoken turn (as audioStreamEnd makes it do).
    await session.handle(RealtimeInput(audio_stream_end=True))
    await session.handle(user("what time is it"))
    listener_says(session, turn_ended("hello there"))
    await settle(outbox, session)
    assert_well_formed(outbox)
    assert flags(outbox)[-1] == "turn_complete", describe(outbox)
    assert sorted(user_texts(session)) == ["hello there", "what time is it"]
    # The last reply's prompt held both turns (one user message), and it was completed.
    assert "hello there" in llm.requests[-1].messages[-1].content
    assert "what time is it" in llm.requests[-1].messages[-1].content
    assert session.history[-1].role == "model"
    await session.aclose()


async def test_a_typed_question_while_the_end_of_a_spoken_turn_is_pending_is_answered() -> None:
    llm = ScriptedLanguageModel(replies=[["Spoken."], ["Typed."], ["Both."]], delay_s=0.05)
    session, outbox = session_for(llm)
    await open_microphone(session)
    await speculation_pending(session, llm, "hello there")
    await session.handle(user("and the weather?"))  # typed after the user stopped speaking
    await asyncio.sleep(0.02)
    listener_says(session, turn_ended("hello there"))  # the pause did end the spoken turn
    await settle(outbox, session)
    assert_well_formed(outbox)
    assert sorted(user_texts(session)) == ["and the weather?", "hello there"]
    last = llm.requests[-1].messages[-1]
    assert last.role == "user" and "and the weather?" in last.content and "hello there" in last.content
    assert flags(outbox)[-2:] == ["generation_complete", "turn_complete"]
    await session.aclose()


async def test_a_spoken_turn_ending_while_a_seen_reply_plays_is_answered_after_it() -> None:
    llm = ScriptedLanguageModel(
        replies=[["A", " reply", " in", " progress."], ["Queued answer."]], delay_s=0.05
    )
    session, outbox = session_for(llm)
    await open_microphone(session)
    await session.handle(user("first"))
    await until(lambda: bool(model_text(outbox)))
    listener_says(session, turn_ended("hello there"))
    await settle(outbox, session)
    assert_well_formed(outbox)
    assert flags(outbox) == ["generation_complete", "turn_complete"] * 2, describe(outbox)
    assert model_text(outbox) == "A reply in progress.Queued answer."
    assert llm.requests[-1].messages[-1].content == "hello there"
    await session.aclose()


async def test_tool_call_interrupted_in_text_mode_records_the_words_before_it_once() -> None:
    blocking = [Tool(function_declarations=[FunctionDeclaration(name="book_table")])]
    llm = ScriptedLanguageModel(replies=[["Let me check. ", CALL], ["Fine."]])  # type: ignore[list-item]
    session, outbox = session_for(llm, tools=blocking)
    await session.handle(user("book"))
    await until(lambda: any(isinstance(m, ToolCall) for m, _ in outbox.messages))
    await session.handle(user("never mind"))
    await outbox.wait_turn()
    await settle(outbox, session, 0.1)
    said = [c.text() for c in session.history if c.role == "model" and c.text()]
    assert said.count("Let me check. ") == 1, said
    assert any(isinstance(m, ServerContent) and m.interrupted for m, _ in outbox.messages)
    await session.aclose()


async def test_speech_after_a_sentence_pause_sends_no_empty_interrupted_turn() -> None:
    # The turn ended at a sentence pause; the reply is slow to start; the user goes on speaking.
    llm = ScriptedLanguageModel(replies=[["Never", " seen."], ["Both", " sentences."]], delay_s=0.3)
    session, outbox = session_for(llm)
    await open_microphone(session)
    listener_says(session, turn_ended("I want a table"))
    await until(lambda: len(llm.requests) == 1)
    listener_says(session, SpeechStarted(at_s=2.0))
    listener_says(session, turn_ended("for two people tonight"))
    await settle(outbox, session)
    assert flags(outbox) == ["generation_complete", "turn_complete"], describe(outbox)
    assert model_text(outbox) == "Both sentences."
    assert llm.requests[-1].messages[-1].content == "I want a table\nfor two people tonight"
    await session.aclose()


async def test_prompt_tokens_are_split_into_spoken_audio_and_text() -> None:
    llm = ScriptedLanguageModel(replies=[["Typed answer."], ["Spoken answer."]])
    session, outbox = session_for(llm)
    await open_microphone(session)
    await session.handle(user("a typed question"))
    await outbox.wait_turn()
    listener_says(session, turn_ended("a spoken question here"))
    await outbox.wait_turn()
    usages = [u for m, u in outbox.messages if u is not None]
    typed, spoken = usages[0], usages[1]
    assert [d.modality for d in typed.prompt_tokens_details] == ["TEXT"]
    details = {d.modality: d.token_count for d in spoken.prompt_tokens_details}
    assert details["AUDIO"] == 4  # the fake model counts words
    assert details["TEXT"] + details["AUDIO"] == spoken.prompt_token_count
    await session.aclose()


class MemoryStore(SlowStore):
    """Keeps every saved history by handle (unit-test fake)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_handle: dict[str, list[Content]] = {}

    def save(self, history: list[Content], *, replaces: str | None = None) -> str:
        handle = super().save(history, replaces=replaces)
        self.by_handle[handle] = history
        return handle


async def test_a_model_failure_keeps_the_users_words_resumable() -> None:
    store = MemoryStore()
    session, outbox = session_for(FailingLanguageModel(), resumption=store)
    await session.start()
    await session.handle(user("remember the number 42"))
    await until(lambda: outbox.closed is not None)
    assert outbox.closed is not None and outbox.closed[0] == CloseCode.INTERNAL
    updates = [m for m, _ in outbox.messages if isinstance(m, SessionResumptionUpdate)]
    assert [u.resumable for u in updates] == [True, False, True] and updates[-1].new_handle is not None
    saved = store.by_handle[updates[-1].new_handle]
    assert [c.text() for c in saved] == ["remember the number 42", "The first clause, and then"]
    await session.aclose()
