"""Invariants of a session's output, checked by the race tests and the randomised interleaving test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from engine_fakes import RecordingOutbox

from openlive.protocol.messages import ServerContent, ToolCall, ToolCallCancellation


def assert_well_formed(outbox: RecordingOutbox) -> None:
    """The client's view of the turns is consistent.

    * every ``interrupted`` is followed by exactly one ``turnComplete`` before any other reply content;
    * after ``generationComplete`` nothing of the reply comes before its ``turnComplete``;
    * no two replies interleave: content after a ``turnComplete`` starts a new reply, and a reply's
      content never follows another reply's ``generationComplete``.
    """
    state = "between"  # between | reply | generated | interrupted
    for index, (message, _) in enumerate(outbox.messages):
        where = f"message {index} of {describe(outbox)}"
        if isinstance(message, ToolCall):
            assert state in ("between", "reply"), f"toolCall while {state}: {where}"
            state = "reply"
            continue
        if isinstance(message, ToolCallCancellation):
            assert state == "interrupted", f"toolCallCancellation outside an interruption: {where}"
            continue
        if not isinstance(message, ServerContent):
            continue
        content = message.model_turn is not None or message.output_transcription is not None
        if state == "interrupted":
            assert not content and not message.generation_complete, (
                f"reply content after interrupted: {where}"
            )
            assert not message.interrupted, f"interrupted twice: {where}"
            if message.turn_complete:
                state = "between"
            continue
        if message.interrupted:
            assert not message.turn_complete
            state = "interrupted"
            continue
        if content:
            assert state != "generated", f"reply content after generationComplete: {where}"
            state = "reply"
        if message.generation_complete:
            assert state != "generated", f"generationComplete twice: {where}"
            state = "generated"
        if message.turn_complete:
            state = "between"


def describe(outbox: RecordingOutbox) -> list[str]:
    """The outbox as short words (for assertion messages)."""
    out: list[str] = []
    for message, _ in outbox.messages:
        if isinstance(message, ToolCall):
            out.append("toolCall")
        elif isinstance(message, ToolCallCancellation):
            out.append("toolCallCancellation")
        elif isinstance(message, ServerContent):
            if message.input_transcription is not None:
                out.append("input" + ("(final)" if message.input_transcription.finished else ""))
            if message.model_turn is not None:
                parts = message.model_turn.parts
                out += ["audio" if p.inline_data else f"text:{p.text}" for p in parts]
            if message.output_transcription is not None:
                out.append("output")
            for flag in ("interrupted", "generation_complete", "turn_complete"):
                if getattr(message, flag):
                    out.append(flag)
        else:
            out.append(type(message).__name__)
    return out


def live_tasks() -> list[asyncio.Task[object]]:
    """Tasks of this event loop still running, except the caller's."""
    current = asyncio.current_task()
    return [t for t in asyncio.all_tasks() if t is not current and not t.done()]


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)
