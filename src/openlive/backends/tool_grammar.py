"""GBNF grammars that steer a Qwen2.5 (Hermes-style) tool call, built from the request's declared tools.

Once the model has opened a call (the ``<tool_call>`` token), the call is sampled in two steps. First the
name, under ``CALL_NAME_GRAMMAR``: ``{"name": "<any function name>"``, so the model says which function
it means, in the call's shape. If it is a declared function, the backend writes ``, "arguments":`` and
its arguments follow under ``call_arguments_grammar(tool)``: that function's parameters schema, then
``}`` and ``</tool_call>``, so a call always parses into a declared function with arguments its schema
allows; where the schema leaves no choice (the keys of required string properties, the rest of an enum
value once only one fits) the backend writes that too and the model samples only the values
(``ArgumentPlan``). If the model meant a
function that does not exist (it does that for questions it should answer from its instruction), the
call is taken back and the reply starts again under ``NO_CALL_START_GRAMMAR``, which only lets it begin
with words. A single grammar of the declared names instead turned those attempts into false calls of
a real function (6 of 10 questions in tests/backends/tool_call_bench.py, against 1 without a grammar).

The arguments' rules come from llama-cpp-python's JSON-schema converter. A schema it cannot convert (a
type or keyword it does not know) still gets a grammar: that function's arguments are then any JSON object.
"""

from __future__ import annotations

import json
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
    # The arguments, from their value on (the backend writes ``ARGUMENTS_KEY``), of each declared function
    # without a plan; a planned function's call is steered by its plan's grammars alone.
    arguments: dict[str, str]
    # Functions whose arguments the backend writes where their schema leaves no choice (ArgumentPlan).
    plans: dict[str, ArgumentPlan] = field(default_factory=dict)
    # The name step when a call is required (toolConfig ANY): only a declared function's name.
    declared_name: str = ""
    no_call_start: str = NO_CALL_START_GRAMMAR

    @classmethod
    def of(cls, tools: Sequence[ToolSpec]) -> CallGrammars:
        names = " | ".join(_literal(f'"{t.name}"') for t in tools)
        plans = {t.name: plan for t in tools if (plan := argument_plan(t)) is not None}
        return cls(
            name=CALL_NAME_GRAMMAR,
            arguments={t.name: call_arguments_grammar(t) for t in tools if t.name not in plans},
            plans=plans,
            declared_name=f'root ::= "\\n"? "{{" " "? "\\"name\\"" " "? ":" " "? ({names})\n',
        )

    def declares(self, name: str) -> bool:
        """Whether ``name`` is one of the request's declared functions."""
        return name in self.arguments or name in self.plans

    def all(self) -> list[str]:
        return [
            self.name,
            self.declared_name,
            self.no_call_start,
            *self.arguments.values(),
            *(g for plan in self.plans.values() for g in plan.grammars()),
        ]


