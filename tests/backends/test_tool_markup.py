"""Tool markup never reaches the text: what the parser drops, and what it turns into calls (no model)."""

from __future__ import annotations

import pytest

from openlive.backends.llm_prompt import ToolCallParser
from openlive.backends.tool_markup import bare_call_opening
from openlive.stages import ToolCallRequest

NAMES = ("vote_for_session", "get_weather")


def reply(text: str, *, names: tuple[str, ...] = NAMES) -> tuple[str, list[ToolCallRequest], int]:
    """The visible text, the calls and the malformed count, for ``text`` streamed whole and char by char
    (the two must agree: markup split across tokens is held back, not leaked)."""
    results = []
    for chunks in ([text], list(text)):
        parser = ToolCallParser(names)
        shown: list[str] = []
        calls: list[ToolCallRequest] = []
        for chunk in chunks:
            visible, made = parser.feed(chunk)
            shown.append(visible)
            calls += made
        visible, made = parser.finish()
        results.append(("".join(shown) + visible, calls, parser.malformed))
    whole, by_char = results
    assert whole[0] == by_char[0] and whole[2] == by_char[2]
    assert [(c.name, c.args) for c in whole[1]] == [(c.name, c.args) for c in by_char[1]]
    return whole


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<tools></tools>", ""),  # issue 11: every reply of a short-instruction session; Piper said it
        ('Hello <tools>\n{"type": "function"}\n</tools> there.', "Hello there."),
        ("<tool_response>\nsunny\n</tool_response>It is sunny.", "It is sunny."),
        ("Fine.<|im_end|>\n<|im_start|>assistant\nReally.", "Fine.\nassistant\nReally."),
        ("Done. </tool_call>", "Done."),
        ("Sure thing <tool_ca", "Sure thing"),  # a fragment at the end of the reply
        ("You can vote by calling `vote_for_session`.", "You can vote by calling."),
    ],
)
def test_markup_is_dropped(text: str, shown: str) -> None:
    visible, calls, malformed = reply(text)
    assert (visible, calls, malformed) == (shown, [], 0)


@pytest.mark.parametrize(
    "text",
    [
        "Lunch is at 12:00 and 3 < 4 but 5 > 2.",
        "Use <b>bold</b> or `ls -la` here.",
        "A single ` backtick and <tooltip> stay.",
    ],
)
def test_ordinary_angle_brackets_and_backticks_are_kept(text: str) -> None:
    assert reply(text) == (text, [], 0)


def test_backticks_are_only_held_back_when_tools_are_declared() -> None:
    parser = ToolCallParser()
    assert parser.feed("Run `vote_for_session") == ("Run `vote_for_session", [])


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ('Sure: `vote_for_session({"session_id": "S3"})`', {"session_id": "S3"}),
        ("Sure: `vote_for_session()`", {}),
        ('Sure: ```python\nvote_for_session({"session_id": "S3"})\n```', {"session_id": "S3"}),
        ('Sure: `{"name": "vote_for_session", "arguments": {"session_id": "S3"}}`', {"session_id": "S3"}),
    ],
)
def test_a_complete_backticked_call_of_a_declared_function_is_made(text: str, args: dict[str, str]) -> None:
    visible, calls, malformed = reply(text)
    assert visible == "Sure:"
    assert [(c.name, c.args) for c in calls] == [("vote_for_session", args)]
    assert calls[0].id.startswith("call_")
    assert malformed == 0


@pytest.mark.parametrize(
    "text",
    [
        "Sure `vote_for_session(session_id='S3')` done",  # Python, not JSON
        'Sure `vote_for_session({"session_id": ` done',  # cut off
        'Sure <get_weather city="Paris"/> done',  # a call as a tag of the function's name
    ],
)
def test_a_broken_pseudo_call_is_dropped_and_reported_malformed(text: str) -> None:
    assert reply(text) == ("Sure done", [], 1)


