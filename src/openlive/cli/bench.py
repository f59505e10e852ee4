"""``openlive bench``: measure latency, barge-in, WER, TTS speed, CPU and memory against a real server.

openlive bench --out bench-out            # starts its own `openlive serve` on a free loopback port
openlive bench --url ws://127.0.0.1:8765  # an already running server (no CPU/memory numbers)
openlive bench --quick                    # one question, one recording, one session: a smoke test
openlive bench --llm-url http://127.0.0.1:8000/v1 --llm-model qwen   # the LLM in a separate engine
openlive bench --text-sessions 50         # 50 concurrent text sessions: answered / refused / lost
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "bench",
        help="benchmark a server: voice-to-voice latency, barge-in, WER, CPU, memory",
        description="Drive a real openlive server with recorded speech over the Live API and report "
        "latency, barge-in stop time, word error rate, TTS speed, CPU use and peak memory "
        "(JSON + PNG chart + a table). See docs/benchmarks.md.",
    )
    p.add_argument("--url", help="bench this running server (ws://host:port) instead of starting one")
    p.add_argument("--out", type=Path, default=Path("bench-out"), help="output directory or .json path")
    p.add_argument("--quick", action="store_true", help="one question, one recording, one session")
    p.add_argument(
        "--concurrency", default="1,2,4", help="concurrent session counts, comma separated (default 1,2,4)"
    )
    p.add_argument("--barge-trials", type=int, default=3, help="barge-in trials (default 3; 0 skips)")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="one-session conversations asking every question, pooled for the latency targets (default 3)",
    )
    p.add_argument("--turn-timeout", type=float, default=30.0, help="seconds to wait for a reply turn")
    p.add_argument("--startup-timeout", type=float, default=300.0, help="seconds to wait for /healthz")
    p.add_argument("--no-piper", action="store_true", help="skip the Piper-voiced comparison questions")
    p.add_argument("--no-chart", action="store_true", help="write no PNG chart")
    p.add_argument("--grounding", action="store_true", help="googleSearch in every session's setup")
    p.add_argument(
        "--llm-url",
        help="the server this bench starts uses this OpenAI-compatible LLM (e.g. http://127.0.0.1:8000/v1, "
        "python -m llama_cpp.server) instead of its embedded one; with --url, start the server so yourself",
    )
    p.add_argument("--llm-model", default="", help="the model name the --llm-url server serves")
    p.add_argument(
        "--text-sessions",
        type=int,
        metavar="N",
        help="instead of the latency phases: N concurrent TEXT sessions asking one short question each; "
        "reports answered / refused / lost and the time to the last answer",
    )
    p.add_argument(
        "--camera", type=float, default=0.0, metavar="FPS", help="stream frames of a sign at FPS (0: none)"
    )
    p.add_argument("--cache-dir", type=Path, help="cache root (default ~/.cache/openlive)")
    p.add_argument(
        "--scenario",
        choices=["app"],
        help="instead of the latency phases, play a scripted conversation: 'app' = an event app's "
        "instruction and five functions, twelve spoken turns, tool use / instruction / grounding checks",
    )
    p.add_argument(
        "--scenario-instruction-chars",
        type=int,
        default=0,
        metavar="N",
        help="pad the scenario's ~8,000-character instruction with more schedule to about N characters",
    )


def output_paths(out: Path) -> tuple[Path, Path]:
    """``--out DIR`` → DIR/bench.json, DIR/bench.png; ``--out X.json`` → X.json, X.png."""
    if out.suffix == ".json":
        return out, out.with_suffix(".png")
    return out / "bench.json", out / "bench.png"


def run(args: argparse.Namespace) -> int:
    from openlive.bench.report import format_markdown, format_table, write_json
    from openlive.bench.runner import BenchConfig, run_bench
    from openlive.bench.server import ServerStartError
    from openlive.cli import UserError

    try:
        levels = tuple(sorted({int(n) for n in args.concurrency.split(",") if n.strip()}))
    except ValueError:
        raise UserError(f"--concurrency takes numbers like 1,2,4, not {args.concurrency!r}") from None
    if not levels or min(levels) < 1:
        raise UserError("--concurrency needs at least one session count ≥ 1")
    if args.rounds < 1:
        raise UserError("--rounds needs at least 1 conversation")
    json_path, png_path = output_paths(args.out)

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    if args.scenario:
        return run_scenario_command(args, json_path, log)
    if args.text_sessions is not None:
        return run_text_sessions_command(args, json_path, log)

    cfg = BenchConfig(
        url=args.url,
        quick=args.quick,
        concurrency=levels,
        out_dir=json_path.parent,
        cache_root=args.cache_dir,
        startup_timeout_s=args.startup_timeout,
        turn_timeout_s=args.turn_timeout,
        barge_trials=args.barge_trials,
        rounds=args.rounds,
        with_piper=not args.no_piper,
        grounding=args.grounding,
        camera_fps=args.camera,
        llm_url=args.llm_url,
        llm_model=args.llm_model,
        log=log,
    )
    try:
        report = run_bench(cfg)
    except ServerStartError as exc:
        raise UserError(str(exc)) from None
    write_json(report, json_path)
    log(f"wrote {json_path}")
    trace_path = json_path.with_name(json_path.stem + "-events.jsonl")
    with trace_path.open("w") as fh:
        fh.writelines(json.dumps(session) + "\n" for session in cfg.trace)
    log(f"wrote {trace_path} (every session's timeline)")
    markdown_path = json_path.with_suffix(".md")
    markdown_path.write_text(format_markdown(report))
    log(f"wrote {markdown_path}")
    if not args.no_chart:
        try:
            from openlive.bench.chart import write_chart

            write_chart(report, png_path)
            log(f"wrote {png_path}")
        except ImportError:
            log("matplotlib is not installed: no chart (pip install matplotlib)")
    print(format_table(report))
    return 0


def run_scenario_command(args: argparse.Namespace, json_path: Path, log: Callable[[str], None]) -> int:
    """``--scenario app``: the scripted conversation; writes scenario-app.json and its events."""
    from openlive.bench.report import write_json
    from openlive.bench.scenario import ScenarioConfig, run_scenario
    from openlive.bench.scenario_report import format_scenario_table
    from openlive.bench.server import ServerStartError
    from openlive.cli import UserError

    if json_path.name == "bench.json":  # --out DIR
        json_path = json_path.with_name(f"scenario-{args.scenario}.json")
    cfg = ScenarioConfig(
        url=args.url,
        out_dir=json_path.parent,
        cache_root=args.cache_dir,
        instruction_chars=args.scenario_instruction_chars,
        startup_timeout_s=args.startup_timeout,
        turn_timeout_s=max(args.turn_timeout, 60.0),
        server_env=llm_env(args),
        log=log,
    )
    try:
        report = run_scenario(cfg)
    except ServerStartError as exc:
        raise UserError(str(exc)) from None
    write_json(report, json_path)
    trace_path = json_path.with_name(json_path.stem + "-events.jsonl")
    with trace_path.open("w") as fh:
        fh.writelines(json.dumps(session) + "\n" for session in cfg.trace)
    log(f"wrote {json_path} and {trace_path}")
    print(format_scenario_table(report))
    return 0 if report.get("error") is None else 1


def run_text_sessions_command(args: argparse.Namespace, json_path: Path, log: Callable[[str], None]) -> int:
    """``--text-sessions N``: N concurrent TEXT sessions; writes text-sessions.json, prints the counts."""
    import asyncio

    from openlive.bench.report import machine_info, write_json
    from openlive.bench.server import LocalServer, ServerStartError, http_url, wait_healthy
    from openlive.bench.text_sessions import format_text_sessions, run_text_sessions, summarize_text_sessions
    from openlive.cli import UserError

    if args.text_sessions < 1:
        raise UserError("--text-sessions needs at least 1 session")
    if json_path.name == "bench.json":  # --out DIR
        json_path = json_path.with_name("text-sessions.json")
    # A replica with one embedded model answers the questions one after another: the last waits for all.
    timeout_s = max(args.turn_timeout, 600.0)
    load = [round(x, 2) for x in os.getloadavg()]
    try:
        if args.url:
            wait_healthy(http_url(args.url), timeout_s=args.startup_timeout)
            results = asyncio.run(run_text_sessions(args.url, args.text_sessions, timeout_s=timeout_s))
        else:
            log("starting openlive serve")
            server_log = json_path.parent / "text-sessions-server.log"
            with LocalServer(
                server_log, startup_timeout_s=args.startup_timeout, extra_env=llm_env(args)
            ) as server:
                log(f"server ready at {server.ws_url}; {args.text_sessions} sessions")
                run = run_text_sessions(server.ws_url, args.text_sessions, timeout_s=timeout_s)
                results = asyncio.run(run)
    except ServerStartError as exc:
        raise UserError(str(exc)) from None
    summary = summarize_text_sessions(results)
    report = {"mode": "text-sessions", "machine": machine_info(), "loadavg_at_start": load, **summary}
    write_json(report, json_path)
    log(f"wrote {json_path}")
    print(format_text_sessions(summary))
    return 0 if summary["answered"] == summary["sessions"] else 1


def llm_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment that points a server this bench starts at ``--llm-url``."""
    from openlive.bench.server import remote_llm_env

    return remote_llm_env(args.llm_url, args.llm_model)
