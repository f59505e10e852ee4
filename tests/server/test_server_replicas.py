"""Two ``openlive serve`` replicas behind a real HAProxy, sharing a real redis-server, with their language
model on one real engine (llama-cpp-python's server): the deployment docs/scaling.md describes, started
here on 127.0.0.1 and stopped at the end.

* A replica SIGKILLed in the middle of a reply: google-genai reconnects through the balancer with its
  last handle and the conversation goes on, with its history, on the other replica.
* A replica sent SIGTERM: HAProxy sees ``/readyz`` turn 503 and sends new sessions to the other one; the
  draining replica's session gets ``goAway`` with the time left and is closed with 1001 once idle.
* An ephemeral token minted through the balancer works exactly once, whichever replica it reaches (the
  second try lands on the other replica, which knows the use is spent).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import types
from haproxy import HAProxy
from llama_server import LlamaServer
from redis_server import redis_server
from serve_process import OPENLIVE, ServeProcess, serve_env
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.models

API_KEY = "replica-key"
MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
TURN_TIMEOUT_S = 120.0
TOOL_RESULT_HINT = "Answer the person with this result; do not call the function again."


@dataclass
class Topology:
    lb: HAProxy
    replicas: dict[str, ServeProcess]
    ctx: ssl.SSLContext
    engine: LlamaServer

    def client(self) -> genai.Client:
        return genai.Client(
            api_key=API_KEY,
            http_options=types.HttpOptions(base_url=self.lb.https_url, async_client_args={"ssl": self.ctx}),
        )

    def serving(self) -> str:
        """The replica holding the one open session (read from each replica's own metrics)."""
        holders = [
            name for name, r in self.replicas.items() if r.process and r.process.poll() is None and _active(r)
        ]
        assert len(holders) == 1, holders
        return holders[0]

    def explain(self) -> str:
        return "\n".join([*(r.log_tail() for r in self.replicas.values()), self.lb.log_tail(15)])


def _active(replica: ServeProcess) -> bool:
    text = httpx.get(f"{replica.http_url}/metrics", timeout=5).text
    return "openlive_sessions_active 1.0" in text


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    workdir = tmp_path_factory.mktemp("replicas")
    certs = workdir / "certs"
    subprocess.run(
        [str(OPENLIVE), "cert", str(certs)], check=True, capture_output=True, timeout=60, env=serve_env()
    )
    with redis_server() as redis_url, LlamaServer(workdir) as engine:
        env = {
            "OPENLIVE_RESUMPTION_URL": redis_url,
            "OPENLIVE_LLM_TOOL_RESULT_HINT": TOOL_RESULT_HINT,
            "OPENLIVE_DRAIN_TIMEOUT_S": "20",
        }
        args = ["--llm-url", engine.url, "--llm-model", "qwen"]
        with (
            ServeProcess(workdir, API_KEY, tls=False, log_name="a.log", extra_args=args, env=env) as a,
            ServeProcess(workdir, API_KEY, tls=False, log_name="b.log", extra_args=args, env=env) as b,
            HAProxy(workdir, certs / "cert.pem", [("a", a.port), ("b", b.port)]) as lb,
        ):
            ctx = ssl.create_default_context(cafile=str(certs / "cert.pem"))
            lb.wait_states(ctx, {"a": "UP", "b": "UP"})
            yield Topology(lb, {"a": a, "b": b}, ctx, engine)


def user(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


def config(handle: str | None = None, **extra: Any) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=["TEXT"],
        temperature=0,
        max_output_tokens=200,
        session_resumption=types.SessionResumptionConfig(handle=handle),
        **extra,
    )


async def _turn(session: Any, text: str) -> tuple[str, str | None]:
    """Send ``text``; the reply and the newest resumption handle (the update follows turnComplete)."""
    await session.send_client_content(turns=user(text))
    reply = "".join([m.text or "" async for m in session.receive()])
    handle = None
    async with asyncio.timeout(10):
        async for message in session.receive():
            update = message.session_resumption_update
            if update and update.new_handle:
                handle = update.new_handle
                break
    return reply, handle


async def test_a_replica_killed_mid_reply_the_client_resumes_on_the_other_with_its_history(
    topology: Topology,
) -> None:
    client = topology.client()
    async with asyncio.timeout(TURN_TIMEOUT_S):
        async with client.aio.live.connect(model=MODEL, config=config()) as session:
            # The first update comes at setup; the one after the turn holds the turn.
            reply, handle = await _turn(session, "My name is Ada. Say hello to me in one short sentence.")
            assert handle, (reply, topology.explain())
            victim = topology.serving()
            await session.send_client_content(turns=user("Count from 1 to 60, separated by commas."))
            killed_at = None
            # The balancer drops the client's connection with the replica: an abnormal closure (1006).
            with pytest.raises(genai.errors.APIError) as lost:
                async for message in session.receive():
                    if message.text and killed_at is None:
                        process = topology.replicas[victim].process
                        assert process is not None
                        os.killpg(process.pid, signal.SIGKILL)
                        killed_at = time.monotonic()
            assert killed_at is not None, topology.explain()
            assert lost.value.code == 1006, lost.value
    # The client's reconnect, through the same balancer address, with the last handle it holds.
    reconnect_at = time.monotonic()
    async with asyncio.timeout(TURN_TIMEOUT_S):
        async with client.aio.live.connect(model=MODEL, config=config(handle)) as session:
            await session.send_client_content(turns=user("What is my name? Answer with the name only."))
            first_text_at = None
            parts: list[str] = []
            async for message in session.receive():
                if message.text:
                    first_text_at = first_text_at or time.monotonic()
                    parts.append(message.text)
            survivor = topology.serving()
    answer = "".join(parts)
    assert "ada" in answer.lower(), (answer, topology.explain())
    assert survivor != victim
    assert first_text_at is not None
    print(f"resume after SIGKILL: reconnect to first text {first_text_at - reconnect_at:.2f} s")
    # Bring the killed replica back for the next test (same port), and wait until the balancer has it.
    topology.replicas[victim].start()
    topology.lb.wait_states(topology.ctx, {"a": "UP", "b": "UP"})


async def test_a_draining_replica_takes_no_new_sessions_and_tells_its_own_to_go(topology: Topology) -> None:
    client = topology.client()
    async with asyncio.timeout(TURN_TIMEOUT_S):
        async with client.aio.live.connect(model=MODEL, config=config()) as session:
            await _turn(session, "Hi. Reply with one word.")
            draining = topology.serving()
            process = topology.replicas[draining].process
            assert process is not None
            os.kill(process.pid, signal.SIGTERM)
            go_away = None
            # goAway with the time left, then, the session being idle, the close: 1001 going away.
            with pytest.raises(genai.errors.APIError) as closed:
                async for message in session.receive():
                    if message.go_away:
                        go_away = message.go_away
            assert go_away is not None and go_away.time_left, topology.explain()
            assert closed.value.code == 1001, closed.value
        topology.lb.wait_states(topology.ctx, {draining: "DOWN"}, timeout_s=10)
        # A new session through the balancer lands on the other replica and is answered.
        async with client.aio.live.connect(model=MODEL, config=config()) as session:
            reply, _ = await _turn(session, "Say hi in two words.")
            assert reply.strip(), topology.explain()
            assert topology.serving() != draining
    process.wait(timeout=30)  # the drain ended the process within its bound
    assert process.returncode == 0, topology.explain()
    topology.replicas[draining].start()
    topology.lb.wait_states(topology.ctx, {"a": "UP", "b": "UP"})


async def test_a_token_minted_through_the_balancer_is_spent_once_across_replicas(topology: Topology) -> None:
    async with httpx.AsyncClient(base_url=topology.lb.https_url, verify=topology.ctx) as http:
        minted = await http.post(
            "/v1alpha/auth_tokens", json={"uses": 1}, headers={"x-goog-api-key": API_KEY}
        )
    assert minted.status_code == 200, minted.text
    url = (
        topology.lb.https_url.replace("https", "wss", 1)
        + "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"
        + "?access_token="
        + minted.json()["name"]
    )
    setup = json.dumps({"setup": {"model": f"models/{MODEL}"}})
    async with ws_connect(url, ssl=topology.ctx, open_timeout=10) as first:
        await first.send(setup)
        assert "setupComplete" in json.loads(await asyncio.wait_for(first.recv(), 10))
        holder = topology.serving()
        # leastconn sends the next connection to the replica without a session: the other one.
        async with ws_connect(url, ssl=topology.ctx, open_timeout=10) as second:
            await second.send(setup)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(second.recv(), 10)
            assert second.close_code == 1008, second.close_reason
            assert second.close_reason == "The auth token has no uses left."
        # The refusal came from the other replica: the use spent on one was seen by the other.
        other = next(r for n, r in topology.replicas.items() if n != holder)
        closes = httpx.get(f"{other.http_url}/metrics", timeout=5).text
        assert 'openlive_closes_total{code="1008"} 1.0' in closes, topology.explain()
