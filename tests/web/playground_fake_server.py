"""FakePlaygroundServer: serves the playground's files and a scripted Live WebSocket on one origin.

For deterministic browser tests of the page's own logic (the setup it sends, its audio chunks,
playback and the flush on ``interrupted``, the error state) without the models. Frames the page sends
are recorded; tests push server messages with ``send``. Imported by name (not a conftest).
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
from pathlib import Path
from typing import Any

from fake_ws_server import FakeWebSocketServer
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

WEB = Path(__file__).resolve().parents[2] / "src" / "openlive" / "web"


class FakePlaygroundServer(FakeWebSocketServer):
    def __init__(self, *, refuse: tuple[int, str] | None = None) -> None:
        self.refuse = refuse  # close code and reason to answer setup with, instead of setupComplete
        self.frames: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.connections: list[ServerConnection] = []
        self._arrived = asyncio.Condition()

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """The page's static files; the WebSocket handshake on /ws/…."""
        path = request.path.split("?", 1)[0]
        if path.startswith("/ws/"):
            return None  # the WebSocket handshake goes on
        file = (WEB / (path.lstrip("/") or "index.html")).resolve()
        if WEB not in file.parents or not file.is_file():
            return connection.respond(404, "not found\n")
        body = file.read_bytes()
        # Module scripts are refused unless served with a JavaScript MIME type.
        kind = (
            "text/javascript" if file.suffix == ".js" else mimetypes.guess_type(file.name)[0] or "text/plain"
        )
        headers = Headers([("Content-Type", kind), ("Content-Length", str(len(body)))])
        return Response(200, "OK", headers, body)

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        self.paths.append(ws.request.path if ws.request else "")
        try:
            async for frame in ws:
                async with self._arrived:
                    self.frames.append(json.loads(frame))
                    self._arrived.notify_all()
                if len(self.frames) == 1 or "setup" in self.frames[-1]:
                    if self.refuse is not None:
                        await ws.close(*self.refuse)
                        return
                    await ws.send(b'{"setupComplete": {}}')
        except ConnectionClosed:
            pass

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: predicate(self.frames))
        return self.frames

    async def send(self, message: dict[str, Any]) -> None:
        await self.connections[-1].send(json.dumps(message).encode())
