"""The chat template renderer and the tool-call markup parser (no model needed)."""

from __future__ import annotations

import json

import pytest

from openlive.backends.llm_prompt import ChatTemplate, RepeatedCalls, ToolCallParser, parse_tool_call
from openlive.stages import ChatMessage, ToolCallRequest
from openlive.stages.language_model import ToolSpec

# A cut-down Qwen2.5 template: the same system/tools layout, tool calls and tool responses.
QWEN_LIKE_TEMPLATE = """
{%- if tools %}
{{- '<|im_start|>system\\n' + messages[0]['content'] + '\\n\\n# Tools\\n<tools>' }}
{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}
{{- '\\n</tools><|im_end|>\\n' }}
{%- else %}
{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages[1:] %}
{%- if message.role == 'assistant' and message.tool_calls %}
{{- '<|im_start|>assistant' }}
{%- for tool_call in message.tool_calls %}{%- set tool_call = tool_call.function %}
{{- '\\n<tool_call>\\n{"name": "' + tool_call.name + '", "arguments": ' }}
{{- (tool_call.arguments | tojson) + '}\\n</tool_call>' }}
{%- endfor %}{{- '<|im_end|>\\n' }}
{%- elif message.role == 'tool' %}
{{- '<|im_start|>user\\n<tool_response>\\n' + message.content + '\\n</tool_response><|im_end|>\\n' }}
{%- else %}
{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}
"""

WEATHER = ToolSpec(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


def feed_all(parser: ToolCallParser, chunks: list[str]) -> tuple[str, list[ToolCallRequest]]:
    text: list[str] = []
    calls: list[ToolCallRequest] = []
    for chunk in chunks:
        t, c = parser.feed(chunk)
        text.append(t)
        calls += c
    t, c = parser.finish()
    return "".join(text) + t, calls + c


@pytest.mark.parametrize("tools", [[], [WEATHER]], ids=["no tools", "tools"])
def test_no_messages_at_all_render_an_empty_system_turn(tools: list[ToolSpec]) -> None:
    # A session without a system instruction, before its first turn (issue 10: jinja's UndefinedError
    # "list object has no element 0" from messages[0]).
    text = ChatTemplate(QWEN_LIKE_TEMPLATE).render([], tools)
    assert text.startswith("<|im_start|>system\n")
    assert "<|im_start|>user" not in text
    assert text.endswith("<|im_start|>assistant\n")


def test_render_conversation_with_tools_and_tool_turns() -> None:
    template = ChatTemplate(QWEN_LIKE_TEMPLATE)
    call = ToolCallRequest(id="call_1", name="get_weather", args={"city": "Zürich"})
    text = template.render(
        [
            ChatMessage(role="system", content="Be brief."),
            ChatMessage(role="user", content="Weather?"),
            ChatMessage(role="assistant", tool_calls=[call]),
            ChatMessage(role="tool", content='{"temp": 3}', tool_call_id="call_1", name="get_weather"),
        ],
        [WEATHER],
    )
    assert text.startswith("<|im_start|>system\nBe brief.\n\n# Tools\n<tools>\n")
    assert '"name": "get_weather"' in text
    # Non-ASCII stays readable (Jinja's own tojson would write \\u00fc and escape quotes for HTML).
    assert '{"name": "get_weather", "arguments": {"city": "Zürich"}}' in text
    assert '<tool_response>\n{"temp": 3}\n</tool_response>' in text
    assert text.endswith("<|im_start|>assistant\n")


def test_system_prefix_stops_at_the_end_of_the_system_prompt() -> None:
    template = ChatTemplate(QWEN_LIKE_TEMPLATE)
    prefix = template.system_prefix("Speak plainly.")
    assert prefix == "<|im_start|>system\nSpeak plainly."
    longer = template.render(
        [ChatMessage(role="system", content="Speak plainly.\n\nYou are a pirate."), ChatMessage(role="user")]
    )
    assert longer.startswith(prefix)


def test_tagged_tool_call_split_into_single_characters_is_cut_out() -> None:
    reply = (
        'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
    )
    text, calls = feed_all(ToolCallParser(), list(reply))
    assert text == "Let me check."
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert calls[0].id.startswith("call_") and len(calls[0].id) > 10


def test_two_tagged_calls_get_distinct_ids() -> None:
    one = '<tool_call>{"name": "a", "arguments": {}}</tool_call>'
    text, calls = feed_all(ToolCallParser(), [one + "\n" + one.replace('"a"', '"b"')])
    assert text == ""
    assert [c.name for c in calls] == ["a", "b"]
    assert calls[0].id != calls[1].id


def test_text_that_only_looks_like_a_tag_start_is_released() -> None:
    parser = ToolCallParser()
    first, _ = parser.feed("a <to")
    assert first == "a"  # "<to" might open a tool call: held back
    second, _ = parser.feed("y> b")
    assert second == " <toy> b"


def test_arguments_given_as_a_json_string_are_decoded() -> None:
    call = parse_tool_call(json.dumps({"name": "f", "arguments": json.dumps({"x": 1})}))
    assert call is not None and call.args == {"x": 1}


def test_invalid_tool_call_json_is_dropped_not_spoken() -> None:
    parser = ToolCallParser()
    text, calls = feed_all(parser, ["Sure. <tool_call>{not json</tool_call>"])
    assert text == "Sure."
    assert calls == []
    assert parser.malformed == 1  # reported as MALFORMED_FUNCTION_CALL


def test_an_unclosed_call_that_is_not_json_counts_as_malformed() -> None:
    parser = ToolCallParser()
    good = '<tool_call>{"name": "f", "arguments": {}}</tool_call>'
    _, calls = feed_all(parser, [good + '<tool_call>{"name": "g", "argu'])
    assert [c.name for c in calls] == ["f"]
    assert parser.malformed == 1


def test_unclosed_tool_call_at_the_end_is_parsed() -> None:
    text, calls = feed_all(ToolCallParser(), ['<tool_call>\n{"name": "f", "arguments": {"q": "x"}}\n'])
    assert text == ""
    assert [(c.name, c.args) for c in calls] == [("f", {"q": "x"})]


def test_bare_json_in_a_code_block_naming_a_tool_is_a_call() -> None:
    reply = '```json\n{\n  "name": "get_weather",\n  "arguments": {"city": "Paris"}\n}\n```'
    text, calls = feed_all(
        ToolCallParser(tool_names=["get_weather"]), [reply[i : i + 3] for i in range(0, 99, 3)]
    )
    assert text == ""
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]


