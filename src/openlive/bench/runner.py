"""The benchmark's phases, in order, against one server; returns the report as a JSON-ready dict.

Phases (full run): warm-up (not counted) → one session asks every question (latency at concurrency 1,
plus the Piper-voiced questions for comparison) → recordings with transcripts (WER) → ALSA noise (must
not start a turn) → barge-in trials → 2 and 4 concurrent sessions asking the questions → in-process
TTS speed. CPU time and peak memory of the server process are sampled around each phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from openlive.bench import procstat
from openlive.bench.analysis import STALL_MS, TurnResult, analyse_barge_in, analyse_noise, analyse_turn
from openlive.bench.clips import Clip, ClipCache, ClipSet, bench_cache_dir, prepare_clips
from openlive.bench.driver import LONG_ANSWERS, BenchSession, Playback
from openlive.bench.metrics import corpus_wer, summarize
from openlive.bench.report import build_report
from openlive.bench.server import LocalServer, ServerUnderTest, http_url, remote_llm_env, wait_healthy
from openlive.bench.server_log import parse_turn_timings, summarize_marks

Log = Callable[[str], None]


@dataclass(slots=True)
class BenchConfig:
    url: str | None = None  # None: start a local ``openlive serve``
    quick: bool = False
    concurrency: tuple[int, ...] = (1, 2, 4)
    out_dir: Path = Path("bench-out")
    cache_root: Path | None = None
    startup_timeout_s: float = 300.0
    turn_timeout_s: float = 30.0
    # A turn with no server message at all for this long is given up (e.g. the server heard nothing).
    quiet_timeout_s: float = 15.0
    barge_trials: int = 3
    # One-session conversations asking every question, one after another, pooled for the latency
    # targets. The model's first answer in a conversation sets its style for the rest (a bare "Paris."
    # or a whole sentence, ~0.3 s apart at the median), so one conversation is one draw of that style.
    rounds: int = 3
    stagger_s: float = 0.7  # concurrent sessions start this far apart, not in lock-step
    gap_s: float = 0.6  # silence between a completed reply and the next question
    noise_listen_s: float = 4.0  # silence after the noise clip: time for any end-of-turn decision and reply
    barge_after_s: float = 1.0  # how far into the audible long reply the user cuts in
    with_piper: bool = True
    grounding: bool = False  # googleSearch in every session's setup
    camera_fps: float = 0.0  # frames of a sign streamed alongside the microphone (0: none)
    # The server this bench starts uses this OpenAI-compatible LLM server (its CPU is not counted).
    llm_url: str | None = None
    llm_model: str = ""
    tts_speed: bool = True
    log: Log = field(default=lambda _m: None)
    # Every session's timeline (clips sent, events received; no audio), for bench-events.jsonl.
    trace: list[dict[str, Any]] = field(default_factory=list)


def record_trace(cfg: BenchConfig, label: str, session: BenchSession, playbacks: Sequence[Playback]) -> None:
    """Append one session's timeline to ``cfg.trace``, times in seconds since its setupComplete."""
    t0 = session.started_at

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - t0, 4)

    clips = [
        {
            "clip": p.clip.name,
            "sent_from": rel(p.started),
            "speech_onset": rel(p.speech_onset),
            "speech_end": rel(p.speech_end),
            "waited_until": rel(p.waited_until),
        }
        for p in playbacks
    ]
    events = [
        {
            "t": rel(e.t),
            "kind": e.kind,
            **({"text": e.text} if e.text else {}),
            **({"finished": e.finished} if e.finished is not None else {}),
            **({"audio_ms": round(e.audio_s * 1000, 1), "audible": e.audible} if e.kind == "audio" else {}),
        }
        for e in session.events
    ]
    cfg.trace.append({"session": label, "closed": session.closed_reason, "clips": clips, "events": events})


@dataclass(slots=True)
class Phase:
    """CPU and memory of the server around one phase (None fields when the pid is unknown)."""

    wall_s: float = 0.0
    cpu_s: float | None = None
    conversation_min: float = 0.0
    peak_rss_mib: float | None = None
    # The benchmark client shares the machine: its own CPU time, to show how little it takes.
    client_cpu_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        per_min = None
        if self.cpu_s is not None and self.conversation_min > 0:
            per_min = self.cpu_s / self.conversation_min
        return {
            "wall_s": self.wall_s,
            "server_cpu_s": self.cpu_s,
            "conversation_min": self.conversation_min,
            "cpu_s_per_conversation_min": per_min,
            "cores_busy": self.cpu_s / self.wall_s if self.cpu_s is not None and self.wall_s else None,
            "peak_rss_mib": self.peak_rss_mib,
            "client_cpu_s": self.client_cpu_s,
        }


