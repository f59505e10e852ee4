"""The SDK and the client commands against a real ``openlive serve`` with its embedded models."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from real_server_harness import write_question_wav
from serve_process import OPENLIVE, ServeProcess

from openlive.client import (
    BufferSink,
    LiveError,
    LiveGenerationConfig,
    LiveModel,
    LiveServerContent,
    LiveServerSessionResumptionUpdate,
    LiveUsage,
    Modality,
    WavFileSource,
    read_wav,
    text_of,
)

pytestmark = pytest.mark.models

API_KEY = "client-test-key"
TURN_TIMEOUT_S = 150.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    # Plain and TLS ports; the TLS one with a development certificate, as ``openlive cert`` makes it.
    with ServeProcess(tmp_path_factory.mktemp("client-server"), API_KEY, tls=True) as srv:
        yield srv


@pytest.fixture(scope="module")
def question(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_question_wav("What is the capital of France?", tmp_path_factory.mktemp("q") / "question.wav")


async def test_text_turn_over_tls_with_a_cafile(server: ServeProcess) -> None:
    model = LiveModel(
        "gemini-2.5-flash-native-audio-preview-12-2025",
        LiveGenerationConfig(response_modalities=[Modality.TEXT]),
        system_instruction="Answer in one short sentence.",
        base_url=server.https_url,
        api_key=API_KEY,
        ssl=server.cert,
    )
    async with asyncio.timeout(TURN_TIMEOUT_S), model.connect() as session:
        await session.send("What is the capital of France?")
        messages = [m async for m in session.receive_turn()]
    text = "".join(text_of(m) for m in messages if isinstance(m, LiveServerContent))
    assert "paris" in text.lower(), (messages, server.log_tail())
    last = [m for m in messages if isinstance(m, LiveServerContent)][-1]
    assert last.turn_complete
    assert any(isinstance(m, LiveUsage) and m.total_token_count > 0 for m in messages)


async def test_audio_conversation_from_a_wav_file(server: ServeProcess, question: Path) -> None:
    heard: list[str] = []
    said: list[str] = []
    sink = BufferSink()
    model = LiveModel(
        generation_config=LiveGenerationConfig(
            input_audio_transcription=True, output_audio_transcription=True
        ),
        base_url=server.http_url,
        api_key=API_KEY,
    )
    async with model.connect() as session:
        controller = await session.start_audio_conversation(
            source=WavFileSource(question, realtime=True, trailing_silence_s=1.5),
            sink=sink,
            on_input_transcription=heard.append,
            on_output_transcription=said.append,
        )
        finished = await controller.wait_for_turn(timeout=TURN_TIMEOUT_S)
        await controller.stop()
    explain = f"heard={heard} said={said} error={controller.error}\n{server.log_tail()}"
    assert finished, explain
    assert "capital" in "".join(heard).lower(), explain
    assert "".join(said).strip(), explain
    assert sink.received > 24000, explain  # more than half a second of 24 kHz speech
    assert sink.flushes == 0, explain


async def test_resume_continues_the_conversation_on_a_new_connection(server: ServeProcess) -> None:
    model = LiveModel(
        "gemini-2.5-flash-native-audio-preview-12-2025",
        LiveGenerationConfig(response_modalities=[Modality.TEXT], temperature=0.0),
        system_instruction="Answer in one short sentence.",
        base_url=server.http_url,
        api_key=API_KEY,
    )
    async with asyncio.timeout(TURN_TIMEOUT_S), model.connect(session_resumption=True) as session:
        await session.send("My name is Alice. Say hello to me.")
        [m async for m in session.receive_turn()]
        # The handle that covers the finished turn follows its turnComplete.
        async for message in session.receive():
            if isinstance(message, LiveServerSessionResumptionUpdate):
                break
        assert message.new_handle and session.resumption_handle == message.new_handle
        await session.resume()  # a new connection, set up with that handle
        await session.send("What is my name?")
        messages = [m async for m in session.receive_turn()]
    text = "".join(text_of(m) for m in messages if isinstance(m, LiveServerContent))
    assert "alice" in text.lower(), (text, server.log_tail())


async def test_a_wrong_key_is_a_1008_live_error(server: ServeProcess) -> None:
    with pytest.raises(LiveError) as info:
        await LiveModel(base_url=server.http_url, api_key="wrong").connect()
    assert info.value.code == 1008
    assert "key" in info.value.reason.lower()


def test_say_and_models_commands(server: ServeProcess, question: Path, tmp_path: Path) -> None:
    out = tmp_path / "answer.wav"
    base = ["--url", server.http_url, "--api-key", API_KEY]
    said = subprocess.run(
        [str(OPENLIVE), "say", str(question), str(out), *base], capture_output=True, text=True, timeout=200
    )
    assert said.returncode == 0, f"{said.stderr}\n{server.log_tail()}"
    assert said.stdout.strip()
    pcm, rate = read_wav(out)
    assert rate == 24000 and len(pcm) > 24000
    assert "you: " in said.stderr and "capital" in said.stderr.lower()

    listed = subprocess.run([str(OPENLIVE), "models", *base], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "models/gemini-2.5-flash-native-audio-preview-12-2025" in listed.stdout

    refused = subprocess.run(
        [str(OPENLIVE), "say", "--text", "hi", str(out), "--url", server.http_url, "--api-key", "wrong"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("openlive: the server refused the key (1008)")
    assert "Traceback" not in refused.stderr and refused.stderr.count("\n") == 1
    assert sys.executable  # the entry point lives next to this interpreter
