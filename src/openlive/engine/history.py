"""The conversation history in Gemini's shape (``Content`` turns) and its translation for the LLM."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from openlive.protocol.messages import Content, FunctionDeclaration, Part, Tool
from openlive.stages.language_model import ChatMessage, ToolCallRequest, ToolSpec

_ROLE_MAP = {"user": "user", "model": "assistant", "system": "system"}


def new_call_id() -> str:
    return "function-call-" + uuid.uuid4().hex[:16]


def content_to_messages(content: Content) -> list[ChatMessage]:
    """One Gemini turn as chat messages: text, function calls, function responses."""
    role = _ROLE_MAP.get(content.role or "user", "user")
    messages: list[ChatMessage] = []
    text_parts: list[str] = []
    calls: list[ToolCallRequest] = []
    for part in content.parts:
        if part.thought:
            continue
        if part.text is not None:
            text_parts.append(part.text)
        elif part.function_call is not None:
            fc = part.function_call
            calls.append(ToolCallRequest(id=fc.id or new_call_id(), name=fc.name, args=dict(fc.args)))
        elif part.function_response is not None:
            fr = part.function_response
            messages.append(
                ChatMessage(
                    role="tool",
                    content=json.dumps(fr.response, ensure_ascii=False),
                    tool_call_id=fr.id,
                    name=fr.name,
                )
            )
        elif part.inline_data is not None:
            # The embedded LLM is text-only: media in clientContent is noted, not seen (compatibility.md).
            text_parts.append(f"[{part.inline_data.mime_type} attachment]")
    text = "".join(text_parts).strip()
    if text or calls:
        messages.insert(0, ChatMessage(role=role, content=text, tool_calls=calls))  # type: ignore[arg-type]
    return messages


def merge_user_messages(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Consecutive user messages as one (joined by a new line).

    Two user turns in a row happen when a spoken and a typed turn are answered together (see
    turn_core): a small model answers only the last of two user messages, but both parts of one.
    """
    merged: list[ChatMessage] = []
    for message in messages:
        last = merged[-1] if merged else None
        if last is not None and last.role == "user" == message.role and not last.tool_calls:
            merged[-1] = ChatMessage(role="user", content=f"{last.content}\n{message.content}")
        else:
            merged.append(message)
    return merged


def before_last_user_words(messages: list[ChatMessage], preamble: str, lead: str) -> list[ChatMessage]:
    """``messages`` with ``preamble`` put before the last user message's words (introduced by ``lead``),
    so the user's words come last, where a small model attends to them best; the prompt's cached prefix
    (instruction, earlier turns) is left as it was."""
    out = list(messages)
    for i in range(len(out) - 1, -1, -1):
        if out[i].role == "user":
            out[i] = ChatMessage(role="user", content=f"{preamble}\n\n{lead}{out[i].content}")
            return out
    return [*out, ChatMessage(role="user", content=preamble)]


def with_seen_note(messages: list[ChatMessage], note: str) -> list[ChatMessage]:
    """``messages`` with what the user shows (a frame's note) before the last user message's words. The
    reply and the session's prompt prefill both build the turn this way, so their prompts match."""
    return before_last_user_words(messages, note, "The person says: ")


def trim_to_budget(
    system: ChatMessage | None,
    turns: list[ChatMessage],
    budget_tokens: int,
    count: Callable[[str], int],
) -> list[ChatMessage]:
    """Drop the oldest messages until the prompt fits, cutting only before a user message.

    Like Gemini's sliding window, the system instruction is always kept and the cut always happens at
    the start of a user turn, so a tool call is never separated from its response. (The session keeps
    its prompt under its window's trigger between turns; this is the safety net for one long turn.)
    """

    def cost(m: ChatMessage) -> int:
        return count(m.content) + 8 + sum(count(json.dumps(c.args)) + 8 for c in m.tool_calls)

    total = (cost(system) if system else 0) + sum(cost(m) for m in turns)
    start = 0
    while total > budget_tokens and start < len(turns) - 1:
        total -= cost(turns[start])
        start += 1
        while start < len(turns) - 1 and turns[start].role != "user":
            total -= cost(turns[start])
            start += 1
    # A NON_BLOCKING call's result can come turns after the call: never keep a result whose call was cut.
    dropped_calls = {c.id for m in turns[:start] for c in m.tool_calls}
    kept = [m for m in turns[start:] if not (m.role == "tool" and m.tool_call_id in dropped_calls)]
    return ([system] if system else []) + kept


_OPENAPI_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}


def openapi_to_json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI-subset schema (``type: OBJECT``…) as a JSON Schema (lower-case types)."""
    if isinstance(schema, list):
        return [openapi_to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str) and value.upper() in _OPENAPI_TYPES:
            out[key] = value.lower()
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: openapi_to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf"):
            out[key] = openapi_to_json_schema(value)
        elif key == "nullable":
            continue
        else:
            out[key] = value
    return out


def tool_specs(tools: list[Tool]) -> list[ToolSpec]:
    specs: list[ToolSpec] = []
    for tool in tools:
        for decl in tool.function_declarations:
            specs.append(_spec(decl))
    return specs


def _spec(decl: FunctionDeclaration) -> ToolSpec:
    if decl.parameters_json_schema is not None:
        params = dict(decl.parameters_json_schema)
    elif decl.parameters is not None:
        params = openapi_to_json_schema(decl.parameters)
    else:
        params = {"type": "object", "properties": {}}
    return ToolSpec(name=decl.name, description=decl.description or "", parameters=params)


def text_turn(role: str, text: str) -> Content:
    return Content(role=role, parts=[Part(text=text)])
