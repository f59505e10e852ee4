"""NON_BLOCKING functions: the conversation goes on while the call runs; ``scheduling`` decides when
the model speaks about the result (INTERRUPT at once, WHEN_IDLE after the reply in progress, SILENT never).
And, for contrast, BLOCKING ones: the model waits, and new input cancels the call it waits on.
"""

from __future__ import annotations

import asyncio

import pytest
from engine_fakes import (
    RecordingOutbox,
    ScriptedLanguageModel,
    ScriptedSynthesizer,
    fake_profile,
    live_session,
    user,
)

from openlive.engine.session import LiveSession, SessionLimits
from openlive.protocol.messages import (
    FunctionBehavior,
    FunctionDeclaration,
    FunctionResponse,
    FunctionResponseScheduling,
    Modality,
    ServerContent,
    Tool,
    ToolCall,
    ToolCallCancellation,
    ToolResponse,
)
from openlive.stages.language_model import ToolCallRequest

# Virtual time (looptime): the scripted delays and timers take no real time.
pytestmark = pytest.mark.looptime

CALL = ToolCallRequest(id="call-1", name="book_table", args={"people": 2})


def async_session(
    llm: ScriptedLanguageModel, behavior: FunctionBehavior
) -> tuple[LiveSession, RecordingOutbox]:
    declaration = FunctionDeclaration(
        name="book_table",
        parameters={"type": "OBJECT", "properties": {"people": {"type": "INTEGER"}}},
        behavior=behavior,
    )
    return live_session(llm, limits=SessionLimits(), tools=[Tool(function_declarations=[declaration])])


def result(
    scheduling: FunctionResponseScheduling | None, *, will_continue: bool | None = None
) -> ToolResponse:
    response = FunctionResponse(
        id="call-1",
        name="book_table",
        response={"output": "booked for eight"},
        scheduling=scheduling,
        will_continue=will_continue,
    )
    return ToolResponse(function_responses=[response])


def model_texts(outbox: RecordingOutbox) -> list[str]:
    return [c.model_turn.text() for c in outbox.contents() if c.model_turn]


def turns_completed(outbox: RecordingOutbox) -> int:
    return sum(1 for c in outbox.contents() if c.turn_complete)