@contextlib.contextmanager
def measured(pid: int | None) -> Iterator[Phase]:
    phase = Phase()
    cpu0 = procstat.cpu_seconds(pid) if pid else None
    t0 = time.monotonic()
    client0 = time.process_time()
    try:
        yield phase
    finally:
        phase.wall_s = time.monotonic() - t0
        phase.client_cpu_s = time.process_time() - client0
        cpu1 = procstat.cpu_seconds(pid) if pid else None
        phase.cpu_s = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
        phase.peak_rss_mib = procstat.peak_rss_mib(pid) if pid else None


@dataclass(slots=True)
class SessionRun:
    turns: list[TurnResult]
    minutes: float
    error: str | None = None


async def converse(
    url: str,
    clips: Sequence[Clip],
    cfg: BenchConfig,
    *,
    delay_s: float = 0.0,
    turn_timeout_s: float | None = None,
    label: str = "session",
) -> SessionRun:
    """One session speaking ``clips`` in order, each after the previous reply finished."""
    await asyncio.sleep(delay_s)
    playbacks: list[Playback] = []
    session = BenchSession(url, grounding=cfg.grounding, camera_fps=cfg.camera_fps)
    error = None
    try:
        async with session:
            for clip in clips:
                timeout = turn_timeout_s or cfg.turn_timeout_s
                quiet = min(timeout, max(cfg.quiet_timeout_s, timeout / 2))
                playbacks.append(await session.say(clip, turn_timeout_s=timeout, quiet_timeout_s=quiet))
                if session.closed_reason is not None:
                    break
                await session.idle(cfg.gap_s)
    except Exception as exc:  # one broken session is reported, the others go on
        error = f"{type(exc).__name__}: {exc}"
    if session.closed_reason and error is None and len(playbacks) < len(clips):
        error = session.closed_reason
    record_trace(cfg, label, session, playbacks)
    turns = [analyse_turn(p, session.events) for p in playbacks if p.chunk_times]
    minutes = max(0.0, (session.ended_at or time.monotonic()) - (session.started_at or time.monotonic())) / 60
    return SessionRun(turns, minutes, error)


async def latency_phase(
    url: str, clips: Sequence[Clip], n: int, cfg: BenchConfig, pid: int | None, *, rounds: int = 1
) -> dict[str, Any]:
    """``n`` concurrent sessions asking ``clips``; ``rounds`` times over, one round after another."""
    window_start = time.time()
    runs: list[SessionRun] = []
    with measured(pid) as phase:
        for r in range(rounds):
            label = f"latency-{n}" if rounds == 1 else f"latency-{n}-round{r + 1}"
            runs += await asyncio.gather(
                *(
                    converse(url, clips, cfg, delay_s=i * cfg.stagger_s, label=f"{label}.{i}")
                    for i in range(n)
                )
            )
    phase.conversation_min = sum(r.minutes for r in runs)
    turns = [t for r in runs for t in r.turns]
    return {
        "sessions": n,
        "rounds": rounds,
        # One median per conversation: how far apart the conversations' answer styles put them.
        "conversation_v2v_p50_ms": [
            summarize([v for t in r.turns if (v := t.v2v_ms) is not None])["p50"] for r in runs
        ],
        **turn_summary(turns),
        "audio_realtime": audio_realtime(turns),
        **phase.as_dict(),
        "errors": [r.error for r in runs if r.error],
        "window": [window_start, time.time()],  # wall clock, to match the server log's stage lines
    }


def audio_realtime(turns: Sequence[TurnResult]) -> dict[str, Any]:
    """Whether reply audio kept up with real time: the turns whose playback would have stalled
    (``playback_gaps_ms``, see ``analysis.playback_gaps_s``), and the share of a listener's time that
    was reply audio rather than waiting for it (``x_realtime``, 1.0 when it never fell behind)."""
    spoken = [t for t in turns if t.reply_audio_s > 0 and t.playback_gaps_ms is not None]
    stalled = [t for t in spoken if (t.playback_gaps_ms or 0.0) > STALL_MS]
    audio_s = sum(t.reply_audio_s for t in spoken)
    stall_s = sum((t.playback_gaps_ms or 0.0) for t in spoken) / 1000
    return {
        "turns": len(spoken),
        "stalled_turns": len(stalled),
        "reply_audio_s": audio_s,
        "stall_s": stall_s,
        "x_realtime": audio_s / (audio_s + stall_s) if audio_s else None,
        "kept_up": None if not spoken else not stalled,
    }


