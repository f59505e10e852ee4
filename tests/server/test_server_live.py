"""The Live WebSocket endpoint over a real uvicorn server: paths, setup, bad input, limits, failures."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import InvalidStatus

from conftest import (
    LIVE,
    MODEL,
    SETUP,
    LiveServer,
    ServerFactory,
    assert_session_works,
    echo,
    expect_close,
    open_session,
    recv_json,
)

VERSIONS = ("v1", "v1beta", "v1alpha", "v1beta1")

LIVE_PATHS = [
    *(f"/ws/google.ai.generativelanguage.{v}.GenerativeService.BidiGenerateContent" for v in VERSIONS),
    *(
        f"/ws/google.ai.generativelanguage.{v}.GenerativeService.BidiGenerateContentConstrained"
        for v in VERSIONS
    ),
    "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent",
    "/ws/google.cloud.aiplatform.v1.LlmBidiService/BidiGenerateContent/locations/us-central1",
    "/ws/google.firebase.vertexai.v1beta.GenerativeService/BidiGenerateContent",
    "/ws/google.firebase.vertexai.v1beta.LlmBidiService/BidiGenerateContent/locations/us-central1",
    # @google/genai's double slash, and repeated slashes anywhere.
    "//ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent",
    "/ws//google.cloud.aiplatform.v1beta1.LlmBidiService//BidiGenerateContent",
    # A server mounted under a prefix.
    "/openlive/ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContent",
]


@pytest.mark.parametrize("path", LIVE_PATHS)
async def test_every_client_path_reaches_a_session(server: LiveServer, path: str) -> None:
    async with server.connect(path + "?key=k") as ws:
        opened = await open_session(ws)
        assert list(opened) == ["setupComplete"] and len(opened["setupComplete"]["sessionId"]) == 32
        assert await echo(ws, "hi") == "echo: hi"


@pytest.mark.parametrize(
    "path",
    [
        "/ws/google.ai.generativelanguage.v2.GenerativeService.BidiGenerateContent",
        "/ws/google.ai.generativelanguage.v1beta.GenerativeService.StreamGenerateContent",
        "/socket",
    ],
)
async def test_unknown_paths_close_1008_not_found(server: LiveServer, path: str) -> None:
    async with server.connect(path) as ws:
        assert await expect_close(ws) == (1008, "Requested entity was not found.")


async def test_setup_complete_is_binary_and_first_even_when_the_client_does_not_wait(
    server: LiveServer,
) -> None:
    async with server.connect() as ws:
        # Everything at once, before setupComplete: nothing may be lost, and setupComplete comes first.
        await ws.send(SETUP)
        for i in range(3):
            await ws.send(json.dumps({"realtimeInput": {"text": f"early {i}"}}))
        first = await asyncio.wait_for(ws.recv(), 5)
        assert isinstance(first, bytes)  # Google sends binary frames
        assert list(json.loads(first)) == ["setupComplete"]
        texts = []
        for _ in range(6):
            msg = await recv_json(ws)
            if "modelTurn" in msg["serverContent"]:
                texts.append(msg["serverContent"]["modelTurn"]["parts"][0]["text"])
        assert texts == ["echo: early 0", "echo: early 1", "echo: early 2"]
    session = server.engine.sessions[-1]
    assert session.started


async def test_unknown_model_closes_1008_with_the_api_version(server: LiveServer) -> None:
    path = "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContent"
    async with server.connect(path) as ws:
        await ws.send(json.dumps({"setup": {"model": "models/no-such-model"}}))
        code, reason = await expect_close(ws)
    assert code == 1008
    assert reason.startswith("models/no-such-model is not found for API version v1alpha")
    assert len(reason.encode()) <= 123


BAD_FIRST_FRAMES = {
    "not json": ("not json", 1007),
    "json array": ("[1, 2]", 1007),
    "no message type": ("{}", 1007),
    "setup without model": ('{"setup": {}}', 1007),
    "model of the wrong type": ('{"setup": {"model": 5}}', 1007),
    "first message is not setup": ('{"realtimeInput": {"text": "hi"}}', 1007),
    "invalid utf-8 binary": (b"\xff\xfe\x00", 1007),
}


@pytest.mark.parametrize("name", BAD_FIRST_FRAMES)
async def test_bad_first_frame_closes_and_other_sessions_live_on(server: LiveServer, name: str) -> None:
    frame, code = BAD_FIRST_FRAMES[name]
    async with server.connect() as bystander:
        await open_session(bystander)
        async with server.connect() as ws:
            await ws.send(frame)
            got_code, reason = await expect_close(ws)
        assert got_code == code, reason
        assert reason.startswith("Request contains an invalid argument")
        await assert_session_works(server, bystander)


BAD_LATER_FRAMES = {
    "not json": "{{{",
    "json not an object": '"text"',
    "no message type": '{"hello": 1}',
    "two message types": '{"clientContent": {}, "realtimeInput": {}}',
    "wrong field type": '{"clientContent": {"turns": "x"}}',
    "broken base64": '{"realtimeInput": {"audio": {"data": "@@@", "mimeType": "audio/pcm;rate=16000"}}}',
    "second setup": SETUP,
}


@pytest.mark.parametrize("name", BAD_LATER_FRAMES)
async def test_bad_frame_after_setup_closes_1007_and_other_sessions_live_on(
    server: LiveServer, name: str
) -> None:
    async with server.connect() as bystander:
        await open_session(bystander)
        async with server.connect() as ws:
            await open_session(ws)
            await ws.send(BAD_LATER_FRAMES[name])
            code, reason = await expect_close(ws)
        assert code == 1007, reason
        assert reason.startswith("Request contains an invalid argument")
        assert len(reason.encode()) <= 123
        await assert_session_works(server, bystander)
    assert server.engine.sessions[1].closed  # the failed session was closed by the server


@pytest.mark.parametrize(
    ("size_kib", "reason"),
    [
        (70, "Request payload size exceeds the limit: 65536 bytes."),  # our own check
        (200, "frame exceeds limit of 131072 bytes"),  # the WebSocket layer's hard cap
    ],
)
async def test_oversized_message_closes_1009(
    server_factory: ServerFactory, size_kib: int, reason: str
) -> None:
    server = await server_factory(max_message_bytes=64 * 1024)
    async with server.connect(max_size=None) as bystander:
        await open_session(bystander)
        async with server.connect() as ws:
            await open_session(ws)
            # Just under the limit is fine.
            assert await echo(ws, "x" * (60 * 1024)) == "echo: " + "x" * (60 * 1024)
            await ws.send(json.dumps({"realtimeInput": {"text": "x" * (size_kib * 1024)}}))
            assert await expect_close(ws) == (1009, reason)
        await assert_session_works(server, bystander)
        await assert_session_works(server, bystander)


async def test_no_setup_in_time_closes_1008(server_factory: ServerFactory) -> None:
    server = await server_factory(setup_timeout_s=0.3)
    async with server.connect() as bystander:
        await open_session(bystander)
        async with server.connect() as ws:
            code, reason = await expect_close(ws)
        assert (code, reason) == (1008, "The setup message was not received in time.")
        await assert_session_works(server, bystander)


async def test_flood_closes_1008_rate_limit(server_factory: ServerFactory) -> None:
    server = await server_factory(max_messages_per_second=20.0, message_burst=30)
    async with server.connect() as bystander:
        await open_session(bystander)
        async with server.connect() as ws:
            await open_session(ws)
            for _ in range(100):
                try:
                    await ws.send(json.dumps({"realtimeInput": {"audioStreamEnd": True}}))
                except Exception:
                    break
            code, reason = await expect_close(ws)
        assert code == 1008
        assert "rate limit exceeded" in reason
        await assert_session_works(server, bystander)


async def test_client_disconnect_mid_answer_closes_the_session_quietly(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with server.connect() as bystander:
        await open_session(bystander)
        async with server.connect() as ws:
            await open_session(ws)
            await ws.send(json.dumps({"realtimeInput": {"text": "slow"}}))
            await recv_json(ws)  # the answer has started
        session = server.engine.sessions[1]
        for _ in range(100):
            if session.closed:
                break
            await asyncio.sleep(0.02)
        assert session.closed
        await assert_session_works(server, bystander)
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


async def test_a_client_that_stops_reading_is_dropped_without_hurting_others(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openlive.server import connection

    monkeypatch.setattr(connection, "SLOW_CLIENT_TIMEOUT_S", 0.5)
    monkeypatch.setattr(connection, "OUTBOX_MAX_MESSAGES", 4)
    async with server.connect() as bystander:
        await open_session(bystander)
        async with server.connect(max_size=None) as ws:
            await open_session(ws)
            ws.transport.pause_reading()
            await ws.send(json.dumps({"realtimeInput": {"text": "firehose"}}))
            session = server.engine.sessions[1]
            # The client reads nothing: the server's buffers fill, the writer stalls, and the server
            # gives up on this connection after the timeouts (not after the 2000 messages).
            for _ in range(200):
                if session.closed:
                    break
                await asyncio.sleep(0.05)
            assert session.closed
            ws.transport.resume_reading()
            await assert_session_works(server, bystander)
            code, _ = await expect_close(ws, timeout=20)
        # 1011 when the close frame got through the full buffers, else an abnormal closure.
        assert code in (1011, 1006)
    assert server.handle.state.metrics.value("openlive_closes_total", code="1011") == 1


async def test_unexpected_exception_closes_1011_and_the_server_keeps_serving(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with server.connect() as bystander:
        await open_session(bystander)
        async with server.connect() as ws:
            await open_session(ws)
            await ws.send(json.dumps({"realtimeInput": {"text": "boom"}}))
            assert await expect_close(ws) == (1011, "Internal error encountered.")
        await assert_session_works(server, bystander)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors and errors[0].exc_info is not None  # logged with its traceback


async def test_session_close_flushes_queued_messages_first(server: LiveServer) -> None:
    async with server.connect() as ws:
        await open_session(ws)
        await ws.send(json.dumps({"realtimeInput": {"text": "bye"}}))
        msg = await recv_json(ws)
        assert msg["serverContent"]["modelTurn"]["parts"][0]["text"] == "goodbye"
        await recv_json(ws)  # turnComplete
        assert await expect_close(ws) == (1000, "bye")


async def test_max_sessions_refuses_the_handshake_with_503(server_factory: ServerFactory) -> None:
    """A full replica refuses at the handshake (a load balancer then tries another), not after accepting."""
    server = await server_factory(max_sessions=2)
    async with server.connect() as a, server.connect() as b:
        await open_session(a)
        await open_session(b)
        with pytest.raises(InvalidStatus) as refused:
            async with server.connect():
                pass
        response = refused.value.response
        assert response.status_code == 503
        assert json.loads(response.body)["error"]["status"] == "UNAVAILABLE"
        await assert_session_works(server, a)
    assert server.handle.state.metrics.value("openlive_handshakes_refused_total", reason="full") == 1
    # Once sessions end, their slots are free again.
    for _ in range(100):
        if not server.handle.state.connections:
            break
        await asyncio.sleep(0.02)
    await assert_session_works(server)


async def test_not_ready_engine_closes_1011(server_factory: ServerFactory) -> None:
    server = await server_factory(ready=False)
    async with server.connect() as ws:
        await ws.send(SETUP)
        assert await expect_close(ws) == (1011, "The service is currently unavailable.")


async def test_shutdown_sends_go_away_and_closes_sessions_1001(server: LiveServer) -> None:
    async with server.connect() as ws, server.connect() as waiting:
        await open_session(ws)
        await server.handle.state.close_all()
        assert await recv_json(ws) == {"goAway": {"timeLeft": "0s"}}
        assert await expect_close(ws) == (1001, "The server is shutting down.")
        # A connection that has not sent its setup yet is closed too.
        assert await expect_close(waiting) == (1001, "The server is shutting down.")


async def test_metrics_count_sessions_messages_and_closes(server: LiveServer) -> None:
    async with server.connect() as ws:
        await open_session(ws)
        await echo(ws, "a")
        await ws.send("oops")
        await expect_close(ws)
    text = server.handle.state.metrics.render().decode()
    assert "openlive_sessions_total 1" in text
    assert 'openlive_closes_total{code="1007"} 1' in text
    assert "openlive_messages_out_total 3" in text  # setupComplete, echo, turnComplete


def test_model_constant_is_a_gemini_alias() -> None:
    from openlive.engine import GEMINI_LIVE_MODEL_IDS

    assert MODEL.removeprefix("models/") in GEMINI_LIVE_MODEL_IDS
    assert LIVE.endswith("BidiGenerateContent")
