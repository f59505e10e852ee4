"""Prompt reading, first token and decode speed of the embedded LLM with long prompts (issue 11).

Not a test: run it by hand on a quiet machine (check ``uptime``), e.g.
`HF_HUB_OFFLINE=1 .venv/bin/python tests/backends/llm_long_bench.py 512 4096 13000`
(add ``--kv q8_0`` for a q8_0 cache with flash attention). For each prompt length it reads a fresh
instruction of that many tokens (a unique schedule, so no cache holds it), and reports: the cold first
token (reading the whole prompt), the reading rate, decode tokens/s over 32 tokens with that context, the
prefix's KV state size, and a second session's first token with the prefix restored from memory and from
the disk cache. The load average is printed before and after each row.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from openlive.backends.assets import cache_dir, llm_gguf_path
from openlive.backends.llm_llamacpp import LlamaCppLanguageModel
from openlive.stages import ChatDone, ChatMessage, ChatRequest, SamplingParams, TextDelta


def instruction(model: LlamaCppLanguageModel, tokens: int) -> str:
    lines = [f"You answer questions about the Harbour conference ({uuid.uuid4().hex})."]
    i = 0
    while model.count_tokens("\n".join(lines)) < tokens:
        for _ in range(20):
            i += 1
            lines.append(
                f"Talk {i} is in room {i % 7 + 1} at {9 + i % 9} o'clock, about topic number {i * 3}."
            )
    return "\n".join(lines)


async def timed(model: LlamaCppLanguageModel, system: str, question: str) -> tuple[float, float, ChatDone]:
    request = ChatRequest(
        messages=[ChatMessage(role="system", content=system), ChatMessage(role="user", content=question)],
        sampling=SamplingParams(temperature=0.0, max_tokens=33),
    )
    started = time.perf_counter()
    first: float | None = None
    async for event in model.stream(request):
        if isinstance(event, TextDelta) and first is None:
            first = time.perf_counter() - started
        if isinstance(event, ChatDone):
            total = time.perf_counter() - started
            assert first is not None
            rate = (event.completion_tokens - 1) / (total - first) if event.completion_tokens > 1 else 0.0
            return first, rate, event
    raise AssertionError("no ChatDone")


def load(args: argparse.Namespace, prefix_dir: Path) -> LlamaCppLanguageModel:
    return LlamaCppLanguageModel(
        llm_gguf_path(cache_dir()),
        n_ctx=args.ctx,
        n_threads=2,
        kv_cache_type=args.kv,
        flash_attn=args.kv != "f16",
        prefix_cache_dir=prefix_dir,
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("lengths", nargs="*", type=int, default=[512, 4096, 13000])
    parser.add_argument("--kv", default="f16", choices=["f16", "q8_0"])
    parser.add_argument("--ctx", type=int, default=32768)
    args = parser.parse_args()
    question = "Which room is talk 5 in, and at what time? Answer in one long sentence with every detail."
    with tempfile.TemporaryDirectory() as tmp:
        model = load(args, Path(tmp))
        # Another process's view of the same cache directory: it finds the prefixes on disk only.
        restarted = load(args, Path(tmp))
        print(f"kv={args.kv} n_ctx={args.ctx}")
        try:
            for n in args.lengths:
                system = instruction(model, n)
                load_before = os.getloadavg()[0]
                cold, rate, done = await timed(model, system, question)
                warm, _, _ = await timed(model, system, "Which room is talk 6 in?")
                await model.idle()
                model.flush_prefix_writes()
                from_disk, _, _ = await timed(restarted, system, "Which room is talk 7 in?")
                state_mb = max(f.stat().st_size for f in Path(tmp).glob("*.kv")) / 1e6
                print(
                    f"prompt {done.prompt_tokens:6d} tok: cold first token {cold:7.1f} s "
                    f"({done.prompt_tokens / cold:5.1f} tok/s read), decode {rate:5.2f} tok/s; "
                    f"same prefix again {warm:5.2f} s, from disk in a new process {from_disk:5.2f} s "
                    f"(state {state_mb:.0f} MB); load {load_before:.2f} -> {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
        finally:
            model.close()
            restarted.close()


if __name__ == "__main__":
    asyncio.run(main())
