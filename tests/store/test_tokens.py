"""The stores of ephemeral tokens (in memory, SQLite and Redis, one contract): a token's uses are counted
exactly, also by several servers racing for the last one; expired tokens are kept a while, then
forgotten; the SQLite file survives a restart and Redis expires its own keys."""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis_server import redis_server

from openlive.store import MemoryTokenStore, RedisTokenStore, SqliteTokenStore, TokenStore


class Clock:
    def __init__(self) -> None:
        self.now = 2_000_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``make_store()`` opens the kind's store; every call on one test reaches the same tokens, as the
    servers that share a file or a Redis do (memory: the one object)."""
    made: list[TokenStore] = []
    memory: list[MemoryTokenStore] = []

    def make(**kwargs: Any) -> TokenStore:
        store: TokenStore
        if kind == "memory":
            if not memory:
                memory.append(MemoryTokenStore(**kwargs))
            return memory[0]
        if kind == "sqlite":
            store = SqliteTokenStore(tmp_path / "state.db", **kwargs)
        else:
            url = request.getfixturevalue("redis_url")
            store = RedisTokenStore(url, prefix=f"test:{request.node.name}:", **kwargs)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def test_a_token_comes_back_as_stored(make_store: Callable[..., TokenStore]) -> None:
    clock = Clock()
    store = make_store(clock=clock)
    store.add("auth_tokens/a", '{"x": 1}', uses=3, expires=clock.now + 60)
    token = store.get("auth_tokens/a")
    assert token is not None
    assert (token.data, token.uses, token.expires, token.spent) == ('{"x": 1}', 3, clock.now + 60, 0)
    assert store.get("auth_tokens/unknown") is None
    assert not store.spend("auth_tokens/unknown")


def test_uses_are_spent_exactly_and_zero_means_any_number(make_store: Callable[..., TokenStore]) -> None:
    clock = Clock()
    store = make_store(clock=clock)
    store.add("auth_tokens/two", "{}", uses=2, expires=clock.now + 60)
    store.add("auth_tokens/any", "{}", uses=0, expires=clock.now + 60)
    assert [store.spend("auth_tokens/two") for _ in range(3)] == [True, True, False]
    spent = store.get("auth_tokens/two")
    assert spent is not None and spent.spent == 2
    assert all(store.spend("auth_tokens/any") for _ in range(5))


def test_servers_racing_for_the_last_uses_never_overspend(
    kind: str, make_store: Callable[..., TokenStore]
) -> None:
    """Four servers (four store objects on one file or one Redis), eight threads each, one token with
    five uses: exactly five spends succeed."""
    clock = Clock()
    stores = [make_store(clock=clock) for _ in range(4)]
    stores[0].add("auth_tokens/race", "{}", uses=5, expires=clock.now + 60)
    start = threading.Barrier(32)
    results: list[bool] = []
    lock = threading.Lock()

    def spend(store: TokenStore) -> None:
        start.wait()
        ok = store.spend("auth_tokens/race")
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=spend, args=(s,)) for s in stores for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 32
    assert results.count(True) == 5
    final = stores[3].get("auth_tokens/race")
    assert final is not None and final.spent == 5


def test_an_expired_token_is_kept_a_while_then_forgotten(make_store: Callable[..., TokenStore]) -> None:
    clock = Clock()
    store = make_store(clock=clock, keep_s=600.0)
    store.add("auth_tokens/old", "{}", uses=1, expires=clock.now + 10)
    clock.now += 300  # expired, still known: the server can say "expired" rather than "unknown"
    assert store.get("auth_tokens/old") is not None
    clock.now += 400
    assert store.get("auth_tokens/old") is None
    # Adding a token sweeps the ones long expired (Redis expires its keys by itself).
    store.add("auth_tokens/new", "{}", uses=1, expires=clock.now + 10)
    if not isinstance(store, RedisTokenStore):
        assert len(store) == 1


def test_discard_forgets_a_token(make_store: Callable[..., TokenStore]) -> None:
    clock = Clock()
    store = make_store(clock=clock)
    store.add("auth_tokens/d", "{}", uses=1, expires=clock.now + 60)
    store.discard("auth_tokens/d")
    assert store.get("auth_tokens/d") is None


def test_the_sqlite_file_outlives_the_process_with_its_counts_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.db"
    first = SqliteTokenStore(path)
    first.add("auth_tokens/p", '{"lock": true}', uses=2, expires=4_000_000_000.0)
    assert first.spend("auth_tokens/p")
    first.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reopened = SqliteTokenStore(path)  # as after a restart
    token = reopened.get("auth_tokens/p")
    assert token is not None and token.spent == 1 and token.data == '{"lock": true}'
    assert reopened.spend("auth_tokens/p") and not reopened.spend("auth_tokens/p")
    reopened.close()


def test_redis_deletes_a_token_key_after_its_expiry_plus_the_keep_time(redis_url: str) -> None:
    store = RedisTokenStore(redis_url, prefix="ttl:", keep_s=600.0)  # the real clock: Redis's own
    store.add("auth_tokens/soon", "{}", uses=1, expires=time.time() + 5)
    client = redis.Redis.from_url(redis_url)
    ttl_ms = client.pttl("ttl:auth_tokens/soon")
    assert 600_000 < ttl_ms <= 606_000
    client.close()
    store.close()
