"""The benchmark report: its JSON shape, the targets it is judged against, and a readable table."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openlive.bench.clips import ClipSet
from openlive.bench.server import ServerUnderTest

SCHEMA = "openlive-bench/1"

# The project's targets (docs/benchmarks.md): one session on the 2-core reference machine.
TARGETS: dict[str, dict[str, Any]] = {
    "v2v_p50_ms": {"max": 700.0, "what": "voice-to-voice p50, 1 session"},
    "v2v_p95_ms": {"max": 1200.0, "what": "voice-to-voice p95, 1 session"},
    "barge_in_stop_ms": {"max": 200.0, "what": "barge-in: speech onset → interrupted, p50"},
    "wer": {"max": 0.05, "what": "ASR word error rate on the English recordings"},
    "noise_turns": {"max": 0, "what": "turns started by ALSA Noise.wav"},
}


def machine_info() -> dict[str, Any]:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        ram_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = None
    with contextlib.suppress(OSError, AttributeError):
        load = [round(x, 2) for x in os.getloadavg()]
    return {
        # Other work on the machine skews every timing: the load average when the report was written.
        "loadavg_1_5_15": load,
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(ram_gib, 1) if ram_gib else None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def measured_values(results: dict[str, Any]) -> dict[str, float | int | None]:
    noise = results.get("noise")
    started = _get(noise, "started_turn")
    return {
        "v2v_p50_ms": _get(results, "latency", "1", "v2v_ms", "p50"),
        "v2v_p95_ms": _get(results, "latency", "1", "v2v_ms", "p95"),
        "barge_in_stop_ms": _get(results, "barge_in", "interrupted_ms", "p50"),
        "wer": _get(results, "asr", "wer"),
        "noise_turns": None if started is None else int(bool(started)),
    }


def verdicts(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target with the measured value and pass / fail / not measured."""
    values = measured_values(results)
    out: dict[str, dict[str, Any]] = {}
    for key, target in TARGETS.items():
        value = values.get(key)
        verdict = "not measured" if value is None else ("pass" if value <= target["max"] else "fail")
        out[key] = {**target, "value": value, "verdict": verdict}
    return out


def build_report(
    *, cfg_mode: str, server: ServerUnderTest, clips: ClipSet, results: dict[str, Any], started: float
) -> dict[str, Any]:
    all_clips = [*clips.questions, *clips.piper_questions, *clips.transcripts]
    all_clips += [c for c in (clips.noise, clips.barge_prompt, clips.barge_in) if c is not None]
    return {
        "schema": SCHEMA,
        "mode": cfg_mode,
        "date": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "duration_s": datetime.now(UTC).timestamp() - started,
        "machine": machine_info(),
        "server": {
            "url": server.ws_url,
            "started_by_bench": server.pid is not None,
            "startup_s": server.startup_s,
        },
        # stages_ms: measured at the client; server_stages_ms: the engine's own marks from its log.
        "stage_timing_source": "client+server-log"
        if any("server_stages_ms" in level for level in results.get("latency", {}).values())
        else "client",
        "clips": [
            {
                "name": c.name,
                "kind": str(c.kind),
                "source": c.source,
                "duration_s": round(c.duration_s, 3),
                "text": c.text,
            }
            for c in all_clips
        ],
        "missing_clips": dict(clips.missing),
        "targets": verdicts(results),
        **results,
    }


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=False, default=str) + "\n")


