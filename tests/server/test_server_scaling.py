"""What replicas behind a load balancer rely on, over real uvicorn servers: ephemeral tokens shared through
the token store (SQLite file, real Redis), readiness, admission (per replica, per key), and the drain on
SIGTERM (goAway with the time left, replies in progress finish, new connections refused with HTTP 503)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis_server import redis_server
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from conftest import (
    MODEL,
    SETUP,
    LiveServer,
    ServerFactory,
    assert_session_works,
    echo,
    expect_close,
    open_session,
    recv_json,
)
from openlive.server import serve_until_signalled
from openlive.server.connection import KEY_QUOTA_REASON
from openlive.server.state import SHUTDOWN_REASON
from openlive.server.tokens import USED_UP_REASON
from openlive.store import RedisTokenStore, SqliteTokenStore, TokenStore

CONSTRAINED = "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], TokenStore]]:
    """Opens another handle on one shared token store, as each replica (or a restarted one) does."""
    opened: list[TokenStore] = []

    def open_store() -> TokenStore:
        store: TokenStore
        if request.param == "sqlite":
            store = SqliteTokenStore(tmp_path / "state.db")
        else:
            store = RedisTokenStore(request.getfixturevalue("redis_url"), prefix=f"{request.node.name}:")
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


async def mint(server: LiveServer, body: dict[str, Any], key: str = "secret-1") -> str:
    async with httpx.AsyncClient(base_url=server.http) as http:
        resp = await http.post("/v1alpha/auth_tokens", json=body, headers={"x-goog-api-key": key})
    assert resp.status_code == 200, resp.text
    name = resp.json()["name"]
    assert isinstance(name, str)
    return name


async def readyz(server: LiveServer) -> tuple[int, str]:
    async with httpx.AsyncClient(base_url=server.http) as http:
        resp = await http.get("/readyz")
    return resp.status_code, resp.json()["status"]


# --------------------------------------------------------------------------------------------------
# Ephemeral tokens across replicas


async def test_a_token_minted_on_one_replica_opens_one_session_on_another_exactly_once(
    server_factory: ServerFactory, shared_store: Callable[[], TokenStore]
) -> None:
    one = await server_factory(api_keys=["secret-1"], token_store=shared_store())
    other = await server_factory(api_keys=["secret-1"], token_store=shared_store())
    token = await mint(one, {"uses": 1})
    async with other.connect(CONSTRAINED + "?access_token=" + token) as ws:
        await open_session(ws)
        await assert_session_works(other, ws)
    for replica in (one, other):  # the one use is spent, wherever the next session tries
        async with replica.connect(CONSTRAINED + "?access_token=" + token) as ws:
            await ws.send(SETUP)
            assert await expect_close(ws) == (1008, USED_UP_REASON)
    # Resuming a session spends no use, on either replica.
    resume = json.dumps({"setup": {"model": MODEL, "sessionResumption": {"handle": "h-1"}}})
    async with one.connect(CONSTRAINED + "?access_token=" + token) as ws:
        await open_session(ws, resume)


async def test_a_token_and_its_spent_uses_survive_a_restart(
    server_factory: ServerFactory, shared_store: Callable[[], TokenStore]
) -> None:
    before = await server_factory(api_keys=["secret-1"], token_store=shared_store())
    token = await mint(before, {"uses": 2})
    async with before.connect(CONSTRAINED + "?access_token=" + token) as ws:
        await open_session(ws)
    await before.handle.stop()
    after = await server_factory(api_keys=["secret-1"], token_store=shared_store())  # "restarted"
    async with after.connect(CONSTRAINED + "?access_token=" + token) as ws:
        await open_session(ws)
    async with after.connect(CONSTRAINED + "?access_token=" + token) as ws:
        await ws.send(SETUP)
        assert await expect_close(ws) == (1008, USED_UP_REASON)


async def test_replicas_racing_for_a_tokens_last_use_start_one_session(
    server_factory: ServerFactory, shared_store: Callable[[], TokenStore]
) -> None:
    replicas = [await server_factory(api_keys=["secret-1"], token_store=shared_store()) for _ in range(2)]
    token = await mint(replicas[0], {"uses": 1})

    async def attempt(server: LiveServer) -> str:
        async with server.connect(CONSTRAINED + "?access_token=" + token) as ws:
            await ws.send(SETUP)
            first = json.loads(await asyncio.wait_for(ws.recv(), 5))
            return "opened" if "setupComplete" in first else "other"

    outcomes = await asyncio.gather(*(attempt(s) for s in replicas * 3), return_exceptions=True)
    assert sum(o == "opened" for o in outcomes) == 1, outcomes


# --------------------------------------------------------------------------------------------------
# Readiness and admission


async def test_readyz_says_when_a_replica_admits_sessions(server_factory: ServerFactory) -> None:
    loading = await server_factory(ready=False)
    assert await readyz(loading) == (503, "loading")
    server = await server_factory(max_sessions=1)
    assert await readyz(server) == (200, "ready")
    async with server.connect() as ws:
        await open_session(ws)
        assert await readyz(server) == (503, "full")
    for _ in range(100):
        if not server.handle.state.connections:
            break
        await asyncio.sleep(0.02)
    assert await readyz(server) == (200, "ready")


async def test_sessions_per_key_are_limited_per_key(server_factory: ServerFactory) -> None:
    server = await server_factory(api_keys=["secret-1", "secret-2"], max_sessions_per_key=1)
    async with server.connect(keyed_path("secret-1")) as first:
        await open_session(first)
        async with server.connect(keyed_path("secret-1")) as second:
            assert await expect_close(second) == (1008, KEY_QUOTA_REASON)
        # A token counts for the key that minted it.
        token = await mint(server, {"uses": 0}, key="secret-1")
        async with server.connect(CONSTRAINED + "?access_token=" + token) as third:
            assert await expect_close(third) == (1008, KEY_QUOTA_REASON)
        async with server.connect(keyed_path("secret-2")) as other_key:
            await open_session(other_key)
            await assert_session_works(server, other_key)
        await assert_session_works(server, first)
    # The key's slot is free again once its session has ended.
    for _ in range(100):
        if not server.handle.state.sessions_by_key:
            break
        await asyncio.sleep(0.02)
    async with server.connect(keyed_path("secret-1")) as again:
        await open_session(again)


def keyed_path(key: str) -> str:
    return "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=" + key


# --------------------------------------------------------------------------------------------------
# Drain


async def refused_status(server: LiveServer) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with server.connect():
            pass
    return refused.value.response.status_code


async def read_story(ws: ClientConnection) -> tuple[list[str], float | None]:
    """The parts of a ``story`` reply up to its turnComplete, and the goAway's time left if one came."""
    parts: list[str] = []
    time_left = None
    while True:
        msg = await recv_json(ws)
        if "goAway" in msg:
            time_left = float(msg["goAway"]["timeLeft"].removesuffix("s"))
        elif msg.get("serverContent", {}).get("turnComplete"):
            return parts, time_left
        else:
            parts.append(msg["serverContent"]["modelTurn"]["parts"][0]["text"])


