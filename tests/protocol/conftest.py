"""Fixtures for the protocol tests: the exact frames google-genai 3.6.1 puts on the wire.

The SDK is driven offline: its WebSocket ``connect`` is replaced by a fake that records every frame
sent and answers ``setupComplete``, so what the tests decode is byte for byte what the SDK emits.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

genai = pytest.importorskip("google.genai")
from google.genai import live, types  # noqa: E402


class FakeWebSocket:
    """Records what the SDK sends; hands it the frames queued in ``incoming``."""

    def __init__(self, incoming: list[bytes]) -> None:
        self.sent: list[str] = []
        self.incoming = incoming

    async def send(self, message: str) -> None:
        self.sent.append(message)

    async def recv(self, decode: bool | None = None) -> bytes:
        return self.incoming.pop(0)

    async def close(self) -> None:
        pass


SessionScript = Callable[[Any], Awaitable[None]]


def run_sdk_session(
    config: types.LiveConnectConfig | None,
    script: SessionScript,
    *,
    incoming: list[bytes] | None = None,
    setup_reply: bytes = b'{"setupComplete":{}}',
    model: str = "gemini-2.5-flash-native-audio-preview-09-2025",
) -> list[str]:
    """Connect google-genai to a fake socket that answers ``setup_reply`` then ``incoming``, run
    ``script(session)``; return the frames the SDK sent (the setup first)."""
    ws = FakeWebSocket([setup_reply, *(incoming or [])])

    @contextlib.asynccontextmanager
    async def fake_connect(uri: str, **kwargs: Any) -> AsyncIterator[FakeWebSocket]:
        yield ws

    async def main() -> None:
        client = genai.Client(api_key="test-key")
        async with client.aio.live.connect(model=model, config=config) as session:
            await script(session)

    original = live.ws_connect
    live.ws_connect = fake_connect
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the deprecated session.send() warns
            asyncio.run(main())
    finally:
        live.ws_connect = original
    return ws.sent


@pytest.fixture
def sdk_session() -> Callable[..., list[str]]:
    return run_sdk_session
