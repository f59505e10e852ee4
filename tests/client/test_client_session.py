"""LiveModel / LiveSession against FakeLiveServer: the exact wire of every method, typed receive, errors."""

from __future__ import annotations

import asyncio
import base64

import numpy as np
import pytest
from live_fake_server import FakeLiveServer
from websockets.asyncio.server import ServerConnection

from openlive.client import (
    AudioTranscriptionConfig,
    Content,
    FunctionDeclaration,
    FunctionResponse,
    LiveConnectionError,
    LiveError,
    LiveGenerationConfig,
    LiveModel,
    LiveServerContent,
    LiveServerGoingAwayNotice,
    LiveServerSessionResumptionUpdate,
    LiveServerToolCall,
    LiveServerToolCallCancellation,
    LiveUsage,
    Part,
    SpeechConfig,
    Tool,
    audio_of,
)
from openlive.protocol.messages import Setup

PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_connect_opens_the_genai_path_with_the_key_header_and_sends_setup() -> None:
    async with FakeLiveServer() as server:
        model = LiveModel(
            "gemini-2.5-flash-native-audio-preview-12-2025",
            LiveGenerationConfig(
                response_modalities=["AUDIO"],
                speech_config=SpeechConfig(voice_name="Kore", language_code="ja-JP"),
                temperature=0.5,
                top_p=0.9,
                top_k=40,
                max_output_tokens=100,
                input_audio_transcription=True,
                output_audio_transcription=AudioTranscriptionConfig(language_codes=["ja-JP"]),
            ),
            system_instruction="Be brief.",
            tools=[Tool(function_declarations=[FunctionDeclaration(name="lights", description="Turn on")])],
            base_url=server.url,
            api_key="secret",
        )
        async with model.connect() as session:
            assert session.session_id is None
        assert server.paths == [PATH]
        assert server.headers[0]["x-goog-api-key"] == "secret"
        assert server.json_frames()[0] == {
            "setup": {
                "model": "models/gemini-2.5-flash-native-audio-preview-12-2025",
                "generationConfig": {
                    "responseModalities": ["AUDIO"],
                    "temperature": 0.5,
                    "topP": 0.9,
                    "topK": 40,
                    "maxOutputTokens": 100,
                    "speechConfig": {
                        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}},
                        "languageCode": "ja-JP",
                    },
                },
                "systemInstruction": {"role": "user", "parts": [{"text": "Be brief."}]},
                "tools": [{"functionDeclarations": [{"name": "lights", "description": "Turn on"}]}],
                "inputAudioTranscription": {},
                "outputAudioTranscription": {"languageCodes": ["ja-JP"]},
            }
        }
        # The context manager closes with Firebase's normal close.
        await asyncio.wait_for(server.ws.wait_closed(), 5)
        assert server.ws.close_code == 1000


async def test_connect_is_also_awaitable_and_reports_the_session_id() -> None:
    async def reply(ws: ServerConnection, setup: Setup) -> None:
        await ws.send('{"setupComplete": {"sessionId": "s-1"}}')  # a text frame works too

    async with FakeLiveServer(on_setup=reply) as server:
        session = await LiveModel(
            "m", base_url=f"ws://127.0.0.1:{server.port}", api_version="v1alpha"
        ).connect()
        assert session.session_id == "s-1"
        await session.close()
        assert server.paths == [PATH.replace("v1beta", "v1alpha")]
        assert "x-goog-api-key" not in server.headers[0]


