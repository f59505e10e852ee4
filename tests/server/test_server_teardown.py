"""Many real sessions (the real ``LiveSession`` over scripted model stages: unit-level fakes, no models)
on a real uvicorn server, abandoned at once in the middle of their replies: every session and connection
must close, and no task of theirs may be left (issue 9, defect 5)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from websockets.asyncio.client import connect

from openlive.engine import Engine, Profile
from openlive.server import ListenSpec, create_app, start_servers
from openlive.settings import Settings
from openlive.stages.language_model import ChatDone, ChatEvent, ChatRequest, TextDelta

LIVE = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
SESSIONS = 24


@dataclass
class SlowStoryModel:
    """Streams a long story a word every 20 ms (unit-test fake)."""

    name: str = "story"

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        for i in range(500):
            await asyncio.sleep(0.02)
            yield TextDelta(text=f"word{i}. " if i % 5 == 4 else f"word{i} ")
        yield ChatDone(prompt_tokens=1, completion_tokens=500)


@dataclass
class ToneSynthesizer:
    """24 kHz PCM, 50 ms per character, after a short delay (unit-test fake)."""

    def voices(self) -> list[str]:
        return ["fake"]

    def languages(self) -> list[str]:
        return ["en"]

    async def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]:
        await asyncio.sleep(0.01)
        yield b"\x01\x00" * (1200 * len(text))


def scripted_profile() -> Profile:
    return Profile(name="fake", description="scripted stages", llm=SlowStoryModel(), tts=ToneSynthesizer())


async def abandon(url: str, index: int) -> None:
    """Open a session, start a reply, and drop the connection without a close handshake."""
    modality = "AUDIO" if index % 2 else "TEXT"
    config = {"responseModalities": [modality]}
    setup = {"setup": {"model": "models/gemini-2.0-flash-live-001", "generationConfig": config}}
    ws = await connect(url, max_size=None)
    await ws.send(json.dumps(setup))
    await asyncio.wait_for(ws.recv(), 10)  # setupComplete
    turn = {
        "clientContent": {"turns": [{"role": "user", "parts": [{"text": "a story"}]}], "turnComplete": True}
    }
    await ws.send(json.dumps(turn))
    await asyncio.wait_for(ws.recv(), 10)  # the reply has begun
    if index % 3 == 0:
        await ws.send(json.dumps(turn))  # a new turn cutting the reply as the connection goes
    ws.transport.abort()


async def test_sessions_abandoned_at_once_all_close() -> None:
    engine = Engine({"fake": ("scripted", scripted_profile)}, default_profile="fake")
    await engine.load()
    settings = Settings(max_sessions=SESSIONS + 8, max_messages_per_second=200.0, message_burst=400)
    app = create_app(engine, settings)
    handle = await start_servers(app, settings, [ListenSpec("127.0.0.1", 0)])
    state = app.state.openlive
    try:
        listener = handle.listener(tls=False)
        assert listener is not None
        url = f"ws://127.0.0.1:{listener.port}{LIVE}"
        async with asyncio.timeout(60):
            await asyncio.gather(*(abandon(url, i) for i in range(SESSIONS)))
            while state.connections:  # every connection's session closes by itself
                await asyncio.sleep(0.05)
        leftover = [t for t in asyncio.all_tasks() if not t.done() and t.get_name().startswith("session-")]
        assert leftover == [], leftover
    finally:
        await handle.stop()
