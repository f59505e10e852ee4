"""The on-disk cache of long prompt prefixes' KV states: keying, the byte bound, damaged files, model change.

No model needed: the cache stores opaque state bytes under (model identity, exact tokens).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from openlive.backends.llm_kv_snapshots import PrefixDiskCache, model_fingerprint

MODEL = "sha256=aa;size=1;llama-cpp-python=0.3.36;kv=f16;flash_attn=False"


def test_a_stored_state_is_found_by_its_exact_tokens_only(tmp_path: Path) -> None:
    cache = PrefixDiskCache(tmp_path, 10_000, MODEL)
    assert cache.store([1, 2, 3], b"state-123") is not None
    assert cache.load([1, 2, 3]) == b"state-123"
    # A prefix of it, or a longer prompt, is another prefix: the state holds exactly its tokens.
    assert cache.load([1, 2]) is None
    assert cache.load([1, 2, 3, 4]) is None


def test_a_state_survives_a_new_cache_object_as_after_a_restart(tmp_path: Path) -> None:
    PrefixDiskCache(tmp_path, 10_000, MODEL).store([5, 6], b"kv")
    assert PrefixDiskCache(tmp_path, 10_000, MODEL).load([5, 6]) == b"kv"


def test_another_model_misses_even_with_a_file_of_the_same_name(tmp_path: Path) -> None:
    old = PrefixDiskCache(tmp_path, 10_000, MODEL)
    path = old.store([1, 2, 3], b"old weights' state")
    assert path is not None
    new = PrefixDiskCache(tmp_path, 10_000, MODEL.replace("sha256=aa", "sha256=bb"))
    assert new.load([1, 2, 3]) is None
    # Even if its file were found under the new model's name (a hash collision), the header says whose
    # state it is, and it is refused.
    path.rename(new.path_for([1, 2, 3]))
    assert new.load([1, 2, 3]) is None


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_a_damaged_file_is_a_miss_and_is_removed(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = PrefixDiskCache(tmp_path, 10_000, MODEL)
    path = cache.store([1, 2, 3], b"0123456789" * 20)
    assert path is not None
    blob = path.read_bytes()
    if damage == "truncate":
        blob = blob[:-7]
    elif damage == "flip":  # one bit of the state itself: only its checksum can tell
        blob = blob[:-5] + bytes([blob[-5] ^ 1]) + blob[-4:]
    elif damage == "garbage":
        blob = b"not a prefix cache file at all" * 10
    else:
        blob = b""
    path.write_bytes(blob)
    with caplog.at_level(logging.WARNING):
        assert cache.load([1, 2, 3]) is None
    assert not path.exists()
    assert "damaged" in caplog.text
    # And it is written again afterwards as if new.
    cache.store([1, 2, 3], b"fresh")
    assert cache.load([1, 2, 3]) == b"fresh"


def test_the_directory_is_bounded_least_recently_used_first_out(tmp_path: Path) -> None:
    state = b"x" * 1000
    cache = PrefixDiskCache(tmp_path, 3500, MODEL)  # room for three files of ~1.1 KB
    for i in range(3):
        cache.store([i], state)
        # mtimes one second apart, as a hit or a write refreshes them (the order LRU goes by)
        os.utime(cache.path_for([i]), (time.time() - 100 + i, time.time() - 100 + i))
    assert cache.load([0]) == state  # used now: the most recent
    cache.store([3], state)
    assert cache.load([1]) is None  # the least recently used went
    assert cache.load([0]) == state and cache.load([2]) == state and cache.load([3]) == state
    assert cache.size_bytes() <= 3500


def test_a_state_larger_than_the_whole_budget_is_not_written(tmp_path: Path) -> None:
    cache = PrefixDiskCache(tmp_path, 100, MODEL)
    assert cache.store([1], b"y" * 200) is None
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_directory_is_no_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the directory should be")
    cache = PrefixDiskCache(blocker / "sub", 10_000, MODEL)
    assert cache.store([1], b"z") is None
    assert cache.load([1]) is None


def test_model_fingerprint_uses_the_assembly_checksum_or_the_contents(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"weights")
    computed = model_fingerprint(model)
    assert computed.startswith("sha256=") and computed.endswith(";size=7")
    # The .sha256 file that weight assembly writes is trusted (hashing 1 GB takes seconds) ...
    model.with_name("m.gguf.sha256").write_text("ab" * 32 + "\n")
    assert model_fingerprint(model) == f"sha256={'ab' * 32};size=7"
    # ... but not a malformed one.
    model.with_name("m.gguf.sha256").write_text("not a digest")
    assert model_fingerprint(model) == computed
    # Other weights, another identity.
    model.write_bytes(b"weights2")
    assert model_fingerprint(model) != computed