def turn_summary(turns: Sequence[TurnResult]) -> dict[str, Any]:
    def values(name: str) -> list[float]:
        return [v for t in turns if (v := getattr(t, name)) is not None]

    answered = [t.correct for t in turns if t.correct is not None]
    return {
        "v2v_ms": summarize(values("v2v_ms")),
        "stages_ms": {
            "asr_final": summarize(values("asr_final_ms")),
            "first_text": summarize(values("first_text_ms")),
            "first_audio": summarize(values("first_audio_ms")),
            "first_audible": summarize(values("v2v_ms")),
        },
        "playback_gaps_ms": summarize(values("playback_gaps_ms")),
        "answers_correct": sum(answered),
        "answers_total": len(answered),
        "no_reply": sum(1 for t in turns if t.v2v_ms is None),
        "early_replies": sum(1 for t in turns if t.early_reply),
        "turns": [t.as_dict() for t in turns],
    }


async def wer_phase(url: str, clips: Sequence[Clip], cfg: BenchConfig, pid: int | None) -> dict[str, Any]:
    with measured(pid) as phase:
        run = await converse(url, clips, cfg, turn_timeout_s=max(cfg.turn_timeout_s, 45.0), label="wer")
    phase.conversation_min = run.minutes
    per_clip = [
        {
            "clip": t.clip,
            "wer": t.wer,
            "reference": next(c.text for c in clips if c.name == t.clip),
            "hypothesis": t.input_transcript,
        }
        for t in run.turns
    ]
    pairs = [(str(p["reference"]), str(p["hypothesis"])) for p in per_clip]
    return {
        "wer": corpus_wer(pairs),
        "clips": per_clip,
        **phase.as_dict(),
        "errors": [run.error] if run.error else [],
    }


async def noise_phase(url: str, noise: Clip, cfg: BenchConfig) -> dict[str, Any]:
    async with BenchSession(url) as session:
        playback = session.play(noise)
        await session.finish_sending(playback)
        await session.idle(cfg.noise_listen_s)
        result = analyse_noise(playback, session.events)
    record_trace(cfg, "noise", session, [playback])
    return {"clip": noise.name, **result.as_dict()}


def _audible_after(session: BenchSession, t: float) -> bool:
    return any(e.audible and e.t > t for e in session.events)


async def barge_in_phase(url: str, prompt: Clip, interrupter: Clip, cfg: BenchConfig) -> dict[str, Any]:
    trials: list[dict[str, Any]] = []
    played: list[Playback] = []
    async with BenchSession(url, system_instruction=LONG_ANSWERS) as session:
        for _ in range(cfg.barge_trials):
            asked = session.play(prompt)
            played.append(asked)
            await session.finish_sending(asked)
            end = asked.speech_end or time.monotonic()
            # Cut in a while into the audible reply: the long answer is then surely still streaming.
            got = await session.wait_for(partial(_audible_after, session, end), cfg.turn_timeout_s)
            if not got:
                trials.append({"valid": False, "note": "no reply to interrupt"})
                continue
            await session.idle(cfg.barge_after_s)
            cut_in = await session.say(
                interrupter, turn_timeout_s=cfg.turn_timeout_s, quiet_timeout_s=cfg.quiet_timeout_s
            )
            played.append(cut_in)
            trials.append(analyse_barge_in(asked, cut_in, session.events).as_dict())
            await session.idle(cfg.gap_s)
    record_trace(cfg, "barge-in", session, played)
    valid = [t for t in trials if t.get("valid")]
    return {
        "interrupted_ms": summarize([t["interrupted_ms"] for t in valid if t["interrupted_ms"] is not None]),
        "audio_stop_ms": summarize([t["audio_stop_ms"] for t in valid if t["audio_stop_ms"] is not None]),
        "trials": trials,
    }


def _phase_error(name: str, exc: BaseException, log: Log) -> dict[str, Any]:
    log(f"{name}: failed: {type(exc).__name__}: {exc}")
    return {"error": f"{type(exc).__name__}: {exc}"}


