"""Wire fuzz campaign: mutated client messages over many real WebSocket connections to ``openlive serve``.

Run by hand (it is not a pytest file, and takes minutes), from the repository root::

    .venv/bin/python tests/fuzz/wire_campaign.py --messages 100000 --out bench-out/fuzz.json

It starts ``openlive serve`` on 127.0.0.1 (the real embedded models; or drives ``--url``), waits for
``/healthz``, then runs ``--concurrency`` clients at once. Each opens a connection, sends a setup and up to
60 messages built from the message model (both casings), some of them mutated: dropped, twinned,
retyped and wrapped fields, wrong enum names, huge numbers and digit strings, deep nesting, lone
surrogates, broken base64, strings up to 4 MB, truncated JSON, binary garbage, invalid UTF-8, floods past
the rate limit, frames past the size limit. Every client reads what the server sends (a client that
does not read is closed with 1011 by design). ``/healthz`` is polled once a second throughout.

It reports: messages sent, connections, the close codes the server sent (with reasons), 1011s with the
message that preceded each, /healthz failures, the server's RSS before and after each round, the
sessions and connections still open at the end (``/metrics``), and the server log's ERROR lines and
tracebacks. Exit status 1 if the server closed any connection with 1011, failed a health check, or left
a session open. Several ``--rounds`` show whether memory grows with traffic (a leak) or levels off
(caches reaching their bounds).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

LIVE_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
MODEL = "models/gemini-2.5-flash-native-audio-preview-12-2025"
FRAME_LIMIT = 16 * 1024 * 1024  # settings.max_message_bytes' default
USER_DATA = {"args", "response", "parameters", "parametersJsonSchema", "labels", "toolConfig"}
_HUMP = re.compile(r"(?<!^)(?=[A-Z])")

# --------------------------------------------------------------------------------------------------
# Valid messages


def pcm(rng: random.Random, ms: int = 40, rate: int = 16_000) -> str:
    """``ms`` of quiet noise as 16-bit PCM, base64 in either alphabet."""
    n = rate * ms // 1000
    raw = b"".join(rng.randint(-300, 300).to_bytes(2, "little", signed=True) for _ in range(n))
    return (base64.b64encode if rng.random() < 0.5 else base64.urlsafe_b64encode)(raw).decode()


SCHEMA = {
    "type": "OBJECT",
    "properties": {
        "city": {"type": "STRING", "description": "a city"},
        "days": {"type": "INTEGER"},
        "units": {"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}]},
    },
    "required": ["city"],
}


def setup_message(rng: random.Random) -> dict[str, Any]:
    setup: dict[str, Any] = {"model": MODEL}
    if rng.random() < 0.5:
        setup["generationConfig"] = {
            "responseModalities": [rng.choice(["AUDIO", "TEXT"])],
            "temperature": round(rng.random(), 2),
            "topK": rng.randint(1, 64),
            "maxOutputTokens": rng.choice([16, 32, 64]),
            "speechConfig": {
                "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": rng.choice(["Puck", "Kore"])}}
            },
        }
    else:
        # Short replies keep the 2 cores for the campaign rather than for long stories.
        setup["generationConfig"] = {"responseModalities": ["TEXT"], "maxOutputTokens": 8}
    if rng.random() < 0.5:
        setup["systemInstruction"] = {"parts": [{"text": "Answer in five words."}]}
    if rng.random() < 0.3:
        setup["tools"] = [{"functionDeclarations": [{"name": "get_weather", "parameters": SCHEMA}]}]
    if rng.random() < 0.3:
        setup["realtimeInputConfig"] = {
            "automaticActivityDetection": {"disabled": rng.random() < 0.3, "silenceDurationMs": 300},
            "activityHandling": "START_OF_ACTIVITY_INTERRUPTS",
        }
    if rng.random() < 0.3:
        setup["sessionResumption"] = {}
    if rng.random() < 0.3:
        setup["inputAudioTranscription"] = {}
        setup["outputAudioTranscription"] = {}
    return {"setup": setup}


def next_message(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.55:
        return {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": pcm(rng)}}}
    if roll < 0.60:
        return {"realtimeInput": {"text": rng.choice(["Hi.", "What time is it?", "Say yes."])}}
    if roll < 0.61:  # refused (1007) unless the setup turned automatic activity detection off
        return {"realtimeInput": {rng.choice(["activityStart", "activityEnd"]): {}}}
    if roll < 0.66:
        return {"realtimeInput": {"audioStreamEnd": True}}
    if roll < 0.72:
        jpeg = base64.b64encode(b"\xff\xd8\xff\xe0" + rng.randbytes(64)).decode()
        return {"realtimeInput": {"video": {"mimeType": "image/jpeg", "data": jpeg}}}
    if roll < 0.82:
        turns = [{"role": "user", "parts": [{"text": "Hello there."}]}]
        return {
            "clientContent": {
                "turns": turns if rng.random() < 0.8 else [],
                "turnComplete": rng.random() < 0.7,
            }
        }
    if roll < 0.90:
        response = {"id": "call_1", "name": "get_weather", "response": {"output": {"temp": 21}}}
        return {"toolResponse": {"functionResponses": [response]}}
    if roll < 0.95:
        return {"contextUpdate": {"systemInstruction": {"parts": [{"text": "Be brief."}]}}}
    return {"realtimeInput": {"mediaChunks": [{"mimeType": "audio/pcm", "data": pcm(rng, 20)}]}}


def recase(value: Any, rng: random.Random) -> Any:
    """Each field name in camelCase or snake_case, key by key (user data as sent)."""
    if isinstance(value, list):
        return [recase(v, rng) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        (_HUMP.sub("_", k).lower() if rng.random() < 0.5 else k): (v if k in USER_DATA else recase(v, rng))
        for k, v in value.items()
    }


# --------------------------------------------------------------------------------------------------
# Mutations


def deep(rng: random.Random) -> Any:
    depth = rng.choice([10, 40, 70, 200, 400, 1200, 5000])
    if rng.random() < 0.5:
        schema: Any = {"type": "STRING"}
        for _ in range(depth // 2):
            schema = {"anyOf": [schema]}
        return schema
    value: Any = 1
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"x": value}
    return value


def long_string(rng: random.Random) -> str:
    size = rng.choice([300, 5_000, 70_000, 300_000] + [4_000_000] * (rng.random() < 0.02))
    return rng.choice(["a", "é", "語", "😀", " "]) * size


def hostile(rng: random.Random) -> Any:
    kind = rng.randrange(12)
    if kind == 0:
        return "9" * rng.choice([19, 20, 101, 4301, 5000])
    if kind == 1:
        return rng.choice([2**31, 2**63, 2**70, -(2**70), 1e300, -0.0, 0.5])
    if kind == 2:
        return deep(rng)
    if kind == 3:
        return rng.choice(["\ud800", "a\udc00b", "\udfff\ud800"])
    if kind == 4:
        return rng.choice(["AAE$", "AAAAA", "AA==AA==", "@@", "AAé=", "-_-_", ""])
    if kind == 5:
        return long_string(rng)
    if kind == 6:
        return rng.choice(["AUDIO", "TEXT", "VIDEO", "START_SENSITIVITY_MAX", "NON_BLOCKING", "nope"])
    if kind == 7:
        return rng.choice([None, True, False, 0, -1, "", [], {}, [{}], {"": None}])
    if kind == 8:
        return "audio/pcm;rate=" + rng.choice(["1" * 5000, "0", "16000.5", "-1", "99999999999"])
    if kind == 9:
        return {"parts": [{"text": long_string(rng)}]}
    if kind == 10:
        return [rng.random() for _ in range(rng.choice([10, 2000]))]
    return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(1, 40)))


def slots(value: Any) -> list[tuple[Any, Any]]:
    found: list[tuple[Any, Any]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append((value, key))
        found.extend(slots(item))
    return found


def mutate(message: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    message = copy.deepcopy(message)
    for _ in range(rng.randint(1, 3)):
        places = slots(message)
        if not places:
            message[rng.choice(["setup", "x", "realtimeInput"])] = hostile(rng)
            continue
        node, key = rng.choice(places)
        op = rng.randrange(6)
        if op == 0:
            del node[key]
        elif op == 1 and isinstance(key, str):
            twin = _HUMP.sub("_", key).lower()
            node[twin if twin != key else re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)] = node[key]
        elif op == 2:
            node[key] = [node[key]]
        elif op == 3 and isinstance(node, dict):
            node[rng.choice(["text", "data", "parts", "turns", "model", "k" * 300, "🙂"])] = hostile(rng)
        else:
            node[key] = hostile(rng)
    return message


def frame_of(message: dict[str, Any], rng: random.Random) -> str | bytes:
    """The message as a frame; now and then a broken one."""
    text = json.dumps(message, ensure_ascii=rng.random() < 0.5)
    roll = rng.random()
    if roll < 0.80:
        return text
    if roll < 0.86:
        return text.encode("utf-8", errors="surrogatepass")
    if roll < 0.90:
        return text[: rng.randrange(max(1, len(text)))]
    if roll < 0.94:
        return rng.randbytes(rng.randrange(1, 200))
    if roll < 0.97:
        raw = text.encode("utf-8", errors="surrogatepass")
        at = rng.randrange(len(raw) + 1)
        return raw[:at] + rng.choice([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\xe3\x81"]) + raw[at:]
    return rng.choice(["", "null", "[]", "{}", "1" + "0" * 5000, "[" * 100_000])


# --------------------------------------------------------------------------------------------------
# Clients


@dataclass
class Tally:
    sent: int = 0
    bytes_sent: int = 0
    connections: int = 0
    refused_handshakes: Counter[int] = field(default_factory=Counter)
    server_closes: Counter[int] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    client_closes: int = 0
    internal: list[dict[str, Any]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    abnormal: Counter[str] = field(default_factory=Counter)  # 1006: which kind of client, its last frame


async def drain(ws: ClientConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for _ in ws:
            pass


async def send_frame(ws: ClientConnection, frame: str | bytes, rng: random.Random) -> None:
    if isinstance(frame, str):
        try:
            frame.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, unescaped: as bytes, that is invalid UTF-8
            frame = frame.encode("utf-8", errors="surrogatepass")
            await ws.send(frame, text=True)
            return
    if isinstance(frame, bytes) and rng.random() < 0.3:
        await ws.send(frame, text=True)  # raw bytes in a text frame: invalid UTF-8 reaches the server
    else:
        await ws.send(frame)


async def one_connection(url: str, rng: random.Random, tally: Tally, mutate_p: float) -> None:
    behaviour = rng.random()
    try:
        ws = await connect(url, max_size=None, open_timeout=30, close_timeout=5, ping_interval=None)
    except InvalidStatus as exc:
        tally.refused_handshakes[exc.response.status_code] += 1
        await asyncio.sleep(0.2)
        return
    except (OSError, TimeoutError) as exc:
        tally.errors[f"connect: {type(exc).__name__}"] += 1
        await asyncio.sleep(0.2)
        return
    tally.connections += 1
    reader = asyncio.create_task(drain(ws))
    last = ""
    client_closed = False
    try:
        setup = recase(setup_message(rng), rng)
        if rng.random() < mutate_p * 2:
            setup = mutate(setup, rng)
        if behaviour < 0.01:
            setup = next_message(rng)  # first message not a setup
        frame = frame_of(setup, rng) if rng.random() < 0.1 else json.dumps(setup)
        last = str(frame)[:300]
        await send_frame(ws, frame, rng)
        tally.sent += 1
        tally.bytes_sent += len(frame)
        if behaviour < 0.02:  # a flood: past the rate limit (1008)
            frame = json.dumps({"realtimeInput": {"text": ""}})
            for _ in range(1200):
                await ws.send(frame)
                tally.sent += 1
        elif behaviour < 0.0235:  # one frame past the size limit (1009)
            await ws.send(json.dumps({"realtimeInput": {"text": "a" * (FRAME_LIMIT + 10)}}))
            tally.sent += 1
            tally.bytes_sent += FRAME_LIMIT
        for _ in range(rng.randint(1, 60)):
            message = recase(next_message(rng), rng)
            mutated = rng.random() < mutate_p
            if mutated:
                message = mutate(message, rng)
            frame = frame_of(message, rng) if mutated else json.dumps(message)
            last = str(frame)[:300]
            await send_frame(ws, frame, rng)
            tally.sent += 1
            tally.bytes_sent += len(frame)
            if rng.random() < 0.3:
                await asyncio.sleep(0.005)
        client_closed = True
        await ws.close()
        tally.client_closes += 1
    except ConnectionClosed:
        pass
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await reader
        reader.cancel()
        rcvd = ws.protocol.close_rcvd
        # The server closed first: its close frame came before ours, or we never sent one.
        if rcvd is not None and (ws.protocol.close_rcvd_then_sent or not client_closed):
            tally.server_closes[rcvd.code] += 1
            tally.reasons[f"{rcvd.code} {rcvd.reason[:60]}"] += 1
            if rcvd.code == 1011:
                tally.internal.append({"reason": rcvd.reason, "last_frame": last})
        elif rcvd is None and not client_closed:  # the connection ended without a close frame
            tally.server_closes[1006] += 1
            kind = "flood" if behaviour < 0.02 else "oversized" if behaviour < 0.0235 else "plain"
            tally.abnormal[f"{kind} (port {ws.local_address[1]}): {last[:80]}"] += 1


async def clients(
    url: str, seed: int, messages: int, concurrency: int, tally: Tally, mutate_p: float
) -> None:
    target = tally.sent + messages
    counter = 0

    async def worker(index: int) -> None:
        nonlocal counter
        while tally.sent < target:
            counter += 1
            rng = random.Random(f"{seed}-{index}-{counter}")
            await one_connection(url, rng, tally, mutate_p)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))


# --------------------------------------------------------------------------------------------------
# The inputs issue 10 found closing with 1011, each run once per campaign with its outcome reported


def known_cases() -> dict[str, list[str | bytes]]:
    text_setup = {
        "setup": {"model": MODEL, "generationConfig": {"responseModalities": ["TEXT"], "maxOutputTokens": 8}}
    }
    question = {
        "clientContent": {"turns": [{"role": "user", "parts": [{"text": "Hi?"}]}], "turnComplete": True}
    }
    long_turn = {
        "clientContent": {
            "turns": [{"role": "user", "parts": [{"text": "word " * 12_000}]}],
            "turnComplete": True,
        }
    }
    long_instruction = copy.deepcopy(text_setup)
    long_instruction["setup"]["systemInstruction"] = {"parts": [{"text": "rule " * 12_000}]}
    schema: Any = {"type": "STRING"}
    for _ in range(330):
        schema = {"anyOf": [schema]}
    deep_tool = copy.deepcopy(text_setup)
    deep_tool["setup"]["tools"] = [{"functionDeclarations": [{"name": "f", "parameters": schema}]}]
    big_topk = json.dumps(text_setup).replace(
        '"maxOutputTokens": 8', '"maxOutputTokens": 8, "topK": "' + "9" * 4301 + '"'
    )
    pcm_rate = {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=" + "1" * 5000, "data": "AAAA"}}}
    return {
        "topK as 4,301 digits": [big_topk],
        "audio/pcm;rate= and 5,000 digits": [json.dumps(text_setup), json.dumps(pcm_rate)],
        "anyOf 330 levels deep": [json.dumps(deep_tool)],
        "turnComplete, no turns, no instruction": [
            json.dumps(text_setup),
            json.dumps({"clientContent": {"turnComplete": True}}),
        ],
        "60,000-character user turn": [json.dumps(text_setup), json.dumps(long_turn)],
        "60,000-character instruction, then a question": [json.dumps(long_instruction), json.dumps(question)],
        "invalid UTF-8 in a text frame": [json.dumps(text_setup), b'{"realtimeInput": {"text": "\xff"}}'],
    }


async def run_known_case(url: str, frames: list[str | bytes]) -> str:
    """How the server ended the case: its close code and reason, or that the turn completed."""
    async with connect(url, max_size=None, open_timeout=30, ping_interval=None) as ws:
        for frame in frames:
            await ws.send(frame, text=True)
        try:
            async with asyncio.timeout(60):
                async for message in ws:
                    if b"turnComplete" in (message if isinstance(message, bytes) else message.encode()):
                        return "answered (turnComplete)"
        except ConnectionClosed:
            pass
        except TimeoutError:
            return "no answer within 60 s"
        rcvd = ws.protocol.close_rcvd
        return f"{rcvd.code} {rcvd.reason}" if rcvd else "closed without a close frame (1006)"


# --------------------------------------------------------------------------------------------------
# The server


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def poll_health(base: str, stop: asyncio.Event, health: Counter[str]) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        while not stop.is_set():
            try:
                status = (await http.get(base + "/healthz")).status_code
                health["ok" if status == 200 else f"status {status}"] += 1
            except httpx.HTTPError as exc:
                health[f"error {type(exc).__name__}"] += 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await stop.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, log_path: Path, state_dir: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, OPENLIVE_RESUMPTION_DB=str(state_dir / "resumption.db"), OMP_WAIT_POLICY="PASSIVE")
    openlive = Path(sys.executable).with_name("openlive")
    command = [str(openlive), "serve", "--host", "127.0.0.1", "--port", str(port), "--tls-port", "0"]
    with log_path.open("wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)


async def wait_healthy(base: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(base + "/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.5)
    raise SystemExit(f"{base}/healthz did not answer 200 within {timeout_s:.0f} s")


async def settle(base: str, timeout_s: float = 60.0) -> str:
    """/metrics once no connection is open any more (or at the timeout)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            text = (await http.get(base + "/metrics")).text
            if metric(text, "openlive_connections_active") == 0 or time.monotonic() > deadline:
                return text
            await asyncio.sleep(0.5)


