"""FakeWebSocketServer: the listen/serve/stop part that the tests' scripted WebSocket servers share.

A subclass implements ``_handle`` (one client connection) and, to answer plain HTTP requests on the same
port, ``process_request``; it is used as ``async with Subclass(...) as server:``. It listens on
127.0.0.1 only, on a free port, and stops (closing the client connections) when the block ends.
"""

from __future__ import annotations

from typing import Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response


class FakeWebSocketServer:
    _server: Server | None = None

    async def __aenter__(self) -> Self:
        self._server = await serve(self._handle, "127.0.0.1", 0, process_request=self.process_request)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        raise NotImplementedError

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """None lets the WebSocket handshake go on; a Response answers the request instead."""
        return None

    @property
    def port(self) -> int:
        assert self._server is not None, "use the server in an ``async with`` block"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """The base URL an HTTP-style client (the SDK, a browser) is given."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"
