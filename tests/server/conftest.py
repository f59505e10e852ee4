"""Fixtures for the server tests: a real uvicorn server (plain + TLS) on 127.0.0.1, over a scripted
engine. ``FakeEngine`` and ``ScriptedSession`` stand in for the real engine: unit tests only."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from openlive.engine import Engine, LiveSession, Outbox, Profile, SessionLimits
from openlive.engine.load import SessionLoad
from openlive.protocol.errors import CloseCode
from openlive.protocol.messages import (
    ClientContent,
    ClientMessage,
    Content,
    Part,
    RealtimeInput,
    ServerContent,
    Setup,
)
from openlive.server import ListenSpec, ServerHandle, create_app, start_servers
from openlive.server.devcert import ensure_dev_cert
from openlive.settings import Settings
from openlive.store import TokenStore

LIVE = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
MODEL = "models/gemini-2.5-flash-native-audio-preview-12-2025"
SETUP = json.dumps({"setup": {"model": MODEL}})


class ScriptedSession(LiveSession):
    """Answers realtime text ``X`` with ``{"serverContent":{"modelTurn":…"echo: X"}}`` and turnComplete.

    Special texts: ``slow`` streams 200 parts 10 ms apart, ``story`` streams 10 parts 100 ms apart and
    completes its turn, ``firehose`` sends 64 KiB parts as fast as it may until the session is closed,
    ``boom`` raises, ``bye`` closes with 1000.
    """

    def __init__(self, setup: Setup, outbox: Outbox, *, session_id: str, engine: FakeEngine) -> None:
        # LiveSession.__init__ (the real engine) is not run: this stands in for all of it.
        self.setup = setup
        self.outbox = outbox
        self.session_id = session_id
        self.limits = SessionLimits()
        self.engine = engine
        self.received: list[ClientMessage] = []
        self.started = False
        self.closed = False
        self.cancelled = False
        # What ``load()`` reports (the metrics' queue depths and lags); a test sets it.
        self.load_now = SessionLoad()

    async def start(self) -> None:
        self.started = True

    async def _say(self, text: str, *, complete: bool = True) -> None:
        await self.outbox.send(ServerContent(model_turn=Content(role="model", parts=[Part(text=text)])))
        if complete:
            await self.outbox.send(ServerContent(turn_complete=True))

    async def handle(self, message: ClientMessage) -> None:
        self.received.append(message)
        text = None
        if isinstance(message, RealtimeInput):
            text = message.text
        elif isinstance(message, ClientContent):
            text = "".join(t.text() for t in message.turns)
        if text is None:
            return
        if text == "boom":
            raise RuntimeError("scripted failure")
        if text == "bye":
            await self._say("goodbye")
            await self.outbox.close(CloseCode.NORMAL, "bye")
            return
        if text == "firehose":
            for _ in range(2000):
                if self.closed:
                    return
                # Random text: permessage-deflate would shrink anything repetitive to nothing.
                await self._say(base64.b64encode(os.urandom(48 * 1024)).decode(), complete=False)
            return
        if text == "story":
            for i in range(10):
                await self._say(f"line {i}", complete=False)
                await asyncio.sleep(0.1)
            await self.outbox.send(ServerContent(turn_complete=True))
            return
        if text == "slow":
            try:
                for i in range(200):
                    await self._say(f"part {i}", complete=False)
                    await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                self.cancelled = True
                raise
            return
        await self._say(f"echo: {text}")

    async def aclose(self) -> None:
        self.closed = True

    def load(self) -> SessionLoad:
        return self.load_now


class FakeEngine(Engine):
    """The real model catalog and readiness, with scripted sessions instead of models."""

    def __init__(self, *, ready: bool = True) -> None:
        self._gate = asyncio.Event()
        super().__init__({"fake": ("a scripted test profile", self._load_fake)}, default_profile="fake")
        self.sessions: list[ScriptedSession] = []
        if ready:
            self._profiles["fake"] = self._load_fake()
            self._ready.set()

    @staticmethod
    def _load_fake() -> Profile:
        return Profile(name="fake", description="fake", llm=None)  # type: ignore[arg-type]

    async def load(self) -> None:
        await self._gate.wait()  # tests decide when "loading" finishes
        await super().load()

    def finish_loading(self) -> None:
        self._gate.set()

    def open_session(
        self, setup: Setup, outbox: Outbox, *, session_id: str, api_version: str = "v1beta"
    ) -> LiveSession:
        self.catalog.resolve(setup.model, api_version=api_version)
        if not self.is_ready():
            from openlive.protocol.errors import internal_error

            raise internal_error("The service is currently unavailable.")
        session = ScriptedSession(setup, outbox, session_id=session_id, engine=self)
        self.sessions.append(session)
        return session


@dataclass
class LiveServer:
    handle: ServerHandle
    engine: FakeEngine
    settings: Settings
    cert: Path
    ctx: ssl.SSLContext = field(init=False)

    def __post_init__(self) -> None:
        self.ctx = ssl.create_default_context(cafile=str(self.cert))

    @property
    def http(self) -> str:
        lst = self.handle.listener(tls=False)
        assert lst is not None
        return f"http://127.0.0.1:{lst.port}"

    @property
    def https(self) -> str:
        lst = self.handle.listener(tls=True)
        assert lst is not None
        return f"https://127.0.0.1:{lst.port}"

    @property
    def ws(self) -> str:
        return self.http.replace("http", "ws", 1)

    @property
    def wss(self) -> str:
        return self.https.replace("https", "wss", 1)

    def connect(self, path: str = LIVE, *, tls: bool = False, **kwargs: Any) -> Any:
        base = self.wss if tls else self.ws
        if tls:
            kwargs.setdefault("ssl", self.ctx)
        kwargs.setdefault("open_timeout", 5)
        kwargs.setdefault("close_timeout", 2)
        return connect(base + path, **kwargs)


@pytest.fixture(scope="session")
def dev_cert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_dev_cert(tmp_path_factory.mktemp("certs")).cert


ServerFactory = Callable[..., Awaitable[LiveServer]]


@pytest.fixture
async def server_factory(dev_cert: Path) -> AsyncIterator[ServerFactory]:
    started: list[LiveServer] = []

    async def start(
        *, ready: bool = True, token_store: TokenStore | None = None, **overrides: Any
    ) -> LiveServer:
        values: dict[str, Any] = {
            "setup_timeout_s": 2.0,
            "max_message_bytes": 256 * 1024,
            "max_messages_per_second": 200.0,
            "message_burst": 400,
            "max_sessions": 16,
        }
        values.update(overrides)
        settings = Settings(**values)
        engine = FakeEngine(ready=ready)
        app = create_app(engine, settings, tokens=token_store)
        key = dev_cert.with_name("key.pem")
        specs = [ListenSpec("127.0.0.1", 0), ListenSpec("127.0.0.1", 0, dev_cert, key)]
        handle = await start_servers(app, settings, specs)
        server = LiveServer(handle, engine, settings, dev_cert)
        started.append(server)
        return server

    yield start
    for server in started:
        server.engine.finish_loading()
        await server.handle.stop()


@pytest.fixture
async def server(server_factory: ServerFactory) -> LiveServer:
    return await server_factory()


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    frame = await asyncio.wait_for(ws.recv(), timeout)
    obj = json.loads(frame)
    assert isinstance(obj, dict)
    return obj


async def open_session(ws: ClientConnection, setup: str = SETUP) -> dict[str, Any]:
    await ws.send(setup)
    first = await recv_json(ws)
    assert "setupComplete" in first, first
    return first


async def expect_close(ws: ClientConnection, timeout: float = 5.0) -> tuple[int, str]:
    """Read until the server closes; the close code and reason it sent."""
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    assert ws.close_code is not None, "the connection did not close"
    return ws.close_code, ws.close_reason or ""


async def echo(ws: ClientConnection, text: str) -> str:
    await ws.send(json.dumps({"realtimeInput": {"text": text}}))
    msg = await recv_json(ws)
    reply = msg["serverContent"]["modelTurn"]["parts"][0]["text"]
    done = await recv_json(ws)
    assert done == {"serverContent": {"turnComplete": True}}, done
    assert isinstance(reply, str)
    return reply


async def assert_session_works(server: LiveServer, ws: ClientConnection | None = None) -> None:
    """A session (the given one, or a fresh one) still answers."""
    if ws is not None:
        assert await echo(ws, "still there?") == "echo: still there?"
        return
    async with server.connect() as fresh:
        await open_session(fresh)
        assert await echo(fresh, "hello") == "echo: hello"
