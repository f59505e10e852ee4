"""FakeLiveServer: a scripted stand-in for a Live API server, for the client SDK's unit tests.

It speaks the wire protocol through the real codecs (so what it records is exactly what a server
would decode), listens on 127.0.0.1 on a free port (tests/support/fake_ws_server.py), answers ``setup``
with ``setupComplete`` unless told otherwise, and records every frame the client sends. Tests push server
messages with ``send``.
Imported by name (not a conftest), like the other test helper modules.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fake_ws_server import FakeWebSocketServer
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from openlive.protocol import decode_client_message
from openlive.protocol.messages import ClientMessage, Setup

SetupReply = Callable[[ServerConnection, Setup], Awaitable[None]]


async def reply_setup_complete(ws: ServerConnection, setup: Setup) -> None:
    # Binary JSON, as Google's service sends it (reference §1.2).
    await ws.send(b'{"setupComplete": {}}')


class FakeLiveServer(FakeWebSocketServer):
    def __init__(self, on_setup: SetupReply = reply_setup_complete) -> None:
        self.on_setup = on_setup
        self.frames: list[str] = []  # raw client frames, in order, setup included
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.connections: list[ServerConnection] = []
        self._arrived = asyncio.Condition()

    # ---------------------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        self.paths.append(ws.request.path if ws.request else "")
        self.headers.append({k.lower(): v for k, v in ws.request.headers.raw_items()} if ws.request else {})
        try:
            first = await ws.recv()
            await self._record(first)
            setup = decode_client_message(first)
            assert isinstance(setup, Setup), "the first client message must be setup"
            await self.on_setup(ws, setup)
            async for frame in ws:
                await self._record(frame)
        except ConnectionClosed:
            pass

    async def _record(self, frame: str | bytes) -> None:
        assert isinstance(frame, str), "the client must send text frames, as the SDKs do"
        async with self._arrived:
            self.frames.append(frame)
            self._arrived.notify_all()

    # ---------------------------------------------------------------------------------------------

    @property
    def ws(self) -> ServerConnection:
        return self.connections[-1]

    def json_frames(self) -> list[dict[str, Any]]:
        return [json.loads(f) for f in self.frames]

    def messages(self) -> list[ClientMessage]:
        return [decode_client_message(f) for f in self.frames]

    async def wait_frames(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until ``count`` frames in all have arrived; returns them parsed."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.frames) >= count)
        return self.json_frames()

    async def wait_for(self, key: str, timeout: float = 5.0) -> dict[str, Any]:
        """The first client frame whose top-level key is ``key`` (waiting for it if needed)."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: any(key in json.loads(f) for f in self.frames))
        return next(m for m in self.json_frames() if key in m)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message).encode())

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code, reason)
