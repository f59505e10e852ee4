"""The steps of a call's sampling: name, arguments, taking back a call of a function that does not exist."""

from __future__ import annotations

from openlive.backends.llm_prompt import ToolCallParser
from openlive.backends.tool_grammar import (
    ARGUMENTS_KEY,
    CALL_NAME_GRAMMAR,
    NO_CALL_START_GRAMMAR,
    CallGrammars,
)
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
SUBMIT = ToolSpec(
    name="submit_request",
    parameters={
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": ["accessibility", "lost_item", "other"]},
            "details": {"type": "string", "description": "What is needed."},
            "urgency": {"type": "integer"},
        },
        "required": ["kind", "details"],
    },
)
PING = ToolSpec(
    name="ping",
    parameters={
        "type": "object",
        "properties": {"target": {"type": "string", "enum": ["staff"]}, "note": {"type": "string"}},
        "required": ["target", "note"],
    },
)
END = ToolSpec(name="end_session", parameters={"type": "object", "properties": {}})
# No plan: a required string with a constraint its body grammar would not keep.
NOTE = ToolSpec(
    name="note",
    parameters={
        "type": "object",
        "properties": {"text": {"type": "string", "maxLength": 40}},
        "required": ["text"],
    },
)
TOOLS = [VOTE, SUBMIT, PING, END, NOTE]
GRAMMARS = CallGrammars.of(TOOLS)
VOTE_VALUE = GRAMMARS.plans["vote_for_session"].values[0]


class Reply:
    """Tokens fed as the backend feeds them: to the parser, then to the steering."""

    def __init__(self) -> None:
        self.parser = ToolCallParser([t.name for t in TOOLS])
        self.steering = CallSteering(GRAMMARS)
        self.tokens = 0
        self.shown = ""
        self.calls: list[tuple[str, dict[str, object]]] = []

    def token(self, piece: str) -> Steer | None:
        self.tokens += 1
        self.feed(piece)
        return self.steering.after_token(piece, self.parser, self.tokens)

    def feed(self, text: str) -> None:
        visible, calls = self.parser.feed(text)
        self.shown += visible
        self.calls += [(c.name, c.args) for c in calls]

    def write(self, steer: Steer) -> None:
        """What the backend does with a steer's written parts."""
        self.feed(steer.write)
        if steer.close_with:
            self.feed(steer.close_with)
            self.steering.call_ended(self.tokens)


def test_a_declared_call_is_sampled_name_first_then_only_its_values() -> None:
    reply = Reply()
    assert reply.token("Sure.") is None
    assert reply.token("<tool_call>") == Steer(CALL_NAME_GRAMMAR)
    assert reply.token('\n{"name": "vote_for') is None
    steer = reply.token('_session"')
    # The key is the only one the schema allows: written, and the model samples the value's body. The
    # call has begun (the backend says so: the session may speak while it is written).
    assert steer == Steer(VOTE_VALUE, write=', "arguments": {"session_id": "', named="vote_for_session")
    reply.write(steer)
    assert reply.token("S") is None
    steer = reply.token('4"')
    assert steer == Steer(None, write="}", close_with=CALL_ENDS[0])  # nothing else is required
    reply.write(steer)
    assert reply.calls == [("vote_for_session", {"session_id": "S4"})]
    assert reply.steering.phase == "free" and reply.shown == "Sure."


def test_a_value_closed_in_one_token_with_what_follows_it_ends_the_call_as_sampled() -> None:
    # The model's own token for the end of the last value is '"}}': the value's grammar lets it (one
    # that ended at the quote made the model write 'T7}}' inside the string instead).
    assert VOTE_VALUE.startswith('root ::= char* "\\"" "}" space "}"')
    reply = Reply()
    reply.feed("<tool_call>")
    reply.write(reply.steering.decided("vote_for_session"))
    assert reply.token('T7"}}') == Steer(None, close_with=CALL_ENDS[1])
    reply.write(Steer(None, close_with=CALL_ENDS[1]))
    assert reply.calls == [("vote_for_session", {"session_id": "T7"})]


def test_keys_are_written_and_an_enum_value_is_written_out_once_only_one_option_fits() -> None:
    reply = Reply()
    steer = reply.steering.decided("submit_request")
    assert steer.write == '\n{"name": "submit_request", "arguments": {"kind": "'
    assert steer.grammar == GRAMMARS.plans["submit_request"].values[0]
    reply.feed("<tool_call>")
    reply.write(steer)
    steer = reply.token("access")
    details = GRAMMARS.plans["submit_request"].values[1]
    assert steer == Steer(details, write='ibility", "details": "')
    reply.write(steer)
    assert reply.token('a \\"quiet\\" seat') is None  # an escaped quote closes nothing
    # An optional property may follow: the value's grammar goes on to the call's end, sampled.
    assert reply.token('"') is None
    assert reply.token(', "urgency": 2') is None
    assert reply.token("}") == Steer(None, close_with=CALL_ENDS[0])
    reply.feed(CALL_ENDS[0])
    assert reply.calls == [
        ("submit_request", {"kind": "accessibility", "details": 'a "quiet" seat', "urgency": 2})
    ]