async def test_every_send_method_puts_the_documented_message_on_the_wire() -> None:
    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        await session.send("What is the capital of France?")
        await session.send(["look:", Part(text="here")], turn_complete=False)
        await session.send([Content(role="user", parts=[Part(text="hi")]), Content(role="model", parts=[])])
        await session.send_text_realtime("hello")
        await session.send_audio_realtime(b"\x01\x00\x02\x00")
        await session.send_audio_realtime(
            np.array([0.0, 1.0, -1.0, 2.0], dtype=np.float32), sample_rate=48000
        )
        await session.send_audio_realtime(np.array([[100, 300], [-5, -7]], dtype=np.int16), sample_rate=8000)
        await session.send_video_realtime(b"\xff\xd8\xff\xe0jpeg")
        await session.send_activity_start()
        await session.send_activity_end()
        await session.send_audio_stream_end()
        await session.send_function_responses([FunctionResponse(id="c1", name="f", response={"output": 42})])
        frames = (await server.wait_frames(13))[1:]
    pcm_f = np.array([0, 32767, -32767, 32767], dtype="<i2").tobytes()
    pcm_stereo = np.array([200, -6], dtype="<i2").tobytes()
    assert frames == [
        {
            "clientContent": {
                "turns": [{"role": "user", "parts": [{"text": "What is the capital of France?"}]}],
                "turnComplete": True,
            }
        },
        {
            "clientContent": {
                "turns": [{"role": "user", "parts": [{"text": "look:"}, {"text": "here"}]}],
                "turnComplete": False,
            }
        },
        {
            "clientContent": {
                "turns": [{"role": "user", "parts": [{"text": "hi"}]}, {"role": "model", "parts": []}],
                "turnComplete": True,
            }
        },
        {"realtimeInput": {"text": "hello"}},
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": b64(b"\x01\x00\x02\x00")}}},
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=48000", "data": b64(pcm_f)}}},
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=8000", "data": b64(pcm_stereo)}}},
        {"realtimeInput": {"video": {"mimeType": "image/jpeg", "data": b64(b"\xff\xd8\xff\xe0jpeg")}}},
        {"realtimeInput": {"activityStart": {}}},
        {"realtimeInput": {"activityEnd": {}}},
        {"realtimeInput": {"audioStreamEnd": True}},
        {"toolResponse": {"functionResponses": [{"id": "c1", "name": "f", "response": {"output": 42}}]}},
    ]


async def test_video_frames_that_are_not_encoded_images_are_refused_clearly() -> None:
    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        with pytest.raises(ValueError, match="JPEG or PNG"):
            await session.send_video_realtime(b"not an image")
        await session.send_video_realtime(b"raw", mime_type="image/webp")
        frame = await server.wait_for("realtimeInput")
    assert frame == {"realtimeInput": {"video": {"mimeType": "image/webp", "data": b64(b"raw")}}}


async def test_receive_yields_typed_messages_until_the_server_closes_normally() -> None:
    audio = b"\x10\x00" * 8
    audio_part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": b64(audio)}}
    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        for message in [
            {"serverContent": {"inputTranscription": {"text": "hello"}}},
            {"serverContent": {"modelTurn": {"parts": [audio_part]}}},
            {"serverContent": {"outputTranscription": {"text": "Hi!"}}},
            {"toolCall": {"functionCalls": [{"id": "c1", "name": "lights", "args": {"room": "kitchen"}}]}},
            {"toolCallCancellation": {"ids": ["c1"]}},
            {"goAway": {"timeLeft": "50s"}},
            {"sessionResumptionUpdate": {"newHandle": "h-1", "resumable": True}},
            {"serverContent": {"turnComplete": True}, "usageMetadata": {"totalTokenCount": 5}},
        ]:
            await server.send(message)
        await server.close(1000, "bye")
        received = [m async for m in session.receive()]

    kinds = [type(m) for m in received]
    assert kinds == [
        LiveServerContent,
        LiveServerContent,
        LiveServerContent,
        LiveServerToolCall,
        LiveServerToolCallCancellation,
        LiveServerGoingAwayNotice,
        LiveServerSessionResumptionUpdate,
        LiveServerContent,
        LiveUsage,
    ]
    first, second, _, call, cancel, go_away, _, done, usage = received
    assert isinstance(first, LiveServerContent) and first.input_transcription is not None
    assert first.input_transcription.text == "hello"
    assert isinstance(second, LiveServerContent) and audio_of(second) == [(audio, "audio/pcm;rate=24000")]
    assert isinstance(call, LiveServerToolCall) and call.function_calls[0].args == {"room": "kitchen"}
    assert isinstance(cancel, LiveServerToolCallCancellation) and cancel.ids == ["c1"]
    assert isinstance(go_away, LiveServerGoingAwayNotice) and go_away.time_left_s == 50.0
    assert isinstance(done, LiveServerContent) and done.turn_complete
    assert isinstance(usage, LiveUsage) and usage.total_token_count == 5
    assert session.resumption_handle == "h-1"


async def test_receive_turn_stops_at_turn_complete_and_receive_continues_after_it() -> None:
    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        await server.send({"serverContent": {"outputTranscription": {"text": "one"}}})
        await server.send({"serverContent": {"turnComplete": True}, "usageMetadata": {"totalTokenCount": 9}})
        await server.send({"serverContent": {"outputTranscription": {"text": "two"}}})
        first_turn = [m async for m in session.receive_turn()]
        # The usage that rides on the turnComplete frame belongs to the turn.
        assert [type(m) for m in first_turn] == [LiveServerContent, LiveServerContent, LiveUsage]
        nxt = await anext(session.receive())
    assert isinstance(nxt, LiveServerContent) and nxt.output_transcription is not None
    assert nxt.output_transcription.text == "two"