def test_an_unclosed_pseudo_call_at_the_end_is_dropped_and_reported() -> None:
    assert reply('Sure. `vote_for_session({"session_id": "S3"}') == ("Sure.", [], 1)


def test_a_call_of_an_undeclared_function_is_dropped_and_reported() -> None:
    text = 'OK.<tool_call>\n{"name": "delete_everything", "arguments": {}}\n</tool_call>'
    assert reply(text) == ("OK.", [], 1)


def test_without_declared_names_any_tagged_call_is_made() -> None:
    parser = ToolCallParser()
    _, calls = parser.feed('<tool_call>{"name": "anything", "arguments": {}}</tool_call>')
    assert [c.name for c in calls] == ["anything"]


@pytest.mark.parametrize(
    ("start", "verdict"),
    [
        ("", "wait"),
        ("\n", "wait"),
        ("{", "call"),
        ('  {"name"', "call"),
        ("`", "wait"),
        ("```json\n", "wait"),
        ("```json\n{", "call"),
        ("```python\nprint", "text"),
        ("<too", "wait"),
        ("<tools>\n", "wait"),
        ("<tools>\n{", "call"),
        ("<tools></tools>", "text"),  # the echoed tool list: dropped by the parser, no call
        ("<tool_call>", "text"),  # the trained format: the parser opens it
        ("<tool_resp", "wait"),
        ('<tool_response>\n{"ok": true, "name": "submit_request"', "call"),  # a result it imagines
        ("(", "wait"),
        ("(\n", "call"),  # then often the end of the reply: the call it meant is sampled
        ('(\n{\n    "name"', "call"),
        ("(Hello", "text"),
        ("( ", "wait"),
        ("Sure", "text"),
        ("`vote", "text"),
    ],
)
def test_a_reply_that_starts_a_bare_call_is_recognised(start: str, verdict: str) -> None:
    assert bare_call_opening(start) == verdict


def test_a_json_call_in_the_middle_of_a_reply_is_made_not_said() -> None:
    text = 'Sure! {"name": "vote_for_session", "arguments": {"session_id": "S3"}} Done.'
    visible, calls, malformed = reply(text)
    assert visible == "Sure! Done."
    assert [(c.name, c.args) for c in calls] == [("vote_for_session", {"session_id": "S3"})]
    assert malformed == 0


def test_doubled_braces_around_a_json_call_are_read_too() -> None:
    text = 'OK {{"name": "get_weather", "arguments": {"city": "Paris"}}}'
    assert [(c.name, c.args) for c in reply(text)[1]] == [("get_weather", {"city": "Paris"})]
    assert reply(text)[0] == "OK"


@pytest.mark.parametrize(
    "text",
    [
        'Sure {"name": "delete_all", "arguments": {}} done',  # not a declared function
        'Sure {"name": "get_weather", "arguments": {"city": ',  # cut off
    ],
)
def test_a_broken_json_call_is_dropped_and_reported(text: str) -> None:
    visible, calls, malformed = reply(text)
    assert visible in ("Sure done", "Sure"), visible
    assert (calls, malformed) == ([], 1)


def test_other_braces_are_kept() -> None:
    assert reply("Use {braces} and {} and {'a': 1}.") == ("Use {braces} and {} and {'a': 1}.", [], 0)


def test_a_fenced_json_call_of_an_undeclared_function_is_dropped_and_reported() -> None:
    # Seen in tests/backends/tool_call_bench.py without the grammar: the model invented a function.
    call = '{\n  "name": "get_meal_start_time",\n  "arguments": {"day": "Tuesday"}\n}'
    text = f"Let me check.\n```json\n{call}\n```"
    assert reply(text) == ("Let me check.", [], 1)


def test_a_function_name_said_as_a_word_is_dropped_other_words_stay() -> None:
    # Seen under hot sampling: after one call the model wrote the next one as words and tags.
    text = "Registered. register_attendee <arguments></arguments> I can register you, and vote."
    assert reply(text, names=("register_attendee", "vote")) == (
        "Registered. I can register you, and vote.",
        [],
        0,
    )
