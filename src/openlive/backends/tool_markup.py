"""Tool markup in a model's text that must never be spoken or shown: what it is, and what becomes of it.

A small model given tools and a long instruction does not always call a tool the way it was trained to
(``<tool_call>{...}</tool_call>``). It also echoes the prompt's own markup (``<tools></tools>``, a
``<tool_response>`` block, ``<|im_start|>`` written out as text), writes a call as an XML tag of the
function's name (``<get_weather city="Paris"/>``), or writes it in backticks (`` `vote_for_session(...)` ``).
Piper pronounced all of it. ``scan`` looks at the text from one ``<`` or backtick and says what it is;
``ToolCallParser`` (``llm_prompt``) acts on the answer as the text streams in.

A backticked pseudo-call of a declared function becomes a real call when it is complete, with JSON
arguments (or none); any other backticked text that names a declared function is dropped, and counted as
a malformed call when it was written as a call (the name followed by parentheses).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

# The chat format's own tags. A <tools> or <tool_response> block is dropped whole, up to its end tag.
CALL_TAG: Final = "tool_call"
BLOCK_TAGS: Final = frozenset({"tools", "tool_response"})
# Other tags small models wrap calls or their parts in (dropped, never said).
FORMAT_TAGS: Final = frozenset(
    {CALL_TAG, "tool_calls", "tool", "function", "functions", "function_call", "function_calls"}
    | {"arguments", "parameters", *BLOCK_TAGS}
)
# How far text is held back while it may still be markup: a tag's attributes, a backticked span.
MAX_TAG_CHARS = 300
MAX_SPAN_CHARS = 600

# <|im_start|>, <|im_end|>, <|endoftext|>, written out as text rather than as the control token.
_CONTROL = re.compile(r"<\|[A-Za-z0-9_]{1,30}\|>")
_CONTROL_START = re.compile(r"<\|[A-Za-z0-9_]{0,30}\|?")
_TAG = re.compile(rf"<(/?)([A-Za-z_][A-Za-z0-9_.-]*)([^<>]{{0,{MAX_TAG_CHARS}}}?)(/?)>")
_TAG_START = re.compile(r"<(/?)([A-Za-z_][A-Za-z0-9_.-]*)?")
_WORD = re.compile(r"[A-Za-z_][\w.]*")
# The start of a call written as a bare JSON object ({"name": "..., or in doubled braces).
JSON_CALL_START = re.compile(r'\{\{?\s*"name"\s*:\s*"')
_FENCE_LANGUAGE = re.compile(r"[A-Za-z0-9_+-]*\n")


class NeedMore:
    """``scan``'s answer when the text seen so far could still be markup or not."""


NEED_MORE: Final = NeedMore()


@dataclass(frozen=True, slots=True)
class Markup:
    """What ``scan`` found at the start of the text, ``length`` characters long."""

    # "call": a <tool_call> opens (its body follows); "block": skip to ``end_tag``; "drop": drop it;
    # "pseudo_call": a backticked call to make instead (``name``, ``args``); "text": not markup after all,
    # show it as it is (a backticked span, returned whole so that it is not scanned again).
    kind: Literal["call", "block", "drop", "pseudo_call", "text"]
    length: int
    end_tag: str = ""
    malformed: bool = False
    name: str = ""
    args: dict[str, Any] | None = None


def scan(text: str, tool_names: frozenset[str], *, final: bool) -> Markup | NeedMore | None:
    """What the markup starting at ``text[0]`` (a ``<`` or a backtick) is.

    ``NEED_MORE`` while more text could change the answer (never when ``final``: the reply has ended);
    None when ``text[0]`` starts no markup and is ordinary text.
    """
    if text.startswith("<"):
        return _scan_angle(text, tool_names, final=final)
    if text.startswith("`") and tool_names:
        return _scan_backticks(text, tool_names, final=final)
    if text.startswith("{") and tool_names:
        return _scan_json_call(text, tool_names, final=final)
    if text[:1].isalpha() or text.startswith("_"):
        return _scan_word(text, identifiers(tool_names), final=final)
    return None


