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
import logging
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

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

from openlive.backends.llama_adapter import LlamaState, check_version, cpu_has_amx, without_extra_buffer_types
from openlive.backends.llm_kv_snapshots import KvSnapshot, KvSnapshotCache, common_prefix
from openlive.backends.llm_prompt import ChatTemplate, ToolCallParser
from openlive.backends.prompt_policy import EMBEDDED_POLICY, QWEN_SAMPLING, PromptPolicy
from openlive.protocol.errors import ProtocolError
from openlive.stages import ChatDone, ChatEvent, ChatMessage, ChatRequest, TextDelta, ToolCallRequest

log = logging.getLogger(__name__)

# llama.cpp's own repetition penalty (not in the OpenAI API, so not part of the prompt policy's sampling).
DEFAULT_REPEAT_PENALTY = 1.05
DEFAULT_MAX_TOKENS = QWEN_SAMPLING.max_tokens or 512
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
        policy: PromptPolicy = EMBEDDED_POLICY,
    ) -> None:
        check_version()
        self.name = name or model_path.stem
        self.policy = policy
        self.n_ctx = n_ctx
        self.default_max_tokens = default_max_tokens
        with without_extra_buffer_types(cpu_has_amx()):
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
        self._state = LlamaState(self._llm)
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
        return self._state.n_tokens

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

    @contextmanager
    def _abortable(self, cancel: threading.Event) -> Iterator[None]:
        """While inside, setting ``cancel`` stops the running batch too, not only the next slice.

        llama.cpp asks between the operations of a batch (~650 times per batch) whether to stop. The check
        is installed only while a prefill runs: a prefill's batch of 8-16 tokens takes ~250 ms, which a
        real request (the speculative reply at the start of a pause) would otherwise wait out. It costs
        nothing measurable; aborting takes ~1 ms and llama.cpp drops the unfinished batch's cache
        entries, so the cache stays exactly the tokens read before it.
        """
        self._state.set_abort(cancel.is_set)
        try:
            yield
        finally:
            self._state.set_abort(None)

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
        saved = self._state.save()
        if saved is not None:
            self._snapshots.put(saved[0], saved[1], pinned=pinned)

    def _restore(self, snapshot: KvSnapshot) -> bool:
        if self._state.restore(list(snapshot.tokens), snapshot.data):
            return True
        log.warning("could not restore a KV snapshot; evaluating the prompt from the start")
        return False

    def _generate(self, job: _Job) -> None:
        request = job.request
        sampling = self.policy.sampling(request.sampling)
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
            temp=_or(sampling.temperature, QWEN_SAMPLING.temperature),
            top_p=_or(sampling.top_p, QWEN_SAMPLING.top_p),
            top_k=int(_or(sampling.top_k, QWEN_SAMPLING.top_k)),
            repeat_penalty=DEFAULT_REPEAT_PENALTY,
            presence_penalty=sampling.presence_penalty or 0.0,
            frequency_penalty=sampling.frequency_penalty or 0.0,
        )
        try:
            for token in generator:
                if job.cancel.is_set():
                    return
                if self._state.is_end_of_generation(token):
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
        """The prompt's tokens, with the policy's hints; the policy drops the oldest turns (with a
        warning) if it would not fit, and refuses what cannot (1007). The engine trims long
        conversations itself; this only keeps a request that slipped past it from failing outright."""
        rendered: dict[int, list[int]] = {}

        def count(messages: list[ChatMessage]) -> int:
            rendered[len(messages)] = self._tokenize_prompt(self._template.render(messages, request.tools))
            return len(rendered[len(messages)])

        messages = self.policy.messages(request)
        kept, _ = self.policy.fit(messages, count, self.n_ctx - MIN_REPLY_TOKENS)
        if len(kept) < len(messages):
            log.warning("prompt exceeded the context: dropped %d oldest messages", len(messages) - len(kept))
        return rendered[len(kept)]

    def _eval_prompt(
        self, tokens: Sequence[int], cancel: threading.Event, *, slice_tokens: int = PROMPT_SLICE_TOKENS
    ) -> int:
        """Bring the KV cache to exactly ``tokens``, reusing the longest common prefix; returns its length.

        llama-cpp-python's ``generate`` would reuse the prefix too, but evaluates the rest in one call
        that cannot be interrupted; slicing it here lets a cancelled request stop early. Afterwards the
        cache holds the whole prompt with fresh logits, which ``generate`` samples from directly.
        """
        llm, state = self._llm, self._state
        in_cache = common_prefix(state.tokens(), tokens)
        if in_cache == len(tokens) == state.n_tokens and state.logits_live:
            # Exactly this prompt was the last thing evaluated (a prefill of this turn): its last logits
            # are still live, so nothing is read again (one token would cost ~100 ms on 2 cores).
            log.debug("prompt: all %d tokens cached with their logits", in_cache)
            return in_cache
        matched, snapshot = self._snapshots.best_match(tokens)
        if snapshot is not None and matched >= in_cache + SNAPSHOT_MIN_GAIN_TOKENS:
            in_cache = matched if self._restore(snapshot) else 0
        reused = min(in_cache, len(tokens) - 1)
        if not state.keep(reused):  # the logits are of a token now dropped, until the next eval
            state.reset()
            reused = 0
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


def _or(value: float | None, default: float | None) -> float:
    chosen = value if value is not None else default
    assert chosen is not None
    return chosen
