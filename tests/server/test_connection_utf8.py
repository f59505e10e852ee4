"""A text frame that is not UTF-8 is the client's error: 1007 with a reason, one WARNING line, no traceback
(``LiveWebSocketProtocol``, a real uvicorn server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from openlive.server.connection import INVALID_UTF8_REASON, LiveWebSocketProtocol


async def echo(ws: WebSocket) -> None:
    await ws.accept()
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await ws.send_text("got " + await ws.receive_text())


@pytest.fixture
async def url() -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = Starlette(routes=[WebSocketRoute("/ws", echo)])
    config = uvicorn.Config(app, ws=LiveWebSocketProtocol, lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"ws://127.0.0.1:{sock.getsockname()[1]}/ws"
    server.should_exit = True
    await task


async def test_valid_text_frames_still_reach_the_app(url: str) -> None:
    async with connect(url) as ws:
        await ws.send("héllo")
        assert await ws.recv() == "got héllo"


@pytest.mark.parametrize("payload", [b'{"setup": {"model": "\xff"}}', b"\xe3\x81", b"\xed\xa0\x80"])
async def test_invalid_utf8_text_frame_closes_with_1007_and_a_reason(
    url: str, payload: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with connect(url) as ws:
        await ws.send(payload, text=True)  # websockets sends the bytes as a text frame, unchecked
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 1007
    assert ws.close_reason == INVALID_UTF8_REASON
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in caplog.records if "not valid UTF-8" in r.getMessage()]
