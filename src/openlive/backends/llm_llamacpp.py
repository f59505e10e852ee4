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

A session's fixed prefix (its system turn with the tools) of ``PREFIX_CACHE_MIN_TOKENS`` or more is
handled on its own: the engine prefills it right after setupComplete, it is read in large abortable
batches, resumed in the background when a real request stopped it, and once whole its KV state is kept
in memory and on disk (``PrefixDiskCache``), so later sessions with the same instruction, also in a new
process, restore it instead of reading it again (minutes on two cores for 13,000 tokens).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import math
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
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
import numpy as np
import numpy.typing as npt
from llama_cpp.llama_grammar import LlamaGrammar

from openlive.backends.core_share import CoreShare, StepAside
from openlive.backends.llama_adapter import LlamaState, amx_faults, check_version, without_extra_buffer_types
from openlive.backends.llm_kv_snapshots import (
    KvSnapshot,
    KvSnapshotCache,
    PrefixDiskCache,
    common_prefix,
    model_fingerprint,
)
from openlive.backends.llm_prompt import TOOL_CALL_OPEN, ChatTemplate, RepeatedCalls, ToolCallParser
from openlive.backends.prompt_policy import (
    CALL_DECISION_LABEL,
    CALL_DECISION_NONE,
    EMBEDDED_POLICY,
    QWEN_SAMPLING,
    PromptPolicy,
    decision_line,
    offered,
)
from openlive.backends.tool_grammar import CallGrammars
from openlive.backends.tool_markup import bare_call_opening
from openlive.backends.tool_steering import CALL_ENDS, CallSteering, Steer
from openlive.protocol.errors import ProtocolError
from openlive.stages import (
    CallStarted,
    ChatDone,
    ChatEvent,
    ChatMessage,
    ChatRequest,
    TextDelta,
    ToolCallRequest,
)
from openlive.stages.language_model import ToolSpec

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
# A session's fixed prefix (system prompt and tools) this long or longer is kept as a KV state of its own,
# in memory and on disk, and read in the background until it is whole: below it, reading it again takes
# under ~2 s on 2 cores and the per-conversation snapshots cover it.
PREFIX_CACHE_MIN_TOKENS = 256
# A long prefix not yet cached is read in batches this long, with llama.cpp's abort check installed:
# a cancellation (a real request, for a prefill; a barge-in or a closed session, for a request) stops it
# within ~1 ms, so the batch size only sets throughput, and the work an abort throws away (at most one
# batch, a few seconds on 2 cores). Small batches read slower: 64 tokens ~1.5x slower than 512.
PREFIX_SLICE_TOKENS = 512
# A prefix read stopped by a real request keeps what it read as a snapshot when that is this much more
# than the snapshot it started from, so it resumes there afterwards instead of from the start.
PREFIX_PROGRESS_MIN_TOKENS = 256
# Unfinished background prefix reads remembered for resumption (the newest ones).
MAX_UNFINISHED_PREFIXES = 4
# A conversation's snapshot is saved after a request only when it is at most this share of the snapshot
# budget (half of 256 MiB: ~4,600 tokens, what every conversation held with the former 4k context): a
# 13,000-token prompt's state is ~370 MB, and copying it after every turn would cost ~0.5 s of the
# worker and push every other conversation out. A long prompt's fixed prefix is kept anyway (above).
SNAPSHOT_MAX_SHARE = 2
# Until a state has been saved once: Qwen2.5-1.5B's f16 cache (28 layers x 2 KV heads x 128 x 2 x 2 bytes).
DEFAULT_KV_BYTES_PER_TOKEN = 28 * 1024
KV_CACHE_TYPES = {"f16": llama_cpp.GGML_TYPE_F16, "q8_0": llama_cpp.GGML_TYPE_Q8_0}

_Emit = Callable[[ChatEvent | BaseException], None]


