"""Saved copies of the LLM's KV cache, so conversations that take turns on one model keep their prefix.

llama.cpp holds one KV cache. When sessions A and B alternate, each of A's turns would find B's tokens
there and re-read A's whole history (seconds on two cores). A snapshot of one sequence's KV cells costs
~29 KB per token for Qwen2.5-1.5B and ~20-40 ms to save or restore for 500 tokens, far less than
re-evaluating them, so the backend keeps a few, least recently used first out, within a byte budget.

Long fixed prefixes (a session's instruction and tools) are kept in a cache of their own and, across
restarts, on disk (``PrefixDiskCache``), keyed by the model's identity (``model_fingerprint``) and the
exact tokens.
"""

from __future__ import annotations

import array
import contextlib
import hashlib
import logging
import os
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class KvSnapshot:
    tokens: tuple[int, ...]
    data: bytes
    # Pinned snapshots (the shared system prompt) are never evicted or superseded.
    pinned: bool = False


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class KvSnapshotCache:
    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._items: list[KvSnapshot] = []  # least recently used first

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size_bytes(self) -> int:
        return sum(len(s.data) for s in self._items)

    def best_match(self, tokens: Sequence[int]) -> tuple[int, KvSnapshot | None]:
        """The snapshot sharing the longest prefix with ``tokens``, and that prefix's length."""
        best: tuple[int, KvSnapshot | None] = (0, None)
        for snapshot in self._items:
            n = common_prefix(snapshot.tokens, tokens)
            if n > best[0]:
                best = (n, snapshot)
        if best[1] is not None:
            self._items.remove(best[1])
            self._items.append(best[1])
        return best

    def put(self, tokens: Sequence[int], data: bytes, *, pinned: bool = False) -> None:
        if len(data) > self.budget_bytes or not tokens:
            return
        new = KvSnapshot(tuple(tokens), data, pinned)
        # A snapshot whose tokens the new one extends is superseded: the new one serves every prompt it did.
        self._items = [
            s for s in self._items if s.pinned or common_prefix(s.tokens, new.tokens) < len(s.tokens)
        ]
        self._items.append(new)
        while self.size_bytes > self.budget_bytes:
            victim = next((s for s in self._items if not s.pinned), None)
            if victim is None or victim is new:
                break
            self._items.remove(victim)


def model_fingerprint(model_path: Path) -> str:
    """What identifies a model file's weights: its SHA-256 (from the ``.sha256`` file that weight assembly
    writes beside it, else computed once here, ~2 s for 1 GB) and its size.

    A KV state is only valid for the exact weights that computed it, so the on-disk prefix cache is keyed
    by this, not by the file's name: a new model in the same place misses instead of restoring garbage.
    """
    size = model_path.stat().st_size
    sidecar = model_path.with_name(model_path.name + ".sha256")
    digest = ""
    with contextlib.suppress(OSError):
        candidate = sidecar.read_text().strip().lower()
        if len(candidate) == 64 and all(c in "0123456789abcdef" for c in candidate):
            digest = candidate
    if not digest:
        h = hashlib.sha256()
        with model_path.open("rb") as fh:
            while chunk := fh.read(8 * 1024 * 1024):
                h.update(chunk)
        digest = h.hexdigest()
    return f"sha256={digest};size={size}"


_MAGIC = b"OLKVPFX1"
# magic, n_tokens, model-id bytes, data bytes, sha256 of the data
_HEADER = struct.Struct("<8sIIQ32s")


class PrefixDiskCache:
    """KV states of long prompt prefixes (a session's system instruction and tools) kept on disk.

    Reading a 13,000-token instruction takes minutes on two cores; its KV state (~28 KB a token with an
    f16 cache, half with q8_0) loads in well under a second. One file per prefix, named by a hash of the
    model's identity (``model_id``: weights, llama.cpp version, cache layout) and the exact prefix
    tokens; the file repeats both, so a hash collision or another model's file is a miss, never a wrong
    state. Files are written whole under a temporary name and renamed, so a crash leaves no half file;
    a file that fails its checks (truncated, bit rot, another format) is deleted and treated as a miss.
    The directory is bounded in bytes: the least recently used files (by modification time, which a hit
    refreshes) go first.
    """

    def __init__(self, directory: Path, budget_bytes: int, model_id: str) -> None:
        self.directory = directory
        self.budget_bytes = budget_bytes
        self.model_id = model_id

    def path_for(self, tokens: Sequence[int]) -> Path:
        h = hashlib.sha256(self.model_id.encode("utf-8") + b"\0")
        h.update(array.array("i", tokens).tobytes())
        return self.directory / f"{h.hexdigest()[:40]}.kv"

    def load(self, tokens: Sequence[int]) -> bytes | None:
        """The saved state of exactly ``tokens`` under this model, or None."""
        path = self.path_for(tokens)
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        data = self._parse(blob, tokens)
        if data is None:
            log.warning("ignoring a damaged or foreign prefix cache file %s", path)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: evicted last
        return data

    def store(self, tokens: Sequence[int], data: bytes) -> Path | None:
        """Write the state of ``tokens``; then evict the oldest files beyond the budget. None when the one
        state is larger than the whole budget (or the directory cannot be written)."""
        model = self.model_id.encode("utf-8")
        token_bytes = array.array("i", tokens).tobytes()
        header = _HEADER.pack(_MAGIC, len(tokens), len(model), len(data), hashlib.sha256(data).digest())
        size = len(header) + len(model) + len(token_bytes) + len(data)
        if size > self.budget_bytes or not tokens:
            return None
        path = self.path_for(tokens)
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as fh:
                for part in (header, model, token_bytes, data):
                    fh.write(part)
            os.replace(tmp, path)
        except OSError:
            log.warning("could not write the prefix cache file %s", path, exc_info=True)
            with contextlib.suppress(OSError):
                tmp.unlink()
            return None
        self.evict()
        return path

    def size_bytes(self) -> int:
        return sum(size for _, size, _ in self._files())

    def evict(self) -> None:
        files = sorted(self._files())  # oldest first
        total = sum(size for _, size, _ in files)
        for _, size, path in files:
            if total <= self.budget_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size

    def _files(self) -> list[tuple[float, int, Path]]:
        out: list[tuple[float, int, Path]] = []
        with contextlib.suppress(OSError):
            for path in self.directory.glob("*.kv"):
                with contextlib.suppress(OSError):
                    st = path.stat()
                    out.append((st.st_mtime, st.st_size, path))
        return out

    def _parse(self, blob: bytes, tokens: Sequence[int]) -> bytes | None:
        if len(blob) < _HEADER.size:
            return None
        magic, n_tokens, n_model, n_data, digest = _HEADER.unpack_from(blob)
        model_end = _HEADER.size + n_model
        tokens_end = model_end + 4 * n_tokens
        if magic != _MAGIC or n_tokens != len(tokens) or len(blob) != tokens_end + n_data:
            return None
        if blob[_HEADER.size : model_end] != self.model_id.encode("utf-8"):
            return None
        if blob[model_end:tokens_end] != array.array("i", tokens).tobytes():
            return None
        data = blob[tokens_end:]
        if hashlib.sha256(data).digest() != digest:
            return None
        return data
