"""The embedded llama.cpp LanguageModel with the real Qwen2.5-Coder-1.5B model (``-m models``)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from openlive.backends.assets import cache_dir, llm_gguf_path
from openlive.backends.core_share import CoreShare
from openlive.backends.embedded import SPOKEN_STYLE_PROMPT
from openlive.stages import (
    CallStarted,
    ChatDone,
    ChatEvent,
    ChatMessage,
    ChatRequest,
    SamplingParams,
    TextDelta,
    ToolCallRequest,
)
from openlive.stages.language_model import ToolSpec

if TYPE_CHECKING:  # imported in the fixture: collecting this file must not need llama.cpp
    from openlive.backends.llm_llamacpp import LlamaCppLanguageModel

pytestmark = pytest.mark.models

GREEDY = SamplingParams(temperature=0.0)
TOOLS = [
    ToolSpec(
        name="get_weather",
        description="Get the current weather for a city",
        parameters={
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    ),
    ToolSpec(
        name="set_timer",
        description="Start a countdown timer",
        parameters={"type": "object", "properties": {"minutes": {"type": "number"}}, "required": ["minutes"]},
    ),
]


# What the model's prefills step aside for: held only by the tests that stand for a recogniser's decode.
RECOGNITION = CoreShare()


@pytest.fixture(scope="module")
def model() -> Iterator[LlamaCppLanguageModel]:
    from openlive.backends.llm_llamacpp import LlamaCppLanguageModel

    llm = LlamaCppLanguageModel(llm_gguf_path(cache_dir()), n_ctx=4096, n_threads=2, core_share=RECOGNITION)
    yield llm
    llm.close()


def chat(system: str, user: str, **kwargs: Any) -> ChatRequest:
    return ChatRequest(
        messages=[ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)],
        **kwargs,
    )


async def run(model: LlamaCppLanguageModel, request: ChatRequest) -> tuple[str, list[ChatEvent], float]:
    """The reply text, all events, and the seconds until the first text or tool call."""
    started = time.perf_counter()
    first: float | None = None
    events: list[ChatEvent] = []
    async for event in model.stream(request):
        if first is None and not isinstance(event, ChatDone):
            first = time.perf_counter() - started
        events.append(event)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    return text, events, first if first is not None else time.perf_counter() - started


def done_of(events: list[ChatEvent]) -> ChatDone:
    assert isinstance(events[-1], ChatDone), events[-1]
    assert sum(isinstance(e, ChatDone) for e in events) == 1
    return events[-1]


async def test_streams_text_obeys_the_system_prompt_and_counts_real_tokens(
    model: LlamaCppLanguageModel,
) -> None:
    system, user = "Always answer in French.", "What color is the sky? One short sentence."
    text, events, _ = await run(model, chat(system, user, sampling=GREEDY))
    assert sum(isinstance(e, TextDelta) for e in events) >= 2, "the reply was not streamed"
    assert any(word in text.lower() for word in ("bleu", "ciel")), text
    done = done_of(events)
    count = model.count_tokens
    # The prompt is both messages plus the template's role markers (a dozen tokens).
    assert count(system) + count(user) < done.prompt_tokens < count(system) + count(user) + 30
    assert abs(done.completion_tokens - count(text)) <= 2
    assert done.finish_reason == "stop"


async def test_shared_system_prompt_is_reused_from_the_kv_cache(model: LlamaCppLanguageModel) -> None:
    # A long system prompt nobody has sent before: the first request has to read all of it.
    system = (
        f"Session {uuid.uuid4().hex}. "
        + SPOKEN_STYLE_PROMPT
        + " "
        + " ".join(f"Fact {i}: the code word for day {i} is word{i * 7}." for i in range(40))
    )
    _, cold_events, cold_first = await run(
        model, chat(system, "Say hello.", sampling=SamplingParams(temperature=0.0, max_tokens=8))
    )
    # A new session with the same system prompt and a different question.
    _, warm_events, warm_first = await run(
        model, chat(system, "Name a fruit.", sampling=SamplingParams(temperature=0.0, max_tokens=8))
    )
    cold, warm = done_of(cold_events), done_of(warm_events)
    print(
        f"\nprompt {cold.prompt_tokens} tokens: first token cold {cold_first:.3f} s "
        f"(cached {cold.cached_prompt_tokens}), warm {warm_first:.3f} s (cached {warm.cached_prompt_tokens})"
    )
    assert cold.cached_prompt_tokens < 10
    assert warm.cached_prompt_tokens >= model.count_tokens(system)
    assert warm_first < cold_first / 2


async def test_cancelling_the_consumer_stops_generation_within_a_token(model: LlamaCppLanguageModel) -> None:
    request = chat(
        "You are a counting machine.",
        "Count from 1 to 300, separated by commas.",
        sampling=SamplingParams(temperature=0.0, max_tokens=600),
    )
    deltas: list[str] = []

    async def consume() -> None:
        async for event in model.stream(request):
            if isinstance(event, TextDelta):
                deltas.append(event.text)

    task = asyncio.create_task(consume())
    while len(deltas) < 5:
        await asyncio.sleep(0.01)
        assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    at_cancel = model.kv_tokens
    started = time.perf_counter()
    await model.idle()
    stopped_after = time.perf_counter() - started
    await asyncio.sleep(0.3)
    assert model.kv_tokens - at_cancel <= 2
    assert stopped_after < 3.0, f"the worker kept going for {stopped_after:.1f} s"


async def test_tool_call_is_parsed_and_its_markup_never_spoken(model: LlamaCppLanguageModel) -> None:
    request = chat(
        SPOKEN_STYLE_PROMPT, "What's the weather like in Tokyo right now?", tools=TOOLS, sampling=GREEDY
    )
    text, events, _ = await run(model, request)
    calls = [e for e in events if isinstance(e, ToolCallRequest)]
    assert [c.name for c in calls] == ["get_weather"], (text, events)
    assert "tokyo" in str(calls[0].args.get("city", "")).lower()
    assert calls[0].id.startswith("call_")
    assert not any(mark in text for mark in ("tool_call", "{", "get_weather")), text
    assert done_of(events).finish_reason == "tool_calls"
    # The call was announced when it was decided, before its arguments (the session may speak then).
    started = [e for e in events if isinstance(e, CallStarted)]
    assert started == [CallStarted(name="get_weather")] and events.index(started[0]) < events.index(calls[0])


async def test_tools_offered_but_not_needed_give_a_plain_answer(model: LlamaCppLanguageModel) -> None:
    text, events, _ = await run(
        model, chat(SPOKEN_STYLE_PROMPT, "Tell me a joke.", tools=TOOLS, sampling=GREEDY)
    )
    assert not any(isinstance(e, ToolCallRequest) for e in events)
    assert len(text) > 10
    assert done_of(events).finish_reason == "stop"


async def test_max_tokens_ends_with_length(model: LlamaCppLanguageModel) -> None:
    request = chat("You are a storyteller.", "Tell me a long story.", sampling=SamplingParams(max_tokens=5))
    _, events, _ = await run(model, request)
    done = done_of(events)
    assert (done.completion_tokens, done.finish_reason) == (5, "length")


@pytest.mark.parametrize("where", ["system", "user"])
async def test_a_prompt_that_cannot_fit_is_the_clients_error_with_the_numbers(
    model: LlamaCppLanguageModel, where: str
) -> None:
    # Issue 10: a 60,000-character instruction or turn closed the session with 1011 (a ValueError).
    from openlive.protocol.errors import CloseCode, ProtocolError

    long = "word " * 12_000
    request = chat(long, "Hi?") if where == "system" else chat("Be brief.", long)
    with pytest.raises(ProtocolError) as info:
        await run(model, request)
    assert info.value.code == CloseCode.INVALID_ARGUMENT
    assert "the prompt needs" in info.value.reason
    assert f"the context holds {4096 - 64}" in info.value.reason


async def test_same_seed_gives_the_same_sampled_reply(model: LlamaCppLanguageModel) -> None:
    sampling = SamplingParams(temperature=1.0, top_p=1.0, top_k=0, max_tokens=12, seed=1234)
    poem = chat("You are a poet.", "Write a line about rain.", sampling=sampling)
    # Logits differ in the last bits between batched and one-token evaluation, so the compared runs must
    # find the same cache state: after a first run, each re-run re-reads only the prompt's last token.
    await run(model, poem)
    first, _, _ = await run(model, poem)
    second, _, _ = await run(model, poem)
    assert first == second


async def test_concurrent_sessions_are_served_one_after_the_other(model: LlamaCppLanguageModel) -> None:
    order: list[str] = []

    async def session(name: str) -> None:
        request = chat(
            "Be brief.", f"Say the word {name}.", sampling=SamplingParams(temperature=0, max_tokens=6)
        )
        async for event in model.stream(request):
            if isinstance(event, ChatDone):
                order.append(f"{name}:done")
            elif not order or order[-1] != f"{name}:text":
                order.append(f"{name}:text")

    await asyncio.wait_for(asyncio.gather(session("apple"), session("pear")), timeout=120)
    assert order == ["apple:text", "apple:done", "pear:text", "pear:done"]


async def test_tool_result_is_used_in_the_answer(model: LlamaCppLanguageModel) -> None:
    call = ToolCallRequest(id="call_0123", name="get_weather", args={"city": "Tokyo"})
    request = ChatRequest(
        messages=[
            ChatMessage(role="system", content=SPOKEN_STYLE_PROMPT),
            ChatMessage(role="user", content="What's the weather like in Tokyo right now?"),
            ChatMessage(role="assistant", tool_calls=[call]),
            ChatMessage(
                role="tool",
                content='{"temperature_celsius": 23, "sky": "sunny"}',
                tool_call_id="call_0123",
                name="get_weather",
            ),
        ],
        tools=TOOLS,
        sampling=GREEDY,
    )
    text, events, _ = await run(model, request)
    assert not any(isinstance(e, ToolCallRequest) for e in events), events
    assert "23" in text or "twenty-three" in text.lower(), text
    assert "sunny" in text.lower(), text


@pytest.mark.parametrize("system", ["", SPOKEN_STYLE_PROMPT])
async def test_a_result_is_said_not_called_again_or_echoed(model: LlamaCppLanguageModel, system: str) -> None:
    # Without TOOL_RESULT_HINT the greedy reply here was `<get_weather city="Paris"/>` (no system prompt)
    # or `get_weather({"city": "Paris"})` (spoken style): markup read aloud instead of the weather.
    call = ToolCallRequest(id="call_1", name="get_weather", args={"city": "Paris"})
    messages = [ChatMessage(role="system", content=system)] if system else []
    messages += [
        ChatMessage(role="user", content="What is the weather in Paris?"),
        ChatMessage(role="assistant", tool_calls=[call]),
        ChatMessage(role="tool", content='{"output": "sunny and 24 degrees"}', tool_call_id="call_1"),
    ]
    text, events, _ = await run(model, ChatRequest(messages=messages, tools=TOOLS, sampling=GREEDY))
    assert not any(isinstance(e, ToolCallRequest) for e in events), events
    assert "sunny" in text.lower() and "<" not in text and "get_weather" not in text, text


async def test_alternating_conversations_each_keep_their_history(model: LlamaCppLanguageModel) -> None:
    def conversation(name: str, turns: int) -> list[ChatMessage]:
        messages = [ChatMessage(role="system", content=f"You are {name}. " + SPOKEN_STYLE_PROMPT)]
        for i in range(turns):
            messages.append(ChatMessage(role="user", content=f"Tell me fact number {i} about the sea."))
            messages.append(ChatMessage(role="assistant", content=f"Fact {i}: the sea is salty and deep."))
        return messages

    short = SamplingParams(temperature=0.0, max_tokens=4)
    a = conversation("Ada", 6)
    b = conversation("Bob", 6)
    await run(
        model, ChatRequest(messages=[*a, ChatMessage(role="user", content="One more?")], sampling=short)
    )
    await run(
        model, ChatRequest(messages=[*b, ChatMessage(role="user", content="One more?")], sampling=short)
    )
    # Ada's next turn comes after Bob's: her history is restored from a snapshot, not re-read.
    _, events, _ = await run(
        model, ChatRequest(messages=[*a, ChatMessage(role="user", content="And another?")], sampling=short)
    )
    done = done_of(events)
    assert done.cached_prompt_tokens >= done.prompt_tokens - 12, done


def spoken_turn(system: str, user: str, **kwargs: Any) -> ChatRequest:
    """A voice session's request: spoken-style system prompt, one earlier exchange, then ``user``."""
    return ChatRequest(
        messages=[
            ChatMessage(role="system", content=system),
            ChatMessage(role="user", content="Hi, can you hear me?"),
            ChatMessage(role="assistant", content="Yes, I can hear you. How can I help?"),
            ChatMessage(role="user", content=user),
        ],
        **kwargs,
    )


