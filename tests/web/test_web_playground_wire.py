"""The playground's own logic in Chromium, against FakePlaygroundServer (no models needed).

What the page puts on the wire (setup, 16 kHz audio chunks, text turns), how it plays reply audio
and silences it at once on ``interrupted``, and how it shows a refused connection.
"""

from __future__ import annotations

import asyncio
import base64
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playground_fake_server import FakePlaygroundServer
from playground_harness import browser_missing_reason, chromium_args

PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


def fake_speech_wav(path: Path) -> Path:
    """1 s of silence, 1 s of a voiced buzz, 3 s of silence, at 48 kHz: enough for the page's VAD."""
    import wave

    rate = 48000
    t = np.arange(rate) / rate
    buzz = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 15))
    buzz = (0.25 * buzz / np.max(np.abs(buzz)) * 32767).astype(np.int16)
    audio = np.concatenate([np.zeros(rate, np.int16), buzz, np.zeros(3 * rate, np.int16)])
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(audio.tobytes())
    return path


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    if reason := browser_missing_reason():
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        args = chromium_args(fake_speech_wav(tmp_path / "speech.wav"))
        chromium = await p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        try:
            yield chromium
        finally:
            await chromium.close()


async def stats_when(page: Any, predicate: Any, timeout_s: float = 10.0) -> dict[str, Any]:
    for _ in range(int(timeout_s / 0.1)):
        current: dict[str, Any] = await page.evaluate("window.openlive.stats")
        if predicate(current):
            return current
        await asyncio.sleep(0.1)
    current = await page.evaluate("window.openlive.stats")
    return current


def pcm_message(seconds: float, rate: int = 24000) -> dict[str, Any]:
    pcm = (np.sin(np.arange(int(rate * seconds)) / 7) * 6000).astype("<i2").tobytes()
    part = {"inlineData": {"mimeType": f"audio/pcm;rate={rate}", "data": base64.b64encode(pcm).decode()}}
    return {"serverContent": {"modelTurn": {"parts": [part]}}}


async def test_setup_audio_chunks_playback_interruption_and_latency(browser: Any) -> None:
    async with FakePlaygroundServer() as server:
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"{server.url}/?key=k1&voice=Kore&lang=ja-JP")
        await page.fill("#system", "Be brief.")
        await page.click("#connect")
        frames = await server.wait_for(lambda f: sum("realtimeInput" in m for m in f) >= 5)
        assert server.paths == [f"{PATH}?key=k1"]
        assert frames[0] == {
            "setup": {
                "model": "models/gemini-2.5-flash-native-audio-preview-12-2025",
                "generationConfig": {
                    "responseModalities": ["AUDIO"],
                    "speechConfig": {
                        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}},
                        "languageCode": "ja-JP",
                    },
                },
                "inputAudioTranscription": {},
                "outputAudioTranscription": {},
                "systemInstruction": {"parts": [{"text": "Be brief."}]},
            }
        }
        audio = frames[1]["realtimeInput"]["audio"]
        assert audio["mimeType"] == "audio/pcm;rate=16000"
        assert len(base64.b64decode(audio["data"])) == 1280  # 640 samples: 40 ms at 16 kHz
        assert (await stats_when(page, lambda s: s["state"] == "connected"))["state"] == "connected"

        # The buzz ends about 2 s into the capture; the page's VAD marks it, then the reply starts.
        assert (await stats_when(page, lambda s: len(s["speechEnds"]) == 1, 8))["speechEnds"], (
            "no end of speech"
        )
        await server.send({"serverContent": {"inputTranscription": {"text": "hello there"}}})
        await server.send(pcm_message(1.0))
        await server.send(pcm_message(1.0))
        await server.send({"serverContent": {"outputTranscription": {"text": "Hi!"}}})
        s = await stats_when(page, lambda s: s["audioChunks"] == 2)
        assert abs(s["scheduledSeconds"] - 2.0) < 0.01 and s["contextState"] == "running"
        assert len(s["latenciesMs"]) == 1 and 0 < s["latenciesMs"][0] < 10_000
        assert (
            await page.evaluate("document.querySelector('#transcript li.user').textContent") == "hello there"
        )
        # The page rounds with JavaScript's Math.round (halves up), not Python's round (halves to even).
        shown = math.floor(s["latenciesMs"][0] + 0.5)
        assert await page.locator("#latencyLast").inner_text() == f"{shown} ms"

        await server.send({"serverContent": {"interrupted": True}})
        await server.send({"serverContent": {"turnComplete": True}})
        s = await stats_when(page, lambda s: s["turns"] == 1)
        assert s["interruptions"] == 1
        # Nothing is left playing: the 2 s reply was cut at once, not left to run out.
        assert await page.evaluate("window.openlive.player.playing") is False
        assert "interrupted" in await page.locator("#transcript li.model").first.inner_text()

        await page.fill("#textInput", "And in Japan?")
        await page.click("#sendText")
        frames = await server.wait_for(lambda f: any("clientContent" in m for m in f))
        turn = next(m for m in frames if "clientContent" in m)
        assert turn == {
            "clientContent": {
                "turns": [{"role": "user", "parts": [{"text": "And in Japan?"}]}],
                "turnComplete": True,
            }
        }
        assert errors == []


async def test_a_refused_session_shows_the_close_code_and_reason(browser: Any) -> None:
    async with FakePlaygroundServer(
        refuse=(1008, "API key not valid. Please pass a valid API key.")
    ) as server:
        page = await browser.new_page()
        await page.goto(server.url)
        await page.click("#connect")
        s = await stats_when(page, lambda s: s["state"] == "error")
        assert (s["closeCode"], s["closeReason"]) == (1008, "API key not valid. Please pass a valid API key.")
        assert (
            await page.locator("#state").inner_text()
            == "closed 1008: API key not valid. Please pass a valid API key."
        )
        assert await page.locator("#connect").inner_text() == "Connect"