async def until(condition: object, timeout_s: float = 3.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_the_turn_ends_without_waiting_and_the_conversation_goes_on() -> None:
    llm = ScriptedLanguageModel(replies=[[CALL], ["It is sunny."]])
    session, outbox = async_session(llm, FunctionBehavior.NON_BLOCKING)
    await session.handle(user("Book a table for two."))
    await outbox.wait_turn()  # no toolResponse was sent: the model did not wait for one
    assert [m.function_calls[0].id for m, _ in outbox.messages if isinstance(m, ToolCall)] == ["call-1"]
    await session.handle(user("And the weather?"))
    await outbox.wait_turn()
    assert model_texts(outbox) == ["It is sunny."]
    # The call stays in the history, so the model knows it is running.
    assert any(p.function_call for c in session.history for p in c.parts)
    # An interruption does not cancel a NON_BLOCKING call: no toolCallCancellation was ever sent.
    assert not any(isinstance(m, ToolCallCancellation) for m, _ in outbox.messages)
    await session.aclose()


async def test_when_idle_result_is_answered_at_once_between_turns() -> None:
    llm = ScriptedLanguageModel(replies=[[CALL], ["Your table is booked for eight."]])
    session, outbox = async_session(llm, FunctionBehavior.NON_BLOCKING)
    await session.handle(user("Book a table for two."))
    await outbox.wait_turn()
    await session.handle(result(None))  # no scheduling: WHEN_IDLE
    await outbox.wait_turn()
    assert model_texts(outbox) == ["Your table is booked for eight."]
    assert "booked for eight" in llm.requests[-1].messages[-1].content
    await session.aclose()


async def story_after_a_call(slow: list[str]) -> tuple[LiveSession, RecordingOutbox]:
    """A session whose NON_BLOCKING call is running while the model tells a (slow) story."""
    llm = ScriptedLanguageModel(replies=[[CALL], slow, ["Booked."]], delay_s=0.03)
    session, outbox = async_session(llm, FunctionBehavior.NON_BLOCKING)
    await session.handle(user("Book a table for two."))
    await outbox.wait_turn()
    await session.handle(user("Tell me a story."))
    await until(lambda: model_texts(outbox))  # the story has begun
    return session, outbox


async def test_when_idle_result_waits_for_the_reply_in_progress() -> None:
    slow = [f"w{i} " for i in range(10)]
    session, outbox = await story_after_a_call(slow)
    await session.handle(result(FunctionResponseScheduling.WHEN_IDLE))
    await until(lambda: turns_completed(outbox) == 3)
    texts = model_texts(outbox)
    assert "".join(texts[:-1]) == "".join(slow) and texts[-1] == "Booked."
    assert not any(c.interrupted for c in outbox.contents())
    await session.aclose()


async def test_interrupt_result_cuts_the_reply_in_progress() -> None:
    slow = [f"w{i} " for i in range(50)]
    session, outbox = await story_after_a_call(slow)
    await session.handle(result(FunctionResponseScheduling.INTERRUPT))
    await until(lambda: turns_completed(outbox) == 3)
    kinds = [
        "interrupted" if c.interrupted else "turn" if c.turn_complete else "text"
        for c in outbox.contents()
        if c.interrupted or c.turn_complete or c.model_turn
    ]
    assert "interrupted" in kinds and model_texts(outbox)[-1] == "Booked."
    assert len("".join(model_texts(outbox)[:-1])) < len("".join(slow))
    await session.aclose()


async def test_silent_result_is_only_context() -> None:
    llm = ScriptedLanguageModel(replies=[[CALL], ["You have a table at eight."]])
    session, outbox = async_session(llm, FunctionBehavior.NON_BLOCKING)
    await session.handle(user("Book a table for two."))
    await outbox.wait_turn()
    await session.handle(result(FunctionResponseScheduling.SILENT))
    await asyncio.sleep(0.2)
    assert turns_completed(outbox) == 1 and len(llm.requests) == 1
    await session.handle(user("When is my table?"))
    await outbox.wait_turn()
    assert any("booked for eight" in m.content for m in llm.requests[-1].messages)
    await session.aclose()


async def test_will_continue_keeps_the_call_open_for_more_results() -> None:
    llm = ScriptedLanguageModel(replies=[[CALL], ["Searching."], ["Found one."]])
    session, outbox = async_session(llm, FunctionBehavior.NON_BLOCKING)
    await session.handle(user("Book a table for two."))
    await outbox.wait_turn()
    await session.handle(result(FunctionResponseScheduling.WHEN_IDLE, will_continue=True))
    await outbox.wait_turn()
    await session.handle(result(FunctionResponseScheduling.WHEN_IDLE))
    await outbox.wait_turn()
    assert model_texts(outbox) == ["Searching.", "Found one."]
    # The call is closed now: a stray third result is kept as context but starts no turn.
    await session.handle(result(FunctionResponseScheduling.WHEN_IDLE))
    await asyncio.sleep(0.2)
    assert turns_completed(outbox) == 3
    await session.aclose()


async def test_a_blocking_function_still_makes_the_model_wait() -> None:
    llm = ScriptedLanguageModel(replies=[[CALL], ["Booked."]])
    session, outbox = async_session(llm, FunctionBehavior.BLOCKING)
    await session.handle(user("Book a table for two."))
    await until(lambda: any(isinstance(m, ToolCall) for m, _ in outbox.messages))
    await asyncio.sleep(0.1)
    assert turns_completed(outbox) == 0  # waiting for the response
    await session.handle(result(None))
    await outbox.wait_turn()
    assert model_texts(outbox) == ["Booked."] and turns_completed(outbox) == 1
    assert not any(isinstance(m, ServerContent) and m.interrupted for m, _ in outbox.messages)
    await session.aclose()


async def test_in_an_audio_session_the_words_before_the_call_and_the_later_answer_are_spoken() -> None:
    llm = ScriptedLanguageModel(replies=[["Let me book that.", " ", CALL], ["Your table is booked."]])
    tts = ScriptedSynthesizer()
    declaration = FunctionDeclaration(name="book_table", behavior=FunctionBehavior.NON_BLOCKING)
    session, outbox = live_session(
        llm,
        profile=fake_profile(llm, tts),
        modality=Modality.AUDIO,
        tools=[Tool(function_declarations=[declaration])],
    )
    await session.handle(user("Book a table for two."))
    await outbox.wait_turn()
    assert [text for text, _, _ in tts.calls] == ["Let me book that."]
    said_and_called = [
        (p.text, p.function_call.name if p.function_call else None) for p in session.history[-1].parts
    ]
    assert said_and_called == [("Let me book that.", None), (None, "book_table")]
    await session.handle(result(None))
    await outbox.wait_turn()
    assert [text for text, _, _ in tts.calls] == ["Let me book that.", "Your table is booked."]
    assert session.history[-1].text() == "Your table is booked."
    await session.aclose()


async def test_new_input_cancels_a_blocking_call_the_turn_was_waiting_on() -> None:
    llm = ScriptedLanguageModel(replies=[[CALL], ["Hello."]])
    session, outbox = async_session(llm, FunctionBehavior.BLOCKING)
    await session.handle(user("Book a table for two."))
    await until(lambda: any(isinstance(m, ToolCall) for m, _ in outbox.messages))
    await session.handle(user("Never mind. Hello!"))
    await until(lambda: turns_completed(outbox) == 2)
    kinds = [type(m).__name__ if not isinstance(m, ServerContent) else "content" for m, _ in outbox.messages]
    cancellation = next(m for m, _ in outbox.messages if isinstance(m, ToolCallCancellation))
    assert cancellation.ids == ["call-1"]
    assert kinds.index("ToolCallCancellation") > kinds.index("ToolCall")
    assert any(c.interrupted for c in outbox.contents())
    assert model_texts(outbox) == ["Hello."]
    # Its result, should it come anyway, is only context: no turn starts for it.
    await session.handle(result(None))
    await asyncio.sleep(0.2)
    assert turns_completed(outbox) == 2 and len(llm.requests) == 2
    await session.aclose()
