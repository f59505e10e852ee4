"""The LanguageModel stage: stream a chat (with tools) into text deltas and tool calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(slots=True, kw_only=True)
class ToolCallRequest:
    """A function call the model asked for. ``id`` is filled by the engine if the model gave none."""

    id: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True, frozen=True)
class ChatImage:
    """An image a user message shows (for a model that reads images, see ``Profile.llm_sees_images``)."""

    mime_type: str
    data: bytes


@dataclass(slots=True, kw_only=True)
class ChatMessage:
    role: Role
    content: str = ""
    # For role "user", with a model that reads images: what the user shows with these words.
    images: list[ChatImage] = field(default_factory=list)
    # For role "assistant": the calls it made. For role "tool": which call this answers.
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(slots=True, kw_only=True)
class ToolSpec:
    """A function the model may call, with a JSON Schema (lower-case types) for its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(slots=True, kw_only=True, frozen=True)
class ToolChoice:
    """Whether the model may (``auto``), must (``required``) or must not (``none``) call a tool, and
    which tools it may call (the client's ``toolConfig.functionCallingConfig``)."""

    mode: Literal["auto", "required", "none"] = "auto"
    # None: any of the request's tools; otherwise only those with these names.
    allowed_names: tuple[str, ...] | None = None

    def offered(self, tools: Sequence[ToolSpec]) -> list[ToolSpec]:
        """The tools the model is shown: none for ``none``, else those allowed."""
        if self.mode == "none":
            return []
        if self.allowed_names is None:
            return list(tools)
        return [t for t in tools if t.name in self.allowed_names]


@dataclass(slots=True, kw_only=True)
class SamplingParams:
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None


@dataclass(slots=True, kw_only=True)
class ChatRequest:
    messages: list[ChatMessage]
    tools: list[ToolSpec] = field(default_factory=list)
    # Backends show the model only ``tool_choice.offered(tools)``.
    tool_choice: ToolChoice = field(default_factory=ToolChoice)
    sampling: SamplingParams = field(default_factory=SamplingParams)


@dataclass(slots=True, kw_only=True)
class TextDelta:
    text: str


@dataclass(slots=True, kw_only=True)
class CallStarted:
    """The model has begun a call of ``name``: its arguments, then the ``ToolCallRequest``, follow.

    Optional: a backend that cannot tell before a call is whole sends none. The engine uses it to say
    a short acknowledgement while the arguments are written (``Profile.call_acknowledgement``).
    """

    name: str


@dataclass(slots=True, kw_only=True)
class ChatDone:
    """The last event of every stream: real token counts from the model's tokenizer."""

    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int = 0
    finish_reason: str = "stop"  # "stop" | "length" | "tool_calls"
    # Tool-call markup the model wrote that could not be read as a call (and was dropped): the turn
    # then ends as Gemini ends one with an invalid call (``MALFORMED_FUNCTION_CALL``).
    malformed_tool_calls: int = 0


ChatEvent = TextDelta | CallStarted | ToolCallRequest | ChatDone


class LanguageModel(Protocol):
    """A chat model. Implementations run inference off the event loop and share one loaded model.

    ``stream`` must stop promptly (within one token) when the consuming task is cancelled.
    """

    name: str

    def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]: ...

    def count_tokens(self, text: str) -> int: ...

    async def aclose(self) -> None:
        """Release the model, its threads or its connections (server shutdown)."""
        ...


@runtime_checkable
class PromptPrefiller(Protocol):
    """Optional for a ``LanguageModel``: read a likely prompt ahead of time (e.g. while the user speaks).

    ``prefill`` returns at once and is best effort: the model may read the request's prompt into its
    cache, so that a later ``stream`` of a request that starts the same way reuses it, or drop it, e.g.
    when real requests are waiting. It must not hold up a later ``stream`` for more than a moment.
    The engine checks ``isinstance(llm, PromptPrefiller)``; models without it work unchanged.
    """

    def prefill(self, request: ChatRequest) -> None: ...
