"""``openlive talk | say | models`` run as a user runs them (``cli.main.main``), against fake servers.

Each command runs in a worker thread (it calls ``asyncio.run`` itself) while the FakeLiveServer runs on
the test's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from live_fake_server import FakeLiveServer
from websockets.asyncio.server import ServerConnection

from openlive.cli.main import main
from openlive.client import BufferSink, read_wav, write_wav
from openlive.protocol.messages import Setup

REPLY = b"\x07\x00" * 2400  # 100 ms at 24 kHz


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def reply_turn(server: FakeLiveServer, transcript: str = "Paris is the capital.") -> None:
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": b64(REPLY)}}
    await server.send({"serverContent": {"modelTurn": {"parts": [part]}}})
    await server.send({"serverContent": {"outputTranscription": {"text": transcript}}})
    await server.send({"serverContent": {"turnComplete": True}})


async def test_say_text_writes_the_reply_wav_and_prints_its_transcript(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "answer.wav"
    async with FakeLiveServer() as server:
        argv = [
            "say",
            "--text",
            "What is the capital of France?",
            str(out),
            "--url",
            server.url,
            "--voice",
            "Kore",
        ]
        command = asyncio.create_task(asyncio.to_thread(main, argv))
        turn = await server.wait_for("clientContent")
        await reply_turn(server)
        assert await asyncio.wait_for(command, 10) == 0
    setup = server.json_frames()[0]["setup"]
    assert (
        setup["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Kore"
    )
    assert setup["outputAudioTranscription"] == {}
    assert turn["clientContent"]["turns"][0]["parts"] == [{"text": "What is the capital of France?"}]
    assert read_wav(out) == (REPLY, 24000)
    assert capsys.readouterr().out == "Paris is the capital.\n"


async def test_say_wav_streams_the_question_and_prints_what_was_heard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    question, out = tmp_path / "q.wav", tmp_path / "a.wav"
    write_wav(question, b"\x01\x00" * 8000, 16000)  # 500 ms
    async with FakeLiveServer() as server:
        command = asyncio.create_task(
            asyncio.to_thread(main, ["say", str(question), str(out), "--url", server.url])
        )
        await server.wait_for("realtimeInput")
        await asyncio.wait_for(_until(lambda: "audioStreamEnd" in server.frames[-1]), 10)
        await server.send({"serverContent": {"inputTranscription": {"text": "What is the capital?"}}})
        await reply_turn(server)
        assert await asyncio.wait_for(command, 10) == 0
    sent = b"".join(
        base64.b64decode(f["realtimeInput"]["audio"]["data"])
        for f in server.json_frames()
        if "audio" in f.get("realtimeInput", {})
    )
    assert sent.startswith(b"\x01\x00" * 8000) and len(sent) == 2 * (8000 + 16000)  # + 1 s of silence
    assert read_wav(out) == (REPLY, 24000)
    captured = capsys.readouterr()
    assert captured.out == "Paris is the capital.\n"
    assert "you: What is the capital?" in captured.err


async def _until(predicate: object) -> None:
    assert callable(predicate)
    while not predicate():
        await asyncio.sleep(0.01)


async def test_a_refused_key_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def refuse(ws: ServerConnection, setup: Setup) -> None:
        await ws.close(1008, "API key not valid. Please pass a valid API key.")

    async with FakeLiveServer(on_setup=refuse) as server:
        argv = ["say", "--text", "hi", str(tmp_path / "a.wav"), "--url", server.url, "--api-key", "wrong"]
        assert await asyncio.to_thread(main, argv) == 1
    err = capsys.readouterr().err
    assert (
        err
        == "openlive: the server refused the key (1008): API key not valid. Please pass a valid API key.\n"
    )


async def test_no_server_is_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeLiveServer() as server:
        port = server.port
    argv = ["say", "--text", "hi", str(tmp_path / "a.wav"), "--url", f"http://127.0.0.1:{port}"]
    assert await asyncio.to_thread(main, argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"openlive: cannot connect to ws://127.0.0.1:{port}/ws/")
    assert err.endswith("(is `openlive serve` running there?)\n") and err.count("\n") == 1


def test_bad_input_files_are_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_wav = tmp_path / "notes.wav"
    not_wav.write_text("hello")  # shorter than a RIFF header
    assert main(["say", str(tmp_path / "missing.wav"), str(tmp_path / "a.wav")]) == 1
    assert main(["say", str(not_wav), str(tmp_path / "a.wav")]) == 1
    assert main(["say", "--text", "hi", str(tmp_path / "nodir" / "a.wav")]) == 1
    assert main(["say", "only-one.wav"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"openlive: cannot read {tmp_path / 'missing.wav'}: no such file",
        f"openlive: cannot read {not_wav}: not a PCM WAV file (too short)",
        f"openlive: cannot write {tmp_path / 'nodir' / 'a.wav'}: {tmp_path / 'nodir'} does not exist",
        "openlive: usage: openlive say IN.wav OUT.wav  (or: openlive say --text '...' OUT.wav)",
    ]


async def test_talk_text_mode_sends_each_line_and_prints_the_reply(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Hello there\n\n"))
    async with FakeLiveServer() as server:
        command = asyncio.create_task(
            asyncio.to_thread(main, ["talk", "--text", "--url", server.url, "--system", "Be brief."])
        )
        turn = await server.wait_for("clientContent")
        await server.send({"serverContent": {"modelTurn": {"parts": [{"text": "Hi! "}]}}})
        await server.send({"serverContent": {"modelTurn": {"parts": [{"text": "How can I help?"}]}}})
        await server.send({"serverContent": {"turnComplete": True}})
        assert await asyncio.wait_for(command, 10) == 0
    setup = server.json_frames()[0]["setup"]
    assert setup["generationConfig"]["responseModalities"] == ["TEXT"]
    assert setup["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert turn["clientContent"]["turns"][0]["parts"] == [{"text": "Hello there"}]
    assert len([f for f in server.json_frames() if "clientContent" in f]) == 1  # the blank line is skipped
    assert capsys.readouterr().out == "model: Hi! How can I help?\n"


class _ModelsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.headers.get("x-goog-api-key") != "good":
            body, status = (
                {"error": {"code": 403, "message": "API key not valid.", "status": "PERMISSION_DENIED"}},
                403,
            )
        elif self.path == "/v1beta/models":
            models = [{"name": "models/openlive-embedded", "description": "CPU stack"}]
            body, status = {"models": models}, 200
        else:
            body, status = {"error": {"code": 404, "message": "Method not found."}}, 404
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def models_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ModelsHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_models_lists_the_servers_models(models_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--url", models_server, "--api-key", "good"]) == 0
    assert capsys.readouterr().out == "models/openlive-embedded  CPU stack\n"
    assert main(["models", "--url", models_server, "--api-key", "good", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["models"][0]["name"] == "models/openlive-embedded"


def test_models_with_a_wrong_key_or_no_server_is_one_line(
    models_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--url", models_server, "--api-key", "bad"]) == 1
    assert capsys.readouterr().err == "openlive: the server refused the key (HTTP 403): API key not valid.\n"
    assert main(["models", "--url", "http://127.0.0.1:9", "--api-key", "good"]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("openlive: cannot connect to http://127.0.0.1:9/v1beta/models")
        and err.count("\n") == 1
    )


class ScriptedMicrophone:
    """Stands in for the microphone: 200 ms of audio, then nothing (the session stays open)."""

    sample_rate = 16000

    def __init__(self, device: object = None) -> None:
        self.muted = False

    def check(self) -> None:
        pass

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"\x01\x00" * 3200
        await asyncio.Event().wait()


class ScriptedSpeaker(BufferSink):
    def __init__(self, device: object = None) -> None:
        super().__init__()

    @property
    def playing(self) -> bool:
        return bool(self.pcm)


async def test_talk_voice_mode_prints_both_sides_live(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("openlive.cli.talk.MicrophoneSource", ScriptedMicrophone)
    monkeypatch.setattr("openlive.cli.talk.SpeakerSink", ScriptedSpeaker)
    async with FakeLiveServer() as server:
        command = asyncio.create_task(
            asyncio.to_thread(main, ["talk", "--url", server.url, "--voice", "Puck"])
        )
        await server.wait_for("realtimeInput")
        for message in [
            {"serverContent": {"inputTranscription": {"text": "What is"}}},
            {"serverContent": {"inputTranscription": {"text": " the capital?"}}},
            {"serverContent": {"outputTranscription": {"text": "Paris"}}},
            {"serverContent": {"outputTranscription": {"text": " is."}}},
            {"serverContent": {"interrupted": True}},
            {"serverContent": {"turnComplete": True}},
        ]:
            await server.send(message)
        await asyncio.sleep(0.2)
        await server.close(1000, "bye")
        assert await asyncio.wait_for(command, 10) == 0
    setup = server.json_frames()[0]["setup"]
    assert setup["inputAudioTranscription"] == {} and setup["outputAudioTranscription"] == {}
    assert capsys.readouterr().out == "you: What is the capital?\nmodel: Paris is.\n[interrupted]\n"
