"""``openlive bench --scenario app``: one scripted conversation with a real app's instruction and tools.

One Live API session (the bench's own driver: AUDIO replies, input and output transcription) set up
with the event app's ~8,000-character instruction (padded to ``instruction_chars`` for the long case)
and five function declarations. The user's twelve turns (``scenario_script.APP_TURNS``) are spoken by
espeak-ng into the simulated microphone in real time, each after the previous reply finished, with
silence in between. Every ``toolCall`` is answered at once with a plausible ``toolResponse``, as the app
would, and the conversation goes on. Each turn is then checked (``scenario_checks``) and the results
summarised (``scenario_report``).

The first turn is spoken right after ``setupComplete``; its answer may wait for the server to read the
instruction (minutes on two cores the first time, then cached), reported as the first answer after
setup and left out of the latency statistics.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openlive.bench.analysis import analyse_turn
from openlive.bench.audio import decode_wav
from openlive.bench.clips import (
    ESPEAK_VOICE,
    Clip,
    ClipCache,
    ClipKind,
    _text_key,
    bench_cache_dir,
    espeak_wav,
)
from openlive.bench.driver import BenchSession, Playback, Received
from openlive.bench.report import machine_info
from openlive.bench.runner import BenchConfig, record_trace
from openlive.bench.scenario_report import (
    ScenarioTurn,
    calls_between,
    first_call_after,
    first_response_after,
    scored_turn,
    summarize_scenario,
    unplayed_turn,
)
from openlive.bench.scenario_script import (
    APP_FUNCTIONS,
    APP_TOOLS,
    APP_TURNS,
    ScriptedTurn,
    app_instruction,
    tool_result,
)
from openlive.bench.server import LocalServer, ServerUnderTest, http_url, wait_healthy
from openlive.protocol import (
    FunctionResponse,
    ToolCall,
    ToolResponse,
    decode_server_message,
    encode_client_message,
)

SCHEMA = "openlive-bench-scenario/1"
Log = Callable[[str], None]


@dataclass(slots=True)
class ScenarioConfig:
    url: str | None = None  # None: start a local ``openlive serve``
    out_dir: Path = Path("bench-out")
    cache_root: Path | None = None
    instruction_chars: int = 0  # pad the instruction to about this many characters (0: as written)
    startup_timeout_s: float = 300.0
    turn_timeout_s: float = 60.0
    quiet_timeout_s: float = 20.0
    # The first turn may wait for the whole instruction to be read (~50 tokens/s on two cores).
    first_turn_timeout_s: float = 900.0
    gap_s: float = 0.6  # silence between a finished reply and the next turn
    server_env: dict[str, str] = field(default_factory=dict)  # for the server the bench starts
    log: Log = field(default=lambda _m: None)
    trace: list[dict[str, Any]] = field(default_factory=list)


class ScenarioSession(BenchSession):
    """A bench session that is also the app: it answers every ``toolCall`` with a ``toolResponse``."""

    def __init__(self, ws_url: str, instruction: str) -> None:
        super().__init__(ws_url, system_instruction=instruction, tools=APP_TOOLS)

    async def on_frame(self, frame: str | bytes, now: float) -> None:
        await super().on_frame(frame, now)
        for message in decode_server_message(frame):
            if isinstance(message, ToolCall):
                await self._answer(message, now)

    async def _answer(self, message: ToolCall, now: float) -> None:
        responses = []
        for call in message.function_calls:
            text = json.dumps({"name": call.name, "args": call.args})
            self.events.append(Received(now, "tool_call", text=text))
            result = tool_result(call.name, call.args)
            responses.append(FunctionResponse(id=call.id, name=call.name, response=result))
        assert self._ws is not None
        await self._ws.send(encode_client_message(ToolResponse(function_responses=responses)))


def turn_clip(cache: ClipCache, turn: ScriptedTurn) -> Clip:
    """The turn spoken by espeak-ng (cached as a 16 kHz WAV like the bench's other questions)."""
    key = _text_key(f"espeak-app-{turn.name}", turn.text)
    pcm = cache.get_or_make(key, lambda: decode_wav(espeak_wav(turn.text)))
    return Clip(f"app_{turn.name}", pcm, ClipKind.QUESTION, turn.text, f"espeak-ng {ESPEAK_VOICE}")


def score_playback(turn: ScriptedTurn, playback: Playback, events: list[Received]) -> ScenarioTurn:
    analysed = analyse_turn(playback, events)
    start = playback.speech_end or playback.started or 0.0
    end = playback.waited_until or time.monotonic()
    first = first_response_after(events, start, end)
    call = first_call_after(events, start, end)
    return scored_turn(
        turn,
        heard=analysed.input_transcript,
        reply_text=analysed.reply_text,
        calls=calls_between(events, start, end),
        v2v_ms=analysed.v2v_ms,
        first_response_ms=None if first is None else (first - start) * 1000.0,
        completed=analysed.completed,
        tool_call_ms=None if call is None else (call - start) * 1000.0,
        playback_gaps_ms=analysed.playback_gaps_ms,
    )


async def converse(url: str, instruction: str, clips: list[Clip], cfg: ScenarioConfig) -> dict[str, Any]:
    """Play every turn over one session; returns the turns' results and the first answer's wait."""
    turns: list[ScenarioTurn] = []
    first_answer_s: float | None = None
    error: str | None = None
    playbacks: list[Playback] = []
    session = ScenarioSession(url, instruction)
    try:
        async with session:
            for i, (turn, clip) in enumerate(zip(APP_TURNS, clips, strict=True)):
                timeout = cfg.first_turn_timeout_s if i == 0 else cfg.turn_timeout_s
                quiet = cfg.first_turn_timeout_s if i == 0 else cfg.quiet_timeout_s
                cfg.log(f"turn {i + 1}/{len(APP_TURNS)}: {turn.text!r}")
                playback = await session.say(clip, turn_timeout_s=timeout, quiet_timeout_s=quiet)
                playbacks.append(playback)
                result = score_playback(turn, playback, session.events)
                turns.append(result)
                if i == 0:
                    first = first_response_after(
                        session.events, session.started_at, playback.waited_until or time.monotonic()
                    )
                    first_answer_s = None if first is None else first - session.started_at
                cfg.log(f"  → {'pass' if result.passed else 'FAIL'}: {result.reply_text[:80]!r}")
                if session.closed_reason is not None:
                    error = session.closed_reason
                    break
                await session.idle(cfg.gap_s)
    except Exception as exc:  # the report says how the conversation broke
        error = f"{type(exc).__name__}: {exc}"
    trace = BenchConfig()
    record_trace(trace, "scenario-app", session, playbacks)
    cfg.trace.extend(trace.trace)
    turns += [unplayed_turn(t, error or "not reached") for t in APP_TURNS[len(turns) :]]
    return {"turns": turns, "first_answer_s": first_answer_s, "error": error}


def run_scenario(cfg: ScenarioConfig) -> dict[str, Any]:
    """Prepare the clips, play the conversation against the server, and return the report."""
    log = cfg.log
    cache = ClipCache(bench_cache_dir(cfg.cache_root))
    clips = [turn_clip(cache, t) for t in APP_TURNS]
    instruction = app_instruction(cfg.instruction_chars)
    started = time.time()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    server: ServerUnderTest
    if cfg.url:
        wait_healthy(http_url(cfg.url), timeout_s=cfg.startup_timeout_s)
        server = ServerUnderTest(cfg.url, None)
        played = asyncio.run(converse(server.ws_url, instruction, clips, cfg))
    else:
        log("starting openlive serve")
        log_path = cfg.out_dir / "scenario-server.log"
        with LocalServer(
            log_path, startup_timeout_s=cfg.startup_timeout_s, extra_env=cfg.server_env
        ) as server:
            log(f"server ready at {server.ws_url} after {server.startup_s:.1f} s (pid {server.pid})")
            played = asyncio.run(converse(server.ws_url, instruction, clips, cfg))
    turns: list[ScenarioTurn] = played["turns"]
    return {
        "schema": SCHEMA,
        "scenario": "app",
        "date": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "duration_s": time.time() - started,
        "loadavg_at_start": load_at_start,
        "machine": machine_info(),
        "server": {"url": server.ws_url, "started_by_bench": server.pid is not None},
        "instruction_chars": len(instruction),
        "functions": [f.name for f in APP_FUNCTIONS],
        "error": played["error"],
        "summary": summarize_scenario(turns, played["first_answer_s"]),
        "turns": [t.as_dict() for t in turns],
    }