def scan_log(path: Path) -> dict[str, Any]:
    lines = path.read_text(errors="replace").splitlines()
    errors = [line for line in lines if " ERROR " in line or " CRITICAL " in line]
    return {
        "lines": len(lines),
        "tracebacks": sum(line.startswith("Traceback") for line in lines),
        "error_lines": len(errors),
        "error_samples": sorted(
            Counter(e.split(": ", 1)[-1][:120] for e in errors).items(), key=lambda x: -x[1]
        )[:10],
        "warning_lines": sum(" WARNING " in line for line in lines),
    }


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=100_000, help="messages per round")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--mutate", type=float, default=0.06, help="share of messages mutated (setups: twice)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--url", help="drive this server (http://host:port) instead of starting one")
    p.add_argument("--out", type=Path, help="write the report here (JSON)")
    p.add_argument("--keep-log", type=Path, help="copy the server's log here")
    args = p.parse_args()
    # json.dumps recurses once per level, and the campaign sends values thousands of levels deep.
    sys.setrecursionlimit(50_000)

    server: subprocess.Popen[bytes] | None = None
    state = tempfile.TemporaryDirectory(prefix="openlive-fuzz-")
    log_path = Path(state.name) / "server.log"
    if args.url:
        base = args.url.rstrip("/")
    else:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(port, log_path, Path(state.name))
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    try:
        await wait_healthy(base, 180)
        url = base.replace("http", "ws", 1) + LIVE_PATH + "?key=fuzz"
        report["rss_mib"] = [round(rss_mib(server.pid))] if server else []
        report["known_cases"] = {
            name: await run_known_case(url, frames) for name, frames in known_cases().items()
        }
        tally = Tally()
        health: Counter[str] = Counter()
        stop = asyncio.Event()
        poller = asyncio.create_task(poll_health(base, stop, health))
        started = time.monotonic()
        for round_ in range(args.rounds):
            await clients(url, args.seed * 1000 + round_, args.messages, args.concurrency, tally, args.mutate)
            metrics = await settle(base)
            if server:
                report["rss_mib"].append(round(rss_mib(server.pid)))
            print(f"round {round_ + 1}: {tally.sent} messages, {tally.connections} connections", flush=True)
        elapsed = time.monotonic() - started
        stop.set()
        await poller
        report.update(
            seconds=round(elapsed, 1),
            messages=tally.sent,
            megabytes_sent=round(tally.bytes_sent / 2**20, 1),
            connections=tally.connections,
            client_closes=tally.client_closes,
            server_closes=dict(sorted(tally.server_closes.items())),
            close_reasons=dict(tally.reasons.most_common(25)),
            refused_handshakes=dict(tally.refused_handshakes),
            client_errors=dict(tally.errors),
            internal_errors=tally.internal[:20],
            abnormal_closes=dict(tally.abnormal.most_common(10)),
            healthz=dict(health),
            sessions_open_after=metric(metrics, "openlive_sessions_active"),
            connections_open_after=metric(metrics, "openlive_connections_active"),
            server_closes_by_metrics={
                m.group(1): float(m.group(2))
                for m in re.finditer(r'openlive_closes_total\{code="(\d+)"\} (\S+)', metrics)
            },
        )
    finally:
        if server is not None:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(60)
            if server.poll() is None:
                server.kill()
            report["server_log"] = scan_log(log_path)
            if args.keep_log:
                args.keep_log.write_bytes(log_path.read_bytes())
            report["server_exit"] = server.returncode
        state.cleanup()
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    bad = (
        report.get("server_closes", {}).get(1011, 0)
        or any(outcome.startswith(("1011", "closed without")) for outcome in report["known_cases"].values())
        or set(report.get("healthz", {})) - {"ok"}
        or report.get("sessions_open_after", 0)
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