async def test_prefill_of_the_interim_prompt_is_reused_by_the_final_request(
    model: LlamaCppLanguageModel,
) -> None:
    from openlive.stages import PromptPrefiller

    assert isinstance(model, PromptPrefiller)
    system = f"Caller {uuid.uuid4().hex}. {SPOKEN_STYLE_PROMPT}"  # nothing of it is cached yet
    short = SamplingParams(temperature=0.0, max_tokens=8)
    done_before = model.prefills_done
    model.prefill(spoken_turn(system, "What is the capital of", sampling=short))
    await model.idle()
    assert model.prefills_done == done_before + 1
    prefilled = model.kv_tokens  # the whole interim prompt, its closing tokens included
    assert prefilled > model.count_tokens(system) + model.count_tokens("What is the capital of")
    _, events, _ = await run(model, spoken_turn(system, "What is the capital of France?", sampling=short))
    done = done_of(events)
    # All but the template's closing tokens (<|im_end|>, "\n", <|im_start|>, "assistant", "\n") were reused.
    assert done.cached_prompt_tokens == prefilled - 5, (done, prefilled)
    assert done.prompt_tokens - done.cached_prompt_tokens == 7  # " France", "?" and the closing tokens


async def test_prefill_of_the_final_text_leaves_nothing_to_read(model: LlamaCppLanguageModel) -> None:
    request = spoken_turn(
        f"Caller {uuid.uuid4().hex}. {SPOKEN_STYLE_PROMPT}",
        "How far away is the moon?",
        sampling=SamplingParams(temperature=0.0, max_tokens=8),
    )
    model.prefill(request)
    await model.idle()
    _, events, first = await run(model, request)
    done = done_of(events)
    assert done.cached_prompt_tokens == done.prompt_tokens  # sampled from the prefill's logits at once
    assert first < 0.5, first


