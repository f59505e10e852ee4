"""Session resumption: handles after each completed turn, and a new session that goes on from one."""

from __future__ import annotations

import asyncio

import pytest
from engine_fakes import (
    FakePrefillingLanguageModel,
    RecordingOutbox,
    ScriptedLanguageModel,
    fake_profile,
    user,
)

from openlive.engine import Engine
from openlive.engine.session import LiveSession
from openlive.protocol.errors import CloseCode, ProtocolError
from openlive.protocol.messages import (
    GenerationConfig,
    Modality,
    SessionResumptionConfig,
    SessionResumptionUpdate,
    Setup,
)
from openlive.store import MemoryResumptionStore

# Virtual time (looptime): the scripted delays and timers take no real time.
pytestmark = pytest.mark.looptime

MODEL = "models/gemini-live-2.5-flash-native-audio"


async def ready_engine(llm: ScriptedLanguageModel, store: MemoryResumptionStore | None) -> Engine:
    engine = Engine(
        {"fake": ("scripted", lambda: fake_profile(llm))}, default_profile="fake", resumption=store
    )
    await engine.load()
    return engine


def setup(resumption: SessionResumptionConfig | None) -> Setup:
    return Setup(
        model=MODEL,
        generation_config=GenerationConfig(response_modalities=[Modality.TEXT]),
        session_resumption=resumption,
    )


def handles(outbox: RecordingOutbox) -> list[str]:
    """The handles issued so far (the "not resumable" updates while a reply is in flight carry none)."""
    return [
        m.new_handle for m, _ in outbox.messages if isinstance(m, SessionResumptionUpdate) and m.new_handle
    ]


async def one_turn(session: LiveSession, outbox: RecordingOutbox, text: str) -> None:
    before = len(handles(outbox))
    await session.handle(user(text))
    await outbox.wait_turn()
    if session.setup.session_resumption is None:
        await asyncio.sleep(0.1)  # long enough for an update that should not come
        return
    async with asyncio.timeout(2.0):  # the update follows turnComplete, saved off the event loop
        while len(handles(outbox)) == before:
            await asyncio.sleep(0.01)


async def test_handles_come_at_the_start_and_after_each_turn_and_resume_the_conversation() -> None:
    llm = ScriptedLanguageModel(replies=[["Hello, Alice."], ["Your name is Alice."]])
    store = MemoryResumptionStore()
    engine = await ready_engine(llm, store)
    outbox = RecordingOutbox()
    session = engine.open_session(setup(SessionResumptionConfig()), outbox, session_id="a")
    await session.start()
    await one_turn(session, outbox, "My name is Alice.")
    updates = [m for m, _ in outbox.messages if isinstance(m, SessionResumptionUpdate)]
    # A handle at the start and after the turn; while the reply was in flight, "not resumable".
    assert [(u.resumable, bool(u.new_handle)) for u in updates] == [
        (True, True),
        (False, False),
        (True, True),
    ]
    # The update follows the turn it covers.
    kinds = [type(m).__name__ for m, _ in outbox.messages]
    assert kinds[-1] == "SessionResumptionUpdate"
    first, latest = handles(outbox)
    # The handle from before the turn still resumes the conversation as it was then (empty).
    before = store.load(first)
    assert before is not None and before.history == ()
    await session.aclose()

    resumed_outbox = RecordingOutbox()
    resumed = engine.open_session(
        setup(SessionResumptionConfig(handle=latest)), resumed_outbox, session_id="b"
    )
    await resumed.start()
    assert [c.text() for c in resumed.history] == ["My name is Alice.", "Hello, Alice."]
    await one_turn(resumed, resumed_outbox, "What is my name?")
    # The model was asked with the earlier conversation in front of the new question.
    asked = [m.content for m in llm.requests[-1].messages if m.role != "system"]
    assert asked == ["My name is Alice.", "Hello, Alice.", "What is my name?"]
    assert handles(resumed_outbox) and handles(resumed_outbox)[-1] != latest
    await resumed.aclose()


async def test_without_session_resumption_in_setup_no_update_is_sent() -> None:
    llm = ScriptedLanguageModel(replies=[["Hi."]])
    engine = await ready_engine(llm, MemoryResumptionStore())
    outbox = RecordingOutbox()
    session = engine.open_session(setup(None), outbox, session_id="a")
    await session.start()
    await one_turn(session, outbox, "Hello.")
    assert handles(outbox) == []
    await session.aclose()


async def test_a_resumed_conversation_is_read_by_the_llm_before_the_first_new_turn() -> None:
    llm = FakePrefillingLanguageModel(replies=[["Hello, Alice."], ["Alice."]])
    engine = await ready_engine(llm, MemoryResumptionStore())
    outbox = RecordingOutbox()
    session = engine.open_session(setup(SessionResumptionConfig()), outbox, session_id="a")
    await session.start()
    await one_turn(session, outbox, "My name is Alice.")
    await session.aclose()
    llm.prefills.clear()

    resumed_outbox = RecordingOutbox()
    resumed = engine.open_session(
        setup(SessionResumptionConfig(handle=handles(outbox)[-1])), resumed_outbox, session_id="b"
    )
    await resumed.start()
    # At the start, before anyone speaks, the LLM is handed the prompt the next turn will extend.
    assert len(llm.prefills) == 1
    read = [(m.role, m.content) for m in llm.prefills[0].messages if m.role != "system"]
    assert read == [("user", "My name is Alice."), ("assistant", "Hello, Alice.")]
    await one_turn(resumed, resumed_outbox, "What is my name?")
    asked = llm.requests[-1].messages
    assert [(m.role, m.content) for m in asked[: len(llm.prefills[0].messages)]] == [
        (m.role, m.content) for m in llm.prefills[0].messages
    ]
    await resumed.aclose()


@pytest.mark.parametrize("with_store", [True, False])
async def test_an_unknown_or_expired_handle_is_refused_with_1007(with_store: bool) -> None:
    engine = await ready_engine(
        ScriptedLanguageModel(replies=[]), MemoryResumptionStore() if with_store else None
    )
    with pytest.raises(ProtocolError) as refused:
        engine.open_session(
            setup(SessionResumptionConfig(handle="no-such-handle")), RecordingOutbox(), session_id="a"
        )
    assert refused.value.code is CloseCode.INVALID_ARGUMENT
    assert "handle" in refused.value.reason
