"""``openlive bench --text-sessions``: concurrent TEXT sessions against a scripted Live server (a fake:
unit tests), each counted answered, refused or lost."""

from __future__ import annotations

import asyncio
import json

from fake_ws_server import FakeWebSocketServer
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from openlive.bench.text_sessions import (
    format_text_sessions,
    run_text_sessions,
    summarize_text_sessions,
)
from openlive.protocol import ClientContent, Setup, decode_client_message


class FakeTextLiveServer(FakeWebSocketServer):
    """Answers each question with its first word; refuses handshakes past ``max_sessions`` with 503,
    closes the ``drop``-th sessions with 1011 after their question, and those in ``turn_away`` with
    1008 right after their setup (numbered from 0 in handshake order)."""

    def __init__(self, *, max_sessions: int, drop: set[int], turn_away: set[int], think_s: float) -> None:
        self.max_sessions = max_sessions
        self.drop = drop
        self.turn_away = turn_away
        self.think_s = think_s
        self.handshakes = 0
        self.index: dict[int, int] = {}

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        number = self.handshakes
        self.handshakes += 1
        if number >= self.max_sessions:
            body = b'{"error": {"code": 503, "status": "UNAVAILABLE"}}'
            return Response(503, "Service Unavailable", Headers({"Content-Length": str(len(body))}), body)
        self.index[id(connection)] = number
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        number = self.index[id(ws)]
        try:
            async for frame in ws:
                message = decode_client_message(frame)
                if isinstance(message, Setup):
                    if number in self.turn_away:
                        await ws.close(1008, "Resource has been exhausted")
                        return
                    await ws.send(json.dumps({"setupComplete": {}}))
                elif isinstance(message, ClientContent):
                    await asyncio.sleep(self.think_s * (number + 1))  # one model: answers queue up
                    if number in self.drop:
                        await ws.close(1011, "Internal error encountered.")
                        return
                    word = message.turns[0].parts[0].text.split()[0]
                    await ws.send(json.dumps({"serverContent": {"modelTurn": {"parts": [{"text": word}]}}}))
                    await ws.send(json.dumps({"serverContent": {"turnComplete": True}}))
        except ConnectionClosed:
            pass


async def test_each_session_is_answered_refused_or_lost() -> None:
    server = FakeTextLiveServer(max_sessions=5, drop={2}, turn_away={4}, think_s=0.02)
    async with server:
        results = await run_text_sessions(server.ws_url, 6, timeout_s=10.0)
    summary = summarize_text_sessions(results)
    assert (summary["sessions"], summary["answered"], summary["refused"], summary["lost"]) == (6, 3, 2, 1)
    assert summary["reasons"] == {
        "refused: HTTP 503": 1,
        "refused: closed 1008 Resource has been exhausted": 1,
        "lost: closed 1011 Internal error encountered.": 1,
    }
    assert all(a["answer"] == "What" for a in summary["answers"])
    # The last answer came after the slowest answered session's wait (4 × 20 ms), from the common start.
    assert summary["last_answer_s"] is not None and summary["last_answer_s"] >= 0.08
    assert summary["turn_ms"]["n"] == 3
    table = format_text_sessions(summary)
    assert "answered" in table and "1 × refused: HTTP 503" in table


async def test_a_session_that_never_completes_is_lost_after_the_timeout() -> None:
    server = FakeTextLiveServer(max_sessions=5, drop=set(), turn_away=set(), think_s=1.0)
    async with server:
        results = await run_text_sessions(server.ws_url, 1, timeout_s=0.3)
    summary = summarize_text_sessions(results)
    assert (summary["answered"], summary["lost"]) == (0, 1)
    assert summary["last_answer_s"] is None
    assert summary["reasons"] == {"lost: no turnComplete within 0.3 s": 1}
