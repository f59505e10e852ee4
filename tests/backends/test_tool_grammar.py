"""The tool-call grammar: built from the declared tools, and accepted by llama.cpp with the real vocab."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from openlive.backends.tool_grammar import (
    ARGUMENTS_KEY,
    CALL_NAME,
    CALL_NAME_GRAMMAR,
    NO_CALL_START_GRAMMAR,
    CallGrammars,
    call_arguments_grammar,
)
from openlive.stages.language_model import ToolSpec

if TYPE_CHECKING:  # imported in the fixture: collecting this file must not need the model
    from openlive.backends.llama_adapter import LlamaState

VOTE = ToolSpec(
    name="vote_for_session",
    description="Vote for a talk",
    parameters={
        "type": "object",
        "properties": {
            "session_id": {"type": "string"},
            "stars": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
        },
        "required": ["session_id"],
    },
)
END = ToolSpec(name="end_session", description="End the conversation")  # no parameters
ODD = ToolSpec(name="odd", parameters={"type": "object", "properties": {"x": {"type": "widget"}}})
KIND = ToolSpec(
    name="submit_request",
    parameters={
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": ["lost_item", "other"]},
            "details": {"type": "string"},
        },
        "required": ["kind", "details"],
    },
)


def rules(grammar: str) -> dict[str, str]:
    return dict(line.split(" ::= ", 1) for line in grammar.strip().splitlines())


def test_the_name_step_allows_any_function_name_in_the_calls_shape() -> None:
    # Any name: a function that does not exist shows what the model meant (the call is taken back).
    assert rules(CALL_NAME_GRAMMAR)["root"].endswith('"\\"" [A-Za-z0-9_.:-]{1,64} "\\""')
    assert CALL_NAME.match('\n{"name": "vote_for_session"') is not None


def test_the_arguments_follow_the_functions_schema_then_the_end_tag() -> None:
    # The backend writes '{"name": "vote_for_session", "arguments":' itself; the grammar goes on from there.
    assert ARGUMENTS_KEY == ', "arguments":'
    grammar = rules(call_arguments_grammar(VOTE))
    assert grammar["root"] == 'space arguments "}" space "\\n"? "</tool_call>"'
    assert grammar["arguments"].startswith('"{" space arguments-session-id-kv')  # required: first, always
    assert grammar["arguments-stars"] == '"1" | "2" | "3" | "4" | "5"'


def test_a_string_cannot_hold_a_raw_control_character() -> None:
    # JSON does not allow a raw newline in a string, and json.loads would refuse the call.
    assert rules(call_arguments_grammar(VOTE))["char"].startswith(r'[^"\\\x00-\x1F]')


def test_a_function_without_parameters_takes_any_object() -> None:
    assert rules(call_arguments_grammar(END))["arguments"] == "object"


def test_a_schema_the_converter_does_not_know_allows_any_object() -> None:
    assert rules(call_arguments_grammar(ODD))["arguments"] == "object"


def test_a_reply_under_the_no_call_start_cannot_begin_with_markup() -> None:
    assert rules(NO_CALL_START_GRAMMAR)["root"] == "[ \\t\\n]* [^<{`\\x00 \\t\\n] [^\\x00]*"


def test_one_set_of_grammars_per_request() -> None:
    grammars = CallGrammars.of([VOTE, END, ODD])
    # VOTE's optional integer follows its required string; END has no parameters.
    assert set(grammars.plans) == {"vote_for_session", "end_session"}
    # Only a function without a plan has its arguments sampled under a whole-object grammar.
    assert set(grammars.arguments) == {ODD.name}
    assert all(grammars.declares(name) for name in (VOTE.name, END.name, ODD.name))
    assert not grammars.declares("book_room")
    # name, declared name, no-call start, ODD's arguments, VOTE's value body and its rest
    assert len(grammars.all()) == 6


@pytest.fixture(scope="module")
def vocabulary() -> Iterator[LlamaState]:
    import llama_cpp

    from openlive.backends.assets import cache_dir, llm_gguf_path
    from openlive.backends.llama_adapter import LlamaState

    llm = llama_cpp.Llama(model_path=str(llm_gguf_path(cache_dir())), vocab_only=True, verbose=False)
    yield LlamaState(llm)
    llm.close()


@pytest.mark.models
def test_llama_cpp_accepts_the_grammar_and_refuses_a_broken_one(vocabulary: LlamaState) -> None:
    assert all(vocabulary.grammar_compiles(g) for g in CallGrammars.of([VOTE, END, ODD, KIND]).all())
    assert not vocabulary.grammar_compiles('root ::= "unclosed')


def test_a_required_call_names_only_a_declared_function() -> None:
    grammar = rules(CallGrammars.of([VOTE, END]).declared_name)
    assert grammar["root"].endswith('("\\"vote_for_session\\"" | "\\"end_session\\"")')