async def test_with_tools_a_prefill_reads_the_call_decision_with_the_prompt(
    model: LlamaCppLanguageModel,
) -> None:
    system = f"Caller {uuid.uuid4().hex}. {SPOKEN_STYLE_PROMPT}"
    question = spoken_turn(
        system,
        "How far away is the moon?",
        tools=TOOLS,
        sampling=SamplingParams(temperature=0.0, max_tokens=8),
    )
    model.prefill(question)
    await model.idle()
    text, events, first = await run(model, question)
    done = done_of(events)
    # The decision ("none") was read with the prompt, and its label's logits kept: nothing to read.
    assert done.cached_prompt_tokens == done.prompt_tokens, done
    assert text and not any(isinstance(e, ToolCallRequest) for e in events), events
    assert "Function" not in text
    assert first < 0.5, first
    # A request for what a function does, prefilled, then another prompt read in between: the call is
    # decided from this prompt's own logits, and the "none" read with it is taken back.
    ask = spoken_turn(system, "What's the weather in Paris right now?", tools=TOOLS, sampling=GREEDY)
    model.prefill(ask)
    await model.idle()
    await run(model, chat("Be brief.", "Say yes.", sampling=SamplingParams(temperature=0.0, max_tokens=4)))
    text, events, _ = await run(model, ask)
    calls = [e for e in events if isinstance(e, ToolCallRequest)]
    assert [c.name for c in calls] == ["get_weather"], (text, events)
    assert "paris" in str(calls[0].args.get("city", "")).lower()
    assert not text.strip(), text


