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
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close
from websockets.uri import parse_uri

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


async def test_invalid_utf8_right_before_the_clients_close_is_dropped_quietly(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The bad text frame and the client's close frame arrive in one read: when the text frame is handled
    # the connection is already closing. uvicorn's own path called send_close then: InvalidState, an
    # asyncio "Fatal error" with a traceback, and the connection dropped without its close reply.
    client = ClientProtocol(parse_uri(url))
    client.send_request(client.connect())
    reader, writer = await asyncio.open_connection("127.0.0.1", int(url.split(":")[2].split("/")[0]))
    writer.write(b"".join(client.data_to_send()))
    client.receive_data(await reader.readuntil(b"\r\n\r\n"))
    assert client.handshake_exc is None
    client.send_text(b"\xff\xfe")
    client.send_close(1000)
    writer.write(b"".join(client.data_to_send()))
    async with asyncio.timeout(10):
        client.receive_data(await reader.read(4096))
    assert client.close_rcvd == Close(1000, "")  # the server's reply to our close: a clean handshake
    writer.close()
    await asyncio.sleep(0.2)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