async def test_a_drain_lets_replies_finish_closes_idle_sessions_and_refuses_new_ones(
    server: LiveServer,
) -> None:
    state = server.handle.state
    async with server.connect() as idle, server.connect() as busy:
        await open_session(idle)
        await open_session(busy)
        await busy.send(json.dumps({"realtimeInput": {"text": "story"}}))  # ~1 s of reply
        assert (await recv_json(busy))["serverContent"]["modelTurn"]["parts"][0]["text"] == "line 0"
        drain = asyncio.create_task(state.drain(10.0))
        # The idle session hears goAway with the time left, then is closed at once.
        go_away = await recv_json(idle)
        assert 9.0 < float(go_away["goAway"]["timeLeft"].removesuffix("s")) <= 10.0
        assert await expect_close(idle) == (1001, SHUTDOWN_REASON)
        # Not ready, and a new connection is refused at the handshake, while the drain goes on.
        assert await readyz(server) == (503, "draining")
        assert await refused_status(server) == 503
        # The reply in progress finishes, then its session is closed.
        parts, time_left = await read_story(busy)
        assert parts == [f"line {i}" for i in range(1, 10)]
        assert time_left is not None and time_left > 8.0
        assert await expect_close(busy) == (1001, SHUTDOWN_REASON)
        await asyncio.wait_for(drain, 5)
    assert state.metrics.value("openlive_handshakes_refused_total", reason="draining") == 1
    assert state.metrics.value("openlive_draining") == 1


