"""Long fixed prompt prefixes (instruction and tools) with the real model (``-m models``): read once in
the background, kept in memory and on disk, restored by the next process, resumed after a real request.

The instructions here are ~600 tokens (a long one is 13,000, but reading that takes minutes on two
cores): over ``PREFIX_CACHE_MIN_TOKENS``, so they take the same path.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from openlive.backends.assets import cache_dir, llm_gguf_path
from openlive.stages import ChatDone, ChatMessage, ChatRequest, SamplingParams, TextDelta
from openlive.stages.language_model import ToolSpec

if TYPE_CHECKING:  # imported in the fixtures: collecting this file must not need llama.cpp
    from openlive.backends.llm_llamacpp import LlamaCppLanguageModel

pytestmark = pytest.mark.models

GREEDY = SamplingParams(temperature=0.0, max_tokens=12)
TOOLS = [
    ToolSpec(
        name="book_room",
        description="Book a meeting room",
        parameters={"type": "object", "properties": {"room": {"type": "string"}}, "required": ["room"]},
    )
]


def instruction(tag: str) -> str:
    """~600 tokens, unique to ``tag`` so that no cache of an earlier test holds it."""
    rooms = ["Aster", "Birch", "Cedar", "Dahlia", "Elm", "Fern"]
    lines = [f"You are the front desk of the Harbour Conference ({tag}). Answer from this schedule."]
    for i in range(36):
        at = f"{9 + i % 8}:{15 * (i % 4):02d}"
        lines.append(f"Session {i + 1}: talk number {i + 1} is at {at} in room {rooms[i % 6]}.")
    lines.append("The closing party is on the roof terrace at 7 PM.")
    return "\n".join(lines)


def session_start(system: str) -> ChatRequest:
    """What the engine prefills right after setupComplete: the instruction and tools, no turn yet."""
    return ChatRequest(messages=[ChatMessage(role="system", content=system)], tools=TOOLS, sampling=GREEDY)


def question(system: str, text: str) -> ChatRequest:
    messages = [ChatMessage(role="system", content=system), ChatMessage(role="user", content=text)]
    return ChatRequest(messages=messages, tools=TOOLS, sampling=GREEDY)


def load(prefix_dir: Path | None, **kwargs: Any) -> LlamaCppLanguageModel:
    from openlive.backends.llm_llamacpp import LlamaCppLanguageModel

    return LlamaCppLanguageModel(
        llm_gguf_path(cache_dir()), n_ctx=4096, n_threads=2, prefix_cache_dir=prefix_dir, **kwargs
    )


@pytest.fixture
def model(tmp_path: Path) -> Iterator[LlamaCppLanguageModel]:
    llm = load(tmp_path / "prefix")
    yield llm
    llm.close()


async def answer(llm: LlamaCppLanguageModel, request: ChatRequest) -> tuple[str, ChatDone]:
    text: list[str] = []
    async for event in llm.stream(request):
        if isinstance(event, TextDelta):
            text.append(event.text)
        elif isinstance(event, ChatDone):
            return "".join(text), event
    raise AssertionError("no ChatDone")


async def until(condition: Any, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_prefix_read_once_is_restored_from_disk_by_the_next_process(
    model: LlamaCppLanguageModel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    system = instruction(uuid.uuid4().hex)
    model.prefill(session_start(system))
    await model.idle()
    assert model.prefix_reads_done == 1
    model.flush_prefix_writes()
    files = list((tmp_path / "prefix").glob("*.kv"))
    assert len(files) == 1
    # ~28 KB a token with the f16 cache: the file is the prefix's state, not the whole context's.
    assert 400 * 20_000 < files[0].stat().st_size < 1000 * 40_000
    reference, _ = await answer(model, question(system, "Where is session 30?"))

    restarted = load(tmp_path / "prefix")  # a new process: nothing in memory
    try:
        with caplog.at_level(logging.INFO, logger="openlive.backends.llm_llamacpp"):
            restarted.prefill(session_start(system))
            await restarted.idle()
        assert restarted.prefix_disk_hits == 1 and restarted.prefix_reads_done == 0
        assert "cached prompt prefix used" in caplog.text and "disk cache" in caplog.text
        text, done = await answer(restarted, question(system, "Where is session 30?"))
        # Only the user's turn was read; the greedy answer is the one of a prompt read in full.
        assert done.prompt_tokens - done.cached_prompt_tokens < 40, done
        assert text == reference
    finally:
        restarted.close()


async def test_a_real_request_stops_a_prefix_read_which_then_resumes_where_it_stopped(
    model: LlamaCppLanguageModel,
) -> None:
    system = instruction(uuid.uuid4().hex)
    model.prefill(session_start(system))
    await until(lambda: model.kv_tokens > 300)  # well into the read (its batches are 128 tokens)
    started = time.perf_counter()
    other = ChatRequest(messages=[ChatMessage(role="user", content="Say yes.")], sampling=GREEDY)
    _, done = await answer(model, other)
    waited = time.perf_counter() - started
    # The other session's request went first: it did not wait for the rest of the instruction.
    assert model.prefix_reads_done == 0
    assert waited < 10.0, waited
    assert done.completion_tokens > 0
    # The read goes on by itself afterwards, from what it had read, and ends with the prefix cached.
    await until(lambda: model.prefix_reads_done == 1)
    _, done = await answer(model, question(system, "When is the closing party?"))
    assert done.prompt_tokens - done.cached_prompt_tokens < 40, done


async def test_a_session_whose_prefix_is_cached_says_so_at_its_start(model: LlamaCppLanguageModel) -> None:
    system = instruction(uuid.uuid4().hex)
    model.prefill(session_start(system))
    await model.idle()
    await answer(model, ChatRequest(messages=[ChatMessage(role="user", content="Hi")], sampling=GREEDY))
    # The request ends just after its ChatDone; a prefill made while it still runs is dropped (by design).
    await model.idle()
    # A handler on the backend's own logger (the worker thread logs; pytest's capture did not always see it).
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("openlive.backends.llm_llamacpp")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        model.prefill(session_start(system))  # a second session with the same instruction
        await model.idle()
        await until(lambda: any("cached prompt prefix used" in line for line in lines), timeout=30)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert model.prefix_reads_done == 1  # not read again
    assert any("cached prompt prefix used" in line and "in memory" in line for line in lines), lines


async def test_another_kv_layout_does_not_reuse_the_disk_state(tmp_path: Path) -> None:
    system = instruction(uuid.uuid4().hex)
    first = load(tmp_path / "prefix")
    try:
        first.prefill(session_start(system))
        await first.idle()
        first.flush_prefix_writes()
    finally:
        first.close()
    # A q8_0 cache (with flash attention) lays the state out differently: a miss, read afresh, kept apart.
    other = load(tmp_path / "prefix", kv_cache_type="q8_0", flash_attn=True)
    try:
        other.prefill(session_start(system))
        await other.idle()
        assert other.prefix_disk_hits == 0 and other.prefix_reads_done == 1
        other.flush_prefix_writes()
        assert len(list((tmp_path / "prefix").glob("*.kv"))) == 2
        text, done = await answer(other, question(system, "Where is session 30?"))
        # The state read afresh answers: in words, or (with the five tools) by a call attempt the backend
        # could not read, which it reports (turnCompleteReason MALFORMED_FUNCTION_CALL).
        assert text.strip() or done.malformed_tool_calls, (text, done)
    finally:
        other.close()


async def test_a_long_conversation_is_not_copied_after_every_turn(tmp_path: Path) -> None:
    # A 1.5 MB budget holds this ~40-token conversation (~1.1 MB), but it is more than half of it: not
    # saved (the same turn is saved with the default budget, below).
    llm = load(None, kv_snapshot_bytes=1536 * 1024)
    try:
        await answer(
            llm, ChatRequest(messages=[ChatMessage(role="user", content="Say yes.")], sampling=GREEDY)
        )
        await llm.idle()  # the snapshot is saved after the reply's end
        assert len(llm._snapshots) == 0
    finally:
        llm.close()
    small = load(None)
    try:
        await answer(
            small, ChatRequest(messages=[ChatMessage(role="user", content="Say yes.")], sampling=GREEDY)
        )
        await small.idle()
        assert len(small._snapshots) == 1  # the same turn with the default budget is kept
        # ... and its state would have fitted the small budget above: only the share kept it out.
        assert small._snapshots.size_bytes <= 1536 * 1024
    finally:
        small.close()