def identifiers(tool_names: frozenset[str]) -> frozenset[str]:
    """The declared names that read as code (``vote_for_session``), not as a word (``search``)."""
    return frozenset(n for n in tool_names if "_" in n or "." in n)


def _scan_word(text: str, names: frozenset[str], *, final: bool) -> Markup | NeedMore | None:
    """A function's name said as a word ("by calling vote_for_session"): dropped."""
    word = _WORD.match(text)
    if word is None or not names:
        return None
    name = word.group(0).rstrip(".")
    if word.end() == len(text) and not final and any(n.startswith(name) for n in names):
        return NEED_MORE
    return Markup("drop", len(name)) if name in names else Markup("text", word.end())


def _scan_angle(text: str, tool_names: frozenset[str], *, final: bool) -> Markup | NeedMore | None:
    control = _CONTROL.match(text)
    if control is not None:
        return Markup("drop", control.end())
    tag_names = FORMAT_TAGS | tool_names
    tag = _TAG.match(text)
    if tag is not None:
        closing, name, attributes, self_closing = tag.groups()
        if name not in tag_names:
            return None
        if name == CALL_TAG and not closing and not attributes.strip() and not self_closing:
            return Markup("call", tag.end())
        if name in BLOCK_TAGS and not closing and not self_closing:
            return Markup("block", tag.end(), end_tag=f"</{name}>")
        # A stray end tag, or a call written as a tag of the function's name (<get_weather city=.../>).
        return Markup("drop", tag.end(), malformed=name in tool_names and not closing)
    if ">" in text[: MAX_TAG_CHARS + 64]:
        return None  # a whole tag of another name, or no tag at all
    if _could_become_control(text) or _could_become_tag(text, tag_names):
        # The reply ended inside what can only be markup: a fragment, dropped.
        return Markup("drop", len(text)) if final else NEED_MORE
    return None


def _could_become_control(text: str) -> bool:
    start = _CONTROL_START.match(text)
    return start is not None and start.end() == len(text)


def _could_become_tag(text: str, tag_names: frozenset[str]) -> bool:
    start = _TAG_START.match(text)
    if start is None or (start.end() < len(text) and start.group(2) is None):
        return False
    name = start.group(2) or ""
    if start.end() == len(text):  # "<", "</", "<tool_ca": the name may go on
        return any(n.startswith(name) for n in tag_names)
    # "<tool_call " or "<get_weather city=...": the name is whole; the tag may end later.
    rest = text[start.end()]
    return name in tag_names and rest in " \t\n/" and len(text) <= MAX_TAG_CHARS


def _scan_backticks(text: str, tool_names: frozenset[str], *, final: bool) -> Markup | NeedMore | None:
    run = len(text) - len(text.lstrip("`"))
    if run == len(text):
        return None if final else NEED_MORE  # more backticks may follow
    fence = "`" * run
    end = text.find(fence, run)
    if end < 0:
        if not final and len(text) < MAX_SPAN_CHARS:
            return NEED_MORE
        # Never closed (or too long to hold back): dropped if it was a call, otherwise ordinary text.
        named = _named_functions(text[run:], tool_names)
        if named and final:
            return Markup("drop", len(text), malformed=_looks_like_call(text[run:], named))
        return None
    length = end + run
    body = text[run:end]
    if run >= 3:  # a fenced block: its first line may name a language
        language = _FENCE_LANGUAGE.match(body)
        if language is not None:
            body = body[language.end() :]
    named = _named_functions(body, tool_names)
    if not named:
        # A call of a function that does not exist, in a code block: dropped too.
        is_call = JSON_CALL_START.match(body.strip()) is not None
        return Markup("drop", length, malformed=True) if is_call else Markup("text", length)
    call = _pseudo_call(body.strip(), tool_names)
    if call is not None:
        return Markup("pseudo_call", length, name=call[0], args=call[1])
    return Markup("drop", length, malformed=_looks_like_call(body, named))


