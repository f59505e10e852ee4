"""The prompt policy: what a language-model backend adds to a chat request, in one place.

The engine builds the conversation (``ChatRequest``: the system prompt, the history trimmed to the
profile's budget, the tools, the client's sampling). A backend then applies one ``PromptPolicy`` before it
renders or sends the request:

* the tools offered: the request's ``tool_choice`` (the client's ``toolConfig``) filters them
  (``offered``), and a backend shows the model only those;
* tool hints — a line after the system prompt when tools are offered (a stricter one when a call is
  required), and a line after each function result, which small models need to call tools rather than
  talk about them, and to say a result rather than call again (see the constants for what was measured);
* the call decision (embedded backend only): each reply opens with a line ``Function: <name or none>``
  that the backend samples under a grammar of the offered names and never shows, and past replies are
  rendered with theirs, so a small model decides on a call before it writes a word (see
  ``CALL_DECISION_HINT``);
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
# Added after each function result. Without a line here the 1.5B model, under the hint above, answers a
# result by calling the same function again or by echoing markup (`<get_weather city="Paris"/>`) instead
# of saying it (measured on a weather call at temperatures 0 and 0.7). Qwen2.5's template puts a result
# in a user turn, and the model then often took it for the person's words: "Thank you! I'll be waiting
# for the staff to come and help me." Saying whose words these are fixed most of that; saying how to
# address them fixed the third person that "the person" invited ("The user's name was set to Maria
# Lopez."). Probe: the app scenario's name turn, then its accessibility, vote or lost-item request,
# typed, seeds 1-8, spoken replies (docs/benchmarks.md; 2026-12-03 15:07-16:30 and 18:00-18:30 UTC,
# load ~1): replies to the requests' results that said their details 16/24 with "Answer the person
# with this result; do not call the function again.", 21/24 with "Tell the person what this result
# says was done, with its details; it is not their message.", 23/24 with this line; replies in the
# person's voice 1, 0 and 0; name turns answered in the third person 5 of 8 seeds with the second
# line, 0 of 8 with this one; no call repeated. A line worded as a label ("The function's result, not
# the person's words: …", 20/24) was copied word for word as the greedy answer to a NON_BLOCKING
# result in a TEXT session (test_voice_genai.py); an instruction is not.
TOOL_RESULT_HINT = (
    "Tell the person what this result says was done, with its details, speaking to them as you; "
    "it is not their message."
)
# A line after each user message while functions are offered (every one, so the history renders the same
# on the next turn and the cached prompt is kept). Measured, not adopted: the 1.5B model reads the system
# instruction's hint thousands of tokens back, and in a conversation it said what it would call ("To
# report a lost item, call with kind lost_item …") and called nothing. The app scenario as a TEXT
# conversation (three seeds, 2026-12-02, see docs/benchmarks.md "The app scenario"): with this line 8/12
# turns right in each (2 of 5 calls made, 1 false call of 7), without it 7/12 (0 calls, 0 false); and
# "Tell me a joke." with a weather tool got an empty reply. So EMBEDDED_POLICY leaves it off.
TOOL_TURN_HINT = "[Use a <tool_call> if a function does what I ask.]"
# The call decision: every reply (past ones as rendered, the new one as sampled) opens with this label and
# the name of the function the person's last message asks for, or "none". A backend that uses it reads
# the choice from the model's logits over the offered names itself (llm_llamacpp), so the model weighs a
# call at the one token where it decides, instead of writing the call in prose. Measured with a probe on
# the app scenario's twelve turns and 18 more requests and questions (docs/benchmarks.md "The call
# decision", 2026-12-03): the right decision 27 of 30 times with past replies rendered with theirs, 11 of
# 30 without (the model then calls for nearly every message), 24 of 30 with the question asked in a
# system message of its own (and ~0.4 s more per turn); the conversation as it stood made no call at
# all. The rule once said "questions, thanks and small talk are answered in words": one held-out decision
# fewer, and the model answered a question its instruction told it to decline.
CALL_DECISION_LABEL = "Function:"
CALL_DECISION_NONE = "none"
CALL_DECISION_HINT = (
    f"Begin every reply with a line '{CALL_DECISION_LABEL} ' and the name of the function the person's "
    f"last message asks you to perform, or {CALL_DECISION_NONE}. Most messages need {CALL_DECISION_NONE}. "
    "Then make the call, or reply in words."
)
# Added to "none"'s log-probability where the decision is taken: a call the person did not ask for (a
# vote, a request to staff) is worse than one they have to ask for again. In the probe, the questions the
# model wrongly took for calls had margins of +0.5 to +1.7 over none, the requests it rightly took for
# calls +1.3 to +3.8; requests worded as questions ("Can you report it?") +1.5 to +3.4. So a message that
# ends in a question mark gets the larger bias.
CALL_DECISION_NONE_BIAS = 1.0
CALL_DECISION_QUESTION_BIAS = 2.0
QUESTION_MARKS = ("?", "？", "؟")
# Fixed first exchanges, rendered after the system prompt while the decision is on: with no reply of its
# own to go by, the model took nearly every first question for a call (11 of 30 right in the probe; with
# the first two exchanges 24 of 30, and 28 of 30 with the bias above). The third, a plain question
# answered in words, came after a fresh-clone CI run: with only a spoken-style prompt and a weather
# function, "What is the capital of France?" was taken for get_weather (by 1.3 over none and its bias)
# and "How far away is the moon?" tied; with it both are none by 1.0 and 2.5, and the app's held-out
# first turns went from 15 to 16 of 18.
CALL_DECISION_OPENER = (
    ChatMessage(role="user", content="Hi! What can you help me with?"),
    ChatMessage(
        role="assistant",
        content="Hi! I can answer your questions, and I can take care of a few things for you.",
    ),
    ChatMessage(role="user", content="How does that work?"),
    ChatMessage(
        role="assistant",
        content="Just ask me a question, or tell me what you would like me to do.",
    ),
    ChatMessage(role="user", content="What is two plus two?"),
    ChatMessage(role="assistant", content="Four."),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptPolicy:
    tool_use_hint: str = ""
    tool_result_hint: str = ""
    tool_turn_hint: str = ""  # after each user message while functions are offered (not required)
    # Replies open with the call decision (CALL_DECISION_LABEL) while functions are offered and a call is
    # not required. Only for a backend that samples the decision itself and hides it.
    call_decision: bool = False
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
        if self.decides_calls(request):
            messages = _with_system_line(messages, CALL_DECISION_HINT)
            messages = [messages[0], *CALL_DECISION_OPENER, *messages[1:]]
            messages = [_with_decision(m) if m.role == "assistant" else m for m in messages]
        if self.tool_result_hint:
            # Every result, not only the newest: the history then renders the same on the next turn,
            # and an engine's prefix cache keeps it.
            hint = self.tool_result_hint
            messages = [
                replace(m, content=f"{m.content}\n\n{hint}") if m.role == "tool" else m for m in messages
            ]
        return messages

    def decides_calls(self, request: ChatRequest) -> bool:
        """Whether ``request``'s reply opens with the call decision (see CALL_DECISION_LABEL)."""
        return self.call_decision and bool(request.tools) and request.tool_choice.mode == "auto"

    def fixed_messages(self, request: ChatRequest) -> int:
        """How many of ``messages(request)``'s first messages every turn of the session shares (the
        system prompt, and the call decision's opener): a backend caches their state once."""
        return 1 + len(CALL_DECISION_OPENER) if self.decides_calls(request) else 1

    def none_bias(self, request: ChatRequest) -> float:
        """What the call decision adds to "none" for ``request`` (see CALL_DECISION_NONE_BIAS)."""
        last = request.messages[-1].content.rstrip() if request.messages else ""
        return CALL_DECISION_QUESTION_BIAS if last.endswith(QUESTION_MARKS) else CALL_DECISION_NONE_BIAS

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
    call_decision=True,
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


def decision_line(name: str | None) -> str:
    """The call decision as a reply opens with it: the function's name, or none."""
    return f"{CALL_DECISION_LABEL} {name or CALL_DECISION_NONE}"


def _with_decision(message: ChatMessage) -> ChatMessage:
    # A past reply as the model would have written it: its decision (its first call's name), then its
    # words. The chat template puts the calls after the content, each on a line of its own.
    line = decision_line(message.tool_calls[0].name if message.tool_calls else None)
    return replace(message, content=f"{line}\n{message.content}" if message.content else line)


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
