"""Which grammar samples the rest of a reply, as the model opens a call, names a function and closes it.

The embedded backend samples token by token; after each token it asks ``CallSteering.after_token`` and,
when the answer is a ``Steer``, goes on sampling under that grammar (``None``: freely), first dropping
the reply's tokens from ``rewind_to`` on when it says so. The steps (grammars in ``tool_grammar``):

* ``free``: the model writes what it likes; when the parser sees a call open, ``name`` (a bare JSON
  call after some text is taken back and opened in the trained format first);
* ``name``: the call's shape up to the function's name. A declared function: ``, "arguments":`` is
  written (``Steer.write``), then ``arguments``. Any other name: the model meant a function that does
  not exist, so the call is taken back (to where the parser last had nothing held) and sampling
  resumes under ``no_call``; after ``MAX_TAKEBACKS`` the reply ends there, as a malformed call;
* ``arguments``: the declared function's arguments. With an ``ArgumentPlan`` the keys are written and
  each required value's body sampled under its own grammar, up to the object's end; otherwise under
  the arguments' grammar. Once they close, the rest of the call (``}`` and the end tag, or the end tag
  alone) is written, not sampled (``close_with``), and the call is made at once; then ``free``;
* ``no_call``: until the first character that is not a space, which cannot open a call; then ``free``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Literal

from openlive.backends.llm_prompt import TOOL_CALL_CLOSE, ToolCallParser
from openlive.backends.tool_grammar import ARGUMENTS_KEY, CALL_NAME, ArgumentPlan, CallGrammars
from openlive.backends.tool_markup import JSON_CALL_START

# What ends a call once its arguments closed: the call object's brace and the end tag, or the end tag
# alone when the model closed both objects in one token ("}}"), with no line break if it wrote one.
CALL_ENDS = ("}\n" + TOOL_CALL_CLOSE, "\n" + TOOL_CALL_CLOSE, TOOL_CALL_CLOSE)
# Calls of functions that do not exist taken back in one reply before it is ended.
MAX_TAKEBACKS = 2

Phase = Literal["free", "name", "arguments", "no_call"]


@dataclass(frozen=True, slots=True)
class Steer:
    grammar: str | None  # what samples from here on (None: nothing constrains the model)
    rewind_to: int | None = None  # drop the reply's tokens from this index on first
    stop: bool = False  # end the reply here
    open_call: bool = False  # after the rewind, the trained opening (<tool_call>) comes next
    close_with: str = ""  # the arguments closed: this text ends the call (CALL_ENDS), then freely
    write: str = ""  # written, not sampled, before ``close_with`` and before sampling on
    named: str = ""  # the model has just named this declared function: its call has begun


class CallSteering:
    def __init__(self, grammars: CallGrammars) -> None:
        self._grammars = grammars
        self.phase: Phase = "free"
        self._rest = 0  # the reply's length in tokens when the parser last held nothing back
        self.takebacks = 0
        self.calls_ended = 0  # calls of this reply that closed
        # While a call's arguments follow its function's plan: which required value is being sampled,
        # and its body as sampled so far.
        self._plan: ArgumentPlan | None = None
        self._key = 0
        self._value = ""

    def require_call(self) -> str:
        """The reply must be a call (toolConfig ANY): it opens with one, named from the declared functions
        only (nothing to take back). Returns the grammar its first token is sampled under."""
        self.phase = "name"
        return self._grammars.declared_name

    def decided(self, name: str) -> Steer:
        """The call decision named a declared function: the reply is its call. What the backend writes
        after ``<tool_call>`` (the call's shape up to the first thing the model must choose), and what
        is sampled from there."""
        steer = self._arguments(name)
        return replace(steer, write=f'\n{{"name": "{name}"{steer.write}')

    def _arguments(self, name: str) -> Steer:
        """After the declared function's name: ``, "arguments":`` and, with a plan, as far as it goes."""
        self.phase = "arguments"
        plan = self._grammars.plans.get(name)
        if plan is None:
            return Steer(self._grammars.arguments[name], write=ARGUMENTS_KEY)
        self._plan, self._key = plan, 0
        return self._next_value(ARGUMENTS_KEY + " {")

    def _next_value(self, write: str) -> Steer:
        """Write on to the next required value's body (a lone enum option whole), or the object's end."""
        plan = self._plan
        assert plan is not None
        while self._key < len(plan.keys):
            write += f'{", " if self._key else ""}"{plan.keys[self._key]}": "'
            options = plan.options[self._key]
            if len(options) != 1:
                self._value = ""
                return Steer(plan.values[self._key], write=write)
            write += f'{options[0]}"'
            self._key += 1
        self._plan = None
        if plan.rest:
            return Steer(plan.rest, write=write)
        return Steer(None, write=write + "}", close_with=CALL_ENDS[0])

    def _after_value_token(self, piece: str) -> Steer | None:
        """A token of a planned value: when it closed the value, or left only one enum option it can
        be, what is written next. The plan ends (``_plan`` is None) with nothing to write when the
        token went on past the last value's closing quote, or optional properties may follow: the
        value's grammar samples on to the call's end."""
        plan = self._plan
        assert plan is not None
        self._value += piece
        quote = _closing_quote(self._value)
        if quote < 0:
            fits = [o for o in plan.options[self._key] if o.startswith(self._value)]
            if len(fits) != 1:
                return None
            self._key += 1
            return self._next_value(f'{fits[0][len(self._value) :]}"')
        # What the token held after the quote is the start of what the grammar lets follow it.
        tail = self._value[quote + 1 :]
        self._key += 1
        if self._key == len(plan.keys) and (plan.rest or tail):
            self._plan = None  # the last value's grammar samples on to the call's end
            return None
        steer = self._next_value("")
        return replace(steer, write=steer.write[len(tail) :])

    def after_token(self, piece: str, parser: ToolCallParser, reply_tokens: int) -> Steer | None:
        """What changes after a token (``piece``, fed to ``parser``); the reply is ``reply_tokens`` long."""
        if self.phase in ("free", "no_call"):
            if parser.in_call:
                self.phase = "name"
                return Steer(self._grammars.name)
            if JSON_CALL_START.match(parser.held_text):
                parser.abandon_call()
                if self.calls_ended:
                    # A bare object after a call that closed in the trained format: the model going on
                    # past its call's end, as a small one does with a long prompt, to write the same
                    # call again (seen: the same submit_request twice, the toolCall 13.5 s late at a
                    # 14,000-token context). The reply ends with the calls it has; another call in the
                    # trained format (a new <tool_call>) is still taken.
                    return Steer(None, stop=True)
                # A call written as a bare JSON object after some text: the object's tokens are taken
                # back and the call opens in the trained format, under the grammars like any other.
                self.phase = "name"
                return Steer(self._grammars.name, rewind_to=self._rest, open_call=True)
            if parser.at_rest:
                self._rest = reply_tokens
            if self.phase == "no_call" and piece.strip():
                self.phase = "free"
                return Steer(None)
            return None
        if self.phase == "name":
            named = CALL_NAME.match(parser.call_text)
            if named is None:
                return None
            if self._grammars.declares(named.group(1)):
                return replace(self._arguments(named.group(1)), named=named.group(1))
            parser.abandon_call()
            if self.takebacks >= MAX_TAKEBACKS:
                parser.malformed += 1
                self.phase = "free"
                return Steer(None, stop=True)
            self.takebacks += 1
            self.phase = "no_call"
            return Steer(self._grammars.no_call_start, rewind_to=self._rest)
        if self._plan is not None:
            steer = self._after_value_token(piece)
            if steer is not None or self._plan is not None:
                return steer
        if not parser.in_call:  # the call closed (as sampled)
            self.call_ended(reply_tokens)
            return Steer(None)
        end = call_end(parser.call_text)
        if end:
            # All that can follow is "}" and the end tag: written at once (up to three decode steps,
            # ~0.3 s on 2 cores with a long prompt, sooner to the client); the backend then calls
            # ``call_ended``.
            return Steer(None, close_with=end)
        return None

    def call_ended(self, reply_tokens: int) -> None:
        """The call closed: sampled, or written by the backend after ``close_with``."""
        self.calls_ended += 1
        self.phase = "free"
        self._plan = None
        self._rest = reply_tokens


def _closing_quote(body: str) -> int:
    """Where a JSON string's body as sampled has its closing quote (-1: not yet)."""
    escaped = False
    for i, ch in enumerate(body):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            return i
    return -1


def call_end(call_text: str) -> str:
    """What must follow a call's body so far (``\n{"name": "f", "arguments": {...}``) once its
    arguments' object has closed (one of ``CALL_ENDS``); "" while the arguments go on."""
    if not call_text.rstrip().endswith("}"):
        return ""
    closed = CALL_ENDS[2] if call_text[-1:].isspace() else CALL_ENDS[1]
    for missing, end in (("}", CALL_ENDS[0]), ("", closed)):
        try:
            call = json.loads(call_text + missing)
        except ValueError:
            continue
        if isinstance(call, dict) and isinstance(call.get("arguments"), dict):
            return end
    return ""