def _literal(text: str) -> str:
    """``text`` as a GBNF string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# What the backend writes after a declared function's name, before the arguments' value (the trained
# format; without a plan the space after the colon is left to the model, whose tokens join it to the
# brace: ' {"').
ARGUMENTS_KEY = ', "arguments":'


def call_arguments_grammar(tool: ToolSpec) -> str:
    """GBNF for what follows ``{"name": "<tool.name>", "arguments":`` in a call (the backend writes
    that part, ``ARGUMENTS_KEY`` after the name): the arguments' value, ``}`` and ``</tool_call>``."""
    converter = _converter()
    try:
        _visit(converter, _arguments_schema(tool), "arguments")
    except Exception:  # the converter asserts on what it does not know
        log.warning("tool %s: no grammar for its parameters schema; any object is allowed", tool.name)
        converter = _converter()
        _visit(converter, _ANY_OBJECT, "arguments")
    root = 'root ::= space arguments "}" space "\\n"? "</tool_call>"'
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


# A JSON string's character (no raw control character: JSON has none, and json.loads would refuse it).
_CHAR_RULE = r'char ::= [^"\\\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})'
_SPACE_RULE = 'space ::= " "?'
# After the arguments' last value: the object's end, the call's and the end tag.
_CALL_CLOSE = '"}" space "}" space "\\n"? "</tool_call>"'
# The body of a JSON string after its opening quote, up to and including its closing one.
STRING_BODY = 'char* "\\""'
# Keywords a string property may carry and still be any string (or one of its enum values).
_PLAIN_STRING_KEYS = frozenset({"type", "description", "title", "enum", "example", "examples", "default"})
_PLAIN_OBJECT_KEYS = frozenset({"type", "description", "title", "properties", "required"})
_UNSAFE = re.compile(r'["\\\x00-\x1f]')


@dataclass(frozen=True, slots=True)
class ArgumentPlan:
    """A call's arguments as far as the backend writes them instead of sampling them.

    A function's required string properties come first, in declared order (as the grammar converter
    puts them), so ``{"kind": "`` and ``, "details": "`` leave the model no choice: they are written
    (read in one batch with what comes before them, instead of a decode step of ~90 ms each on two
    cores), and the model samples only each value's body. Once an enum value's sampled start fits one
    option, its rest is written too. After the last required value, the object's end is written, or,
    when optional properties follow, sampled. Each value's grammar goes on past its closing quote with
    what must follow it (the next key, or the object's end), because the model's own tokens join them
    (``",`` and ``"}}``): a grammar that ended at the quote made it write ``T7}}`` inside the string.
    Only functions whose required properties are plain strings (or string enums) have a plan; the
    others are sampled under their whole arguments' grammar.
    """

    keys: tuple[str, ...]
    # Each key's enum values (empty: any string).
    options: tuple[tuple[str, ...], ...]
    # What each value is sampled under, from its body (after its opening quote) on.
    values: tuple[str, ...]
    # When optional properties follow the last required value: what samples them, the object's end and
    # the end tag, from right after that value ("": nothing optional, the end is written).
    rest: str = ""

    def grammars(self) -> list[str]:
        return [*self.values, *([self.rest] if self.rest else [])]


def argument_plan(tool: ToolSpec) -> ArgumentPlan | None:
    """The plan for ``tool``'s arguments (see ``ArgumentPlan``); None when its schema does not allow one."""
    schema = tool.parameters if isinstance(tool.parameters, dict) else {}
    properties = schema.get("properties") or {}
    if not isinstance(properties, dict) or not set(schema) <= _PLAIN_OBJECT_KEYS:
        return None
    if not properties:  # no parameters: the arguments are {}
        return ArgumentPlan(keys=(), options=(), values=())
    required = schema.get("required") or []
    if not isinstance(required, list):  # a client's malformed schema: sampled under the whole grammar
        return None
    keys = tuple(k for k in properties if k in required)
    if not keys or any(_UNSAFE.search(k) for k in properties):
        return None
    options: list[tuple[str, ...]] = []
    for key in keys:
        prop = properties[key]
        if not isinstance(prop, dict) or prop.get("type") != "string" or not set(prop) <= _PLAIN_STRING_KEYS:
            return None
        enum = prop.get("enum") or []
        if not isinstance(enum, list) or not all(
            isinstance(v, str) and v and not _UNSAFE.search(v) for v in enum
        ):
            return None
        options.append(tuple(enum))
    optional = {k: v for k, v in properties.items() if k not in keys}
    end = _optional_then_close(optional) if optional else (_CALL_CLOSE, {})
    if end is None:
        return None
    end_expression, end_rules = end
    values: list[str] = []
    for i, enum in enumerate(options):
        body = f"({' | '.join(_literal(v) for v in enum)}) " + _literal('"') if enum else STRING_BODY
        if i + 1 < len(keys):
            follow = _literal(", " + json.dumps(keys[i + 1]) + ': "')  # the next key, up to its value
            values.append(_grammar(f"{body} {follow}", {}))
        else:
            values.append(_grammar(f"{body} {end_expression}", end_rules))
    rest = _grammar(end_expression, end_rules) if optional else ""
    return ArgumentPlan(keys=keys, options=tuple(options), values=tuple(values), rest=rest)


def _optional_then_close(optional: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """Any of the optional properties (in order), the object's end, the call's ``}`` and the end tag:
    the expression and the converter's rules it uses (None: the converter does not know a schema)."""
    converter = _converter()
    parts: list[str] = []
    try:
        for i, (key, prop) in enumerate(optional.items()):
            rule = _visit_rule(converter, prop if isinstance(prop, dict) else {}, f"optional-{i}")
            parts.append(f'( "," space {_literal(json.dumps(key))} space ":" space {rule} )?')
    except Exception:  # the converter asserts on what it does not know
        return None
    rules = dict(line.split(" ::= ", 1) for line in _strict_strings(_format(converter)).strip().splitlines())
    return f"space {' '.join(parts)} {_CALL_CLOSE}", rules


def _grammar(root: str, rules: dict[str, str]) -> str:
    """A grammar of ``root`` with ``rules``, and the string character and space rules unless given."""
    lines = [f"root ::= {root}", *(f"{name} ::= {rule}" for name, rule in rules.items())]
    for rule in (_CHAR_RULE, _SPACE_RULE):
        if rule.split(" ::= ", 1)[0] not in rules:
            lines.append(rule)
    return "\n".join(lines) + "\n"


def _visit_rule(converter: SchemaConverter, schema: dict[str, Any], name: str) -> str:
    rule: str = converter.visit(schema, name)  # type: ignore[no-untyped-call]
    return rule
