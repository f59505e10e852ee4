"""A GBNF grammar for the body of a Qwen2.5 (Hermes-style) tool call, from the request's declared tools.

Once the model has opened a call (the ``<tool_call>`` token), the rest of the call is sampled under this
grammar, so it can only be ``{"name": <a declared name>, "arguments": <that function's parameters>}``
followed by ``</tool_call>``: a started call always parses into a declared function with arguments its
schema allows. Without it the 1.5B model, given a long instruction and several tools, often broke off a
call, named a function that does not exist or wrote arguments that are not JSON.

The arguments' rules come from llama-cpp-python's JSON-schema converter. A schema it cannot convert (a
type or keyword it does not know) still gets a grammar: that function's arguments are then any JSON object.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from llama_cpp.llama_grammar import SchemaConverter

from openlive.stages.language_model import ToolSpec

log = logging.getLogger(__name__)

# Qwen2.5's template shows the call as "<tool_call>\n{...}\n</tool_call>"; the newlines are optional here
# (the model sometimes leaves them out, and either way the call parses).
_ROOT_RULE = 'root ::= "\\n"? call "\\n"? "</tool_call>"'
_ANY_OBJECT: dict[str, Any] = {"type": "object"}
_LOOSE_CHAR = r'char ::= [^"\\] |'
_STRICT_CHAR = r'char ::= [^"\\\x00-\x1F] |'


def tool_call_grammar(tools: Sequence[ToolSpec]) -> str:
    """GBNF (root rule ``root``) for one call body after ``<tool_call>``, up to and with ``</tool_call>``."""
    if not tools:
        raise ValueError("a tool-call grammar needs at least one declared tool")
    converter = _converter()
    alternatives = [_call_schema(tool.name, _arguments_schema(tool)) for tool in tools]
    try:
        _visit(converter, {"anyOf": alternatives}, "call")
    except Exception:  # the converter asserts on what it does not know; keep each schema that converts
        log.debug("a tool schema did not convert to a grammar; converting them one by one", exc_info=True)
        converter = _converter()
        alternatives = [_call_schema(tool.name, _convertible(tool)) for tool in tools]
        _visit(converter, {"anyOf": alternatives}, "call")
    return f"{_ROOT_RULE}\n{_strict_strings(_format(converter))}\n"


def _strict_strings(grammar: str) -> str:
    # The converter's string character allows raw control characters (a newline), which JSON does not.
    return grammar.replace(_LOOSE_CHAR, _STRICT_CHAR)


def _converter() -> SchemaConverter:
    # "name" before "arguments", the order Qwen2.5 was trained on and the template shows.
    return SchemaConverter(  # type: ignore[no-untyped-call]
        prop_order={"name": 0, "arguments": 1}, allow_fetch=False, dotall=False, raw_pattern=False
    )


def _visit(converter: SchemaConverter, schema: dict[str, Any], name: str) -> None:
    converter.visit(schema, name)  # type: ignore[no-untyped-call]


def _format(converter: SchemaConverter) -> str:
    text: str = converter.format_grammar()  # type: ignore[no-untyped-call]
    return text


def _call_schema(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"name": {"const": name}, "arguments": arguments},
        "required": ["name", "arguments"],
    }


def _arguments_schema(tool: ToolSpec) -> dict[str, Any]:
    schema = tool.parameters if isinstance(tool.parameters, dict) else {}
    # No declared properties: JSON Schema allows any object (and the converter would allow only {}).
    # Otherwise the converter allows no properties beyond the declared ones, as wanted.
    return schema if schema.get("properties") else _ANY_OBJECT


def _convertible(tool: ToolSpec) -> dict[str, Any]:
    schema = _arguments_schema(tool)
    try:
        _visit(_converter(), json.loads(json.dumps(schema)), "probe")
    except Exception:
        log.warning("tool %s: no grammar for its parameters schema; any object is allowed", tool.name)
        return _ANY_OBJECT
    return schema