async def run_phases(server: ServerUnderTest, clips: ClipSet, cfg: BenchConfig) -> dict[str, Any]:
    url, pid, log = server.ws_url, server.pid, cfg.log
    results: dict[str, Any] = {"latency": {}}
    if not clips.questions:
        raise RuntimeError(f"no question clips could be prepared: {clips.missing}")

    log("warm-up turn (not counted)")
    warm = await converse(
        url, clips.questions[:1], cfg, turn_timeout_s=max(cfg.turn_timeout_s, 120.0), label="warmup"
    )
    results["warmup"] = {"error": warm.error, "turns": [t.as_dict() for t in warm.turns]}

    levels = (1,) if cfg.quick else cfg.concurrency
    if 1 in levels:
        rounds = 1 if cfg.quick else max(1, cfg.rounds)
        log(f"latency, 1 session, {len(clips.questions)} questions, {rounds} conversation(s)")
        results["latency"]["1"] = await latency_phase(url, clips.questions, 1, cfg, pid, rounds=rounds)
    if clips.piper_questions:
        log("Piper-voiced questions (comparison only)")
        run = await converse(url, clips.piper_questions, cfg, label="piper")
        results["piper_questions"] = {**turn_summary(run.turns), "errors": [run.error] if run.error else []}
    if clips.transcripts:
        log(f"ASR word error rate, {len(clips.transcripts)} recordings")
        results["asr"] = await wer_phase(url, clips.transcripts, cfg, pid)
    if clips.noise is not None:
        log("noise only (must start no turn)")
        try:
            results["noise"] = await noise_phase(url, clips.noise, cfg)
        except Exception as exc:
            results["noise"] = _phase_error("noise", exc, log)
    if clips.barge_prompt is not None and clips.barge_in is not None and cfg.barge_trials > 0:
        log(f"barge-in, {cfg.barge_trials} trials")
        try:
            results["barge_in"] = await barge_in_phase(url, clips.barge_prompt, clips.barge_in, cfg)
        except Exception as exc:
            results["barge_in"] = _phase_error("barge-in", exc, log)
    for n in levels:
        if n == 1:
            continue
        log(f"latency, {n} concurrent sessions")
        results["latency"][str(n)] = await latency_phase(url, clips.questions, n, cfg, pid)
    results["peak_rss_mib"] = procstat.peak_rss_mib(pid) if pid else None
    return results


def add_server_stages(results: dict[str, Any], log_path: Path | None) -> None:
    """Per concurrency level, the engine's own stage marks from the server log (when it logs them)."""
    if log_path is None or not log_path.is_file():
        return
    timings = parse_turn_timings(log_path.read_text(errors="replace").splitlines())
    for level in results.get("latency", {}).values():
        window = level.get("window")
        if timings and window:
            level["server_stages_ms"] = summarize_marks(timings, window[0], window[1])


def run_bench(cfg: BenchConfig) -> dict[str, Any]:
    """Prepare the clips, run every phase against the server, and return the report."""
    log = cfg.log
    cache = ClipCache(bench_cache_dir(cfg.cache_root))
    log(f"preparing clips in {cache.directory}")
    clips = prepare_clips(cache, quick=cfg.quick, with_piper=cfg.with_piper and not cfg.quick, log=log)
    started = time.time()
    load_at_start = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    if cfg.url:
        wait_healthy(http_url(cfg.url), timeout_s=cfg.startup_timeout_s)
        server = ServerUnderTest(cfg.url, None)
        results = asyncio.run(run_phases(server, clips, cfg))
    else:
        log("starting openlive serve")
        with LocalServer(
            cfg.out_dir / "bench-server.log",
            startup_timeout_s=cfg.startup_timeout_s,
            extra_env=remote_llm_env(cfg.llm_url, cfg.llm_model),
        ) as server:
            log(f"server ready at {server.ws_url} after {server.startup_s:.1f} s (pid {server.pid})")
            results = asyncio.run(run_phases(server, clips, cfg))
        add_server_stages(results, server.log_path)
    # The machine's load before the run (the report's machine section has it at the end).
    results["loadavg_at_start"] = load_at_start
    # Where the language model ran: in the server (its CPU counted above) or in a separate engine.
    results["llm"] = {"url": cfg.llm_url, "model": cfg.llm_model} if cfg.llm_url else {"url": None}
    if cfg.tts_speed and not cfg.quick:
        log("TTS speed (in-process Piper)")
        try:
            from openlive.bench.tts_speed import measure_piper

            results["tts"] = measure_piper()
        except Exception as exc:
            results["tts"] = _phase_error("tts", exc, log)
    extras = [
        name
        for name, on in (
            ("grounding", cfg.grounding),
            (f"camera {cfg.camera_fps:g} fps", cfg.camera_fps),
            ("remote LLM", cfg.llm_url),
        )
        if on
    ]
    return build_report(
        cfg_mode=" + ".join(["quick" if cfg.quick else "full", *extras]),
        server=server,
        clips=clips,
        results=results,
        started=started,
    )
