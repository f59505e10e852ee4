"""Seeing through the real google-genai client against a real ``openlive serve`` with its embedded
models: JPEG frames of a sign rendered at test time (a random number and a word) streamed as
``realtimeInput.video`` at 2 fps, then asked about in text and in speech; and the same sign as an image
part of ``clientContent``. The answer must hold what the sign says."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.genai import types
from serve_process import ServeProcess
from sign_frames import random_sign, render_sign
from test_voice_genai import API_KEY, MODEL, TURN_TIMEOUT_S, client
from voice_audio import NOISE_WAV, Recorder, espeak_pcm16k, send_pcm, silence, transcription

pytestmark = pytest.mark.models

BRIEF = "You are a helpful assistant. Answer in one short sentence."
QUESTION = "What does the sign say?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with ServeProcess(tmp_path_factory.mktemp("seeing"), API_KEY, tls=True, log_lines=80) as srv:
        yield srv


async def stream_frames(session: object, frame: bytes, seconds: float, fps: float = 2.0) -> None:
    for _ in range(int(seconds * fps)):
        blob = types.Blob(data=frame, mime_type="image/jpeg")
        await session.send_realtime_input(video=blob)  # type: ignore[attr-defined]
        await asyncio.sleep(1 / fps)


def says(text: str, number: str, word: str) -> bool:
    flat = text.replace(",", "").replace(" ", "").lower()
    return number in flat and word.lower() in flat


async def test_a_camera_sign_is_read_when_asked_in_text(server: ServeProcess) -> None:
    number, word = random_sign()
    frame = render_sign(number, word)
    config = types.LiveConnectConfig(response_modalities=["TEXT"], system_instruction=BRIEF)
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        await stream_frames(session, frame, seconds=2.0)
        await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text=QUESTION)]))
        answer = "".join([m.text or "" async for m in session.receive()])
    assert says(answer, number, word), (number, word, answer, server.log_tail())


async def test_an_image_part_is_read(server: ServeProcess) -> None:
    number, word = random_sign()
    image = types.Part(
        inline_data=types.Blob(data=render_sign(number, word, fmt="PNG"), mime_type="image/png")
    )
    config = types.LiveConnectConfig(response_modalities=["TEXT"], system_instruction=BRIEF)
    async with client(server).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(
            turns=types.Content(role="user", parts=[image, types.Part(text=QUESTION)])
        )
        answer = "".join([m.text or "" async for m in session.receive()])
    assert says(answer, number, word), (number, word, answer, server.log_tail())


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or not NOISE_WAV.is_file(), reason="espeak-ng is needed (make setup)"
)
async def test_a_camera_sign_is_read_aloud_when_asked_aloud(server: ServeProcess, tmp_path: Path) -> None:
    number, word = random_sign()
    frame = render_sign(number, word)
    question = espeak_pcm16k(QUESTION, tmp_path, voice="en-gb", words_per_minute=160)
    config = types.LiveConnectConfig(
        response_modalities=["AUDIO"],
        system_instruction=BRIEF,
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )
    async with (
        client(server).aio.live.connect(model=MODEL, config=config) as session,
        Recorder(session) as rec,
    ):
        camera = asyncio.create_task(stream_frames(session, frame, seconds=30.0))
        try:
            await asyncio.sleep(1.5)
            await send_pcm(session, question + silence(1.2))
            assert await rec.wait_turns(1, TURN_TIMEOUT_S), rec.explain()
        finally:
            camera.cancel()
            await asyncio.gather(camera, return_exceptions=True)
    said = transcription(rec.messages, "output_transcription")
    assert says(said, number, word), (number, word, said, server.log_tail())
