"""Opening a Live connection: WebSocket handshake, ``setup``, and waiting for ``setupComplete``.

Every way this can fail becomes a ``LiveError`` carrying the close code and reason (or, before a
WebSocket exists, a ``LiveConnectionError``), so callers have one thing to catch.
"""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from openlive.client.endpoint import Endpoint
from openlive.client.errors import ABNORMAL_CLOSURE, LiveConnectionError, LiveError
from openlive.client.wire import decode_frame, encode
from openlive.protocol.errors import ProtocolError
from openlive.protocol.handshake import ClientHandshake
from openlive.protocol.messages import ServerMessage, Setup, SetupComplete

USER_AGENT = "openlive-client/0.1"
# Far above any single server message (the server keeps them under 1 MiB) but still a bound.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def closed_error(exc: ConnectionClosed) -> LiveError:
    """The close frame the server sent (or 1006 when the connection just dropped) as a LiveError."""
    frame = exc.rcvd
    if frame is None:
        return LiveError(ABNORMAL_CLOSURE, "connection closed without a close frame")
    return LiveError(frame.code, frame.reason)


def _http_status_error(exc: InvalidStatus) -> LiveConnectionError:
    status = exc.response.status_code
    body = bytes(exc.response.body or b"").decode("utf-8", errors="replace").strip()
    reason = f"HTTP {status}" + (f": {body[:200]}" if body else "")
    return LiveConnectionError(status, reason)


async def open_connection(
    endpoint: Endpoint, setup: Setup, *, timeout_s: float
) -> tuple[ClientConnection, SetupComplete, list[ServerMessage]]:
    """Connect, send ``setup``, wait for ``setupComplete``.

    Returns the connection, the setupComplete message, and any messages that arrived in the same
    frame after it (none in practice, but they must not be lost).
    """
    try:
        ws = await connect(
            endpoint.ws_url,
            additional_headers=endpoint.headers,
            ssl=endpoint.ssl,
            open_timeout=timeout_s,
            max_size=MAX_MESSAGE_BYTES,
            user_agent_header=USER_AGENT,
        )
    except InvalidStatus as exc:
        raise _http_status_error(exc) from None
    except InvalidURI as exc:
        raise LiveConnectionError(ABNORMAL_CLOSURE, f"invalid server URL: {exc}") from None
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        detail = str(exc) or type(exc).__name__
        raise LiveConnectionError(
            ABNORMAL_CLOSURE, f"cannot connect to {endpoint.ws_url}: {detail}"
        ) from None

    handshake = ClientHandshake()
    try:
        await ws.send(encode(handshake.send(setup)))
        async with asyncio.timeout(timeout_s):
            frame = await ws.recv()
        messages = decode_frame(frame)
    except ConnectionClosed as exc:
        raise closed_error(exc) from None
    except TimeoutError:
        await ws.close(1000, "setup timed out")
        raise LiveConnectionError(
            ABNORMAL_CLOSURE, f"the server did not answer setup within {timeout_s:g} s"
        ) from None
    except LiveError:
        await ws.close(1002, "invalid server message")
        raise

    if not messages:
        await ws.close(1002, "Handshake failure")
        raise LiveError(1011, "Handshake failure: the server answered setup with an empty message")
    try:
        # Firebase's rule, kept with the server's in one place: the first server message is setupComplete.
        first = handshake.receive(messages[0])
    except ProtocolError as exc:
        await ws.close(1002, "Handshake failure")
        raise LiveError(int(exc.code), exc.reason) from None
    assert isinstance(first, SetupComplete)
    return ws, first, messages[1:]
