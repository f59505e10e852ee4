"""The private parts of llama-cpp-python that the embedded LLM needs, behind one small adapter.

``LlamaCppLanguageModel`` manages the KV cache itself (reuse of a common prefix, snapshots per
conversation, abortable prefills), which llama-cpp-python's public API does not offer: it reaches into
``Llama``'s private fields and the low-level C bindings. Those calls are all here, and they are checked
against the one version they were written for (``PINNED_VERSION``, the version pyproject.toml pins), so
an upgrade fails at load with a clear message instead of misbehaving in the middle of a session.
"""

from __future__ import annotations

import ctypes
import importlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
import numpy.typing as npt

PINNED_VERSION = "0.3.36"


def check_version(found: str | None = None) -> None:
    """Raise if the installed llama-cpp-python is not the version this adapter was written for."""
    version = found if found is not None else str(getattr(llama_cpp, "__version__", "unknown"))
    if version != PINNED_VERSION:
        raise RuntimeError(
            f"llama-cpp-python {version} is installed; openlive's embedded LLM uses its private KV-cache "
            f"API as of {PINNED_VERSION} (backends/llama_adapter.py). Install llama-cpp-python=="
            f"{PINNED_VERSION}, or review the adapter for the new version."
        )


class LlamaState:
    """The KV cache and token state of one ``llama_cpp.Llama`` (used on its worker thread only)."""

    def __init__(self, llm: llama_cpp.Llama) -> None:
        self._llm = llm
        self._vocab = llm._model.vocab
        self._abort_fn: Any = None  # the ctypes callback must stay alive while installed

    def is_end_of_generation(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    @property
    def n_tokens(self) -> int:
        n: int = self._llm.n_tokens
        return n

    def tokens(self) -> list[int]:
        """The tokens whose keys and values the cache holds, in order."""
        out: list[int] = self._llm._input_ids.tolist()
        return out

    @property
    def logits_live(self) -> bool:
        """The logits of the last token in the cache are current (the next token can be sampled)."""
        return not self._llm._requires_eval

    def last_logits(self) -> npt.NDArray[np.float32]:
        """The logits after the last token evaluated (a view: valid until the next ``eval``)."""
        llm = self._llm
        logits = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(logits, shape=(llm._n_vocab,))

    def eval_keeping_logits(self, tokens: Sequence[int], at: int) -> npt.NDArray[np.float32]:
        """Evaluate ``tokens`` (one batch) after the cache, as ``Llama.eval`` does, and return a copy
        of the logits after ``tokens[at]`` as well as leaving the last token's live: two outputs of
        one batch, which costs no more than one (``Llama.eval`` keeps only the last)."""
        llm = self._llm
        if not 0 <= at < len(tokens) <= llm.n_batch:
            raise ValueError(f"cannot keep the logits at {at} of a batch of {len(tokens)}")
        llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
        n_past = llm.n_tokens
        llm._batch.set_batch(batch=tokens, n_past=n_past, logits_all=False)
        llm._batch.batch.logits[at] = True
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past : n_past + len(tokens)] = tokens
        llm.n_tokens += len(tokens)
        llm._requires_eval = False
        kept = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, at)
        return np.ctypeslib.as_array(kept, shape=(llm._n_vocab,)).copy()

    def keep(self, n: int) -> bool:
        """Keep the first ``n`` tokens of the cache, drop the rest; False when the cache cannot do it
        (the caller then resets it). The logits are stale until the next ``eval``."""
        llm = self._llm
        if n <= 0 or not llm._ctx.kv_cache_seq_rm(-1, n, -1):
            return False
        llm.n_tokens = n
        llm._requires_eval = True
        return True

    def reset(self) -> None:
        self._llm.reset()  # type: ignore[no-untyped-call]
        self._llm._requires_eval = True

    def save(self) -> tuple[list[int], bytes] | None:
        """The cache's tokens and its state, to restore later; None when it is empty."""
        llm = self._llm
        if llm.n_tokens == 0:
            return None
        size = llama_cpp.llama_state_seq_get_size(llm._ctx.ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llm._ctx.ctx, buffer, size, 0)
        if not written:
            return None
        return self.tokens(), ctypes.string_at(buffer, written)

    def restore(self, tokens: list[int], data: bytes) -> bool:
        """Put a saved state back; False (and an empty cache) when llama.cpp refuses it."""
        llm = self._llm
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if not llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buffer, len(data), 0):
            self.reset()
            return False
        llm.input_ids[: len(tokens)] = tokens
        llm.n_tokens = len(tokens)
        llm._requires_eval = True  # restored cells, but no logits: the next token must be evaluated
        return True

    def grammar_compiles(self, grammar: str) -> bool:
        """Whether llama.cpp accepts this GBNF (root rule ``root``) for this vocabulary.

        Checked before sampling with it: llama-cpp-python hands a grammar llama.cpp refuses on to the
        sampler chain as a null sampler, which crashes the process instead of raising.
        """
        sampler = llama_cpp.llama_sampler_init_grammar(self._vocab, grammar.encode("utf-8"), b"root")
        if not sampler:
            return False
        llama_cpp.llama_sampler_free(sampler)
        return True

    def set_abort(self, should_abort: Callable[[], bool] | None) -> None:
        """Install (or remove, with None) a check llama.cpp calls between a batch's operations."""
        if should_abort is None:
            llama_cpp.llama_set_abort_callback(self._llm._ctx.ctx, llama_cpp.ggml_abort_callback(), None)
            self._abort_fn = None
            return
        self._abort_fn = llama_cpp.ggml_abort_callback(lambda _data: should_abort())
        llama_cpp.llama_set_abort_callback(self._llm._ctx.ctx, self._abort_fn, None)


def cpu_has_amx() -> bool:
    try:
        return "amx_int8" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


# The fix to ggml's AMX matmul that scripts/patch_llama_cpp.py applies (see there).
AMX_FIX = "amx-tile-config"


def build_patches() -> frozenset[str]:
    """The fixes openlive's build (scripts/build-llama-cpp.sh) applied to the installed llama.cpp;
    empty for a stock build of llama-cpp-python."""
    try:
        marker = importlib.import_module("llama_cpp._openlive_patches")
    except ImportError:
        return frozenset()
    return frozenset(str(p) for p in getattr(marker, "PATCHES", ()))


def amx_faults(*, has_amx: bool | None = None, patches: frozenset[str] | None = None) -> bool:
    """Whether llama.cpp's AMX matmul would fault here: the CPU has AMX and the build lacks the fix."""
    has_amx = cpu_has_amx() if has_amx is None else has_amx
    patches = build_patches() if patches is None else patches
    return has_amx and AMX_FIX not in patches


@contextmanager
def without_extra_buffer_types(active: bool) -> Iterator[None]:
    """Load the model without llama.cpp's "extra" weight buffers (AMX tiles, repacked layouts).

    A stock build of llama-cpp-python 0.3.36 crashes in ggml's AMX matmul (SIGSEGV at ``ldtilecfg`` in
    ggml_backend_amx_mul_mat) on the first prompt batch of more than four tokens on Sapphire Rapids:
    the compiler drops the stores that fill its tile configuration. openlive's build fixes that
    (``amx_faults`` tells); with a stock one the extra buffers stay off. ``Llama()`` takes no option
    for it, so the default model parameters are patched while the model loads. Measured on a 2-core
    Sapphire Rapids VM (docs/benchmarks.md): with the fixed AMX matmul a 12-token batch at a
    3,000-token context takes ~285 ms instead of ~380, one decoded token ~7 % less.
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
