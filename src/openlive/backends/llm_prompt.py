"""Prompt text for local chat models: the GGUF's own chat template, and the tool-call markup it asks for.

The template is rendered the way Hugging Face renders it (sandboxed Jinja, a ``tojson`` that keeps
non-ASCII text readable), so the model sees exactly the format it was trained on. Qwen2.5 (and other
Hermes-style models) answer a tool request with ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``;
``ToolCallParser`` cuts that markup out of the token stream so it is never spoken or shown as text.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Collection, Sequence
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

from openlive.backends import tool_markup
from openlive.stages import ChatMessage, ToolCallRequest
from openlive.stages.language_model import ToolSpec

log = logging.getLogger(__name__)

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
# Where a word starts (a declared function's name may be said as one).
_WORD_START = re.compile(r"(?<![\w.])[A-Za-z_]")


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def _tojson(value: Any, indent: int | None = None) -> str:
    # Jinja's built-in tojson escapes <, >, & and ' for HTML, which would show the model "\u0027".
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _raise(message: str) -> None:
    raise ValueError(f"chat template: {message}")


class ChatTemplate:
    """Renders messages and tools with a model's Jinja chat template (``tokenizer.chat_template``)."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise
        self._template = env.from_string(source)
        self._bos = bos_token
        self._eos = eos_token

    def render(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolSpec] = (),
        *,
        add_generation_prompt: bool = True,
    ) -> str:
        if not messages:
            # A session with no system instruction and no turns yet (its first prefill, or a client's
            # bare turnComplete). Templates read messages[0] unguarded (Qwen2.5's does, to find a
            # system message), which is an UndefinedError on an empty list; an empty system message
            # renders as nothing to say, and no user turn is invented.
            messages = [ChatMessage(role="system", content="")]
        return self._template.render(
            messages=[_message_dict(m) for m in messages],
            tools=[_tool_dict(t) for t in tools] or None,
            add_generation_prompt=add_generation_prompt,
            bos_token=self._bos,
            eos_token=self._eos,
        )

    def system_prefix(self, system_prompt: str) -> str:
        """The prompt text up to the end of ``system_prompt``: what all conversations starting with it share.

        Conversations put more after it (the user's instruction, tools), so the text stops right at the
        end of the system prompt instead of at the template's end-of-message marker.
        """
        rendered = self.render(
            [ChatMessage(role="system", content=system_prompt)], add_generation_prompt=False
        )
        end = rendered.find(system_prompt)
        if end < 0:
            raise ValueError("the chat template does not include the system message")
        return rendered[: end + len(system_prompt)]


def _message_dict(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.args}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out