async def test_a_stream_cancels_a_running_prefill(model: LlamaCppLanguageModel) -> None:
    # A prompt no cache holds, long enough that reading it takes seconds: a prefill still running.
    long_system, _ = code_word_turn(60)
    short = SamplingParams(temperature=0.0, max_tokens=4)
    request = chat("Be brief.", "Say yes.", sampling=short)
    reference, _, _ = await run(model, request)
    done_before, aborted_before = model.prefills_done, model.prefills_aborted
    model.prefill(spoken_turn(long_system, "What is day 3's", sampling=GREEDY))
    await asyncio.sleep(0.5)  # the worker is reading it now
    assert model.kv_tokens < model.count_tokens(long_system)
    text, events, first = await run(model, request)
    await model.idle()
    assert model.prefills_done == done_before, "the prefill was not cancelled"
    # Reading takes nearly all of a prefill's time, so the stream came in the middle of a batch: it was
    # stopped there rather than after it.
    assert model.prefills_aborted == aborted_before + 1
    assert done_of(events).completion_tokens > 0
    assert first < 2.0, f"the stream waited {first:.1f} s for the prefill"
    # The aborted batch left nothing behind in the cache: the greedy reply is the one read without it.
    assert text == reference


async def test_a_stream_of_the_prompt_a_running_prefill_reads_lets_it_finish(
    model: LlamaCppLanguageModel,
) -> None:
    # The pause's transcript was the turn's last interim one: the speculative reply asks for exactly
    # the prompt the prefill is reading. Stopping it would throw its batch away and read it again.
    system, request = code_word_turn(30)
    await _until_background_reads_end(model)
    done_before = model.prefills_done
    model.prefill(request)
    await asyncio.sleep(0.3)  # the worker is reading it now
    assert model.kv_tokens < model.count_tokens(system)
    _, events, _ = await run(model, request)
    assert model.prefills_done == done_before + 1, "the prefill was stopped"
    done = done_of(events)
    assert done.cached_prompt_tokens == done.prompt_tokens, done  # nothing left to read