def _fmt(value: Any, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def format_table(report: dict[str, Any]) -> str:
    """A plain-text summary for the terminal."""
    lines: list[str] = []
    m = report.get("machine", {})
    lines.append(
        f"openlive bench ({report.get('mode')}) {report.get('date')} — {m.get('nproc')} CPUs, "
        f"{m.get('cpu_model')}, {m.get('ram_gib')} GiB"
    )
    lines.append("")
    lines.append(
        f"{'sessions':>8} {'v2v p50':>9} {'v2v p95':>9} {'ASR fin':>9} {'1st text':>9} "
        f"{'1st audio':>9} {'correct':>8} {'CPU s/min':>9} {'peak MiB':>9}"
    )
    for n, lat in sorted(report.get("latency", {}).items(), key=lambda kv: int(kv[0])):
        st = lat.get("stages_ms", {})
        cpu, peak = lat.get("cpu_s_per_conversation_min"), lat.get("peak_rss_mib")
        lines.append(
            f"{n:>8} {_fmt(_get(lat, 'v2v_ms', 'p50'), ' ms'):>9} "
            f"{_fmt(_get(lat, 'v2v_ms', 'p95'), ' ms'):>9} "
            f"{_fmt(_get(st, 'asr_final', 'p50'), ' ms'):>9} {_fmt(_get(st, 'first_text', 'p50'), ' ms'):>9} "
            f"{_fmt(_get(st, 'first_audio', 'p50'), ' ms'):>9} "
            f"{lat.get('answers_correct', 0)}/{lat.get('answers_total', 0):<6} "
            f"{_fmt(cpu, '', 1):>9} {_fmt(peak, '', 0):>9}"
        )
        server = lat.get("server_stages_ms")
        if server:
            marks = ", ".join(
                f"{m} {_fmt(_get(server, m, 'p50'), ' ms')}"
                for m in server
                if m not in ("turns", "speech_end")
            )
            lines.append(f"{'':>8} server p50: {marks}")
        realtime = lat.get("audio_realtime")
        if realtime and realtime.get("turns"):
            verdict = "kept up with real time" if realtime.get("kept_up") else "fell behind real time"
            lines.append(
                f"{'':>8} reply audio {verdict}: {_fmt(realtime.get('x_realtime'), '× real time', 2)}, "
                f"{realtime.get('stalled_turns')}/{realtime.get('turns')} turns stalled "
                f"(stalls {_fmt(realtime.get('stall_s'), ' s', 1)} "
                f"in {_fmt(realtime.get('reply_audio_s'), ' s', 0)})"
            )
        if lat.get("errors"):
            lines.append(f"{'':>8} errors: {'; '.join(lat['errors'])[:200]}")
    piper = report.get("piper_questions")
    if piper:
        lines.append(
            f"Piper-voiced questions (comparison): v2v p50 {_fmt(_get(piper, 'v2v_ms', 'p50'), ' ms')}, "
            f"correct {piper.get('answers_correct')}/{piper.get('answers_total')}"
        )
    asr = report.get("asr")
    if asr:
        lines.append("")
        lines.append(f"ASR WER (all recordings): {_fmt(asr.get('wer') and asr['wer'] * 100, ' %', 1)}")
        for c in asr.get("clips", []):
            lines.append(
                f"  {c['clip']:<20} {_fmt(c['wer'] * 100 if c['wer'] is not None else None, ' %', 1):>8}  "
                f"{c['hypothesis'][:70]!r}"
            )
    barge = report.get("barge_in")
    if barge:
        lines.append("")
        if "error" in barge:
            lines.append(f"barge-in: {barge['error']}")
        else:
            lines.append(
                f"barge-in: onset → interrupted p50 {_fmt(_get(barge, 'interrupted_ms', 'p50'), ' ms')}, "
                f"→ last reply audio p50 {_fmt(_get(barge, 'audio_stop_ms', 'p50'), ' ms')} "
                f"({_get(barge, 'interrupted_ms', 'n')} valid of {len(barge.get('trials', []))} trials)"
            )
    noise = report.get("noise")
    if noise:
        verdict = noise.get("error") or (
            "started a turn!" if noise.get("started_turn") else "no turn (correct)"
        )
        lines.append(f"noise only: {verdict}")
    tts = report.get("tts")
    if tts:
        lines.append(
            f"TTS: {tts.get('error') or tts.get('engine')}: RTF {_fmt(tts.get('rtf'), '', 3)} "
            f"({_fmt(tts.get('x_realtime'), '× real time', 1)})"
        )
    if report.get("missing_clips"):
        lines.append("")
        lines.append(
            "clips not available: " + ", ".join(f"{k} ({v})" for k, v in report["missing_clips"].items())
        )
    lines.append("")
    lines.append("targets:")
    for key, t in report.get("targets", {}).items():
        value = t.get("value")
        shown = _fmt(value * 100, " %", 1) if key == "wer" and value is not None else _fmt(value, "", 0)
        lines.append(f"  {t['what']:<48} ≤ {t['max']:<7} measured {shown:<10} {t['verdict']}")
    return "\n".join(lines)


def _ms(value: Any) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def format_markdown(report: dict[str, Any]) -> str:
    """The results as Markdown tables, ready to paste into docs/benchmarks.md."""
    m = report.get("machine", {})
    out = [
        f"Run {report.get('date')} ({report.get('mode')}, {report.get('duration_s', 0):.0f} s): "
        f"{m.get('nproc')} × {m.get('cpu_model')}, {m.get('ram_gib')} GiB RAM, Python {m.get('python')}; "
        f"load average before {report.get('loadavg_at_start')}, after {m.get('loadavg_1_5_15')}.",
        "",
        "| sessions | v2v p50 | v2v p95 | → input transcription finished (p50) "
        "| → first output transcription (p50) | → first audio (p50) | answers correct | no reply "
        "| server CPU s / conversation min | cores busy | peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, lat in sorted(report.get("latency", {}).items(), key=lambda kv: int(kv[0])):
        st = lat.get("stages_ms", {})
        cpu, busy, peak = (
            lat.get("cpu_s_per_conversation_min"),
            lat.get("cores_busy"),
            lat.get("peak_rss_mib"),
        )
        out.append(
            f"| {n} | {_ms(_get(lat, 'v2v_ms', 'p50'))} | {_ms(_get(lat, 'v2v_ms', 'p95'))} "
            f"| {_ms(_get(st, 'asr_final', 'p50'))} | {_ms(_get(st, 'first_text', 'p50'))} "
            f"| {_ms(_get(st, 'first_audio', 'p50'))} "
            f"| {lat.get('answers_correct')}/{lat.get('answers_total')} "
            f"| {lat.get('no_reply')} | {_fmt(cpu, '', 1)} | {_fmt(busy, '', 2)} | {_fmt(peak, ' MiB', 0)} |"
        )
    single = report.get("latency", {}).get("1") or {}
    medians = [m for m in single.get("conversation_v2v_p50_ms") or [] if m is not None]
    if len(medians) > 1:
        out += [
            "",
            f"One session: {len(medians)} conversations pooled; their own v2v p50s were "
            + " / ".join(_ms(m) for m in medians)
            + ".",
        ]
    server_rows = [
        (n, lat["server_stages_ms"])
        for n, lat in sorted(report.get("latency", {}).items(), key=lambda kv: int(kv[0]))
        if lat.get("server_stages_ms")
    ]
    if server_rows:
        marks = [m for m in server_rows[0][1] if m not in ("turns", "speech_end")]
        out += [
            "",
            "Server-side stage marks (the engine's log; p50, ms after the end of speech as its VAD saw it):",
            "",
            "| sessions | turns | " + " | ".join(marks) + " |",
            "|---|---|" + "---|" * len(marks),
        ]
        for n, stages in server_rows:
            cells = [_ms(_get(stages, m, "p50")) for m in marks]
            out.append(f"| {n} | {stages.get('turns')} | " + " | ".join(cells) + " |")
    out += ["", "| target | limit | measured | verdict |", "|---|---|---|---|"]
    for key, t in report.get("targets", {}).items():
        value = t.get("value")
        shown = _fmt(value * 100, " %", 1) if key == "wer" and value is not None else _fmt(value, "", 0)
        out.append(f"| {t['what']} | ≤ {t['max']:g} | {shown} | {t['verdict']} |")
    barge, noise, tts = report.get("barge_in") or {}, report.get("noise") or {}, report.get("tts") or {}
    piper = report.get("piper_questions")
    if piper:
        out += [
            "",
            f"Piper-voiced questions (the server's own voice; comparison only): v2v p50 "
            f"{_ms(_get(piper, 'v2v_ms', 'p50'))}, answers correct {piper.get('answers_correct')}/"
            f"{piper.get('answers_total')}.",
        ]
    out += [
        "",
        f"Barge-in: onset → `interrupted` p50 {_ms(_get(barge, 'interrupted_ms', 'p50'))} "
        f"(max {_ms(_get(barge, 'interrupted_ms', 'max'))}), → last audio of the interrupted reply p50 "
        f"{_ms(_get(barge, 'audio_stop_ms', 'p50'))}; {_get(barge, 'interrupted_ms', 'n')} valid of "
        f"{len(barge.get('trials', []))} trials. Noise.wav: "
        f"{'started a turn' if noise.get('started_turn') else 'no turn' if noise else 'not run'}. "
        f"TTS ({tts.get('engine', '—')}): RTF {_fmt(tts.get('rtf'), '', 3)} "
        f"({_fmt(tts.get('x_realtime'), '× real time', 1)}).",
    ]
    asr = report.get("asr")
    if asr and asr.get("clips"):
        out += ["", "| recording | WER | transcript received |", "|---|---|---|"]
        for c in asr["clips"]:
            wer = c.get("wer")
            out.append(
                f"| {c['clip']} | {_fmt(wer * 100 if wer is not None else None, ' %', 1)} "
                f"| {c['hypothesis'].replace('|', '/')} |"
            )
    return "\n".join(out) + "\n"