def _scan_json_call(text: str, tool_names: frozenset[str], *, final: bool) -> Markup | NeedMore | None:
    """A bare ``{"name": ..., "arguments": ...}`` in the middle of a reply (or in doubled braces)."""
    if JSON_CALL_START.match(text) is None:
        compact = re.sub(r"\s+", "", text[:40])
        could = any(start.startswith(compact) for start in ('{"name":"', '{{"name":"'))
        return NEED_MORE if could and not final else None
    doubled = text.startswith("{{")
    try:
        value, end = json.JSONDecoder().raw_decode(text, 1 if doubled else 0)
    except json.JSONDecodeError:  # not whole yet, or never will be
        if not final and len(text) < MAX_SPAN_CHARS:
            return NEED_MORE
        return Markup("drop", len(text), malformed=True)
    if doubled:
        closing = re.match(r"\s*\}", text[end:])
        if closing is None and not final and not text[end:].strip():
            return NEED_MORE  # the outer brace may be next
        end += closing.end() if closing is not None else 0
    call = _pseudo_call(json.dumps(value), tool_names)
    if call is None:
        return Markup("drop", end, malformed=True)
    return Markup("pseudo_call", end, name=call[0], args=call[1])


def _named_functions(body: str, tool_names: frozenset[str]) -> list[str]:
    return [n for n in tool_names if re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", body)]


def _looks_like_call(body: str, names: list[str]) -> bool:
    return any(re.search(rf"{re.escape(n)}\s*\(", body) for n in names) or '"name"' in body


def _pseudo_call(body: str, tool_names: frozenset[str]) -> tuple[str, dict[str, Any]] | None:
    """``name(...)`` with a JSON object (or nothing) inside, or ``{"name": ..., "arguments": ...}``."""
    call = re.fullmatch(r"(?:functions\.)?([A-Za-z_][\w.-]*)\s*\((.*)\)\s*;?", body, flags=re.DOTALL)
    if call is not None:
        name, inside = call.group(1), call.group(2).strip()
        if name not in tool_names:
            return None
        if not inside:
            return name, {}
        args = _json_object(inside)
        return (name, args) if args is not None else None
    data = _json_object(body)
    if data is None or data.get("name") not in tool_names:
        return None
    args = data.get("arguments", data.get("parameters", {}))
    if isinstance(args, str):
        args = _json_object(args) if args.strip() else {}
    return (str(data["name"]), args) if isinstance(args, dict) else None


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def bare_call_opening(reply: str) -> Literal["call", "text", "wait"]:
    """Whether a reply that starts like ``reply`` is a tool call written without ``<tool_call>``.

    The 1.5B model, given tools, often answers with a bare JSON object (``{"name": ...}``, sometimes
    doubled braces, several objects), in a fenced block, inside the wrong tag (``<tools>{...}</tools>``,
    the tag of the prompt's tool list; ``<tool_response>{"ok": true, "name": …}``, a result it imagines
    for the call it means) or after a parenthesis and a line break, instead of its trained format. Such a
    reply is a call that has started ("call"); "wait" until its first characters decide it.
    """
    head = reply.lstrip()
    if not head:
        return "wait"
    if head[0] == "{":
        return "call"
    if head[0] == "(":
        # "(" and a line break: how the model opened calls with the per-turn tool hint in its prompt
        # ("(\n{"name": …", and as often "(\n" and the end of the reply). No spoken reply starts so.
        parenthesis = re.match(r"\([ \t]*([\s\S]?)", head)
        assert parenthesis is not None
        after = parenthesis.group(1)
        return "wait" if not after else "call" if after in "\n{" else "text"
    opener = _WRONG_OPENER.match(head)
    if opener is None:
        return "wait" if _could_open(head) else "text"
    rest = head[opener.end() :]
    if not rest:
        return "wait" if len(head) < 40 else "text"
    return "call" if rest[0] in "{[" else "text"


# A fence (with its language), or a tag other than <tool_call> that the model puts its calls in.
_WRONG_OPENER = re.compile(
    r"(?:```[A-Za-z]{0,12}|<(?:tools|tool_calls|tool_response|functions?|function_calls?)>)\s*"
)
_OPENERS = (
    "```",
    "<tools>",
    "<tool_response>",
    "<tool_calls>",
    "<function>",
    "<functions>",
    "<function_call>",
    "<function_calls>",
)


def _could_open(head: str) -> bool:
    return any(opener.startswith(head) for opener in _OPENERS)
