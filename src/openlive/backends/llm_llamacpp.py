"""The embedded LanguageModel: a GGUF chat model run by llama.cpp (llama-cpp-python), shared by all sessions.

One ``Llama`` holds one KV cache, so requests run one at a time on a single worker thread, first come
first served. Each request reuses the longest token prefix already in the cache: consecutive turns of one
conversation, and new sessions that start with the same system prompt (``warm_system_prompt`` puts it
there at start-up), skip re-reading that prefix, which is what keeps the first token fast on two cores.
After each request the cache is also saved (``llm_kv_snapshots``), so when sessions take turns, each one's
next turn restores its own history instead of re-reading it.

``prefill`` (``openlive.stages.PromptPrefiller``) lets the engine start that reading early: while the user
is still speaking, the prompt their turn would send (with the interim transcript as the user's text) is
evaluated whole. If the turn ends with that text, the real request samples its first token at once;
otherwise it reads only what follows the first token that changed.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import ctypes
import logging
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# llama.cpp's OpenMP workers busy-wait between batches by default, stealing the cores that Whisper and the
# TTS need in this same process (measured: 2-3x slower ASR). The policy is read once, when the OpenMP
# runtime loads with llama.cpp, so it must be in the environment before the import below.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# But a passive wait sleeps at once at every barrier, and llama.cpp passes one after each of the ~900
# operations of a token: waking the other thread each time made decoding ~25 % slower (Qwen2.5-1.5B on
# 2 threads: 104 ms per token and 286 ms per 8-token batch, against 80 and 218 ms with a short spin).
# libgomp spins this many times (tens of microseconds) before it sleeps: enough to bridge the gaps
# between operations, far too little to matter to the other stages when the model is idle.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")

import llama_cpp

from openlive.backends.llm_kv_snapshots import KvSnapshot, KvSnapshotCache, common_prefix
from openlive.backends.llm_prompt import ChatTemplate, ToolCallParser
from openlive.protocol.errors import CloseCode, ProtocolError
from openlive.stages import ChatDone, ChatEvent, ChatMessage, ChatRequest, TextDelta, ToolCallRequest

log = logging.getLogger(__name__)

# Qwen2.5's recommended sampling (its generation_config.json), used where a request leaves a value unset.
DEFAULT_TEMPERATURE = 0.7
DEFAULT_TOP_P = 0.8
DEFAULT_TOP_K = 20
DEFAULT_REPEAT_PENALTY = 1.05
DEFAULT_MAX_TOKENS = 512
# Added to the system prompt when tools are offered. Without it the 1.5B model tends to tell the person
# to "call the get_weather function" instead of calling it, above all under a spoken-style prompt.
TOOL_USE_HINT = "If a tool can do what the person asks, reply with only the tool call, nothing else."
# Added after each function result. Without it the 1.5B model, under the hint above, answers a result
# by calling the same function again or by echoing markup (`<get_weather city="Paris"/>`) instead of
# saying it; with it, it says the result (measured on a weather call at temperatures 0 and 0.7, with no
# system prompt, a generic one and the spoken-style one).
TOOL_RESULT_HINT = "Answer the person with this result; do not call the function again."
# Prompt tokens are evaluated in slices this long, so a cancelled request stops within one slice (~1 s on
# 2 cores). Shorter slices cost throughput: 64 was measured ~1.5x slower than 512 for a 400-token prompt.
PROMPT_SLICE_TOKENS = 128
# A prefill is evaluated in shorter slices: a real request that arrives meanwhile waits for at most one
# (~0.3 s on 2 cores). It usually reads only the ~10-30 tokens of a user turn anyway.
PREFILL_SLICE_TOKENS = 32
# A saved KV snapshot replaces the live cache only when it saves at least this many prompt tokens.
SNAPSHOT_MIN_GAIN_TOKENS = 16
# The smallest room left for the reply before old conversation turns are dropped from the prompt.
MIN_REPLY_TOKENS = 64

_Emit = Callable[[ChatEvent | BaseException], None]


@dataclass(slots=True, eq=False)
class _Job:
    request: ChatRequest
    emit: _Emit
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass(slots=True, eq=False)
class _PrefillJob:
    request: ChatRequest
    # Set by a newer prefill (only the latest one matters) and by every real request.
    cancel: threading.Event = field(default_factory=threading.Event)


class LlamaCppLanguageModel:
    """``openlive.stages.LanguageModel`` (and ``PromptPrefiller``) over a local GGUF file."""

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int = 4096,
        n_threads: int = 2,
        name: str | None = None,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
        kv_snapshot_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        self.name = name or model_path.stem
        self.n_ctx = n_ctx
        self.default_max_tokens = default_max_tokens
        with _without_extra_buffer_types(_cpu_has_amx()):
            self._llm = llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                verbose=False,
            )
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError(f"{model_path} has no chat template in its metadata")
        self._template = ChatTemplate(template)
        self._vocab = self._llm._model.vocab
        self._snapshots = KvSnapshotCache(kv_snapshot_bytes)
        # One worker: the model has one KV cache. Its queue is FIFO, so sessions are served in arrival order.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm-llamacpp")
        # Real requests submitted and not yet finished or dropped, and the latest prefill: a prefill is
        # skipped while any real request waits or runs, and every real request cancels the prefill.
        self._lock = threading.Lock()
        self._requests: set[_Job] = set()
        self._prefill_job: _PrefillJob | None = None
        self._closed = False
        self.prefills_done = 0  # prefills that evaluated their whole prefix (for tests and logs)
        self.prefills_aborted = 0  # prefills stopped inside a batch (for tests and logs)
        # llama.cpp asks this between the operations of a batch (~650 times per batch) whether to stop.
        # It is installed only while a prefill runs: a prefill's batch of 8-16 tokens takes ~250 ms,
        # which a real request (the speculative reply at the start of a pause) would otherwise wait out.
        # It costs nothing measurable; aborting takes ~1 ms and llama.cpp drops the unfinished
        # batch's cache entries, so the cache stays exactly the tokens read before it.
        self._abort_when: threading.Event | None = None
        self._abort_callback = llama_cpp.ggml_abort_callback(self._should_abort)
        self._no_abort_callback = llama_cpp.ggml_abort_callback()  # a NULL function pointer

    # -- LanguageModel ---------------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        # Tokenizing reads only the vocabulary, so it is safe next to a generation on the worker thread.
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[ChatEvent | BaseException] = asyncio.Queue()

        def emit(item: ChatEvent | BaseException) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening any more
                job.cancel.set()

        job = _Job(request=request, emit=emit)
        with self._lock:
            self._requests.add(job)
            prefill, self._prefill_job = self._prefill_job, None
        if prefill is not None:  # a running prefill stops within one slice; a queued one is dropped
            prefill.cancel.set()
        future = loop.run_in_executor(self._executor, self._run, job)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if isinstance(item, ChatDone):
                    return
        finally:
            # Reached on completion, on an error, and when the consumer is cancelled or stops early:
            # the worker checks the flag before every token and drops a job that has not started yet.
            job.cancel.set()
            future.cancel()
            self._forget(job)

    # -- PromptPrefiller -----------------------------------------------------------------------------

    def prefill(self, request: ChatRequest) -> None:
        """Start evaluating ``request``'s prompt into the KV cache, for a real request that may follow.

        Returns at once. Dropped when a real request is waiting or running, superseded by a newer
        prefill, and cancelled (within one slice) by any later ``stream``. Unlike a real request it
        reads nothing again when the cache already holds the prompt.
        """
        job = _PrefillJob(request=request)
        with self._lock:
            if self._closed or self._requests:
                return
            older, self._prefill_job = self._prefill_job, job
        if older is not None:
            older.cancel.set()
        with contextlib.suppress(RuntimeError):  # closed meanwhile
            self._executor.submit(self._run_prefill, job)

    # -- start-up ----------------------------------------------------------------------------------------

    def warm_system_prompt(self, system_prompt: str) -> int:
        """Evaluate the prompt prefix every conversation shares, so the first session's first token is fast.

        Blocking (call it while loading the profile). Returns the number of tokens now in the KV cache.
        """
        prefix = self._template.system_prefix(system_prompt)
        tokens = self._tokenize_prompt(prefix)
        # The last token may merge with what a conversation puts after the prompt (".\n\n" is one token).
        tokens = tokens[:-1]

        def warm() -> None:
            self._eval_prompt(tokens, threading.Event())
            self._save_snapshot(pinned=True)

        self._executor.submit(warm).result()
        return len(tokens)

    @property
    def kv_tokens(self) -> int:
        """How many tokens the KV cache holds now (the last prompt and what was generated after it)."""
        n: int = self._llm.n_tokens
        return n

    async def idle(self) -> None:
        """Wait until every request queued so far has finished or been dropped."""
        await asyncio.get_running_loop().run_in_executor(self._executor, lambda: None)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._llm.close()

    async def aclose(self) -> None:
        # close() waits for the worker thread's job in progress: not on the event loop.
        await asyncio.to_thread(self.close)

    # -- worker thread -----------------------------------------------------------------------------------

    def _forget(self, job: _Job) -> None:
        with self._lock:
            self._requests.discard(job)

    def _run(self, job: _Job) -> None:
        if job.cancel.is_set():
            self._forget(job)
            return
        try:
            self._generate(job)
        except BaseException as exc:  # handed to the consumer, which re-raises it in its own task
            job.emit(exc)
        finally:
            self._forget(job)
            # Kept for this conversation's next turn, in case another session's request comes first.
            self._save_snapshot()

    def _should_abort(self, _data: int | None) -> bool:
        event = self._abort_when
        return event is not None and event.is_set()

    @contextmanager
    def _abortable(self, cancel: threading.Event) -> Iterator[None]:
        """While inside, setting ``cancel`` stops the running batch too, not only the next slice."""
        self._abort_when = cancel
        llama_cpp.llama_set_abort_callback(self._llm._ctx.ctx, self._abort_callback, None)
        try:
            yield
        finally:
            llama_cpp.llama_set_abort_callback(self._llm._ctx.ctx, self._no_abort_callback, None)
            self._abort_when = None

    def _run_prefill(self, job: _PrefillJob) -> None:
        """Evaluate a prefill's prompt into the KV cache, unless a real request waits or it was cancelled.

        No KV snapshot is saved afterwards, unlike ``_run``. The cache held before the prefill was saved
        already (every real request saves one when it ends; the shared system prompt is pinned), so
        nothing is lost if another session's request comes first: a snapshot would add only the
        speculative user text (~20 tokens), while saving costs ~20-40 ms of the worker per 500 tokens,
        uncancellable, on every interim transcript (one per ~0.6 s of speech), and would push real
        conversations' snapshots out of the byte budget. The real request saves the whole turn.
        """
        try:
            with self._lock:
                skip = bool(self._requests)
            if skip or job.cancel.is_set():
                return
            # The whole prompt, the template's closing tokens (``<|im_end|>``, the assistant header)
            # included, although they move as soon as the user says another word. Measured on 2 cores
            # (Qwen2.5-1.5B, spoken-style prompt and one earlier exchange): a prompt read only up to the
            # end of the user's text leaves ~7 tokens for the real request, and one batch has a fixed cost
            # near one decode step, so its first token still came after ~270 ms (vs ~290 ms without a
            # prefill). With the whole prompt read and the turn ending with the prefilled text, as when
            # the interim transcript came from the decode at the start of the final pause, the first token
            # is sampled at once (~10 ms; see _eval_prompt). A wrong guess costs only background work:
            # the real request keeps the common prefix and reads from the first token that differs.
            tokens = self._fit_prompt(job.request)
            if job.cancel.is_set():
                return
            with self._abortable(job.cancel):
                self._eval_prompt(tokens, job.cancel, slice_tokens=PREFILL_SLICE_TOKENS)
            if not job.cancel.is_set():
                self.prefills_done += 1
        except ProtocolError as exc:  # the client's input: the real request refuses it
            log.info("prompt prefill skipped: %s", exc.reason)
        except Exception:  # best effort: the real request reports real problems
            log.warning("prompt prefill failed", exc_info=True)
        finally:
            with self._lock:
                if self._prefill_job is job:
                    self._prefill_job = None

    def _save_snapshot(self, *, pinned: bool = False) -> None:
        llm = self._llm
        if llm.n_tokens == 0:
            return
        size = llama_cpp.llama_state_seq_get_size(llm._ctx.ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llm._ctx.ctx, buffer, size, 0)
        if written:
            self._snapshots.put(llm._input_ids.tolist(), ctypes.string_at(buffer, written), pinned=pinned)

    def _restore(self, snapshot: KvSnapshot) -> bool:
        llm = self._llm
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        data = (ctypes.c_uint8 * len(snapshot.data)).from_buffer_copy(snapshot.data)
        if not llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, data, len(snapshot.data), 0):
            log.warning("could not restore a KV snapshot; evaluating the prompt from the start")
            llm.reset()  # type: ignore[no-untyped-call]
            return False
        llm.input_ids[: len(snapshot.tokens)] = snapshot.tokens
        llm.n_tokens = len(snapshot.tokens)
        llm._requires_eval = True  # restored cells, but no logits: the next token must be evaluated
        return True

    def _generate(self, job: _Job) -> None:
        request, sampling = job.request, job.request.sampling
        tokens = self._fit_prompt(request)
        cached = self._eval_prompt(tokens, job.cancel)
        if job.cancel.is_set():
            return
        room = self.n_ctx - len(tokens)
        max_tokens = min(sampling.max_tokens or self.default_max_tokens, room)
        self._llm.set_seed(sampling.seed if sampling.seed is not None else random.randrange(2**31))
        parser = ToolCallParser(tool_names=[t.name for t in request.tools])
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        completion = 0
        n_calls = 0
        finish = "stop"

        def send(text: str, calls: list[ToolCallRequest]) -> None:
            nonlocal n_calls
            if text:
                job.emit(TextDelta(text=text))
            for call in calls:
                job.emit(call)
            n_calls += len(calls)

        generator = self._llm.generate(
            tokens,
            temp=DEFAULT_TEMPERATURE if sampling.temperature is None else sampling.temperature,
            top_p=DEFAULT_TOP_P if sampling.top_p is None else sampling.top_p,
            top_k=DEFAULT_TOP_K if sampling.top_k is None else sampling.top_k,
            repeat_penalty=DEFAULT_REPEAT_PENALTY,
            presence_penalty=sampling.presence_penalty or 0.0,
            frequency_penalty=sampling.frequency_penalty or 0.0,
        )
        try:
            for token in generator:
                if job.cancel.is_set():
                    return
                if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    break
                completion += 1
                send(*parser.feed(decoder.decode(self._llm.detokenize([token]))))
                if completion >= max_tokens:
                    finish = "length"
                    break
        finally:
            generator.close()
        tail, calls = parser.feed(decoder.decode(b"", final=True))
        send(tail, calls)
        send(*parser.finish())
        if n_calls:
            finish = "tool_calls"
        job.emit(
            ChatDone(
                prompt_tokens=len(tokens),
                completion_tokens=completion,
                cached_prompt_tokens=cached,
                finish_reason=finish,
            )
        )

    def _tokenize_prompt(self, text: str) -> list[int]:
        # special=True: the template's <|im_start|> markers are control tokens, not text.
        tokens: list[int] = self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        return tokens

    def _fit_prompt(self, request: ChatRequest) -> list[int]:
        """The prompt's tokens; the oldest turns are dropped (with a warning) if it would not fit.

        The engine compresses long conversations itself; this only keeps a request that slipped past it
        from failing outright.
        """
        messages = _with_tool_hint(request.messages) if request.tools else list(request.messages)
        # Every result, not only the newest: the history then renders the same on the next turn, and the
        # KV cache keeps it.
        messages = [_with_result_hint(m) if m.role == "tool" else m for m in messages]
        while True:
            tokens = self._tokenize_prompt(self._template.render(messages, request.tools))
            if len(tokens) + MIN_REPLY_TOKENS <= self.n_ctx:
                return tokens
            droppable = _first_droppable(messages)
            if droppable is None:
                # What is left is the client's own input (its instruction, tools, latest turn), too
                # long for this model: the client's error (1007), with the numbers, not a server fault.
                raise ProtocolError(
                    CloseCode.INVALID_ARGUMENT,
                    f"Request contains an invalid argument: the prompt needs {len(tokens)} tokens; "
                    f"the context holds {self.n_ctx - MIN_REPLY_TOKENS}",
                )
            log.warning("prompt of %d tokens exceeds the context: dropping the oldest turn", len(tokens))
            del messages[droppable]

    def _eval_prompt(
        self, tokens: Sequence[int], cancel: threading.Event, *, slice_tokens: int = PROMPT_SLICE_TOKENS
    ) -> int:
        """Bring the KV cache to exactly ``tokens``, reusing the longest common prefix; returns its length.

        llama-cpp-python's ``generate`` would reuse the prefix too, but evaluates the rest in one call
        that cannot be interrupted; slicing it here lets a cancelled request stop early. Afterwards the
        cache holds the whole prompt with fresh logits, which ``generate`` samples from directly.
        """
        llm = self._llm
        cached: list[int] = llm._input_ids.tolist()
        in_cache = common_prefix(cached, tokens)
        if in_cache == len(tokens) == llm.n_tokens and not llm._requires_eval:
            # Exactly this prompt was the last thing evaluated (a prefill of this turn): its last logits
            # are still live, so nothing is read again (one token would cost ~100 ms on 2 cores).
            log.debug("prompt: all %d tokens cached with their logits", in_cache)
            return in_cache
        matched, snapshot = self._snapshots.best_match(tokens)
        if snapshot is not None and matched >= in_cache + SNAPSHOT_MIN_GAIN_TOKENS:
            in_cache = matched if self._restore(snapshot) else 0
        reused = min(in_cache, len(tokens) - 1)
        if reused <= 0 or not llm._ctx.kv_cache_seq_rm(-1, reused, -1):
            llm.reset()  # type: ignore[no-untyped-call]
            reused = 0
        llm.n_tokens = reused
        llm._requires_eval = True  # the logits are of a token now dropped, until the next eval
        started = time.perf_counter()
        for start in range(reused, len(tokens), slice_tokens):
            if cancel.is_set():
                log.debug("prompt: cancelled after %d of %d new tokens", start - reused, len(tokens) - reused)
                return reused
            try:
                llm.eval(tokens[start : start + slice_tokens])
            except RuntimeError:
                if not cancel.is_set():
                    raise
                # Aborted inside the batch (see _abortable): the cache holds the tokens before it.
                self.prefills_aborted += 1
                log.debug("prompt: aborted after %.0f ms", (time.perf_counter() - started) * 1000)
                return reused
        log.debug(
            "prompt: %d tokens cached, %d read in %.0f ms",
            reused,
            len(tokens) - reused,
            (time.perf_counter() - started) * 1000,
        )
        return reused


def _cpu_has_amx() -> bool:
    try:
        return "amx_int8" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@contextmanager
def _without_extra_buffer_types(active: bool) -> Iterator[None]:
    """Load the model without llama.cpp's "extra" weight buffers (AMX tiles, repacked layouts).

    llama.cpp 0.3.36's AMX matmul crashes (SIGSEGV in ggml_backend_amx_mul_mat) on the first prompt batch
    on the Sapphire Rapids VMs this was tested on. ``Llama()`` takes no option for it, so the default
    model parameters are patched while the model loads. Measured there: generation speed unchanged
    (~8-9 tok/s on 2 threads either way), prompt evaluation ~145 tok/s.
    """
    if not active:
        yield
        return
    low_level = llama_cpp.llama_cpp
    original = low_level.llama_model_default_params

    def params_without_extra_buffers() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    low_level.llama_model_default_params = params_without_extra_buffers
    try:
        yield
    finally:
        low_level.llama_model_default_params = original


def _with_tool_hint(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    # Appended after the system prompt, so the cached prefix of that prompt still matches.
    out = list(messages)
    if out and out[0].role == "system":
        out[0] = ChatMessage(role="system", content=f"{out[0].content}\n\n{TOOL_USE_HINT}")
    else:
        out.insert(0, ChatMessage(role="system", content=TOOL_USE_HINT))
    return out


def _with_result_hint(message: ChatMessage) -> ChatMessage:
    return replace(message, content=f"{message.content}\n\n{TOOL_RESULT_HINT}")


def _first_droppable(messages: Sequence[ChatMessage]) -> int | None:
    """Index of the oldest message that is neither the system prompt nor the latest message."""
    for i, message in enumerate(messages[:-1]):
        if message.role != "system":
            return i
    return None