@dataclass(slots=True, eq=False)
class _Job:
    request: ChatRequest
    emit: _Emit
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass(slots=True, eq=False)
class _PrefillJob:
    request: ChatRequest
    # Set by every real request: the read stops at once, inside its batch (see _abortable).
    cancel: threading.Event = field(default_factory=threading.Event)
    # Set by a newer prefill of the same conversation: the read stops after the batch in progress, whose
    # tokens the newer one mostly shares (the same turn with a word more), so that work is kept rather
    # than thrown away. (Another conversation's newer prefill sets ``cancel``.)
    superseded: threading.Event = field(default_factory=threading.Event)
    # A resumed background read of a long prefix: newer prefills do not supersede it, real requests do.
    background: bool = False
    # Handed in while a real request waited or ran: not read, only its long prefix remembered.
    dropped: bool = False


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
        kv_cache_type: str = "f16",
        flash_attn: bool = False,
        prefix_memory_bytes: int = 1024 * 1024 * 1024,
        prefix_cache_dir: Path | None = None,
        prefix_disk_bytes: int = 4 * 1024 * 1024 * 1024,
        core_share: CoreShare | None = None,
    ) -> None:
        """``core_share``: what the profile's speech recognition holds while it decodes; prefills step
        aside for it (see core_share.py). None: they never do."""
        check_version()
        self._core_share = core_share
        if kv_cache_type not in KV_CACHE_TYPES:
            raise ValueError(
                f"kv_cache_type must be one of {', '.join(KV_CACHE_TYPES)}, not {kv_cache_type!r}"
            )
        if kv_cache_type != "f16" and not flash_attn:
            # llama.cpp stores V transposed without flash attention, which a quantized type cannot do.
            raise ValueError(f"a {kv_cache_type} KV cache needs flash_attn")
        self.name = name or model_path.stem
        self.policy = policy
        self.n_ctx = n_ctx
        self.default_max_tokens = default_max_tokens
        kv_type = KV_CACHE_TYPES[kv_cache_type]
        # llama.cpp's AMX or repacked weight buffers, unless this build's AMX matmul would crash.
        extra_buffers = not amx_faults()
        with without_extra_buffer_types(not extra_buffers):
            self._llm = llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                type_k=kv_type,
                type_v=kv_type,
                flash_attn=flash_attn,
                verbose=False,
            )
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError(f"{model_path} has no chat template in its metadata")
        self._template = ChatTemplate(template)
        self._state = LlamaState(self._llm)
        # What opens a call in the model's own format (Qwen2.5: one token), put in place of a bare one.
        self._call_open: list[int] = self._llm.tokenize(
            TOOL_CALL_OPEN.encode("utf-8"), add_bos=False, special=True
        )
        self._call_ends: dict[str, list[int]] = {
            end: self._llm.tokenize(end.encode("utf-8"), add_bos=False, special=True) for end in CALL_ENDS
        }
        # The call decision's usual ending, read with the prompt (see _decision_at), and the logits
        # after its label: (the prompt up to the label, the logits).
        self._none_tokens = self._decision_tokens(None)
        self._decision: tuple[tuple[int, ...], npt.NDArray[np.float32]] | None = None
        # Conversations' states after each request (small ones only, see SNAPSHOT_MAX_SHARE) ...
        self._snapshots = KvSnapshotCache(kv_snapshot_bytes)
        # ... and long fixed prefixes (whole, or read in part), with the shared system prompt pinned.
        self._prefixes = KvSnapshotCache(prefix_memory_bytes)
        self._kv_bytes_per_token = DEFAULT_KV_BYTES_PER_TOKEN
        # The state's layout depends on these as much as on the weights: a state saved under another
        # cache type, attention kernel or llama.cpp build is a miss (llama.cpp would refuse it anyway);
        # the weights' buffers change the matmul kernels, and so the state's values, a little.
        self._disk: PrefixDiskCache | None = None
        if prefix_cache_dir is not None and prefix_disk_bytes > 0:
            model_id = (
                f"{model_fingerprint(model_path)};llama-cpp-python={llama_cpp.__version__};"
                f"kv={kv_cache_type};flash_attn={flash_attn};extra_buffers={extra_buffers}"
            )
            self._disk = PrefixDiskCache(prefix_cache_dir, prefix_disk_bytes, model_id)
        # Disk writes of prefix states (hundreds of MB) happen here, off the LLM worker.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm-prefix-writer")
        # Fixed prefixes already computed, by system prompt and tools (tokenizing 40,000 characters
        # takes tens of milliseconds, on every request and interim prefill otherwise).
        self._prefix_memo: dict[tuple[str, str, int], list[int]] = {}
        # Tool-call grammars by the tools they allow (built and checked once per set of tools).
        self._grammars: dict[str, CallGrammars | None] = {}
        # Long prefixes whose background read a real request stopped; read on when the model is idle.
        self._unfinished: dict[tuple[int, ...], ChatRequest] = {}
        self.prefix_reads_done = 0  # long prefixes read whole and cached (for tests and logs)
        self.prefix_disk_hits = 0  # long prefixes restored from disk (for tests and logs)
        # One worker: the model has one KV cache. Its queue is FIFO, so sessions are served in arrival order.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm-llamacpp")
        # Real requests submitted and not yet finished or dropped, and the latest prefill: a prefill is
        # skipped while any real request waits or runs, and every real request cancels the prefill.
        self._lock = threading.Lock()
        self._requests: set[_Job] = set()
        self._prefill_job: _PrefillJob | None = None
        # The prefill the worker is reading now (it may have been superseded by ``_prefill_job``).
        self._prefill_running: _PrefillJob | None = None
        self._background: _PrefillJob | None = None  # a resumed read of a long prefix, queued or running
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

        job = _Job(request=offered(request), emit=emit)  # only the tools toolConfig lets it see
        with self._lock:
            self._requests.add(job)
            prefill, self._prefill_job = self._prefill_job, None
            running = self._prefill_running
            background, self._background = self._background, None
        if running is prefill:
            running = None
        if prefill is not None and _same_prompt(prefill.request, job.request):
            # It reads exactly this prompt (a pause's transcript, prefilled as the turn's last interim
            # one): letting it finish leaves nothing to read, and the first token is sampled at once. A
            # queued one is skipped (a real request waits), and the request reads it instead.
            prefill = None
        # A running prefill stops within ~1 ms; a queued one is dropped. One superseded by the newest
        # but still reading its batch stops too: the request must not wait for it.
        for stopped in (prefill, running, background):
            if stopped is not None:
                stopped.cancel.set()
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

        A long fixed prefix (system prompt and tools, ``PREFIX_CACHE_MIN_TOKENS`` or more) is restored
        from memory or disk when it was read before, by this process or an earlier one. Otherwise it
        is read whole and cached; a read that a real request (or a newer prefill) stops keeps what it
        read and goes on in the background once no real request waits, until the prefix is whole.
        """
        job = _PrefillJob(request=offered(request))
        with self._lock:
            if self._closed:
                return
            # Queued even while a real request waits or runs, but only so that a long prefix it would
            # read is remembered and read once the model is idle (see _run_prefill).
            job.dropped = bool(self._requests)
            older, self._prefill_job = self._prefill_job, job
        if older is not None:
            if _same_history(older.request, job.request):
                older.superseded.set()  # the same turn, a word on: its batch is the start of this one's
            else:
                # Another conversation's: the newer one replaces the cache (and no prefill is saved as a
                # snapshot), so finishing the batch would only take the cores from the speakers' ASR.
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
            saved = self._state.save()
            if saved is not None:
                self._prefixes.put(saved[0], saved[1], pinned=True)

        self._executor.submit(warm).result()
        return len(tokens)

    @property
    def kv_tokens(self) -> int:
        """How many tokens the KV cache holds now (the last prompt and what was generated after it)."""
        return self._state.n_tokens

    async def idle(self) -> None:
        """Wait until every request queued so far has finished or been dropped."""
        await asyncio.get_running_loop().run_in_executor(self._executor, lambda: None)

    def flush_prefix_writes(self) -> None:
        """Wait until every prefix state handed to the disk cache so far is written (blocking)."""
        self._writer.submit(lambda: None).result()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._unfinished.clear()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._writer.shutdown(wait=True)
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
            self._resume_unfinished()

    @contextmanager
    def _abortable(self, cancel: threading.Event) -> Iterator[StepAside]:
        """While inside, setting ``cancel`` stops the running batch too, not only the next slice, and the
        batch steps aside while speech recognition decodes (see core_share.py).

        llama.cpp asks between the operations of a batch (~650 times per batch) whether to stop. The check
        is installed only while a prefill runs: a prefill's batch of 8-16 tokens takes ~250 ms, which a
        real request (the speculative reply at the start of a pause) would otherwise wait out. It costs
        nothing measurable; aborting takes ~1 ms and llama.cpp drops the unfinished batch's cache
        entries, so the cache stays exactly the tokens read before it.
        """
        check = StepAside(self._core_share, cancel.is_set)
        self._state.set_abort(check)
        try:
            yield check
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
                skip = job.dropped or bool(self._requests)
                self._prefill_running = job
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
            prefix = self._prefix_length(job.request, tokens)
            if job.background and prefix and self._prefix_cached(tokens[:prefix]):
                return  # read meanwhile (by a real request of its session)
            # Even a prefill that will not run (superseded, or a real request waits) leaves its long
            # prefix to be read in the background, so that a session's instruction is read before its
            # first turn however busy the model is.
            if skip or job.cancel.is_set() or job.superseded.is_set():
                if prefix and not self._prefix_cached(tokens[:prefix]):
                    self._remember_unfinished(tokens[:prefix], job.request)
                return
            slice_tokens = self._slice_tokens(tokens, prefix, PREFILL_SLICE_TOKENS)
            decision_at = self._decision_at(job.request, tokens)
            # The session's first prefill (no turn yet) says whether its instruction was read before.
            announce = all(m.role == "system" for m in job.request.messages)
            with self._abortable(job.cancel) as check:
                self._eval_prompt(
                    tokens,
                    job.cancel,
                    slice_tokens=slice_tokens,
                    prefix=prefix,
                    request=job.request,
                    announce=announce,
                    decision_at=decision_at,
                    superseded=job.superseded,
                )
            if check.waited_s:
                log.debug("prompt: the prefill stepped aside %.0f ms for recognition", check.waited_s * 1000)
            if self._state.n_tokens == len(tokens) and not job.cancel.is_set() and not job.background:
                self.prefills_done += 1
        except ProtocolError as exc:  # the client's input: the real request refuses it
            log.info("prompt prefill skipped: %s", exc.reason)
        except Exception:  # best effort: the real request reports real problems
            log.warning("prompt prefill failed", exc_info=True)
        finally:
            with self._lock:
                if self._prefill_job is job:
                    self._prefill_job = None
                if self._prefill_running is job:
                    self._prefill_running = None
                if self._background is job:
                    self._background = None
            self._resume_unfinished()

    def _save_snapshot(self) -> None:
        n = self._state.n_tokens
        if n * self._kv_bytes_per_token > self._snapshots.budget_bytes // SNAPSHOT_MAX_SHARE:
            # A long prompt: its fixed prefix is kept (``_store_prefix``); the turns after it are read
            # again if another conversation's request comes in between.
            log.debug("no KV snapshot of %d tokens (over a %d share of the budget)", n, SNAPSHOT_MAX_SHARE)
            return
        saved = self._state.save()
        if saved is not None:
            self._kv_bytes_per_token = max(1, len(saved[1]) // len(saved[0]))
            self._snapshots.put(saved[0], saved[1])

    # -- long fixed prefixes ---------------------------------------------------------------------------

    def _prefix_length(self, request: ChatRequest, tokens: Sequence[int]) -> int:
        """How many of ``tokens`` are the request's fixed prefix (the system turn with the tools, and the
        call decision's opener, up to its end marker) when that is long enough to cache on its own;
        else 0."""
        messages = self.policy.messages(request)
        if not messages or messages[0].role != "system":
            return 0
        fixed = self.policy.fixed_messages(request)
        key = (messages[0].content, repr(list(request.tools)), fixed)
        prefix = self._prefix_memo.get(key)
        if prefix is None:
            text = self._template.render(messages[:fixed], request.tools, add_generation_prompt=False)
            prefix = self._tokenize_prompt(text)
            if len(self._prefix_memo) >= 16:
                self._prefix_memo.pop(next(iter(self._prefix_memo)))
            self._prefix_memo[key] = prefix
        n = common_prefix(prefix, tokens)
        return n if n >= PREFIX_CACHE_MIN_TOKENS else 0

    def _slice_tokens(self, tokens: Sequence[int], prefix: int, default: int) -> int:
        """Large batches when most of a long prefix is still to be read (``PREFIX_SLICE_TOKENS``)."""
        if not prefix or self._prefix_cached(tokens[:prefix]):
            return default
        in_cache = max(common_prefix(self._state.tokens(), tokens), self._best_snapshot(tokens)[0])
        return PREFIX_SLICE_TOKENS if prefix - in_cache > PREFIX_SLICE_TOKENS else default

    def _prefix_cached(self, prefix: Sequence[int]) -> bool:
        matched, _ = self._prefixes.best_match(prefix)
        if matched == len(prefix):
            return True
        return self._disk is not None and self._disk.path_for(prefix).is_file()

    def _load_prefix(self, prefix: Sequence[int]) -> KvSnapshot | None:
        """The prefix's state from the disk cache (then also kept in memory), or None."""
        if self._disk is None:
            return None
        started = time.perf_counter()
        data = self._disk.load(prefix)
        if data is None:
            return None
        snapshot = KvSnapshot(tuple(prefix), data)
        self._prefixes.put(snapshot.tokens, data)
        self.prefix_disk_hits += 1
        log.info(
            "cached prompt prefix used: %d tokens (instruction and tools) loaded from the disk cache "
            "(%.0f MB in %.2f s), not read again",
            len(prefix),
            len(data) / 1e6,
            time.perf_counter() - started,
        )
        return snapshot

    def _store_prefix(self, prefix: Sequence[int], read: int, seconds: float) -> None:
        """The cache holds exactly ``prefix``: keep its state in memory and (in the background) on disk."""
        saved = self._state.save()
        if saved is None:
            return
        tokens, data = saved
        self._kv_bytes_per_token = max(1, len(data) // len(tokens))
        self._prefixes.put(tokens, data)
        self.prefix_reads_done += 1
        log.info(
            "prompt prefix of %d tokens (instruction and tools) read (%d new in %.1f s) and cached (%.0f MB)",
            len(tokens),
            read,
            seconds,
            len(data) / 1e6,
        )
        with self._lock:
            self._unfinished.pop(tuple(tokens), None)
        if self._disk is not None:
            disk = self._disk
            with contextlib.suppress(RuntimeError):  # closing: the state is simply not kept on disk
                self._writer.submit(disk.store, tokens, data)

    def _keep_progress(self, prefix: Sequence[int], request: ChatRequest | None) -> None:
        """A read of a long prefix stopped part way: keep what it read, and read on later."""
        n = self._state.n_tokens
        if n >= len(prefix) or common_prefix(self._state.tokens(), prefix) < n:
            return
        if request is not None:
            self._remember_unfinished(prefix, request)
        before, _ = self._prefixes.best_match(prefix[:n])
        if n - before < PREFIX_PROGRESS_MIN_TOKENS:
            return
        saved = self._state.save()
        if saved is not None:
            self._prefixes.put(saved[0], saved[1])
            log.info("prompt prefix read stopped at %d of %d tokens; kept to resume", n, len(prefix))

    def _remember_unfinished(self, prefix: Sequence[int], request: ChatRequest) -> None:
        with self._lock:
            if self._closed:
                return
            key = tuple(prefix)
            self._unfinished.pop(key, None)
            self._unfinished[key] = request  # the newest last
            while len(self._unfinished) > MAX_UNFINISHED_PREFIXES:
                self._unfinished.pop(next(iter(self._unfinished)))

    def _resume_unfinished(self) -> None:
        """Queue the read of the newest unfinished long prefix, when nothing else waits for the model."""
        with self._lock:
            if self._closed or self._requests or self._background is not None or not self._unfinished:
                return
            if self._prefill_job is not None and not self._prefill_job.cancel.is_set():
                return  # it runs next, and resumes the read when it ends
            _, request = self._unfinished.popitem()
            job = _PrefillJob(request=request, background=True)
            self._background = job
        log.debug("resuming the read of a long prompt prefix in the background")
        with contextlib.suppress(RuntimeError):  # closed meanwhile
            self._executor.submit(self._run_prefill, job)

    def _restore(self, snapshot: KvSnapshot) -> bool:
        if self._state.restore(list(snapshot.tokens), snapshot.data):
            return True
        log.warning("could not restore a KV snapshot; evaluating the prompt from the start")
        return False

    def _generate(self, job: _Job) -> None:
        request = job.request
        sampling = self.policy.sampling(request.sampling)
        tokens = self._fit_prompt(request)
        prefix = self._prefix_length(request, tokens)
        decision_at = self._decision_at(request, tokens)
        slice_tokens = self._slice_tokens(tokens, prefix, PROMPT_SLICE_TOKENS)
        if slice_tokens == PREFIX_SLICE_TOKENS:  # a long read: a cancellation stops it inside a batch
            with self._abortable(job.cancel):
                cached = self._eval_prompt(
                    tokens,
                    job.cancel,
                    slice_tokens=slice_tokens,
                    prefix=prefix,
                    request=request,
                    decision_at=decision_at,
                )
        else:
            cached = self._eval_prompt(
                tokens, job.cancel, prefix=prefix, request=request, decision_at=decision_at
            )
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

        repeats = RepeatedCalls()

        def send(text: str, calls: list[ToolCallRequest]) -> None:
            nonlocal n_calls
            if text:
                job.emit(TextDelta(text=text))
            for call in repeats.fresh(calls):
                job.emit(call)
                n_calls += 1

        # Once the model opens a call, it is sampled under grammars of the declared tools; the text
        # around calls is sampled freely (see tool_steering).
        grammars = self._call_grammars(request.tools)
        steering = CallSteering(grammars) if grammars is not None else None
        context = list(tokens)  # the prompt and the tokens sampled so far

        def sample_from(grammar: str | None) -> Generator[int, Sequence[int] | None, None]:
            # All of ``context`` but its last token is in the KV cache already (or more, after a call was
            # taken back): a new generator reads that one token, as the old one would have, and samples
            # on under the new grammar.
            return self._llm.generate(
                context,
                temp=_or(sampling.temperature, QWEN_SAMPLING.temperature),
                top_p=_or(sampling.top_p, QWEN_SAMPLING.top_p),
                top_k=int(_or(sampling.top_k, QWEN_SAMPLING.top_k)),
                repeat_penalty=DEFAULT_REPEAT_PENALTY,
                presence_penalty=sampling.presence_penalty or 0.0,
                frequency_penalty=sampling.frequency_penalty or 0.0,
                grammar=LlamaGrammar.from_string(grammar) if grammar is not None else None,
            )

        def write(steer: Steer) -> None:
            # What the steering writes instead of sampling: appended to the context (read with the next
            # token's batch) and fed to the parser; a call it ends is sent at once.
            assert steering is not None
            if steer.named:  # a call the model opened itself, or one toolConfig ANY requires
                job.emit(CallStarted(name=steer.named))
            if steer.write:
                context.extend(self._llm.tokenize(steer.write.encode("utf-8"), add_bos=False, special=False))
                raw.append(steer.write)
                send(*parser.feed(steer.write))
            if steer.close_with:
                context.extend(self._call_ends[steer.close_with])
                raw.append(steer.close_with)
                send(*parser.feed(steer.close_with))
                steering.call_ended(len(context) - len(tokens))

        # The start of the reply, held while it may be a bare JSON call (see bare_call_opening).
        opening: str | None = "" if steering is not None else None
        raw: list[str] = []  # the reply as sampled, markup and all (for the debug log)
        first_grammar: str | None = None
        if steering is not None and request.tool_choice.mode == "required":
            # toolConfig ANY: the reply opens with a call of one of the (allowed) declared functions.
            context += self._call_open
            completion = len(self._call_open)
            parser.feed(TOOL_CALL_OPEN)
            raw.append(TOOL_CALL_OPEN)
            opening = None
            first_grammar = steering.require_call()
        elif steering is not None and decision_at is not None:
            # The reply opens with the call decision, taken here and never shown (see prompt_policy).
            called = self._decide_call(context, request, raw, decision_at)
            completion = len(context) - len(tokens)
            if called is not None:
                job.emit(CallStarted(name=called))  # the engine may speak while the call is written
                # Written, not sampled: the call's shape up to the first thing the model must choose
                # (``{"name": "vote_for_session", "arguments": {"session_id": "``: twelve tokens, over a
                # second of decoding on 2 cores with a long prompt, read in one batch instead).
                context += self._call_open
                parser.feed(TOOL_CALL_OPEN)
                raw.append(TOOL_CALL_OPEN)
                opening = None
                decided = steering.decided(called)
                write(decided)
                completion = len(context) - len(tokens)
                first_grammar = decided.grammar
        generator = sample_from(first_grammar)
        try:
            while True:
                steer: Steer | None = None
                for token in generator:
                    if job.cancel.is_set():
                        return
                    if self._state.is_end_of_generation(token):
                        break
                    completion += 1
                    context.append(token)
                    piece = decoder.decode(self._llm.detokenize([token]))
                    if opening is not None:
                        opening += piece
                        verdict = bare_call_opening(opening)
                        if verdict == "wait" and completion < max_tokens:
                            continue
                        piece, opening = opening, None
                        if verdict == "call":
                            # A call written without its tag: the tokens sampled so far are replaced by
                            # the trained opening, and the call goes on under the grammars like any other.
                            # They were not read into the KV cache yet, so nothing is read again.
                            context[len(tokens) :] = self._call_open
                            completion = len(self._call_open)
                            piece = TOOL_CALL_OPEN
                    raw.append(piece)
                    send(*parser.feed(piece))
                    if completion >= max_tokens:
                        finish = "length"
                        break
                    if steering is not None:
                        steer = steering.after_token(piece, parser, completion)
                        if steer is not None:
                            break
                if steer is None or steer.stop:
                    break
                generator.close()
                write(steer)
                completion = len(context) - len(tokens)
                if steer.rewind_to is not None:  # a call taken back, or a bare one to open properly
                    del context[len(tokens) + steer.rewind_to :]
                    decoder.reset()
                    raw.append(" [rewound] ")
                    if steer.open_call:
                        context += self._call_open
                        parser.feed(TOOL_CALL_OPEN)
                        raw.append(TOOL_CALL_OPEN)
                    completion = len(context) - len(tokens)
                generator = sample_from(steer.grammar)
        finally:
            generator.close()
        if opening:  # the reply ended while undecided: ordinary text
            raw.append(opening)
            send(*parser.feed(opening))
        log.debug("reply as sampled: %.2000r", "".join(raw))
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
                malformed_tool_calls=parser.malformed,
            )
        )

    def _decide_call(
        self, context: list[int], request: ChatRequest, raw: list[str], decision_at: int
    ) -> str | None:
        """Take the reply's call decision: ``context`` is the prompt, read into the KV cache, with the
        decision's label at ``decision_at`` and "none" after it (see ``_decision_at``). Returns the
        function named, or None; for a call, ``context`` then ends with its name and line break instead.

        A reply to a function's result decides none without asking: the model says the result, and
        asking again invites the same call in a loop.
        """
        names = [t.name for t in request.tools if t.name != CALL_DECISION_NONE]
        answered = bool(request.messages) and request.messages[-1].role == "tool"
        chosen = None
        if names and not answered:
            chosen = self._pick_decision(context, names, self.policy.none_bias(request), decision_at)
        if chosen is not None:
            self._keep_through(context, decision_at + 1)
            del context[decision_at + 1 :]
            context += self._decision_tokens(chosen)
        raw.append(decision_line(chosen) + "\n")
        return chosen

    def _pick_decision(
        self, context: list[int], names: list[str], none_bias: float, decision_at: int
    ) -> str | None:
        """The option (a name, or None) whose tokens the model prefers, greedily, token by token.

        Each option is its tokens and the line break, so no option is a prefix of another; options share
        tokens only at their start, and the model is asked only where they part. "none" gets
        ``none_bias`` added at every choice it is part of (see ``PromptPolicy.none_bias``).
        """
        live: dict[str | None, list[int]] = {None: self._none_tokens}
        live.update({name: self._decision_tokens(name) for name in names})
        assert self._decision is not None and self._decision_kept(context, decision_at)
        logits = self._decision[1]
        step = 0
        while len(live) > 1:
            scores: dict[int, float] = {}
            for option, tokens in live.items():
                token = tokens[step]
                bias = none_bias if option is None else 0.0
                scores[token] = max(scores.get(token, -math.inf), float(logits[token]) + bias)
            token = max(scores, key=lambda t: scores[t])
            log.debug("call decision, step %d: %s", step, _ranked(scores, live, step))
            live = {option: tokens for option, tokens in live.items() if tokens[step] == token}
            if len(live) > 1:  # still undecided: read the shared token, and choose among what follows
                if step == 0:
                    self._keep_through(context, decision_at + 1)
                self._llm.eval([token])
                logits = self._state.last_logits()
            step += 1
        (option,) = live
        return option

    def _keep_through(self, context: list[int], n: int) -> None:
        """Bring the KV cache to ``context[:n]``, which it holds (and more): the rest is dropped, or, if
        llama.cpp cannot drop it, the cache is read again from the start."""
        if not self._state.keep(n):
            self._state.reset()
            self._llm.eval(context[:n])

    def _decision_tokens(self, name: str | None) -> list[int]:
        """The tokens of a decision after its label: `` <name or none>`` and the line break."""
        text = f" {name or CALL_DECISION_NONE}\n"
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _call_grammars(self, tools: Sequence[ToolSpec]) -> CallGrammars | None:
        """The grammars of calls of ``tools`` (None: no tools, or llama.cpp refused one of them)."""
        if not tools:
            return None
        key = repr(list(tools))
        if key not in self._grammars:
            grammars = CallGrammars.of(tools)
            compiled = all(self._state.grammar_compiles(g) for g in grammars.all())
            if not compiled:
                log.warning("llama.cpp refused a tool-call grammar; tool calls are sampled freely")
            if len(self._grammars) >= 16:
                self._grammars.pop(next(iter(self._grammars)))
            self._grammars[key] = grammars if compiled else None
        return self._grammars[key]

    def _tokenize_prompt(self, text: str) -> list[int]:
        # special=True: the template's <|im_start|> markers are control tokens, not text.
        tokens: list[int] = self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        return tokens

    def _fit_prompt(self, request: ChatRequest) -> list[int]:
        """The prompt's tokens, with the policy's hints; the policy drops the oldest turns (with a
        warning) if it would not fit, and refuses what cannot (1007). The engine trims long
        conversations itself; this only keeps a request that slipped past it from failing outright."""
        rendered: dict[int, list[int]] = {}
        # The reply's call decision opens with its label, which is part of the prompt: a prefill reads it
        # with the user's turn, and the decision is read from the prompt's own logits.
        label = CALL_DECISION_LABEL if self.policy.decides_calls(request) else ""

        def count(messages: list[ChatMessage]) -> int:
            text = self._template.render(messages, request.tools) + label
            rendered[len(messages)] = self._tokenize_prompt(text)
            return len(rendered[len(messages)])

        messages = self.policy.messages(request)
        kept, _ = self.policy.fit(messages, count, self.n_ctx - MIN_REPLY_TOKENS)
        if len(kept) < len(messages):
            log.warning("prompt exceeded the context: dropped %d oldest messages", len(messages) - len(kept))
        # ... and the decision most replies take, "none", is read with the prompt (see _decision_at).
        return rendered[len(kept)] + (self._none_tokens if label else [])

    def _decision_at(self, request: ChatRequest, tokens: Sequence[int]) -> int | None:
        """Where in ``tokens`` (``_fit_prompt``'s) the call decision's label ends, when the reply opens
        with one: the decision is read from the logits after that token.

        The prompt goes on with " none" and a line break, the decision most replies take, so that they
        are read in the same batch as the user's words (one batch costs about one decode step however
        short, ~100 ms with a 3k-token context on 2 cores) and the first word is sampled at once; the
        label's logits are kept from that batch. A call takes the two tokens back.
        """
        if not self.policy.decides_calls(request):
            return None
        return len(tokens) - len(self._none_tokens) - 1

    def _eval_prompt(
        self,
        tokens: Sequence[int],
        cancel: threading.Event,
        *,
        slice_tokens: int = PROMPT_SLICE_TOKENS,
        prefix: int = 0,
        request: ChatRequest | None = None,
        announce: bool = False,
        decision_at: int | None = None,
        superseded: threading.Event | None = None,
    ) -> int:
        """Bring the KV cache to exactly ``tokens``, reusing the longest common prefix; returns its length.

        llama-cpp-python's ``generate`` would reuse the prefix too, but evaluates the rest in one call
        that cannot be interrupted; slicing it here lets a cancelled request stop early. Afterwards the
        cache holds the whole prompt with fresh logits, which ``generate`` samples from directly.

        ``prefix`` is the length of the request's long fixed prefix (0: none): it is looked up on disk
        when neither the live cache nor a snapshot holds it, kept once read whole, and when the read
        stops part way, what was read is kept for ``request``'s background read to resume.

        ``decision_at``: the index of the call decision's label (see ``_decision_at``); the logits after
        it are kept too, from the batch that reads it (and it is read again when they were not).

        ``superseded`` (a prefill's): once set, the read stops after the batch in progress.
        """
        llm, state = self._llm, self._state
        in_cache = common_prefix(state.tokens(), tokens)
        decided = decision_at is None or self._decision_kept(tokens, decision_at)
        if in_cache == len(tokens) == state.n_tokens and state.logits_live and decided:
            # Exactly this prompt was the last thing evaluated (a prefill of this turn): its last logits
            # are still live, so nothing is read again (one token would cost ~100 ms on 2 cores).
            log.debug("prompt: all %d tokens cached with their logits", in_cache)
            self._announce(prefix, "the live KV cache", announce)
            return in_cache
        source = "the live KV cache"
        matched, snapshot = self._best_snapshot(tokens)
        if prefix and max(in_cache, matched) < prefix:
            loaded = self._load_prefix(tokens[:prefix])
            if loaded is not None:
                matched, snapshot, source = prefix, loaded, "the disk cache"
        if snapshot is not None and matched >= in_cache + SNAPSHOT_MIN_GAIN_TOKENS:
            in_cache = matched if self._restore(snapshot) else 0
            source = "a KV snapshot in memory" if source == "the live KV cache" else source
        reused = min(in_cache, len(tokens) - 1)
        if decision_at is not None and not decided:
            reused = min(reused, decision_at)
        if not state.keep(reused):  # the logits are of a token now dropped, until the next eval
            state.reset()
            reused = 0
        if prefix and reused >= prefix:
            self._announce(prefix, source, announce)
        # Where the read stops once, to keep the state of the long prefix on its own.
        store_at = prefix if prefix > reused and not self._prefix_cached(tokens[:prefix]) else 0
        started = time.perf_counter()
        position = reused
        while position < len(tokens):
            end = min(position + slice_tokens, len(tokens))
            if position < store_at < end:
                end = store_at
            if cancel.is_set() or (superseded is not None and superseded.is_set()):
                log.debug(
                    "prompt: %s after %d of %d new tokens",
                    "cancelled" if cancel.is_set() else "superseded",
                    position - reused,
                    len(tokens) - reused,
                )
                break
            try:
                if decision_at is not None and position <= decision_at < end:
                    logits = state.eval_keeping_logits(tokens[position:end], decision_at - position)
                    self._decision = (tuple(tokens[: decision_at + 1]), logits)
                else:
                    llm.eval(tokens[position:end])
            except RuntimeError:
                if not cancel.is_set():
                    raise
                # Aborted inside the batch (see _abortable): the cache holds the tokens before it.
                self.prefills_aborted += 1
                log.debug("prompt: aborted after %.0f ms", (time.perf_counter() - started) * 1000)
                break
            position = end
            if position == store_at:
                self._store_prefix(tokens[:store_at], store_at - reused, time.perf_counter() - started)
        else:
            log.debug(
                "prompt: %d tokens cached, %d read in %.0f ms",
                reused,
                len(tokens) - reused,
                (time.perf_counter() - started) * 1000,
            )
            return reused
        if prefix and position < prefix:
            self._keep_progress(tokens[:prefix], request)
        return reused

    def _decision_kept(self, tokens: Sequence[int], decision_at: int) -> bool:
        """Whether the logits after the label at ``decision_at`` are kept for this prompt."""
        kept = self._decision
        return (
            kept is not None
            and len(kept[0]) == decision_at + 1
            and kept[0] == tuple(tokens[: decision_at + 1])
        )

    def _best_snapshot(self, tokens: Sequence[int]) -> tuple[int, KvSnapshot | None]:
        prefixes = self._prefixes.best_match(tokens)
        conversations = self._snapshots.best_match(tokens)
        return conversations if conversations[0] > prefixes[0] else prefixes

    def _announce(self, prefix: int, source: str, announce: bool) -> None:
        if prefix:
            level = logging.INFO if announce else logging.DEBUG
            log.log(
                level, "cached prompt prefix used: %d tokens (instruction and tools) from %s", prefix, source
            )


def _same_history(a: ChatRequest, b: ChatRequest) -> bool:
    """Whether two requests are the same conversation up to their last message (interim transcripts of
    one turn)."""
    return a.messages[:-1] == b.messages[:-1] and a.tools == b.tools and a.tool_choice == b.tool_choice


def _same_prompt(a: ChatRequest, b: ChatRequest) -> bool:
    """Whether two requests make the same prompt (their sampling may differ)."""
    return _same_history(a, b) and a.messages[-1:] == b.messages[-1:]


def _ranked(scores: dict[int, float], options: dict[str | None, list[int]], step: int) -> str:
    """The options' scores at one step of the call decision, best first (for the debug log)."""
    named = sorted(((scores[t[step]], n or CALL_DECISION_NONE) for n, t in options.items()), reverse=True)
    return ", ".join(f"{name} {score:.1f}" for score, name in named)


def _or(value: float | None, default: float | None) -> float:
    chosen = value if value is not None else default
    assert chosen is not None
    return chosen
