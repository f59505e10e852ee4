"""``toolConfig`` on the embedded llama.cpp model (the real Qwen2.5-Coder-1.5B, ``-m models``): NONE
hides the functions, allowed names hide the others, ANY tells the model a call is required."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from openlive.backends.assets import cache_dir, llm_gguf_path
from openlive.backends.embedded import SPOKEN_STYLE_PROMPT
from openlive.stages import (
    CallStarted,
    ChatEvent,
    ChatMessage,
    ChatRequest,
    SamplingParams,
    TextDelta,
    ToolCallRequest,
)
from openlive.stages.language_model import ToolChoice, ToolSpec

if TYPE_CHECKING:  # imported in the fixture: collecting this file must not need llama.cpp
    from openlive.backends.llm_llamacpp import LlamaCppLanguageModel

pytestmark = pytest.mark.models

GREEDY = SamplingParams(temperature=0.0, max_tokens=60)
WEATHER = ToolSpec(
    name="get_weather",
    description="Get the current weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIMER = ToolSpec(
    name="set_timer",
    description="Start a countdown timer",
    parameters={"type": "object", "properties": {"minutes": {"type": "number"}}, "required": ["minutes"]},
)


@pytest.fixture(scope="module")
def model() -> Iterator[LlamaCppLanguageModel]:
    from openlive.backends.llm_llamacpp import LlamaCppLanguageModel

    llm = LlamaCppLanguageModel(llm_gguf_path(cache_dir()), n_ctx=4096, n_threads=2)
    yield llm
    llm.close()


async def ask(
    model: LlamaCppLanguageModel, user: str, choice: ToolChoice
) -> tuple[str, list[str], list[str]]:
    """The reply's text, the functions it called, and the calls it said had begun (``CallStarted``)."""
    request = ChatRequest(
        messages=[
            ChatMessage(role="system", content=SPOKEN_STYLE_PROMPT),
            ChatMessage(role="user", content=user),
        ],
        tools=[WEATHER, TIMER],
        tool_choice=choice,
        sampling=GREEDY,
    )
    events: list[ChatEvent] = [e async for e in model.stream(request)]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    started = [e.name for e in events if isinstance(e, CallStarted)]
    return text, [e.name for e in events if isinstance(e, ToolCallRequest)], started


async def test_none_hides_the_functions(model: LlamaCppLanguageModel) -> None:
    assert (await ask(model, "What's the weather in Tokyo right now?", ToolChoice()))[1] == ["get_weather"]
    text, calls, _ = await ask(model, "What's the weather in Tokyo right now?", ToolChoice(mode="none"))
    assert calls == [] and text.strip()


async def test_only_an_allowed_function_is_called(model: LlamaCppLanguageModel) -> None:
    _, calls, _ = await ask(
        model, "What's the weather in Tokyo right now?", ToolChoice(allowed_names=("set_timer",))
    )
    assert "get_weather" not in calls


async def test_any_makes_the_model_call_even_when_words_would_do(model: LlamaCppLanguageModel) -> None:
    question = "I need ten minutes for my tea."
    required = ToolChoice(mode="required", allowed_names=("set_timer",))
    text, calls, started = await ask(model, question, required)
    assert calls == ["set_timer"], text
    assert started == ["set_timer"]  # said as soon as the model named it (the session may speak then)