@pytest.mark.parametrize("reply", ["`ls` lists files.", '{"a": 1} is JSON'])
def test_reply_that_is_not_a_known_tool_call_stays_text(reply: str) -> None:
    text, calls = feed_all(ToolCallParser(tool_names=["get_weather"]), [reply[:4], reply[4:]])
    assert text == reply
    assert calls == []


def test_a_bare_call_of_an_undeclared_function_is_dropped_as_malformed_not_said() -> None:
    # Issue 11: nothing that looks like tool markup reaches the speech or the transcript.
    parser = ToolCallParser(tool_names=["get_weather"])
    reply = '{"name": "unknown_tool", "arguments": {}}'
    assert feed_all(parser, [reply[:4], reply[4:]]) == ("", [])
    assert parser.malformed == 1


def test_whitespace_around_the_reply_is_trimmed_but_kept_inside() -> None:
    parser = ToolCallParser()
    pieces = [parser.feed(c)[0] for c in ["\n\n", "Hello", ", ", "world", ".\n"]]
    assert "".join(pieces) + parser.finish()[0] == "Hello, world."
    # A trailing space waits for the next word instead of ending a chunk.
    assert pieces[2:4] == [",", " world"]


def test_doubled_braces_copied_from_the_qwen_template_still_parse() -> None:
    reply = '{{"name": "get_weather", "arguments": {"city": "Tokyo"}}}'
    text, calls = feed_all(ToolCallParser(tool_names=["get_weather"]), [reply[:5], reply[5:]])
    assert text == ""
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Tokyo"})]
    tagged = parse_tool_call('{{"name": "f", "arguments": {}}}')
    assert tagged is not None and tagged.name == "f"


def test_a_call_repeated_in_one_reply_is_sent_once() -> None:
    repeats = RepeatedCalls()
    first = ToolCallRequest(id="a", name="submit_request", args={"kind": "lost_item", "details": "bag"})
    again = ToolCallRequest(id="b", name="submit_request", args={"details": "bag", "kind": "lost_item"})
    other = ToolCallRequest(id="c", name="submit_request", args={"kind": "lost_item", "details": "hat"})
    assert repeats.fresh([first]) == [first]
    assert repeats.fresh([again, other]) == [other]  # the same arguments in another order: a repeat
    assert repeats.fresh([other]) == []