async def test_a_drain_closes_what_is_still_open_when_its_time_is_up(server: LiveServer) -> None:
    async with server.connect() as ws:
        await open_session(ws)
        await ws.send(json.dumps({"realtimeInput": {"text": "slow"}}))  # 2 s, never completes its turn
        await recv_json(ws)
        started = time.monotonic()
        await server.handle.state.drain(0.5)
        assert time.monotonic() - started < 4.0  # the bound, plus the closes' own moment
        code, _ = await expect_close(ws)
        assert code == 1001


async def test_sigterm_drains_and_a_second_signal_ends_the_drain_at_once(server: LiveServer) -> None:
    """``serve_until_signalled``, as ``openlive serve`` runs it: SIGTERM starts a drain bounded by
    ``drain_s``; a second SIGTERM closes every session now."""
    async with server.connect() as ws:
        await open_session(ws)
        await ws.send(json.dumps({"realtimeInput": {"text": "slow"}}))
        await recv_json(ws)
        serving = asyncio.create_task(serve_until_signalled(server.handle, drain_s=60.0))
        await asyncio.sleep(0.1)  # its signal handlers are installed
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100):
            if server.handle.state.draining:
                break
            await asyncio.sleep(0.02)
        assert await readyz(server) == (503, "draining")
        await asyncio.sleep(0.3)
        assert not serving.done()  # the reply is still going: the drain waits for it
        started = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(serving, 10)
        assert time.monotonic() - started < 8.0
        code, _ = await expect_close(ws)
        assert code == 1001


async def test_a_session_still_works_on_a_replica_that_is_not_draining(server: LiveServer) -> None:
    """Sanity for the fixtures above: ``story`` completes its turn outside a drain too."""
    async with server.connect() as ws:
        await open_session(ws)
        await ws.send(json.dumps({"realtimeInput": {"text": "story"}}))
        parts, time_left = await read_story(ws)
        assert len(parts) == 10 and time_left is None
        assert await echo(ws, "after") == "echo: after"


async def test_a_connection_admitted_before_the_drain_starts_no_session_during_it(server: LiveServer) -> None:
    async with server.connect() as ws:  # accepted, setup not sent yet
        drain = asyncio.create_task(server.handle.state.drain(5.0))
        await asyncio.sleep(0.1)
        await ws.send(SETUP)
        assert await expect_close(ws) == (1001, SHUTDOWN_REASON)
        await asyncio.wait_for(drain, 5)
    assert server.engine.sessions == []


# --------------------------------------------------------------------------------------------------
# Metrics


async def test_the_stage_marks_of_this_servers_turns_become_histograms(
    server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The engine's per-turn log line (``session <id> turn: speech_end +0 ms, ...``) of a session of this
    server is observed; one of another server in the same process is not."""
    caplog.set_level(logging.INFO, logger="openlive.engine")  # as `openlive serve` logs by default
    server = await server_factory()
    other = await server_factory()
    engine_log = logging.getLogger("openlive.engine.session")
    async with server.connect() as ws, other.connect() as elsewhere:
        await open_session(ws)
        await open_session(elsewhere)
        mine = server.engine.sessions[0].session_id
        theirs = other.engine.sessions[0].session_id
        engine_log.info("session %s turn: %s", mine, "start -40 ms, speech_end +0 ms, first_token +250 ms")
        engine_log.info("session %s turn: %s", theirs, "speech_end +0 ms, first_token +900 ms")
    metrics = server.handle.state.metrics
    assert metrics.value("openlive_turn_mark_seconds_count", mark="first_token") == 1
    assert metrics.value("openlive_turn_mark_seconds_sum", mark="first_token") == pytest.approx(0.25)
    assert metrics.value("openlive_turn_mark_seconds_count", mark="start") == 0  # before the speech end
    assert other.handle.state.metrics.value("openlive_turn_mark_seconds_sum", mark="first_token") == (
        pytest.approx(0.9)
    )