@pytest.mark.parametrize("code", [1007, 1008, 1011])
async def test_a_close_during_setup_is_a_live_error_with_code_and_reason(code: int) -> None:
    async def refuse(ws: ServerConnection, setup: Setup) -> None:
        await ws.close(code, "API key not valid. Please pass a valid API key.")

    async with FakeLiveServer(on_setup=refuse) as server:
        with pytest.raises(LiveError) as info:
            await LiveModel("m", base_url=server.url, api_key="wrong").connect()
    assert (info.value.code, info.value.reason) == (code, "API key not valid. Please pass a valid API key.")


async def test_a_close_mid_session_raises_from_receive_and_from_send() -> None:
    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        await server.send({"serverContent": {"outputTranscription": {"text": "partial"}}})
        await server.close(1011, "Internal error encountered.")
        received = []
        with pytest.raises(LiveError) as info:
            async for message in session.receive():
                received.append(message)
        assert len(received) == 1
        assert (info.value.code, info.value.reason) == (1011, "Internal error encountered.")
        with pytest.raises(LiveError):
            await session.send_text_realtime("anyone there?")


async def test_no_server_is_a_connection_error() -> None:
    async with FakeLiveServer() as server:
        port = server.port  # a port that was just free and is closed again below
    with pytest.raises(LiveConnectionError) as info:
        await LiveModel("m", base_url=f"http://127.0.0.1:{port}").connect()
    assert info.value.code == 1006
    assert f"127.0.0.1:{port}" in info.value.reason


async def test_a_server_that_never_answers_setup_times_out() -> None:
    async def ignore(ws: ServerConnection, setup: Setup) -> None:
        await ws.wait_closed()  # never answers; returns once the client gives up

    async with FakeLiveServer(on_setup=ignore) as server:
        with pytest.raises(LiveConnectionError, match=r"did not answer setup within 0\.3 s"):
            await LiveModel("m", base_url=server.url, setup_timeout_s=0.3).connect()


async def test_a_first_message_other_than_setup_complete_is_a_handshake_failure() -> None:
    async def wrong(ws: ServerConnection, setup: Setup) -> None:
        await ws.send('{"serverContent": {"turnComplete": true}}')

    async with FakeLiveServer(on_setup=wrong) as server:
        with pytest.raises(LiveError, match="Handshake failure") as info:
            await LiveModel("m", base_url=server.url).connect()
    assert info.value.code == 1011


async def test_resume_reconnects_with_the_last_handle() -> None:
    async with FakeLiveServer() as server:
        session = await LiveModel("m", base_url=server.url).connect(session_resumption=True)
        assert server.json_frames()[0]["setup"]["sessionResumption"] == {}
        await server.send({"sessionResumptionUpdate": {"newHandle": "h-7", "resumable": True}})
        await server.send({"serverContent": {"turnComplete": True}})
        _ = [m async for m in session.receive_turn()]
        await session.resume()
        await session.send_text_realtime("still there?")
        frames = await server.wait_frames(3)
        await session.close()
    assert len(server.connections) == 2
    assert server.connections[0].close_code == 1000
    assert frames[1]["setup"]["sessionResumption"] == {"handle": "h-7"}
    assert frames[2] == {"realtimeInput": {"text": "still there?"}}


async def test_resume_without_a_handle_is_refused() -> None:
    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        with pytest.raises(LiveError, match="no session resumption handle"):
            await session.resume()


async def test_unencoded_frames_need_pillow_or_are_encoded_with_it() -> None:
    frame = np.zeros((4, 4, 3), dtype=np.uint8)
    async with FakeLiveServer() as server, LiveModel("m", base_url=server.url).connect() as session:
        try:
            import PIL  # noqa: F401
        except ImportError:
            with pytest.raises(TypeError, match="needs Pillow"):
                await session.send_video_realtime(frame)
            return
        await session.send_video_realtime(frame)
        sent = await server.wait_for("realtimeInput")
    video = sent["realtimeInput"]["video"]
    assert video["mimeType"] == "image/jpeg"
    assert base64.b64decode(video["data"]).startswith(b"\xff\xd8")
