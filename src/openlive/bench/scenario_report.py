"""The app scenario's results: one record per scripted turn, the summary over the conversation, and the
printed table (pure functions; the I/O is in ``openlive.bench.scenario``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from openlive.bench.analysis import STALL_MS
from openlive.bench.driver import Received
from openlive.bench.metrics import corpus_wer, summarize, wer
from openlive.bench.scenario_checks import (
    CATEGORIES,
    GROUNDING,
    INSTRUCTION,
    TOOL_USE,
    Check,
    ObservedCall,
    check_turn,
    pass_rates,
    tool_markup,
)
from openlive.bench.scenario_script import ScriptedTurn


@dataclass(slots=True)
class ScenarioTurn:
    name: str
    said: str  # the script's text (what espeak-ng spoke)
    heard: str  # the server's input transcription
    # Word error rate of ``heard`` against ``said``: a failed turn with a high one may have failed in
    # the ASR, not in the model.
    heard_wer: float | None
    reply_text: str  # the output transcription of the reply
    calls: list[ObservedCall]
    checks: list[Check]
    # End of the user's speech → first audible reply audio (what a listener waits); None: no audio.
    v2v_ms: float | None
    # End of speech → the first audible audio or toolCall, whichever came first (the app can act on a
    # call before anything is spoken).
    first_response_ms: float | None
    completed: bool  # a turnComplete closed the reply
    # End of speech → the first ``toolCall`` (None: no call). With the call acknowledgement on, a call
    # turn's ``v2v_ms`` is the acknowledgement's audio, and this is when the app could act.
    tool_call_ms: float | None = None
    # How long the reply's audio, played from its first chunk, would have stalled waiting for the
    # next chunk (all such waits added; ``analysis.playback_gaps_s``): silences inside the reply.
    playback_gaps_ms: float | None = None
    played: bool = True  # False: the session ended before this turn
    markup: str | None = None  # the tool markup found in the transcript, if any
    passed: bool = field(init=False)

    def __post_init__(self) -> None:
        self.passed = all(c.passed for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["checks"] = {c.category: {"passed": c.passed, "why": c.why} for c in self.checks}
        return out


def calls_between(events: Sequence[Received], start: float, end: float) -> list[ObservedCall]:
    """The function calls logged (``tool_call`` events, text = JSON) in ``(start, end]``."""
    calls = []
    for e in events:
        if e.kind == "tool_call" and start < e.t <= end:
            data = json.loads(e.text)
            calls.append(ObservedCall(str(data.get("name", "")), dict(data.get("args") or {})))
    return calls


def first_response_after(events: Sequence[Received], start: float, end: float) -> float | None:
    """The time of the first audible audio chunk or function call in ``(start, end]``."""
    return next((e.t for e in events if start < e.t <= end and (e.audible or e.kind == "tool_call")), None)


def first_call_after(events: Sequence[Received], start: float, end: float) -> float | None:
    """The time of the first function call in ``(start, end]``."""
    return next((e.t for e in events if start < e.t <= end and e.kind == "tool_call"), None)


def scored_turn(
    turn: ScriptedTurn,
    *,
    heard: str,
    reply_text: str,
    calls: list[ObservedCall],
    v2v_ms: float | None,
    first_response_ms: float | None,
    completed: bool,
    tool_call_ms: float | None = None,
    playback_gaps_ms: float | None = None,
) -> ScenarioTurn:
    return ScenarioTurn(
        name=turn.name,
        said=turn.text,
        heard=heard,
        heard_wer=wer(turn.text, heard),
        reply_text=reply_text,
        calls=calls,
        checks=check_turn(turn, reply_text, calls),
        v2v_ms=v2v_ms,
        first_response_ms=first_response_ms,
        completed=completed,
        tool_call_ms=tool_call_ms,
        playback_gaps_ms=playback_gaps_ms,
        markup=tool_markup(reply_text),
    )


def unplayed_turn(turn: ScriptedTurn, reason: str) -> ScenarioTurn:
    """A turn the conversation never reached: it fails every category that applies to it."""
    categories = [TOOL_USE, INSTRUCTION] + ([GROUNDING] if turn.facts else [])
    return ScenarioTurn(
        name=turn.name,
        said=turn.text,
        heard="",
        heard_wer=None,
        reply_text="",
        calls=[],
        checks=[Check(c, False, f"not played: {reason}") for c in categories],
        v2v_ms=None,
        first_response_ms=None,
        completed=False,
        played=False,
    )


def summarize_scenario(turns: Sequence[ScenarioTurn], first_answer_s: float | None) -> dict[str, Any]:
    """Pass rates per category and per turn, and latency over the conversation.

    The latency statistics leave out the first turn: it is spoken right after ``setupComplete`` and
    its answer may wait for the instruction to be read (``first_answer_after_setup_s`` reports that).
    """
    later = turns[1:]
    return {
        "turns_passed": sum(t.passed for t in turns),
        "turns": len(turns),
        "pass_rates": pass_rates([t.checks for t in turns]),
        "markup_turns": [t.name for t in turns if t.markup is not None],
        # How well the server heard the script (espeak-ng through its ASR), over the turns played.
        "asr_wer": corpus_wer([(t.said, t.heard) for t in turns if t.played]),
        "first_answer_after_setup_s": first_answer_s,
        "first_turn_v2v_ms": turns[0].v2v_ms if turns else None,
        "v2v_ms": summarize([v for t in later if (v := t.v2v_ms) is not None]),
        "first_response_ms": summarize([v for t in later if (v := t.first_response_ms) is not None]),
        # Turns answered in words, and turns that called a function (v2v: their first audio, the
        # acknowledgement when it is on; tool_call_ms: their toolCall).
        "word_turn_v2v_ms": summarize([v for t in later if not t.calls and (v := t.v2v_ms) is not None]),
        "call_turn_v2v_ms": summarize([v for t in later if t.calls and (v := t.v2v_ms) is not None]),
        "tool_call_ms": summarize([v for t in later if (v := t.tool_call_ms) is not None]),
        # Silences inside replies (all turns): the turns whose playback stalled over STALL_MS, and
        # each turn's stalls added up.
        "stalled_turns": [
            t.name for t in turns if t.playback_gaps_ms is not None and t.playback_gaps_ms > STALL_MS
        ],
        "playback_gaps_ms": summarize([v for t in turns if (v := t.playback_gaps_ms) is not None]),
        "no_audio_turns": [t.name for t in later if t.played and t.v2v_ms is None],
    }


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def _rate(entry: dict[str, Any]) -> str:
    rate = entry.get("rate")
    shown = "—" if rate is None else f"{rate * 100:.0f} %"
    return f"{entry.get('passed')}/{entry.get('total')} ({shown})"


def format_scenario_table(report: dict[str, Any]) -> str:
    """The per-turn table and the summary, for the terminal."""
    summary = report.get("summary", {})
    machine = report.get("machine", {})
    lines = [
        f"openlive bench --scenario app {report.get('date')}: instruction "
        f"{report.get('instruction_chars'):,} characters, {len(report.get('functions', []))} functions; "
        f"load {report.get('loadavg_at_start')} → {machine.get('loadavg_1_5_15')}",
        "",
        f"{'turn':<22} {'pass':<5} {'tool':<5} {'instr':<6} {'ground':<7} {'v2v ms':>7}  reply / calls",
    ]
    for t in report.get("turns", []):
        checks = t.get("checks", {})

        def mark(category: str, checks: dict[str, Any] = checks) -> str:
            c = checks.get(category)
            return "—" if c is None else ("ok" if c["passed"] else "FAIL")

        calls = ", ".join(f"{c['name']}({json.dumps(c['args'])})" for c in t.get("calls", []))
        said = (t.get("reply_text") or "")[:60]
        lines.append(
            f"{t['name']:<22} {'ok' if t['passed'] else 'FAIL':<5} {mark(TOOL_USE):<5} "
            f"{mark(INSTRUCTION):<6} {mark(GROUNDING):<7} {_ms(t.get('v2v_ms')):>7}  "
            f"{said!r}{' + ' + calls if calls else ''}"
        )
    rates = summary.get("pass_rates", {})
    v2v = summary.get("v2v_ms", {})
    words = summary.get("word_turn_v2v_ms") or {}
    called = summary.get("call_turn_v2v_ms") or {}
    tool_calls = summary.get("tool_call_ms") or {}
    gaps = summary.get("playback_gaps_ms") or {}
    first = summary.get("first_answer_after_setup_s")
    lines += [
        "",
        f"turns passed: {summary.get('turns_passed')}/{summary.get('turns')}; "
        + "; ".join(f"{c}: {_rate(rates.get(c, {}))}" for c in CATEGORIES),
        f"tool markup spoken in: {', '.join(summary.get('markup_turns') or []) or 'no turn'}; "
        f"ASR WER on the script: {_pct(summary.get('asr_wer'))}",
        f"voice-to-voice (turns 2..n, ms): median {_ms(v2v.get('p50'))}, p95 {_ms(v2v.get('p95'))}, "
        f"max {_ms(v2v.get('max'))} (n={v2v.get('n')}); first answer after setup: "
        + ("—" if first is None else f"{first:.1f} s"),
        f"  word turns: median {_ms(words.get('p50'))} (n={words.get('n')}); call turns: median "
        f"{_ms(called.get('p50'))} (n={called.get('n')}), their toolCall: median "
        f"{_ms(tool_calls.get('p50'))}, max {_ms(tool_calls.get('max'))}",
        f"silences inside replies: {len(summary.get('stalled_turns') or [])} turns stalled over "
        f"{STALL_MS:.0f} ms; stalls per turn (ms): median {_ms(gaps.get('p50'))}, max {_ms(gaps.get('max'))}",
    ]
    if report.get("error"):
        lines.append(f"error: {report['error']}")
    return "\n".join(lines)
