"""Saved copies of the LLM's KV cache, so conversations that take turns on one model keep their prefix.

llama.cpp holds one KV cache. When sessions A and B alternate, each of A's turns would find B's tokens
there and re-read A's whole history (seconds on two cores). A snapshot of one sequence's KV cells costs
~29 KB per token for Qwen2.5-1.5B and ~20-40 ms to save or restore for 500 tokens, far less than
re-evaluating them, so the backend keeps a few, least recently used first out, within a byte budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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
