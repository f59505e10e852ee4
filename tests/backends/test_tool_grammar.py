"""The tool-call grammar: built from the declared tools, and accepted by llama.cpp with the real vocab."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from openlive.backends.tool_grammar import tool_call_grammar
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


def rules(grammar: str) -> dict[str, str]:
    return dict(line.split(" ::= ", 1) for line in grammar.strip().splitlines())


def test_the_call_is_one_of_the_declared_functions_then_the_end_tag() -> None:
    grammar = rules(tool_call_grammar([VOTE, END]))
    assert grammar["root"] == '"\\n"? call "\\n"? "</tool_call>"'
    assert grammar["call"] == "call-0 | call-1"
    assert grammar["call-0-name"] == '"\\"vote_for_session\\""'
    assert grammar["call-1-name"] == '"\\"end_session\\""'
    # name first, then arguments: the order the model was trained on
    assert grammar["call-0"].index("name-kv") < grammar["call-0"].index("arguments-kv")


def test_arguments_follow_the_schema() -> None:
    grammar = rules(tool_call_grammar([VOTE]))
    arguments = grammar["call-0-arguments"]
    assert arguments.startswith('"{" space call-0-arguments-session-id-kv')  # required, so first and always
    assert grammar["call-0-arguments-stars"] == '"1" | "2" | "3" | "4" | "5"'


def test_a_string_cannot_hold_a_raw_control_character() -> None:
    # JSON does not allow a raw newline in a string, and json.loads would refuse the call.
    assert rules(tool_call_grammar([VOTE]))["char"].startswith(r'[^"\\\x00-\x1F]')


def test_a_function_without_parameters_takes_any_object() -> None:
    assert rules(tool_call_grammar([END]))["call-0-arguments"] == "object"


def test_a_schema_the_converter_does_not_know_allows_any_object_for_that_function_only() -> None:
    grammar = rules(tool_call_grammar([VOTE, ODD]))
    assert grammar["call-1-arguments"] == "object"
    assert "session-id" in grammar["call-0-arguments"]


def test_no_tools_no_grammar() -> None:
    with pytest.raises(ValueError):
        tool_call_grammar([])


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
    assert vocabulary.grammar_compiles(tool_call_grammar([VOTE, END, ODD]))
    assert not vocabulary.grammar_compiles('root ::= "unclosed')