async def test_a_newer_prefill_lets_the_running_one_finish_its_batch_and_a_stream_stops_both(
    model: LlamaCppLanguageModel,
) -> None:
    # Interim transcripts come every ~0.6 s of speech, and reading one took about as long next to the
    # recogniser: each newer one aborted the batch in progress, so in a long turn no prefill finished
    # and the whole turn was read after its end (the app scenario's logs, 2026-12-03).
    await _until_background_reads_end(model)
    system = f"Caller {uuid.uuid4().hex}. {SPOKEN_STYLE_PROMPT}"
    earlier = spoken_turn(system, "Which room is the opening keynote in on", sampling=GREEDY)
    later = spoken_turn(system, "Which room is the opening keynote in on Thursday morning?", sampling=GREEDY)
    aborted, done = model.prefills_aborted, model.prefills_done
    model.prefill(earlier)
    await asyncio.sleep(0.15)  # the worker is reading it now
    model.prefill(later)
    await model.idle()
    assert model.prefills_aborted == aborted, "the newer prefill threw the running batch away"
    assert model.prefills_done == done + 1  # the later one, whole; the earlier stopped after its batch
    _, events, _ = await run(model, later)
    assert done_of(events).cached_prompt_tokens == done_of(events).prompt_tokens
    # A real request does not wait for a superseded prefill's batch: both stop at once.
    system = f"Caller {uuid.uuid4().hex}. {SPOKEN_STYLE_PROMPT}"
    model.prefill(spoken_turn(system, "Which room is", sampling=GREEDY))
    await asyncio.sleep(0.15)
    model.prefill(spoken_turn(system, "Which room is the keynote in?", sampling=GREEDY))
    _, events, first = await run(model, chat("Be brief.", "Say yes.", sampling=GREEDY))
    assert model.prefills_aborted == aborted + 1
    assert first < 2.0, f"the stream waited {first:.1f} s for a superseded prefill"
    # Another conversation's prefill stops the running one at once: the cache it fills would be
    # replaced, so its batch would only take the cores from the other speaker's ASR.
    await model.idle()
    aborted = model.prefills_aborted
    model.prefill(spoken_turn(f"Caller {uuid.uuid4().hex}. {SPOKEN_STYLE_PROMPT}", "Hi", sampling=GREEDY))
    await asyncio.sleep(0.15)
    model.prefill(spoken_turn(f"Caller {uuid.uuid4().hex}. {SPOKEN_STYLE_PROMPT}", "Hi", sampling=GREEDY))
    await model.idle()
    assert model.prefills_aborted == aborted + 1


async def test_a_prefill_steps_aside_while_speech_is_recognised_and_reads_on_where_it_was(
    model: LlamaCppLanguageModel,
) -> None:
    # At the start of a pause the recogniser decodes the turn while the model reads the last interim
    # prompt; together each took twice as long, and the transcript is what the reply waits for.
    _, request = code_word_turn(60)
    await _until_background_reads_end(model)
    done_before, aborted_before = model.prefills_done, model.prefills_aborted
    waited_before = RECOGNITION.waited_s
    model.prefill(request)
    await asyncio.sleep(0.3)  # the worker is reading it now
    with RECOGNITION.foreground():
        await asyncio.sleep(0.05)  # the batch in progress stops at its next operation
        read = model.kv_tokens
        await asyncio.sleep(0.6)
        assert model.kv_tokens == read, "the prefill read on while recognition held the cores"
    await model.idle()
    assert RECOGNITION.waited_s - waited_before >= 0.5
    assert model.prefills_aborted == aborted_before, "stepping aside threw the batch away"
    assert model.prefills_done == done_before + 1
    _, events, _ = await run(model, request)
    done = done_of(events)
    assert done.cached_prompt_tokens == done.prompt_tokens, done  # the pause lost nothing
    # A real request does not wait for recognition: the waiting prefill stops at once.
    model.prefill(code_word_turn(60)[1])
    await asyncio.sleep(0.3)
    with RECOGNITION.foreground():
        await asyncio.sleep(0.05)
        _, events, first = await run(model, chat("Be brief.", "Say yes.", sampling=GREEDY))
    assert model.prefills_aborted == aborted_before + 1
    assert done_of(events).completion_tokens > 0
    assert first < 2.0, f"the stream waited {first:.1f} s"


