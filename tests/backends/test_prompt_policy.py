"""The prompt policy both LLM backends apply: hints, sampling defaults, and the last-resort fit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from openlive.backends.prompt_policy import (
    CALL_DECISION_HINT,
    CALL_DECISION_NONE_BIAS,
    CALL_DECISION_OPENER,
    CALL_DECISION_QUESTION_BIAS,
    EMBEDDED_POLICY,
    TOOL_REQUIRED_HINT,
    TOOL_RESULT_HINT,
    TOOL_USE_HINT,
    PromptPolicy,
    offered,
)
from openlive.protocol.errors import CloseCode, ProtocolError
from openlive.stages import ChatMessage, ChatRequest, SamplingParams, ToolCallRequest
from openlive.stages.language_model import ToolChoice, ToolSpec

# The embedded policy's hints, without the call decision (tested on its own below).
HINTS_ONLY = replace(EMBEDDED_POLICY, call_decision=False)


def words(messages: list[ChatMessage]) -> int:
    return sum(len(m.content.split()) for m in messages)


def test_hints_follow_the_system_prompt_and_every_result() -> None:
    request = ChatRequest(
        messages=[
            ChatMessage(role="system", content="Be brief."),
            ChatMessage(role="user", content="weather?"),
            ChatMessage(role="assistant", tool_calls=[ToolCallRequest(id="c1", name="get_weather")]),
            ChatMessage(role="tool", content='{"sky": "sunny"}', tool_call_id="c1"),
        ],
        tools=[ToolSpec(name="get_weather")],
    )
    out = HINTS_ONLY.messages(request)
    assert out[0].content == f"Be brief.\n\n{TOOL_USE_HINT}"
    assert out[3].content == f'{{"sky": "sunny"}}\n\n{TOOL_RESULT_HINT}'
    assert request.messages[0].content == "Be brief."  # the request itself is left as it was
    assert PromptPolicy().messages(request) == request.messages  # a policy without hints adds nothing


def test_sampling_defaults_fill_only_what_the_client_left_unset() -> None:
    chosen = EMBEDDED_POLICY.sampling(SamplingParams(temperature=0.0, max_tokens=50))
    assert (chosen.temperature, chosen.top_p, chosen.top_k, chosen.max_tokens) == (0.0, 0.8, 20, 50)
    assert PromptPolicy().sampling(SamplingParams()) == SamplingParams()


def test_fit_drops_a_call_with_its_result_and_refuses_what_cannot_fit() -> None:
    call = ToolCallRequest(id="c1", name="book")
    messages = [
        ChatMessage(role="system", content="one two"),
        ChatMessage(role="user", content="a b c d"),
        ChatMessage(role="assistant", content="x", tool_calls=[call]),
        ChatMessage(role="tool", content="r", tool_call_id="c1"),
        ChatMessage(role="assistant", content="done"),
        ChatMessage(role="user", content="last question"),
    ]
    kept, used = EMBEDDED_POLICY.fit(messages, words, limit=6)
    assert [m.content for m in kept] == ["one two", "done", "last question"] and used == 5
    with pytest.raises(ProtocolError) as refused:
        EMBEDDED_POLICY.fit(messages, words, limit=3)
    assert refused.value.code == CloseCode.INVALID_ARGUMENT
    assert "needs 4 tokens; the context holds 3" in refused.value.reason


def test_offered_keeps_the_allowed_tools_and_the_hint_says_a_call_is_required() -> None:
    request = ChatRequest(
        messages=[ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="hi")],
        tools=[ToolSpec(name="get_weather"), ToolSpec(name="book_table")],
        tool_choice=ToolChoice(mode="required", allowed_names=("book_table",)),
    )
    shown = offered(request)
    assert [t.name for t in shown.tools] == ["book_table"]
    assert [t.name for t in request.tools] == ["get_weather", "book_table"]  # the request is left as it was
    assert EMBEDDED_POLICY.messages(shown)[0].content == f"Be brief.\n\n{TOOL_REQUIRED_HINT}"
    # AUTO keeps the usual hint; NONE offers no tools, so no hint at all.
    every = replace(request, tool_choice=ToolChoice())
    auto = offered(every)
    assert auto is every and HINTS_ONLY.messages(auto)[0].content == f"Be brief.\n\n{TOOL_USE_HINT}"
    silent = offered(replace(request, tool_choice=ToolChoice(mode="none")))
    assert silent.tools == [] and EMBEDDED_POLICY.messages(silent)[0].content == "Be brief."


def test_the_turn_hint_follows_every_user_message_while_functions_are_offered() -> None:
    policy = PromptPolicy(tool_turn_hint="[hint]")
    messages = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="first"),
        ChatMessage(role="assistant", content="ok"),
        ChatMessage(role="user", content="second"),
    ]
    tools = [ToolSpec(name="get_weather")]
    hinted = policy.messages(ChatRequest(messages=messages, tools=tools))
    assert [m.content for m in hinted if m.role == "user"] == ["first [hint]", "second [hint]"]
    assert policy.messages(ChatRequest(messages=messages)) == messages  # no functions: no hint
    required = ChatRequest(messages=messages, tools=tools, tool_choice=ToolChoice(mode="required"))
    assert [m.content for m in policy.messages(required) if m.role == "user"] == ["first", "second"]
    assert EMBEDDED_POLICY.tool_turn_hint == ""  # measured and not adopted (see TOOL_TURN_HINT)


def test_the_call_decision_opens_every_past_reply_after_a_fixed_opener() -> None:
    call = ToolCallRequest(id="c1", name="get_weather")
    request = ChatRequest(
        messages=[
            ChatMessage(role="system", content="Be brief."),
            ChatMessage(role="user", content="weather?"),
            ChatMessage(role="assistant", tool_calls=[call]),
            ChatMessage(role="tool", content="sunny", tool_call_id="c1"),
            ChatMessage(role="assistant", content="It is sunny."),
            ChatMessage(role="user", content="Thanks!"),
        ],
        tools=[ToolSpec(name="get_weather")],
    )
    out = EMBEDDED_POLICY.messages(request)
    assert out[0].content == f"Be brief.\n\n{TOOL_USE_HINT}\n\n{CALL_DECISION_HINT}"
    opener = out[1 : 1 + len(CALL_DECISION_OPENER)]
    assert [m.role for m in opener] == [m.role for m in CALL_DECISION_OPENER]
    assert opener[1].content == f"Function: none\n{CALL_DECISION_OPENER[1].content}"
    rest = out[1 + len(CALL_DECISION_OPENER) :]
    assert rest[1].content == "Function: get_weather" and rest[1].tool_calls == [call]
    assert rest[3].content == "Function: none\nIt is sunny."
    assert rest[4].content == "Thanks!"
    # A required call (the reply opens with it) or no tools: no decision.
    required = replace(request, tool_choice=ToolChoice(mode="required"))
    assert not EMBEDDED_POLICY.decides_calls(required)
    assert not EMBEDDED_POLICY.decides_calls(replace(request, tools=[]))
    assert all("Function:" not in m.content for m in EMBEDDED_POLICY.messages(replace(request, tools=[])))


def test_a_question_leans_further_towards_no_call() -> None:
    def ask(text: str) -> ChatRequest:
        return ChatRequest(messages=[ChatMessage(role="user", content=text)], tools=[ToolSpec(name="f")])

    assert EMBEDDED_POLICY.none_bias(ask("Please vote for T7.")) == CALL_DECISION_NONE_BIAS
    assert EMBEDDED_POLICY.none_bias(ask("When is the keynote? ")) == CALL_DECISION_QUESTION_BIAS
    assert EMBEDDED_POLICY.none_bias(ask("基調講演はいつですか？")) == CALL_DECISION_QUESTION_BIAS
    assert CALL_DECISION_QUESTION_BIAS > CALL_DECISION_NONE_BIAS > 0