def test_a_token_that_closes_a_value_and_starts_the_next_key_leaves_the_rest_of_the_key_written() -> None:
    reply = Reply()
    reply.feed("<tool_call>")
    reply.write(reply.steering.decided("submit_request"))
    steer = reply.token('other",')
    assert steer == Steer(GRAMMARS.plans["submit_request"].values[1], write=' "details": "')
    reply.write(steer)
    reply.token('late"}}')
    reply.feed(CALL_ENDS[1])
    assert reply.calls == [("submit_request", {"kind": "other", "details": "late"})]


def test_what_has_one_form_only_is_written_whole() -> None:
    reply = Reply()
    # A one-option enum: the model samples only the note.
    steer = reply.steering.decided("ping")
    assert steer.write == '\n{"name": "ping", "arguments": {"target": "staff", "note": "'
    assert steer.grammar == GRAMMARS.plans["ping"].values[1]
    # No parameters: the call is written to its end, and made at once.
    reply = Reply()
    steer = reply.steering.decided("end_session")
    assert steer == Steer(None, write='\n{"name": "end_session", "arguments": {}', close_with=CALL_ENDS[0])
    reply.feed("<tool_call>")
    reply.write(steer)
    assert reply.calls == [("end_session", {})]
    assert reply.steering.phase == "free"


def test_without_a_plan_the_arguments_are_sampled_and_the_calls_end_written_once_they_close() -> None:
    reply = Reply()
    reply.token("<tool_call>")
    steer = reply.token('\n{"name": "note"')
    assert steer == Steer(GRAMMARS.arguments["note"], write=ARGUMENTS_KEY, named="note")
    reply.write(steer)
    assert reply.token(' {"text": "S4') is None
    assert reply.token('}"') is None  # a brace inside a string closes nothing
    assert reply.token("}") == Steer(None, close_with=CALL_ENDS[0])
    reply.feed(CALL_ENDS[0])
    assert reply.calls == [("note", {"text": "S4}"})]
    reply.steering.call_ended(reply.tokens)
    assert reply.steering.phase == "free" and not reply.shown
    assert call_end('\n{"name": "f", "arguments": {}') == "}\n</tool_call>"
    assert call_end('\n{"name": "f", "arguments": {"a": 1}}') == "\n</tool_call>"  # "}}": one token
    assert call_end('\n{"name": "f", "arguments": {"a": {"b": 1}') == ""  # still inside


def test_only_plain_required_strings_make_a_plan() -> None:
    assert set(GRAMMARS.plans) == {"vote_for_session", "submit_request", "ping", "end_session"}
    assert GRAMMARS.plans["submit_request"].keys == ("kind", "details")
    assert GRAMMARS.plans["vote_for_session"].rest == ""


def test_a_malformed_schema_gets_no_plan_and_breaks_nothing() -> None:
    # Declarations are the client's: a "required" or "enum" that is not a list is sampled under the
    # whole arguments' grammar (which allows any object for what the converter cannot read).
    odd = [
        ToolSpec(
            name="a", parameters={"type": "object", "properties": {"x": {"type": "string"}}, "required": 5}
        ),
        ToolSpec(
            name="b", parameters={"type": "object", "properties": {"x": {"type": "string"}}, "required": "x"}
        ),
        ToolSpec(
            name="c",
            parameters={
                "type": "object",
                "properties": {"x": {"type": "string", "enum": "xy"}},
                "required": ["x"],
            },
        ),
    ]
    grammars = CallGrammars.of(odd)
    assert grammars.plans == {}
    assert set(grammars.arguments) == {"a", "b", "c"}


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
    steer = reply.token('{"name": "vote_for_session"')
    assert steer == Steer(VOTE_VALUE, write=', "arguments": {"session_id": "', named="vote_for_session")


def test_a_bare_json_object_after_a_closed_call_ends_the_reply() -> None:
    # Seen at a 14,000-token context: the call, then `{"name": "` again, which was opened properly and
    # written whole a second time (the toolCall 13.5 s late, the same request twice).
    reply = Reply()
    reply.token("<tool_call>")
    reply.write(reply.token('\n{"name": "end_session"'))
    reply.token("\n")
    reply.token('{"')
    assert reply.token('name": "') == Steer(None, stop=True)
    assert reply.parser.held_text == ""  # never shown
    assert reply.calls == [("end_session", {})]
    # A new call in the trained format is still a call.
    reply = Reply()
    reply.token("<tool_call>")
    reply.write(reply.token('\n{"name": "end_session"'))
    assert reply.token("<tool_call>") == Steer(CALL_NAME_GRAMMAR)
