"""Which grammar samples the rest of a reply, as the model opens a call, names a function and closes it.

The embedded backend samples token by token; after each token it asks ``CallSteering.after_token`` and,
when the answer is a ``Steer``, goes on sampling under that grammar (``None``: freely), first dropping
the reply's tokens from ``rewind_to`` on when it says so. The steps (grammars in ``tool_grammar``):

* ``free``: the model writes what it likes; when the parser sees a call open, ``name`` (a bare JSON
  call after some text is taken back and opened in the trained format first);
* ``name``: the call's shape up to the function's name. A declared function: ``arguments``. Any other
  name: the model meant a function that does not exist, so the call is taken back (to where the parser
  last had nothing held) and sampling resumes under ``no_call``; after ``MAX_TAKEBACKS`` the reply ends
  there, as a malformed call;
* ``arguments``: the declared function's arguments; once they close, the rest of the call (``}`` and
  the end tag, or the end tag alone) is written, not sampled (``close_with``), and the call is made at
  once; then ``free``;
* ``no_call``: until the first character that is not a space, which cannot open a call; then ``free``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from openlive.backends.llm_prompt import TOOL_CALL_CLOSE, ToolCallParser
from openlive.backends.tool_grammar import CALL_NAME, CallGrammars
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


class CallSteering:
    def __init__(self, grammars: CallGrammars) -> None:
        self._grammars = grammars
        self.phase: Phase = "free"
        self._rest = 0  # the reply's length in tokens when the parser last held nothing back
        self.takebacks = 0

    def require_call(self) -> str:
        """The reply must be a call (toolConfig ANY): it opens with one, named from the declared functions
        only (nothing to take back). Returns the grammar its first token is sampled under."""
        self.phase = "name"
        return self._grammars.declared_name

    def decided(self, name: str) -> str:
        """The call decision named a declared function: the reply is its call, written up to its
        arguments' value (``tool_grammar.ARGUMENTS_KEY``); returns the grammar the value is sampled under."""
        self.phase = "arguments"
        return self._grammars.argument_values[name]

    def after_token(self, piece: str, parser: ToolCallParser, reply_tokens: int) -> Steer | None:
        """What changes after a token (``piece``, fed to ``parser``); the reply is ``reply_tokens`` long."""
        if self.phase in ("free", "no_call"):
            if parser.in_call:
                self.phase = "name"
                return Steer(self._grammars.name)
            if JSON_CALL_START.match(parser.held_text):
                # A call written as a bare JSON object after some text: the object's tokens are taken
                # back and the call opens in the trained format, under the grammars like any other.
                parser.abandon_call()
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
            arguments = self._grammars.arguments.get(named.group(1))
            if arguments is not None:
                self.phase = "arguments"
                return Steer(arguments)
            parser.abandon_call()
            if self.takebacks >= MAX_TAKEBACKS:
                parser.malformed += 1
                self.phase = "free"
                return Steer(None, stop=True)
            self.takebacks += 1
            self.phase = "no_call"
            return Steer(self._grammars.no_call_start, rewind_to=self._rest)
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
        self.phase = "free"
        self._rest = reply_tokens


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
