"""The prompt policy: what a language-model backend adds to a chat request, in one place.

The engine builds the conversation (``ChatRequest``: the system prompt, the history trimmed to the
profile's budget, the tools, the client's sampling). A backend then applies one ``PromptPolicy`` before it
renders or sends the request:

* the tools offered: the request's ``tool_choice`` (the client's ``toolConfig``) filters them
  (``offered``), and a backend shows the model only those;
* tool hints — a line after the system prompt when tools are offered (a stricter one when a call is
  required), and a line after each function result, which small models need to call tools rather than
  talk about them, and to say a result rather than call again (see the constants for what was measured);
* sampling defaults for what the client left unset;
* the last-resort fit: when a rendered prompt still does not fit the model's context, the oldest turns
  are dropped, an assistant's function calls together with their results, never the system prompt or
  the newest message; what cannot fit is the client's error (1007, with the numbers).

The embedded llama.cpp backend and the OpenAI-compatible one both use it, so a profile behaves the same
whichever engine runs its model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from openlive.protocol.errors import CloseCode, ProtocolError
from openlive.stages import ChatMessage, ChatRequest, SamplingParams

# Added to the system prompt when tools are offered. Without it the 1.5B model tends to tell the person
# to "call the get_weather function" instead of calling it, above all under a spoken-style prompt.
TOOL_USE_HINT = "If a tool can do what the person asks, reply with only the tool call, nothing else."
# Instead of TOOL_USE_HINT when the client requires a call (toolConfig mode ANY). The embedded model has no
# grammar that forces a call, so it is told.
TOOL_REQUIRED_HINT = "Reply with only a call to one of the tools, nothing else."
# Added after each function result. Without it the 1.5B model, under the hint above, answers a result
# by calling the same function again or by echoing markup (`<get_weather city="Paris"/>`) instead of
# saying it; with it, it says the result (measured on a weather call at temperatures 0 and 0.7, with no
# system prompt, a generic one and the spoken-style one).
TOOL_RESULT_HINT = "Answer the person with this result; do not call the function again."
# A line after each user message while functions are offered (every one, so the history renders the same
# on the next turn and the cached prompt is kept). Measured, not adopted: the 1.5B model reads the system
# instruction's hint thousands of tokens back, and in a conversation it said what it would call ("To
# report a lost item, call with kind lost_item …") and called nothing. The app scenario as a TEXT
# conversation (three seeds, 2026-12-02, see docs/benchmarks.md "The app scenario"): with this line 8/12
# turns right in each (2 of 5 calls made, 1 false call of 7), without it 7/12 (0 calls, 0 false); and
# "Tell me a joke." with a weather tool got an empty reply. So EMBEDDED_POLICY leaves it off.
TOOL_TURN_HINT = "[Use a <tool_call> if a function does what I ask.]"


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptPolicy:
    tool_use_hint: str = ""
    tool_result_hint: str = ""
    tool_turn_hint: str = ""  # after each user message while functions are offered (not required)
    # Used where a request leaves a value unset (None: the engine's own default).
    default_sampling: SamplingParams = field(default_factory=SamplingParams)

    def messages(self, request: ChatRequest) -> list[ChatMessage]:
        """The request's messages with the tool hints applied."""
        messages = list(request.messages)
        if request.tools and self.tool_use_hint:
            required = request.tool_choice.mode == "required"
            messages = _with_system_line(messages, TOOL_REQUIRED_HINT if required else self.tool_use_hint)
        if request.tools and self.tool_turn_hint and request.tool_choice.mode != "required":
            hint = self.tool_turn_hint
            messages = [
                replace(m, content=f"{m.content} {hint}") if m.role == "user" else m for m in messages
            ]
        if self.tool_result_hint:
            # Every result, not only the newest: the history then renders the same on the next turn,
            # and an engine's prefix cache keeps it.
            hint = self.tool_result_hint
            messages = [
                replace(m, content=f"{m.content}\n\n{hint}") if m.role == "tool" else m for m in messages
            ]
        return messages

    def sampling(self, requested: SamplingParams) -> SamplingParams:
        """``requested`` with this policy's defaults where it leaves a value unset."""
        d = self.default_sampling
        return SamplingParams(
            temperature=_first(requested.temperature, d.temperature),
            top_p=_first(requested.top_p, d.top_p),
            top_k=_first(requested.top_k, d.top_k),
            max_tokens=_first(requested.max_tokens, d.max_tokens),
            seed=_first(requested.seed, d.seed),
            presence_penalty=_first(requested.presence_penalty, d.presence_penalty),
            frequency_penalty=_first(requested.frequency_penalty, d.frequency_penalty),
        )

    def fit(
        self, messages: Sequence[ChatMessage], count: Callable[[list[ChatMessage]], int], limit: int
    ) -> tuple[list[ChatMessage], int]:
        """The messages whose prompt (``count``) holds at most ``limit`` tokens, and that count.

        Drops the oldest turns that are neither the system prompt nor the newest message; an assistant
        message with function calls goes together with the results that answer it. Raises
        ``ProtocolError`` 1007 when even the system prompt and the newest message do not fit.
        """
        kept = list(messages)
        while (needed := count(kept)) > limit:
            drop = _oldest_droppable(kept)
            if not drop:
                raise ProtocolError(
                    CloseCode.INVALID_ARGUMENT,
                    f"Request contains an invalid argument: the prompt needs {needed} tokens; "
                    f"the context holds {limit}",
                )
            kept = [m for i, m in enumerate(kept) if i not in drop]
        return kept, needed


def offered(request: ChatRequest) -> ChatRequest:
    """``request`` with only the tools its ``tool_choice`` lets the model see (none for ``none``, only
    the allowed names otherwise). Backends apply it first: what the model is shown, the hints and the
    names a tool call is parsed against then all agree."""
    tools = request.tool_choice.offered(request.tools)
    # A filter keeps order, so the same count means the same tools.
    return request if len(tools) == len(request.tools) else replace(request, tools=tools)


# Qwen2.5's recommended sampling (its generation_config.json) and the embedded model's reply bound.
QWEN_SAMPLING = SamplingParams(temperature=0.7, top_p=0.8, top_k=20, max_tokens=512)
# The embedded profile's policy (Qwen2.5 1.5B through llama.cpp).
EMBEDDED_POLICY = PromptPolicy(
    tool_use_hint=TOOL_USE_HINT,
    tool_result_hint=TOOL_RESULT_HINT,
    default_sampling=QWEN_SAMPLING,
)


N = TypeVar("N", int, float)


def _first(value: N | None, default: N | None) -> N | None:
    return value if value is not None else default


def _with_system_line(messages: list[ChatMessage], line: str) -> list[ChatMessage]:
    # Appended after the system prompt, so the cached prefix of that prompt still matches.
    if messages and messages[0].role == "system":
        return [replace(messages[0], content=f"{messages[0].content}\n\n{line}"), *messages[1:]]
    return [ChatMessage(role="system", content=line), *messages]


def _oldest_droppable(messages: Sequence[ChatMessage]) -> set[int]:
    """Indexes of the oldest turn that may go: a message other than the system prompt and the newest,
    with the function results that answer its calls (they make no sense without them)."""
    for i, message in enumerate(messages[:-1]):
        if message.role == "system":
            continue
        drop = {i}
        ids = {c.id for c in message.tool_calls}
        if ids:
            drop |= {j for j, m in enumerate(messages[:-1]) if m.role == "tool" and m.tool_call_id in ids}
        return drop
    return set()