def code_word_turn(days: int) -> tuple[str, ChatRequest]:
    """A voice turn asking for one of ``days`` facts in a system prompt no cache holds (reading it takes
    a second or more): the system prompt, and the greedy request of four tokens."""
    facts = " ".join(f"Fact {i}: the code word for day {i} is word{i * 7}." for i in range(days))
    system = f"Caller {uuid.uuid4().hex}. {SPOKEN_STYLE_PROMPT} {facts}"
    sampling = SamplingParams(temperature=0.0, max_tokens=4)
    return system, spoken_turn(system, "What is day 3's code word?", sampling=sampling)


async def _until_background_reads_end(model: LlamaCppLanguageModel) -> None:
    # An earlier test's unfinished long prompt is read on in the background while the model is idle;
    # a prefill queued behind it would be skipped (a real request waits) instead of running.
    for _ in range(600):
        await model.idle()
        if model._background is None and not model._unfinished:
            return
        await asyncio.sleep(0.1)


async def test_a_prefill_is_dropped_while_a_request_runs_and_superseded_by_a_newer_one(
    model: LlamaCppLanguageModel,
) -> None:
    request = chat("You are a counting machine.", "Count from 1 to 20.", sampling=GREEDY)
    done_before = model.prefills_done
    stream = model.stream(request)
    await anext(stream)  # the request is running
    model.prefill(spoken_turn(f"Caller {uuid.uuid4().hex}.", "Hello", sampling=GREEDY))
    async for _ in stream:
        pass
    await model.idle()
    assert model.prefills_done == done_before, "a prefill ran while a real request was in flight"
    # Two prefills in a row: only the latest is read.
    first, latest = (spoken_turn(f"Caller {uuid.uuid4().hex}.", "Hello", sampling=GREEDY) for _ in range(2))
    model.prefill(first)
    model.prefill(latest)
    await model.idle()
    assert model.prefills_done == done_before + 1
    _, events, _ = await run(model, latest)
    assert done_of(events).cached_prompt_tokens == done_of(events).prompt_tokens


async def test_prefill_does_not_change_the_reply() -> None:
    from openlive.backends.llm_llamacpp import LlamaCppLanguageModel

    # No KV snapshots: each run below reads the prompt itself rather than restoring an earlier run's cache.
    llm = LlamaCppLanguageModel(llm_gguf_path(cache_dir()), n_ctx=1024, n_threads=2, kv_snapshot_bytes=0)
    try:
        sampling = SamplingParams(temperature=0.0, max_tokens=24, seed=42)
        final = spoken_turn(SPOKEN_STYLE_PROMPT, "What is the capital of France?", sampling=sampling)
        other = chat("Be brief.", "Say no.", sampling=SamplingParams(temperature=0.0, max_tokens=2))
        plain, _, _ = await run(llm, final)
        replies = []
        for interim in ("What is the capital of", "What is the capital of France?"):
            await run(llm, other)  # the cache now holds another conversation
            llm.prefill(spoken_turn(SPOKEN_STYLE_PROMPT, interim, sampling=sampling))
            await llm.idle()
            text, events, _ = await run(llm, final)
            assert done_of(events).cached_prompt_tokens > llm.count_tokens(SPOKEN_STYLE_PROMPT)
            replies.append(text)
        # Interim transcripts as they come while the user speaks, each superseding the one being read
        # (which stops after its batch): the cache must hold exactly the tokens it says it holds.
        await run(llm, other)
        for interim in ("What is", "What is the capital", "What is the capital of Fr", "What is the capital"):
            llm.prefill(spoken_turn(SPOKEN_STYLE_PROMPT, interim, sampling=sampling))
            await asyncio.sleep(0.12)
        await llm.idle()
        text, _, _ = await run(llm, final)
        replies.append(text)
        assert replies == [plain, plain, plain]
    finally:
        llm.close()
