"""GBNF grammars that steer a Qwen2.5 (Hermes-style) tool call, built from the request's declared tools.

Once the model has opened a call (the ``<tool_call>`` token), the call is sampled in two steps. First the
name, under ``CALL_NAME_GRAMMAR``: ``{"name": "<any function name>"``, so the model says which function
it means, in the call's shape. If it is a declared function, its arguments follow under
``call_arguments_grammar(tool)``: that function's parameters schema, then ``}`` and ``</tool_call>``, so
a call always parses into a declared function with arguments its schema allows. If the model meant a
function that does not exist (it does that for questions it should answer from its instruction), the
call is taken back and the reply starts again under ``NO_CALL_START_GRAMMAR``, which only lets it begin
with words. A single grammar of the declared names instead turned those attempts into false calls of
a real function (6 of 10 questions in tests/backends/tool_call_bench.py, against 1 without a grammar).

The arguments' rules come from llama-cpp-python's JSON-schema converter. A schema it cannot convert (a
type or keyword it does not know) still gets a grammar: that function's arguments are then any JSON object.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llama_cpp.llama_grammar import SchemaConverter

from openlive.stages.language_model import ToolSpec

log = logging.getLogger(__name__)

_ANY_OBJECT: dict[str, Any] = {"type": "object"}
_LOOSE_CHAR = r'char ::= [^"\\] |'
_STRICT_CHAR = r'char ::= [^"\\\x00-\x1F] |'


# A function name as Gemini allows them (letters, digits, underscores, dots, colons, dashes; up to 64).
CALL_NAME_GRAMMAR = 'root ::= "\\n"? "{" " "? "\\"name\\"" " "? ":" " "? "\\"" [A-Za-z0-9_.:-]{1,64} "\\""\n'
# The name as the call body shows it once CALL_NAME_GRAMMAR has run.
CALL_NAME = re.compile(r'\s*\{\s*"name"\s*:\s*"([^"]*)"')
# A reply (or what follows its text) that may not open a call: the first character it writes (after any
# spaces) is no "<", "{" or backtick. Sampled under it only until that character; then freely.
NO_CALL_START_GRAMMAR = "root ::= [ \\t\\n]* [^<{`\\x00 \\t\\n] [^\\x00]*\n"


@dataclass(frozen=True, slots=True)
class CallGrammars:
    """The grammars of one request's calls: the name step, each declared function's arguments, and the
    start of a reply that may not call."""

    name: str
    arguments: dict[str, str]
    # After ``{"name": "<name>", "arguments": `` (a call the backend opened itself): the value on.
    argument_values: dict[str, str] = field(default_factory=dict)
    # The name step when a call is required (toolConfig ANY): only a declared function's name.
    declared_name: str = ""
    no_call_start: str = NO_CALL_START_GRAMMAR

    @classmethod
    def of(cls, tools: Sequence[ToolSpec]) -> CallGrammars:
        names = " | ".join(_literal(f'"{t.name}"') for t in tools)
        return cls(
            name=CALL_NAME_GRAMMAR,
            arguments={t.name: call_arguments_grammar(t) for t in tools},
            argument_values={t.name: call_arguments_grammar(t, after_key=True) for t in tools},
            declared_name=f'root ::= "\\n"? "{{" " "? "\\"name\\"" " "? ":" " "? ({names})\n',
        )

    def all(self) -> list[str]:
        return [
            self.name,
            self.declared_name,
            self.no_call_start,
            *self.arguments.values(),
            *self.argument_values.values(),
        ]


def _literal(text: str) -> str:
    """``text`` as a GBNF string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# What a call the backend opens itself writes before the arguments' value (the trained format; the
# space after the colon is left to the model, whose tokens join it to the brace: ' {"').
ARGUMENTS_KEY = ', "arguments":'


def call_arguments_grammar(tool: ToolSpec, *, after_key: bool = False) -> str:
    """GBNF for what follows ``{"name": "<tool.name>"`` in a call: arguments, ``}``, ``</tool_call>``.
    ``after_key``: what follows ``ARGUMENTS_KEY`` after it instead (from the value on)."""
    converter = _converter()
    try:
        _visit(converter, _arguments_schema(tool), "arguments")
    except Exception:  # the converter asserts on what it does not know
        log.warning("tool %s: no grammar for its parameters schema; any object is allowed", tool.name)
        converter = _converter()
        _visit(converter, _ANY_OBJECT, "arguments")
    key = "space " if after_key else 'space "," space "\\"arguments\\"" space ":" space '
    root = f'root ::= {key}arguments "}}" space "\\n"? "</tool_call>"'
    return f"{root}\n{_strict_strings(_format(converter))}\n"


def _strict_strings(grammar: str) -> str:
    # The converter's string character allows raw control characters (a newline), which JSON does not.
    return grammar.replace(_LOOSE_CHAR, _STRICT_CHAR)


def _converter() -> SchemaConverter:
    return SchemaConverter(  # type: ignore[no-untyped-call]
        prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False
    )


def _visit(converter: SchemaConverter, schema: dict[str, Any], name: str) -> None:
    converter.visit(schema, name)  # type: ignore[no-untyped-call]


def _format(converter: SchemaConverter) -> str:
    text: str = converter.format_grammar()  # type: ignore[no-untyped-call]
    return text


def _arguments_schema(tool: ToolSpec) -> dict[str, Any]:
    schema = tool.parameters if isinstance(tool.parameters, dict) else {}
    # No declared properties: JSON Schema allows any object (and the converter would allow only {}).
    # Otherwise the converter allows no properties beyond the declared ones, as wanted.
    return schema if schema.get("properties") else _ANY_OBJECT
