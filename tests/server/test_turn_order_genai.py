"""Typed and spoken turns that meet, through the real google-genai client against a real ``openlive
serve`` with its embedded models (issue 9, defects 6 and 7; docs/life-of-a-turn.md has the rule).

Neither turn may be lost: a spoken turn that ends while the typed one's reply is still unseen is merged
with it into one reply; one that ends after the reply began is answered after it. The client sees a
well-formed stream: every ``interrupted`` is followed by its ``turnComplete`` before anything else, and
the conversation ends with a completed reply.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from google.genai import types
from serve_process import ServeProcess
from test_voice_genai import API_KEY, QUESTION, TURN_TIMEOUT_S, client
from voice_audio import CHUNK_BYTES, NOISE_WAV, Microphone, Received, Recorder, espeak_pcm16k, rms, send_pcm

pytestmark = pytest.mark.models

if shutil.which("espeak-ng") is None or not NOISE_WAV.is_file():
    pytest.skip("espeak-ng and the ALSA samples are needed (make setup-system)", allow_module_level=True)

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
BOTH = "You are a voice assistant. Answer every question the user asks, each in a few words."
TYPED = "And what is two plus two?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with ServeProcess(tmp_path_factory.mktemp("turn-order"), API_KEY, tls=True, log_lines=80) as srv:
        yield srv


@pytest.fixture(scope="module")
def question(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    speech = espeak_pcm16k(QUESTION, tmp_path_factory.mktemp("speech"), voice="en-gb", words_per_minute=160)
    # Cut right after its last loud 20 ms, so that only what the test sends next ends the turn.
    end = max(i for i in range(0, len(speech), CHUNK_BYTES) if rms(speech[i : i + CHUNK_BYTES]) > 300)
    return speech[: end + CHUNK_BYTES]


def connect(server: ServeProcess, **config: Any) -> Any:
    return client(server).aio.live.connect(model=MODEL, config=types.LiveConnectConfig(**config))


def flags(messages: list[Received]) -> list[str]:
    out: list[str] = []
    for received in messages:
        content = received.message.server_content
        if content is None:
            continue
        if content.model_turn is not None:
            out.append("content")
        for name in ("interrupted", "generation_complete", "turn_complete"):
            if getattr(content, name):
                out.append(name)
    return out


def assert_well_formed(words: list[str], why: str) -> None:
    after_interrupt = False
    for word in words:
        if after_interrupt:
            assert word == "turn_complete", why
            after_interrupt = False
        elif word == "interrupted":
            after_interrupt = True
    assert words and words[-2:] == ["generation_complete", "turn_complete"], why


async def quiet(rec: Recorder, seconds: float = 8.0) -> None:
    """Until nothing new has arrived for ``seconds`` (bounded by the turn timeout)."""
    for _ in range(int(TURN_TIMEOUT_S / seconds)):
        count = len(rec.messages)
        if not await rec.wait_for(lambda count=count: len(rec.messages) > count, seconds):  # type: ignore[misc]
            return


def reply_text(messages: list[Received]) -> str:
    return "".join(r.message.text or "" for r in messages).lower()


async def test_audio_stream_end_and_a_typed_turn_at_once_are_both_answered(
    server: ServeProcess, question: bytes
) -> None:
    async with (
        connect(server, response_modalities=["TEXT"], system_instruction=BOTH, temperature=0) as session,
        Recorder(session) as rec,
    ):
        await send_pcm(session, question)
        # The microphone stops and the user types at the same moment.
        await session.send_realtime_input(audio_stream_end=True)
        await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text=TYPED)]))
        await rec.wait_for(lambda: "turn_complete" in flags(rec.messages), TURN_TIMEOUT_S)
        await quiet(rec)  # then whatever else is coming (a queued turn's reply)
    why = f"{rec.explain()}\n{server.log_tail()}"
    assert rec.error is None, why
    assert_well_formed(flags(rec.messages), why)
    text = reply_text(rec.messages)
    assert "paris" in text and ("four" in text or "4" in text), why


async def test_a_typed_question_before_the_spoken_turn_is_decided_is_answered(
    server: ServeProcess, question: bytes
) -> None:
    async with (
        connect(server, response_modalities=["TEXT"], system_instruction=BOTH, temperature=0) as session,
        Recorder(session) as rec,
        Microphone(session) as mic,
    ):  # silence between what it says, as a live microphone
        mic.say(question)
        await mic.drained()
        await asyncio.sleep(0.1)  # the user has stopped; the pause has begun
        await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text=TYPED)]))
        # The pause goes on and ends the spoken turn.
        await rec.wait_for(lambda: "turn_complete" in flags(rec.messages), TURN_TIMEOUT_S)
        await quiet(rec)
    why = f"{rec.explain()}\n{server.log_tail()}"
    assert rec.error is None, why
    assert_well_formed(flags(rec.messages), why)
    text = reply_text(rec.messages)
    assert "paris" in text and ("four" in text or "4" in text), why
