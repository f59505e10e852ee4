"""The KV snapshot cache's bookkeeping: best prefix match, superseding, pinning, byte budget."""

from __future__ import annotations

from openlive.backends.llm_kv_snapshots import KvSnapshotCache, common_prefix


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2]) == 2


def test_best_match_picks_the_longest_shared_prefix() -> None:
    cache = KvSnapshotCache(budget_bytes=1000)
    cache.put([1, 2, 3, 4], b"a")
    cache.put([1, 2, 9, 9, 9], b"b")
    length, snapshot = cache.best_match([1, 2, 3, 4, 5])
    assert (length, snapshot.data if snapshot else None) == (4, b"a")
    assert cache.best_match([7]) == (0, None)


def test_a_longer_turn_of_the_same_conversation_supersedes_the_shorter() -> None:
    cache = KvSnapshotCache(budget_bytes=1000)
    cache.put([1, 2, 3], b"turn1")
    cache.put([1, 2, 3, 4, 5], b"turn2")
    assert len(cache) == 1
    assert cache.best_match([1, 2, 3])[1] is not None


def test_pinned_system_prompt_survives_superseding_and_eviction() -> None:
    cache = KvSnapshotCache(budget_bytes=10)
    cache.put([1, 2], b"sys", pinned=True)
    cache.put([1, 2, 3], b"conv-a")  # extends the pinned one, which stays
    cache.put([1, 2, 7], b"conv-b")  # over budget: the least recently used unpinned one goes
    assert len(cache) == 2
    assert cache.best_match([1, 2, 3])[0] == 2  # conv-a was evicted; the pinned prefix remains
    assert cache.best_match([1, 2, 7])[1] is not None


def test_recently_used_snapshots_are_kept_over_older_ones() -> None:
    cache = KvSnapshotCache(budget_bytes=8)
    cache.put([1], b"aaaa")
    cache.put([2], b"bbbb")
    cache.best_match([1])  # touch the first
    cache.put([3], b"cccc")
    assert cache.best_match([2]) == (0, None)
    assert cache.best_match([1])[0] == 1
    assert cache.size_bytes == 8


def test_snapshot_bigger_than_the_budget_is_not_kept() -> None:
    cache = KvSnapshotCache(budget_bytes=3)
    cache.put([1], b"toolong")
    assert len(cache) == 0
