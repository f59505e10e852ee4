"""The history's translation for the LLM: trimming keeps calls with their results; user turns merge."""

from __future__ import annotations

from openlive.engine.history import merge_user_messages, trim_to_budget
from openlive.stages.language_model import ChatMessage, ToolCallRequest


def words(text: str) -> int:
    return len(text.split())


def test_trimming_never_keeps_a_result_whose_call_was_cut() -> None:
    call = ToolCallRequest(id="c1", name="book", args={})
    turns = [
        ChatMessage(role="user", content="book a table " * 20),
        ChatMessage(role="assistant", content="", tool_calls=[call]),  # NON_BLOCKING: the result comes later
        ChatMessage(role="user", content="and the weather?"),
        ChatMessage(role="assistant", content="sunny"),
        ChatMessage(role="tool", content='{"ok": true}', tool_call_id="c1"),
        ChatMessage(role="user", content="thanks"),
    ]
    kept = trim_to_budget(None, turns, budget_tokens=60, count=words)
    assert [m.content for m in kept] == ["and the weather?", "sunny", "thanks"]
    everything = trim_to_budget(None, turns, budget_tokens=10_000, count=words)
    assert everything == turns


def test_consecutive_user_messages_become_one() -> None:
    merged = merge_user_messages(
        [
            ChatMessage(role="user", content="what is the capital of France"),
            ChatMessage(role="user", content="and what is two plus two?"),
            ChatMessage(role="assistant", content="Paris. Four."),
            ChatMessage(role="user", content="thanks"),
        ]
    )
    assert [(m.role, m.content) for m in merged] == [
        ("user", "what is the capital of France\nand what is two plus two?"),
        ("assistant", "Paris. Four."),
        ("user", "thanks"),
    ]
