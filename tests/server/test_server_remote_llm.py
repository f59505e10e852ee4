"""openlive with its language model on a real OpenAI-compatible engine: ``openlive serve --llm-url``
against llama-cpp-python's own server (tests/support/llama_server.py) serving the packaged Qwen2.5 1.5B,
both started here on 127.0.0.1. Real google-genai conversations through it (streamed text, a tool call in
OpenAI's ``tools`` format, usage; a spoken question answered aloud; a barge-in that stops the engine),
``toolConfig`` as ``tool_choice`` over a raw WebSocket (google-genai's Live config has no ``tool_config``),
and the engine dying mid-reply and being unreachable: a clear 1011, and the next session works once the
engine is back.

A second copy of the 1.5B model on two shared cores is slow, so the prompts are short, replies are capped
with ``max_output_tokens``, and there are few tests; one engine and one openlive serve the module.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import types
from llama_server import LlamaServer
from serve_process import ServeProcess
from voice_audio import REPLY_BYTES_PER_S, Microphone, Recorder, espeak_pcm16k, transcription, turn_audio
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.models

API_KEY = "remote-llm-key"
MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
LIVE = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
TURN_TIMEOUT_S = 120.0
TOOL_RESULT_HINT = "Answer the person with this result; do not call the function again."


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    with LlamaServer(tmp_path_factory.mktemp("llama-server")) as srv:
        yield srv


@pytest.fixture(scope="module")
def server(engine: LlamaServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    env = {
        # Fail fast in the failure tests: a short pause between two tries, one retry.
        "OPENLIVE_LLM_RETRIES": "1",
        "OPENLIVE_LLM_CONNECT_TIMEOUT_S": "2",
        "OPENLIVE_LLM_READ_TIMEOUT_S": "60",
        # The 1.5B model calls the function again when handed a bare result (the embedded prompt says so too).
        "OPENLIVE_LLM_TOOL_RESULT_HINT": TOOL_RESULT_HINT,
    }
    with ServeProcess(
        tmp_path_factory.mktemp("remote-llm"),
        API_KEY,
        tls=True,
        log_lines=60,
        extra_args=["--llm-url", engine.url, "--llm-model", "qwen"],
        env=env,
    ) as srv:
        yield srv


def client(server: ServeProcess) -> genai.Client:
    ctx = ssl.create_default_context(cafile=str(server.cert))
    return genai.Client(
        api_key=API_KEY,
        http_options=types.HttpOptions(base_url=server.https_url, async_client_args={"ssl": ctx}),
    )


def connect(server: ServeProcess, **config: Any) -> Any:
    config.setdefault("response_modalities", ["TEXT"])
    config.setdefault("temperature", 0)
    return client(server).aio.live.connect(model=MODEL, config=types.LiveConnectConfig(**config))


def user(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


def explain(server: ServeProcess, engine: LlamaServer) -> str:
    return f"{server.log_tail()}\n{engine.log_tail(10)}"


async def test_a_text_conversation_streams_through_the_engine_with_its_usage(
    server: ServeProcess, engine: LlamaServer
) -> None:
    async with asyncio.timeout(TURN_TIMEOUT_S), connect(server, max_output_tokens=40) as session:
        await session.send_client_content(turns=user("My name is Ada. Say hello to me in one sentence."))
        first = [m async for m in session.receive()]
        await session.send_client_content(turns=user("What is my name? Answer with the name only."))
        second = [m async for m in session.receive()]
    parts = [m.text for m in first if m.text]
    assert len(parts) >= 2, (parts, explain(server, engine))  # streamed, not one block at the end
    answer = "".join(m.text or "" for m in second)
    assert "ada" in answer.lower(), (answer, explain(server, engine))
    usage = [m.usage_metadata for m in second if m.usage_metadata]
    assert usage and (usage[-1].prompt_token_count or 0) > 20, (usage, explain(server, engine))
    assert (usage[-1].response_token_count or 0) >= 1
    # Each turn's stage marks reach the replica's Prometheus histograms.
    metrics = httpx.get(f"{server.http_url}/metrics", timeout=5).text
    counts = re.findall(r'openlive_turn_mark_seconds_count\{mark="first_token"\} (\d+)', metrics)
    assert counts and int(counts[0]) >= 2, metrics[-2000:]


async def test_a_spoken_question_gets_a_spoken_answer_from_the_engine(
    server: ServeProcess, engine: LlamaServer, tmp_path: Path
) -> None:
    """The speech stages stay on the replica; only the words go to the engine."""
    question = espeak_pcm16k("What is the capital of France?", tmp_path, voice="en-gb", words_per_minute=160)
    config = {
        "response_modalities": ["AUDIO"],
        "output_audio_transcription": {},
        "system_instruction": "You are a voice assistant. Answer in one short sentence.",
        "max_output_tokens": 40,
    }
    async with connect(server, **config) as session, Recorder(session) as rec, Microphone(session) as mic:
        mic.say(question)
        finished = await rec.wait_turns(1, TURN_TIMEOUT_S)
    why = f"{rec.explain()}\n{explain(server, engine)}"
    assert finished, why
    turn = rec.turns()[0]
    assert "paris" in transcription(turn, "output_transcription").lower(), why
    pcm = b"".join(blob.data or b"" for blob in turn_audio(turn))
    assert len(pcm) > REPLY_BYTES_PER_S // 2, why  # more than half a second of speech


async def test_a_tool_call_in_openai_form_and_the_answer_to_its_result(
    server: ServeProcess, engine: LlamaServer
) -> None:
    weather = types.FunctionDeclaration(
        name="get_weather",
        description="The current weather in a city.",
        parameters=types.Schema(
            type=types.Type.OBJECT,
            properties={"city": types.Schema(type=types.Type.STRING)},
            required=["city"],
        ),
    )
    tools = [types.Tool(function_declarations=[weather])]
    async with asyncio.timeout(TURN_TIMEOUT_S), connect(server, tools=tools, max_output_tokens=60) as session:
        await session.send_client_content(turns=user("What is the weather in Paris?"))
        calls: list[types.FunctionCall] = []
        async for message in session.receive():
            if message.tool_call:
                calls += message.tool_call.function_calls or []
                break  # the turn waits for the result
        assert [(c.name, (c.args or {}).get("city")) for c in calls] == [("get_weather", "Paris")], explain(
            server, engine
        )
        result = types.FunctionResponse(id=calls[0].id, name="get_weather", response={"output": "sunny"})
        await session.send_tool_response(function_responses=[result])
        answer = "".join([m.text or "" async for m in session.receive()])
    assert "sunny" in answer.lower(), (answer, explain(server, engine))


async def _tool_turn(server: ServeProcess, text: str, tool_config: dict[str, Any]) -> tuple[list[str], str]:
    """One TEXT turn with two functions and ``tool_config``, over a raw WebSocket (google-genai's Live
    config has no ``tool_config``): (names of the functions called, text received)."""
    timer = {
        "name": "set_timer",
        "description": "Start a countdown timer.",
        "parameters": {
            "type": "OBJECT",
            "properties": {"minutes": {"type": "NUMBER"}},
            "required": ["minutes"],
        },
    }
    weather = {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]},
    }
    setup = {
        "model": f"models/{MODEL}",
        "generationConfig": {"responseModalities": ["TEXT"], "temperature": 0, "maxOutputTokens": 60},
        "tools": [{"functionDeclarations": [weather, timer]}],
        "toolConfig": tool_config,
    }
    calls: list[str] = []
    texts: list[str] = []
    async with ws_connect(f"{server.ws_url}{LIVE}?key={API_KEY}", open_timeout=10, close_timeout=5) as ws:
        await ws.send(json.dumps({"setup": setup}))
        assert "setupComplete" in json.loads(await ws.recv())
        turn = {"turns": [{"role": "user", "parts": [{"text": text}]}], "turnComplete": True}
        await ws.send(json.dumps({"clientContent": turn}))
        async with asyncio.timeout(TURN_TIMEOUT_S):
            while True:
                message = json.loads(await ws.recv())
                if "toolCall" in message:
                    return [c["name"] for c in message["toolCall"]["functionCalls"]], "".join(texts)
                content = message.get("serverContent", {})
                texts += [p.get("text", "") for p in content.get("modelTurn", {}).get("parts", [])]
                if content.get("turnComplete"):
                    return calls, "".join(texts)


async def test_tool_config_reaches_the_engine_as_tool_choice(
    server: ServeProcess, engine: LlamaServer
) -> None:
    """ANY with one allowed function: the engine is sent that function as ``tool_choice`` and calls it
    even for a question words would answer; NONE: a question that calls under AUTO is answered in
    words (no tools are sent)."""
    forced = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["set_timer"]}}
    calls, text = await _tool_turn(server, "Tell me a short joke.", forced)
    assert calls == ["set_timer"], (text, explain(server, engine))
    calls, text = await _tool_turn(server, "What is the weather in Paris?", {"functionCallingConfig": {}})
    assert calls == ["get_weather"], (text, explain(server, engine))  # AUTO, for contrast
    calls, text = await _tool_turn(
        server, "What is the weather in Paris?", {"functionCallingConfig": {"mode": "NONE"}}
    )
    assert calls == [] and text.strip(), (text, explain(server, engine))


async def _raw_turn(server: ServeProcess, text: str, *, on_first_text: Any = None) -> tuple[int, str, str]:
    """One TEXT turn over a raw WebSocket (to read the exact close): (close code, reason, text received)."""
    url = f"{server.ws_url}{LIVE}?key={API_KEY}"
    received: list[str] = []
    async with ws_connect(url, open_timeout=10, close_timeout=5) as ws:
        setup = {"model": f"models/{MODEL}", "generationConfig": {"responseModalities": ["TEXT"]}}
        setup["generationConfig"]["maxOutputTokens"] = 400
        await ws.send(json.dumps({"setup": setup}))
        assert "setupComplete" in json.loads(await ws.recv())
        await ws.send(json.dumps({"realtimeInput": {"text": text}}))
        try:
            async with asyncio.timeout(TURN_TIMEOUT_S):
                while True:
                    message = json.loads(await ws.recv())
                    for part in message.get("serverContent", {}).get("modelTurn", {}).get("parts", []):
                        if part.get("text"):
                            if not received and on_first_text is not None:
                                on_first_text()
                            received.append(part["text"])
                    if message.get("serverContent", {}).get("turnComplete"):
                        return 1000, "turn complete", "".join(received)
        except ConnectionClosed:
            pass
        assert ws.close_code is not None
        return ws.close_code, ws.close_reason or "", "".join(received)


async def test_the_engine_dying_mid_reply_or_unreachable_is_a_clear_1011_and_its_return_is_seamless(
    server: ServeProcess, engine: LlamaServer
) -> None:
    # Dies mid-reply: the stream breaks without its final event.
    code, reason, text = await _raw_turn(
        server, "Count from 1 to 100, separated by commas.", on_first_text=engine.kill
    )
    assert code == 1011, (code, reason, text, explain(server, engine))
    assert reason.startswith("Language model server:"), reason
    # Down: every try to reach it fails.
    code, reason, _ = await _raw_turn(server, "Hello?")
    assert (code, reason) == (1011, "Language model server: unreachable."), explain(server, engine)
    # Back on the same address: the next session is answered.
    await asyncio.to_thread(engine.start)
    code, _, text = await _raw_turn(server, "Say hi in two words.")
    assert code == 1000 and text.strip(), (code, text, explain(server, engine))


async def test_a_barge_in_stops_the_engine_generating(server: ServeProcess, engine: LlamaServer) -> None:
    """llama-cpp-python's server generates one reply at a time: if the interrupted reply went on in the
    engine, the next turn would wait behind its remaining ~250 tokens (over 20 s on this machine). The
    closed stream makes the engine stop, so the next answer starts within a few seconds."""
    url = f"{server.ws_url}{LIVE}?key={API_KEY}"
    async with ws_connect(url, open_timeout=10, close_timeout=5) as ws:
        setup = {"model": f"models/{MODEL}", "generationConfig": {"responseModalities": ["TEXT"]}}
        setup["generationConfig"]["maxOutputTokens"] = 300
        await ws.send(json.dumps({"setup": setup}))
        assert "setupComplete" in json.loads(await ws.recv())
        await ws.send(json.dumps({"realtimeInput": {"text": "Count from 1 to 300, separated by commas."}}))
        async with asyncio.timeout(TURN_TIMEOUT_S):
            while not json.loads(await ws.recv()).get("serverContent", {}).get("modelTurn"):
                pass
            await asyncio.sleep(1.0)  # the count is well under way
            interrupted_at = time.monotonic()
            await ws.send(json.dumps({"realtimeInput": {"text": "Stop. Just say OK."}}))
            seen_interrupted = False
            while True:
                content = json.loads(await ws.recv()).get("serverContent", {})
                seen_interrupted = seen_interrupted or bool(content.get("interrupted"))
                if seen_interrupted and content.get("modelTurn"):
                    break
    waited = time.monotonic() - interrupted_at
    assert waited < 10.0, (waited, explain(server, engine))
