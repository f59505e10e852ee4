"""ScriptedTurnServer: a Live API stand-in with toy turn-taking, for the benchmark's client tests.

It decodes the real wire messages, calls a chunk "speech" when its peak is loud, ends the user's turn
after ``hangover_chunks`` quiet chunks, and then answers on a fixed schedule: a finished input
transcription, an output transcription, one silent audio chunk and ``reply_chunks`` loud ones
``chunk_gap_s`` apart, then ``turnComplete``. Loud input during a reply interrupts it (``interrupted``,
then ``turnComplete``), like START_OF_ACTIVITY_INTERRUPTS. Imported by name from the tests.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json

import numpy as np
from fake_ws_server import FakeWebSocketServer
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from openlive.protocol import RealtimeInput, Setup, decode_client_message

LOUD_PEAK = 3000  # int16


class ScriptedTurnServer(FakeWebSocketServer):
    def __init__(
        self,
        *,
        hangover_chunks: int = 10,
        think_s: float = 0.1,
        reply_chunks: int = 3,
        chunk_gap_s: float = 0.02,
        answer: str = "The capital of France is Paris.",
        heard: str = "What is the capital of France?",
        close_after_chunks: int | None = None,
    ) -> None:
        self.close_after_chunks = close_after_chunks
        self.hangover_chunks = hangover_chunks
        self.think_s = think_s
        self.reply_chunks = reply_chunks
        self.chunk_gap_s = chunk_gap_s
        self.answer = answer
        self.heard = heard
        self.audio_chunks = 0
        self.turns = 0

    async def _handle(self, ws: ServerConnection) -> None:
        speaking = False
        quiet = 0
        reply: asyncio.Task[None] | None = None
        try:
            async for frame in ws:
                message = decode_client_message(frame)
                if isinstance(message, Setup):
                    await ws.send(b'{"setupComplete": {}}')
                    continue
                if not isinstance(message, RealtimeInput) or message.audio is None:
                    continue
                self.audio_chunks += 1
                if self.close_after_chunks is not None and self.audio_chunks >= self.close_after_chunks:
                    await ws.close(1011, "scripted failure")
                    return
                loud = int(np.abs(np.frombuffer(message.audio.data, dtype="<i2")).max(initial=0)) >= LOUD_PEAK
                if loud:
                    if not speaking and reply is not None and not reply.done():
                        reply.cancel()
                        await self._send(ws, {"serverContent": {"interrupted": True}})
                        await self._send(ws, {"serverContent": {"turnComplete": True}})
                    speaking, quiet = True, 0
                elif speaking:
                    quiet += 1
                    if quiet >= self.hangover_chunks:
                        speaking = False
                        self.turns += 1
                        reply = asyncio.create_task(self._reply(ws))
        except ConnectionClosed:
            pass
        finally:
            if reply is not None:
                reply.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await reply

    async def _send(self, ws: ServerConnection, message: dict[str, object]) -> None:
        await ws.send(json.dumps(message).encode())

    async def _reply(self, ws: ServerConnection) -> None:
        t = np.arange(2400) / 24_000
        loud = base64.b64encode((0.3 * 32767 * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes()).decode()
        silent = base64.b64encode(bytes(4800)).decode()

        def audio(data: str) -> dict[str, object]:
            part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}
            return {"serverContent": {"modelTurn": {"parts": [part]}}}

        await self._send(
            ws, {"serverContent": {"inputTranscription": {"text": self.heard, "finished": True}}}
        )
        await asyncio.sleep(self.think_s)
        await self._send(ws, {"serverContent": {"outputTranscription": {"text": self.answer}}})
        await self._send(ws, audio(silent))
        for _ in range(self.reply_chunks):
            await asyncio.sleep(self.chunk_gap_s)
            await self._send(ws, audio(loud))
        await self._send(ws, {"serverContent": {"generationComplete": True}})
        await self._send(ws, {"serverContent": {"turnComplete": True}})