def _tool_dict(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def loads_lenient(text: str) -> Any:
    """JSON, also when doubled outer braces wrap it.

    Qwen2.5's template shows the format as ``{{"name": ..., "arguments": ...}}`` (a literal that Jinja does
    not unescape), and small models copy it. Raises ``json.JSONDecodeError`` when it is not JSON either way.
    """
    body = text.strip()
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        if body.startswith("{{") and body.endswith("}}"):
            return json.loads(body[1:-1])
        raise


def parse_tool_call(body: str) -> ToolCallRequest | None:
    """One ``{"name": ..., "arguments": ...}`` object (arguments may itself be a JSON string)."""
    try:
        data = loads_lenient(body)
    except json.JSONDecodeError:
        log.warning("dropping a tool call that is not valid JSON: %.200r", body)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        log.warning("dropping a tool call without a function name: %.200r", body)
        return None
    args = data.get("arguments", data.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            log.warning("tool call %s: arguments are not JSON: %.200r", data["name"], args)
            args = {}
    if not isinstance(args, dict):
        args = {}
    return ToolCallRequest(id=new_call_id(), name=data["name"], args=args)


class RepeatedCalls:
    """Drops the calls of a reply that repeat an earlier one: the same function, the same arguments.

    A small model sometimes writes its call again after it closed; that is the model repeating itself,
    not a second request, and an app would act twice on it (two tickets for one lost bag)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def fresh(self, calls: Sequence[ToolCallRequest]) -> list[ToolCallRequest]:
        out = []
        for call in calls:
            key = json.dumps([call.name, call.args], sort_keys=True, default=str)
            if key in self._seen:
                log.info("dropped a repeated call of %s in one reply", call.name)
                continue
            self._seen.add(key)
            out.append(call)
        return out


class ToolCallParser:
    """Splits streamed model text into visible text and tool calls.

    ``feed`` returns the text that can be shown now and the calls completed so far. Text that might be
    the start of ``<tool_call>`` is held back until it is clearly not. Leading and trailing whitespace of
    the whole reply is dropped (models put newlines around their tool calls; nobody should hear them).

    Small models sometimes answer a tool request with a bare JSON object, often in a markdown code
    block, instead of the tagged form. With ``tool_names`` given, a reply that starts like that is held
    back whole and, at the end, becomes a tool call if it names one of the tools (otherwise it is text).
    """

    def __init__(self, tool_names: Collection[str] = ()) -> None:
        self._tool_names = frozenset(tool_names)
        self._pending = ""
        self._inside = False
        self._started = False
        self._held_space = ""
        self._bare_json: str | None = None  # the held reply, while it may be a bare JSON tool call
        self._bare_possible = bool(self._tool_names)
        self._skip_to = ""  # the end tag of a markup block being dropped (<tools>, <tool_response>)
        self._identifiers = tool_markup.identifiers(self._tool_names)
        self._squeeze = False  # markup was just dropped: the space before it may make the space after it
        # Tagged calls dropped because their body was not a call (``ChatDone.malformed_tool_calls``).
        self.malformed = 0

    def feed(self, text: str) -> tuple[str, list[ToolCallRequest]]:
        if self._bare_json is not None:
            self._bare_json += text
            return "", []
        if self._bare_possible:
            head = (self._pending + text).lstrip()
            if not head:  # only whitespace so far: undecided
                self._pending += text
                return "", []
            self._bare_possible = False
            if head.startswith(("{", "`")):
                self._bare_json = self._pending + text
                self._pending = ""
                return "", []
        self._pending += text
        visible, calls = self._drain(final=False)
        return self._trim(visible), calls

    @property
    def in_call(self) -> bool:
        """A ``<tool_call>`` has opened and its end has not come yet (the backend constrains its body)."""
        return self._inside

    @property
    def call_text(self) -> str:
        """The open call's text so far ("" outside a call)."""
        return self._pending if self._inside else ""

    @property
    def held_text(self) -> str:
        """Text held back outside a call, while it may still be markup ("" inside a call or a block)."""
        return "" if self._inside or self._skip_to else self._pending

    @property
    def at_rest(self) -> bool:
        """Nothing is held back: all text fed so far was shown, dropped or made into calls."""
        return not (self._pending or self._inside or self._skip_to or self._bare_json is not None)

    def abandon_call(self) -> None:
        """Forget the open call's text: the backend takes the call back and samples the reply on from
        where the parser was last at rest."""
        self._inside = False
        self._pending = ""

    def _drain(self, *, final: bool) -> tuple[str, list[ToolCallRequest]]:
        """Cut calls and markup out of the pending text; what stays pending may still be markup."""
        visible: list[str] = []
        calls: list[ToolCallRequest] = []
        while self._pending:
            if self._inside:
                end = self._pending.find(TOOL_CALL_CLOSE)
                if end < 0:
                    break
                call = self._declared(parse_tool_call(self._pending[:end]))
                if call is not None:
                    calls.append(call)
                self._pending = self._pending[end + len(TOOL_CALL_CLOSE) :]
                self._inside = False
                continue
            if self._skip_to:  # inside a <tools> or <tool_response> block: none of it is said
                end = self._pending.find(self._skip_to)
                if end < 0:
                    keep = 0 if final else _partial_suffix(self._pending, self._skip_to)
                    self._pending = self._pending[len(self._pending) - keep :]
                    break
                self._pending = self._pending[end + len(self._skip_to) :]
                self._skip_to = ""
                continue
            start = self._markup_start()
            if start < 0:
                self._show(visible, self._pending)
                self._pending = ""
                break
            self._show(visible, self._pending[:start])
            self._pending = self._pending[start:]
            found = tool_markup.scan(self._pending, self._tool_names, final=final)
            if isinstance(found, tool_markup.NeedMore):
                break
            if found is None:  # an ordinary "<" or backtick
                self._show(visible, self._pending[0])
                self._pending = self._pending[1:]
                continue
            self._squeeze = found.kind != "text"
            if found.kind == "text":
                self._show(visible, self._pending[: found.length])
            elif found.kind == "call":
                self._inside = True
            elif found.kind == "block":
                self._skip_to = found.end_tag
            elif found.kind == "pseudo_call":
                calls.append(ToolCallRequest(id=new_call_id(), name=found.name, args=found.args or {}))
            elif found.malformed:
                log.warning("dropping a malformed tool call: %.200r", self._pending[: found.length])
                self.malformed += 1
            self._pending = self._pending[found.length :]
        return "".join(visible), calls

    def _show(self, visible: list[str], piece: str) -> None:
        """Append visible text; right after dropped markup, without doubling the space around it
        ("by calling `f`." reads "by calling." and "Hi <tools></tools> there" "Hi there")."""
        if self._squeeze and piece:
            before = visible[-1] if visible else self._held_space or (" " if not self._started else "")
            if before[-1:].isspace() and piece[0] in " \t":
                piece = piece.lstrip(" \t")
            elif before[-1:].isspace() and piece[0] in ".,;:!?":
                if visible:
                    visible[-1] = visible[-1].rstrip(" \t")
                else:
                    self._held_space = ""
            self._squeeze = not piece
        if piece:
            visible.append(piece)

    def _markup_start(self) -> int:
        # Backticks and braces only start markup (pseudo-calls) when functions are declared, and words
        # only when a declared name reads as code (it may be said as a word: dropped too).
        marks = ("<", "`", "{") if self._tool_names else ("<",)
        found = [i for i in (self._pending.find(mark) for mark in marks) if i >= 0]
        if self._identifiers:
            word = _WORD_START.search(self._pending)
            if word is not None:
                found.append(word.start())
        return min(found, default=-1)

    def _declared(self, call: ToolCallRequest | None) -> ToolCallRequest | None:
        """``call`` if it names a declared function (any name when none were given), else None (malformed)."""
        if call is not None and (not self._tool_names or call.name in self._tool_names):
            return call
        if call is not None:
            log.warning("dropping a call of %r, which is not a declared function", call.name)
        self.malformed += 1
        return None

    def finish(self) -> tuple[str, list[ToolCallRequest]]:
        """End of the reply: an unclosed tool call is parsed if it is complete JSON, otherwise dropped."""
        calls: list[ToolCallRequest] = []
        text = ""
        if self._bare_json is not None:
            calls = self._bare_json_calls(self._bare_json)
            if not calls:
                # Not a tool call after all: the held reply is ordinary text (tagged calls inside it too).
                held, self._bare_json = self._bare_json, None
                text, calls = self.feed(held)
                more_text, more_calls = self.finish()
                return text + more_text, calls + more_calls
        elif self._inside:
            # An opened call that never closed: made if its body is a whole call, else malformed.
            call = self._declared(parse_tool_call(self._pending) if self._pending.strip() else None)
            if call is not None:
                calls.append(call)
        else:
            visible, calls = self._drain(final=True)
            text = self._trim(visible)
        self._pending = ""
        self._inside = False
        self._skip_to = ""
        self._bare_json = None
        self._held_space = ""  # trailing whitespace of the whole reply
        return text, calls

    def _bare_json_calls(self, reply: str) -> list[ToolCallRequest]:
        body = reply.strip()
        fence = re.fullmatch(r"```[A-Za-z]*\s*(.*?)\s*```", body, flags=re.DOTALL)
        if fence is not None:
            body = fence.group(1)
        try:
            data = loads_lenient(body)
        except json.JSONDecodeError:
            return []
        items = data if isinstance(data, list) else [data]
        if not items or not all(isinstance(i, dict) and i.get("name") in self._tool_names for i in items):
            return []
        calls = [parse_tool_call(json.dumps(item)) for item in items]
        return [c for c in calls if c is not None]

    def _trim(self, text: str) -> str:
        if not self._started:
            text = text.lstrip()
            if not text:
                return ""
            self._started = True
        text = self._held_space + text
        stripped = text.rstrip()
        self._held_space = text[len(stripped) :]
        return stripped


def _partial_suffix(text: str, marker: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``marker``."""
    for n in range(min(len(text), len(marker) - 1), 0, -1):
        if text.endswith(marker[:n]):
            return n
    return 0
