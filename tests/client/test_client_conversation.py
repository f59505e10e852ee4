"""start_audio_conversation against FakeLiveServer: audio up, audio down, barge-in flush, tools, callbacks."""

from __future__ import annotations

import asyncio
import base64
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from live_fake_server import FakeLiveServer

from openlive.client import (
    ArraySource,
    AudioDeviceError,
    BufferSink,
    FunctionCall,
    FunctionResponse,
    LiveError,
    LiveModel,
    WavFileSink,
    WavFileSource,
    read_wav,
    write_wav,
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def audio_message(pcm: bytes, rate: int = 24000) -> dict[str, object]:
    part = {"inlineData": {"mimeType": f"audio/pcm;rate={rate}", "data": b64(pcm)}}
    return {"serverContent": {"modelTurn": {"parts": [part]}}}


async def silence_forever() -> AsyncIterator[bytes]:
    """A source that never ends and sends nothing: keeps the send side out of the way."""
    await asyncio.Event().wait()
    yield b""


async def test_source_audio_goes_up_in_chunks_then_audio_stream_end() -> None:
    pcm = np.arange(16000 // 5, dtype="<i2").tobytes()  # 200 ms at 16 kHz
    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        controller = await session.start_audio_conversation(
            source=ArraySource(pcm, 16000, chunk_ms=40), sink=BufferSink()
        )
        end = await server.wait_for("realtimeInput", timeout=5)
        await asyncio.wait_for(
            _until(lambda: {"realtimeInput": {"audioStreamEnd": True}} in server.json_frames()), 5
        )
        await controller.stop()
    audio = [
        f["realtimeInput"]["audio"] for f in server.json_frames()[1:] if "audio" in f.get("realtimeInput", {})
    ]
    assert end["realtimeInput"]["audio"]["mimeType"] == "audio/pcm;rate=16000"
    assert len(audio) == 5  # 40 ms chunks
    assert b"".join(base64.b64decode(a["data"]) for a in audio) == pcm
    assert server.json_frames()[-1] == {"realtimeInput": {"audioStreamEnd": True}}


async def _until(predicate: object) -> None:
    assert callable(predicate)
    while not predicate():
        await asyncio.sleep(0.01)


async def test_interrupted_flushes_the_sink_and_later_audio_plays_again() -> None:
    first, second = b"\x01\x00" * 480, b"\x02\x00" * 240
    interrupted: list[bool] = []
    sink = BufferSink()
    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        controller = await session.start_audio_conversation(
            source=silence_forever(), sink=sink, on_interrupted=lambda: interrupted.append(True)
        )
        await server.send(audio_message(first))
        await asyncio.wait_for(_until(lambda: sink.received == len(first)), 5)
        assert bytes(sink.pcm) == first  # queued, not yet played
        await server.send({"serverContent": {"interrupted": True}})
        await server.send({"serverContent": {"turnComplete": True}})
        assert await controller.wait_for_turns(1, timeout=5)
        assert bytes(sink.pcm) == b""
        assert (sink.flushes, controller.interruptions, interrupted) == (1, 1, [True])
        await server.send(audio_message(second))
        await server.send({"serverContent": {"turnComplete": True}})
        assert await controller.wait_for_turns(2, timeout=5)
        await controller.stop()
    assert bytes(sink.pcm) == second
    assert sink.received == len(first) + len(second)
    assert sink.closed


async def test_reply_audio_at_another_rate_is_resampled_to_the_sinks_rate() -> None:
    sink = BufferSink(sample_rate=24000)
    tone = (np.sin(np.arange(1600) / 5) * 8000).astype("<i2").tobytes()  # 100 ms at 16 kHz
    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        controller = await session.start_audio_conversation(source=silence_forever(), sink=sink)
        await server.send(audio_message(tone, rate=16000))
        await server.send({"serverContent": {"turnComplete": True}})
        assert await controller.wait_for_turn(timeout=5)
        await controller.stop()
    assert abs(len(sink.pcm) // 2 - 2400) <= 2


async def test_transcripts_and_turns_reach_the_callbacks() -> None:
    heard: list[str] = []
    said: list[str] = []
    turns: list[int] = []
    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        controller = await session.start_audio_conversation(
            source=silence_forever(),
            sink=BufferSink(),
            on_input_transcription=heard.append,
            on_output_transcription=said.append,
            on_turn_complete=lambda: turns.append(1),
        )
        await server.send({"serverContent": {"inputTranscription": {"text": "What is"}}})
        await server.send({"serverContent": {"inputTranscription": {"text": " the capital?"}}})
        await server.send({"serverContent": {"outputTranscription": {"text": "Paris."}}})
        await server.send({"serverContent": {"turnComplete": True}})
        assert await controller.wait_for_turn(timeout=5)
        await controller.stop()
    assert (heard, said, turns) == (["What is", " the capital?"], ["Paris."], [1])


async def test_tool_calls_go_to_the_handler_and_its_results_go_back() -> None:
    calls: list[FunctionCall] = []

    async def handler(call: FunctionCall) -> FunctionResponse | dict[str, object]:
        calls.append(call)
        if call.name == "fail":
            raise RuntimeError("lamp broken")
        if call.name == "typed":
            return FunctionResponse(name="typed", response={"output": "ok"})
        await asyncio.sleep(0.01)  # an async tool
        return {"output": f"lights on in the {call.args['room']}"}

    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        controller = await session.start_audio_conversation(
            handler, source=silence_forever(), sink=BufferSink()
        )
        await server.send(
            {
                "toolCall": {
                    "functionCalls": [
                        {"id": "c1", "name": "lights", "args": {"room": "kitchen"}},
                        {"id": "c2", "name": "typed", "args": {}},
                        {"id": "c3", "name": "fail", "args": {}},
                    ]
                }
            }
        )
        await asyncio.wait_for(_until(lambda: len(_tool_responses(server)) == 3), 5)
        await controller.stop()
    responses = {r["id"]: r for r in _tool_responses(server)}
    assert [c.id for c in calls] == ["c1", "c2", "c3"]
    assert responses["c1"] == {
        "id": "c1",
        "name": "lights",
        "response": {"output": "lights on in the kitchen"},
    }
    assert responses["c2"] == {"id": "c2", "name": "typed", "response": {"output": "ok"}}
    assert responses["c3"] == {"id": "c3", "name": "fail", "response": {"error": "RuntimeError: lamp broken"}}


def _tool_responses(server: FakeLiveServer) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for frame in server.json_frames():
        out += frame.get("toolResponse", {}).get("functionResponses", [])
    return out


async def test_a_sync_handler_works_and_no_handler_answers_with_an_error() -> None:
    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        controller = await session.start_audio_conversation(
            lambda call: {"output": call.name.upper()}, source=silence_forever(), sink=BufferSink()
        )
        await server.send({"toolCall": {"functionCalls": [{"id": "a", "name": "ping"}]}})
        await asyncio.wait_for(_until(lambda: len(_tool_responses(server)) == 1), 5)
        await controller.stop()
        controller = await session.start_audio_conversation(source=silence_forever(), sink=BufferSink())
        await server.send({"toolCall": {"functionCalls": [{"id": "b", "name": "ping"}]}})
        await asyncio.wait_for(_until(lambda: len(_tool_responses(server)) == 2), 5)
        await controller.stop()
    first, second = _tool_responses(server)
    assert first == {"id": "a", "name": "ping", "response": {"output": "PING"}}
    assert second == {
        "id": "b",
        "name": "ping",
        "response": {"error": "no function calling handler for ping"},
    }


async def test_tool_call_cancellation_cancels_the_running_handler() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow(call: FunctionCall) -> dict[str, object]:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {"output": "too late"}

    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        controller = await session.start_audio_conversation(slow, source=silence_forever(), sink=BufferSink())
        await server.send({"toolCall": {"functionCalls": [{"id": "c9", "name": "slow"}]}})
        await asyncio.wait_for(started.wait(), 5)
        await server.send({"toolCallCancellation": {"ids": ["c9"]}})
        await asyncio.wait_for(cancelled.wait(), 5)
        await controller.stop()
    assert _tool_responses(server) == []


async def test_a_server_error_ends_the_conversation_with_a_live_error() -> None:
    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        controller = await session.start_audio_conversation(source=silence_forever(), sink=BufferSink())
        await server.close(1011, "Internal error encountered.")
        with pytest.raises(LiveError) as info:
            await asyncio.wait_for(controller.wait(), 5)
        assert not controller.running
        await controller.stop()
    assert info.value.code == 1011


async def test_wav_file_source_paces_in_real_time_and_wav_sink_writes_the_reply(tmp_path: Path) -> None:
    question = tmp_path / "q.wav"
    write_wav(question, b"\x00\x01" * 4800, 16000)  # 300 ms
    answer = tmp_path / "a.wav"
    sink = WavFileSink(answer)
    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        started = time.monotonic()
        controller = await session.start_audio_conversation(
            source=WavFileSource(question, trailing_silence_s=0.1), sink=sink
        )
        await server.wait_for("realtimeInput")
        await asyncio.wait_for(_until(lambda: "audioStreamEnd" in str(server.frames[-1])), 5)
        elapsed = time.monotonic() - started
        await server.send(audio_message(b"\x05\x00" * 2400))
        await server.send({"serverContent": {"turnComplete": True}})
        assert await controller.wait_for_turn(timeout=5)
        await controller.stop()
    assert elapsed >= 0.3  # 400 ms of audio: not sent in one burst
    assert read_wav(answer) == (b"\x05\x00" * 2400, 24000)


def test_a_missing_sounddevice_is_a_clear_audio_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from openlive.client.devices import import_sounddevice

    monkeypatch.setitem(sys.modules, "sounddevice", None)  # makes the import fail as if not installed
    with pytest.raises(AudioDeviceError, match="pip install sounddevice"):
        import_sounddevice()
