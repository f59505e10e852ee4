"""The steps of a call's sampling: name, arguments, taking back a call of a function that does not exist."""

from __future__ import annotations

from openlive.backends.llm_prompt import ToolCallParser
from openlive.backends.tool_grammar import CALL_NAME_GRAMMAR, NO_CALL_START_GRAMMAR, CallGrammars
from openlive.backends.tool_steering import CALL_ENDS, MAX_TAKEBACKS, CallSteering, Steer, call_end
from openlive.stages.language_model import ToolSpec

VOTE = ToolSpec(
    name="vote_for_session",
    parameters={
        "type": "object",
        "properties": {"session_id": {"type": "string"}},
        "required": ["session_id"],
    },
)
GRAMMARS = CallGrammars.of([VOTE])


class Reply:
    """Tokens fed as the backend feeds them: to the parser, then to the steering."""

    def __init__(self) -> None:
        self.parser = ToolCallParser([VOTE.name])
        self.steering = CallSteering(GRAMMARS)
        self.tokens = 0
        self.shown = ""

    def token(self, piece: str) -> Steer | None:
        self.tokens += 1
        visible, _ = self.parser.feed(piece)
        self.shown += visible
        return self.steering.after_token(piece, self.parser, self.tokens)


def test_a_declared_call_is_sampled_name_first_then_under_its_arguments_grammar() -> None:
    reply = Reply()
    assert reply.token("Sure.") is None
    assert reply.token("<tool_call>") == Steer(CALL_NAME_GRAMMAR)
    assert reply.token('\n{"name": "vote_for') is None
    assert reply.token('_session"') == Steer(GRAMMARS.arguments["vote_for_session"])
    # Both objects closed: only the end tag can follow, and it is written (not sampled).
    assert reply.token(', "arguments": {"session_id": "S4"}}\n') == Steer(None, close_with="</tool_call>")
    _, calls = reply.parser.feed("</tool_call>")
    assert [c.args for c in calls] == [{"session_id": "S4"}]
    reply.steering.call_ended(reply.tokens)
    assert reply.steering.phase == "free"


def test_once_the_arguments_close_the_calls_end_is_written_not_sampled() -> None:
    reply = Reply()
    reply.token("<tool_call>")
    reply.token('\n{"name": "vote_for_session"')
    assert reply.token(', "arguments": {"session_id": "S4') is None
    assert reply.token('}"') is None  # a brace inside a string closes nothing
    assert reply.token("}") == Steer(None, close_with=CALL_ENDS[0])
    shown, calls = reply.parser.feed(CALL_ENDS[0])
    assert [(c.name, c.args) for c in calls] == [("vote_for_session", {"session_id": "S4}"})]
    reply.steering.call_ended(reply.tokens)
    assert reply.steering.phase == "free" and not shown
    assert call_end('\n{"name": "f", "arguments": {}') == "}\n</tool_call>"
    assert call_end('\n{"name": "f", "arguments": {"a": 1}}') == "\n</tool_call>"  # "}}": one token
    assert call_end('\n{"name": "f", "arguments": {"a": {"b": 1}') == ""  # still inside


def test_a_call_of_a_function_that_does_not_exist_is_taken_back_to_where_the_text_was_whole() -> None:
    reply = Reply()
    reply.token("Let me")
    reply.token(" check.")  # the parser holds nothing back: a call would be taken back to here (2)
    reply.token("<tool_call>")
    reply.token('\n{"name": ')
    steer = reply.token('"get_lunch_time"')
    assert steer == Steer(NO_CALL_START_GRAMMAR, rewind_to=2)
    assert not reply.parser.in_call  # its text is forgotten, never shown
    assert reply.token(" Lunch is at 12:30.") == Steer(None)  # words came: free again
    assert reply.shown == "Let me check. Lunch is at 12:30."
    assert reply.parser.malformed == 0


def test_after_the_last_takeback_the_reply_ends_as_a_malformed_call() -> None:
    reply = Reply()
    for _ in range(MAX_TAKEBACKS):
        reply.token("<tool_call>")
        assert reply.token('{"name": "nope"') == Steer(NO_CALL_START_GRAMMAR, rewind_to=0)
        reply.tokens = 0  # the backend dropped the reply's tokens
    reply.token("<tool_call>")
    assert reply.token('{"name": "nope"') == Steer(None, stop=True)
    assert reply.parser.malformed == 1


def test_a_bare_json_call_after_some_text_is_taken_back_and_opened_properly() -> None:
    reply = Reply()
    reply.token("Done.")
    reply.token(" ")
    reply.token('{"')
    steer = reply.token('name": "')
    assert steer == Steer(CALL_NAME_GRAMMAR, rewind_to=2, open_call=True)
    assert reply.parser.held_text == ""  # the object's text is never shown
    assert reply.steering.phase == "name"
    assert reply.shown == "Done."


def test_a_required_call_opens_the_reply_with_a_declared_name_only() -> None:
    reply = Reply()
    assert reply.steering.require_call() == GRAMMARS.declared_name
    reply.parser.feed("<tool_call>")  # as the backend opens it
    assert reply.token('{"name": "vote_for_session"') == Steer(GRAMMARS.arguments["vote_for_session"])


def test_a_decided_call_is_written_up_to_its_arguments_and_sampled_on_from_their_value() -> None:
    reply = Reply()
    assert reply.steering.decided("vote_for_session") == GRAMMARS.argument_values["vote_for_session"]
    assert reply.token('<tool_call>\n{"name": "vote_for_session", "arguments":') is None
    assert reply.token(' {"session_id": "T7"}') == Steer(None, close_with=CALL_ENDS[0])
    shown, calls = reply.parser.feed(CALL_ENDS[0])
    assert [(c.name, c.args) for c in calls] == [("vote_for_session", {"session_id": "T7"})]
    assert reply.shown + shown == ""
