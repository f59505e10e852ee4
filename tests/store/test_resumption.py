"""The stores of resumable sessions (in memory, SQLite and Redis, one contract): handles, a session's
newest three, expiry and the bound; what only the SQLite file does (persistence, privacy); and what only
Redis does (sharing between servers, expiry of its own keys)."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis_server import redis_server

from openlive.protocol.limits import MAX_TURNS
from openlive.protocol.messages import Content, FunctionCall, FunctionResponse, Part
from openlive.store import MemoryResumptionStore, RedisResumptionStore, SqliteResumptionStore

Store = MemoryResumptionStore | SqliteResumptionStore | RedisResumptionStore


def turn(role: str, text: str) -> Content:
    return Content(role=role, parts=[Part(text=text)])


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Store]]:
    made: list[SqliteResumptionStore | RedisResumptionStore] = []

    def make(**kwargs: Any) -> Store:
        store: SqliteResumptionStore | RedisResumptionStore
        if request.param == "memory":
            return MemoryResumptionStore(**kwargs)
        if request.param == "sqlite":
            store = SqliteResumptionStore(tmp_path / "resumption.db", **kwargs)
        else:  # each test in its own key space of the one server
            url = request.getfixturevalue("redis_url")
            store = RedisResumptionStore(url, prefix=f"test:{request.node.name}:", **kwargs)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def test_a_saved_history_comes_back_under_its_handle_as_a_copy(make_store: Callable[..., Store]) -> None:
    store = make_store()
    history = [turn("user", "My name is Alice."), turn("model", "Hello, Alice.")]
    handle = store.save(history)
    history.append(turn("user", "said after the save"))
    snapshot = store.load(handle)
    assert snapshot is not None
    assert [c.text() for c in snapshot.history] == ["My name is Alice.", "Hello, Alice."]
    assert store.load("not-a-handle") is None


def test_a_conversation_longer_than_one_message_holds_comes_back_whole(
    make_store: Callable[..., Store],
) -> None:
    store = make_store()
    history = [turn("user" if i % 2 == 0 else "model", f"turn {i}") for i in range(2 * MAX_TURNS + 5)]
    snapshot = store.load(store.save(history))
    assert snapshot is not None
    assert [c.text() for c in snapshot.history] == [c.text() for c in history]


def test_handles_are_long_and_random_and_a_session_keeps_its_last_three(
    make_store: Callable[..., Store],
) -> None:
    store = make_store()
    handles = [store.save([turn("user", "one")])]
    for i in range(3):
        handles.append(store.save([turn("user", "one"), turn("model", str(i))], replaces=handles[-1]))
    assert len(set(handles)) == 4 and all(len(h) >= 40 for h in handles)
    assert store.load(handles[0]) is None  # the oldest of four
    # An older handle resumes the conversation as it was when that handle was issued.
    kept = [store.load(h) for h in handles[1:]]
    assert [s.history[-1].text() for s in kept if s is not None] == ["0", "1", "2"]
    other = store.save([turn("user", "another session")])
    assert len(store) == 4 and store.load(other) is not None


def test_a_handle_expires_after_its_time_to_live(make_store: Callable[..., Store]) -> None:
    clock = Clock()
    store = make_store(ttl_s=60.0, clock=clock)
    handle = store.save([turn("user", "hi")])
    clock.now += 59.0
    assert store.load(handle) is not None
    clock.now += 1.5
    assert store.load(handle) is None
    assert len(store) == 0


def test_beyond_the_bound_the_oldest_handles_are_forgotten(make_store: Callable[..., Store]) -> None:
    store = make_store(max_handles=2)
    handles = [store.save([turn("user", str(i))]) for i in range(3)]
    assert store.load(handles[0]) is None
    assert all(store.load(h) is not None for h in handles[1:])
    assert len(store) == 2


def test_the_sqlite_file_outlives_the_store_is_private_and_keeps_every_part(tmp_path: Path) -> None:
    path = tmp_path / "state" / "resumption.db"
    history = [
        turn("user", "What's the weather in Paris?"),
        Content(
            role="model",
            parts=[Part(function_call=FunctionCall(id="c1", name="weather", args={"city": "Paris"}))],
        ),
        Content(
            role="user",
            parts=[
                Part(function_response=FunctionResponse(id="c1", name="weather", response={"sky": "clear"}))
            ],
        ),
        turn("model", "It is clear in Paris."),
    ]
    first = SqliteResumptionStore(path)
    handle = first.save(history)
    first.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # conversation text: the owner's only
    reopened = SqliteResumptionStore(path)  # as after a restart, or from another server process
    snapshot = reopened.load(handle)
    reopened.close()
    assert snapshot is not None and list(snapshot.history) == history


def test_redis_shares_handles_between_servers_and_lets_its_keys_expire(redis_url: str) -> None:
    history = [
        turn("user", "What's the weather in Paris?"),
        Content(
            role="model",
            parts=[Part(function_call=FunctionCall(id="c1", name="weather", args={"city": "Paris"}))],
        ),
        turn("model", "It is clear in Paris."),
    ]
    one = RedisResumptionStore(redis_url, prefix="shared:", ttl_s=30.0)
    other = RedisResumptionStore(redis_url, prefix="shared:", ttl_s=30.0)  # another server
    first = one.save(history)
    second = other.save(history[:1], replaces=first)  # the session went on on the other server
    snapshot = one.load(second)
    assert snapshot is not None and list(snapshot.history) == history[:1]
    loaded = other.load(first)
    assert loaded is not None and list(loaded.history) == history
    # Redis forgets the entries itself, without a save or a load to clean up.
    client = redis.Redis.from_url(redis_url)
    assert 0 < client.pttl(f"shared:h:{first}") <= 30_000
    client.close()
    one.close()
    other.close()
