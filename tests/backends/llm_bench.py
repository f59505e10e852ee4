"""First-token latency (cold vs warm KV prefix) and decode speed of the embedded LLM backend.

Not a test: run it by hand, `HF_HUB_OFFLINE=1 .venv/bin/python tests/backends/llm_bench.py`.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from openlive.backends.assets import cache_dir, llm_gguf_path
from openlive.backends.embedded import SPOKEN_STYLE_PROMPT
from openlive.backends.llm_llamacpp import LlamaCppLanguageModel
from openlive.stages import ChatDone, ChatMessage, ChatRequest, SamplingParams, TextDelta

Result = tuple[float, float, ChatDone, str]


async def turn(model: LlamaCppLanguageModel, messages: list[ChatMessage], max_tokens: int = 48) -> Result:
    started = time.perf_counter()
    first: float | None = None
    text: list[str] = []
    done: ChatDone | None = None
    total = 0.0
    request = ChatRequest(messages=messages, sampling=SamplingParams(temperature=0, max_tokens=max_tokens))
    async for event in model.stream(request):
        if isinstance(event, TextDelta):
            first = first or time.perf_counter() - started
            text.append(event.text)
        elif isinstance(event, ChatDone):
            done, total = event, time.perf_counter() - started
    assert done is not None and first is not None
    rate = (done.completion_tokens - 1) / (total - first) if done.completion_tokens > 1 else float("nan")
    return first, rate, done, "".join(text)


def row(label: str, result: Result) -> None:
    first, rate, done, text = result
    print(
        f"{label:<40} first token {first * 1000:6.0f} ms | prompt {done.prompt_tokens:4d} "
        f"cached {done.cached_prompt_tokens:4d} | {done.completion_tokens:3d} tok at {rate:4.1f} tok/s "
        f"| {text[:40]!r}",
        flush=True,
    )


def user(text: str) -> ChatMessage:
    return ChatMessage(role="user", content=text)


async def main() -> None:
    path = llm_gguf_path(cache_dir())
    started = time.perf_counter()
    model = LlamaCppLanguageModel(path)
    print(f"load {time.perf_counter() - started:.2f} s")
    system = ChatMessage(role="system", content=SPOKEN_STYLE_PROMPT)
    row(
        "cold (nothing cached), spoken prompt",
        await turn(model, [system, user("What is the capital of France?")]),
    )
    row("new session, same system prompt", await turn(model, [system, user("How far away is the moon?")]))
    colors = await turn(model, [system, user("Name three colors.")])
    row("new session, same system prompt", colors)
    history = [system, user("Name three colors."), ChatMessage(role="assistant", content=colors[3])]
    row("same conversation, next turn", await turn(model, [*history, user("And three animals?")]))
    facts = " ".join(f"Fact {i}: the code word for day {i} is word{i * 7}." for i in range(25))
    long = ChatMessage(role="system", content=f"{uuid.uuid4().hex}. {SPOKEN_STYLE_PROMPT} {facts}")
    row("cold long system prompt", await turn(model, [long, user("Say hello.")]))
    row(
        "warm long system prompt (new session)", await turn(model, [long, user("What is day 3's code word?")])
    )
    model.close()
    started = time.perf_counter()
    model = LlamaCppLanguageModel(path)
    n = model.warm_system_prompt(SPOKEN_STYLE_PROMPT)
    print(f"fresh model + warm_system_prompt ({n} tokens) {time.perf_counter() - started:.2f} s")
    row(
        "first session after warm_system_prompt",
        await turn(model, [system, user("What is the capital of France?")]),
    )
    story = user("Tell me a story about a cat, in ten sentences.")
    row("long answer (decode speed)", await turn(model, [system, story], max_tokens=128))
    model.close()


if __name__ == "__main__":
    asyncio.run(main())
