"""First reply of a session with its own long system instruction, against a running server.

Not a test: run it by hand against `openlive serve --port 8791 --tls-port 0`:

    .venv/bin/python tests/server/instruction_bench.py ws://127.0.0.1:8791

Each session gets a ~230-token instruction that no earlier session used (so no KV snapshot helps),
waits as a person would before speaking, then asks one text question; the time to the first text part
is printed. It shows whether the server reads the instruction before the first turn or on its path.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

import websockets

PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
INSTRUCTION = " ".join(
    [
        "You are Ada, the concierge of the Hotel Meridian in Lisbon. Guests call you by voice to ask about "
        "breakfast hours (seven to eleven), the rooftop pool (open nine to nine), late checkout (until two, "
        "for a fee), the airport shuttle (every hour from six), and restaurants nearby. Be warm and precise, "
        "and never invent prices."
    ]
    * 3
)
THINK_S = 2.0  # between setupComplete and the question


async def first_reply_ms(url: str, guest: int) -> float:
    async with websockets.connect(url + PATH) as ws:
        setup = {
            "model": "models/gemini-live-2.5-flash-native-audio",
            "generationConfig": {"responseModalities": ["TEXT"]},
            "systemInstruction": {"parts": [{"text": f"Guest {guest}. {INSTRUCTION}"}]},
        }
        await ws.send(json.dumps({"setup": setup}))
        json.loads(await ws.recv())  # setupComplete
        await asyncio.sleep(THINK_S)
        started = time.perf_counter()
        turn = {"role": "user", "parts": [{"text": "When is breakfast?"}]}
        await ws.send(json.dumps({"clientContent": {"turns": [turn], "turnComplete": True}}))
        first: float | None = None
        while True:
            content = json.loads(await ws.recv()).get("serverContent", {})
            if first is None and content.get("modelTurn"):
                first = time.perf_counter() - started
            if content.get("turnComplete"):
                break
        assert first is not None, "the turn completed without a model turn"
        return first * 1000


async def main(url: str) -> None:
    guest = random.randrange(10**6)
    times = [round(await first_reply_ms(url, guest + i)) for i in range(3)]
    print(f"first text after {times} ms ({THINK_S:.0f} s after setupComplete)")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8791"))
