"""Server-side stage timings, read from the log of a server the benchmark started.

The engine logs one line per completed reply turn with monotonic marks relative to the end of speech
as its own VAD saw it, e.g. ``session 0a22… turn: speech_end +0 ms, turn_decided +207 ms, start +717
ms, first_token +1109 ms, first_audio +2170 ms``. These complement the client-side breakdown: they split
the time the client only sees as one wait into turn decision, recognition, LLM and TTS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openlive.bench.metrics import summarize

_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)[,.](\d{3}) .*?session (\S+) turn: (.*)$")
_MARK = re.compile(r"(\w+) ([+-]\d+(?:\.\d+)?) ms")


@dataclass(frozen=True, slots=True)
class TurnTiming:
    at: float  # when the line was logged, seconds since the epoch (server's local time)
    session: str
    marks_ms: dict[str, float]


def parse_turn_timings(lines: Iterable[str]) -> list[TurnTiming]:
    out: list[TurnTiming] = []
    for line in lines:
        match = _LINE.match(line.strip())
        if match is None:
            continue
        stamp, millis, session, marks = match.groups()
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").timestamp() + int(millis) / 1000
        out.append(TurnTiming(at, session, {name: float(ms) for name, ms in _MARK.findall(marks)}))
    return out


def summarize_marks(timings: Iterable[TurnTiming], since: float, until: float) -> dict[str, Any]:
    """p50/p95/… of each mark (ms after the server's end of speech) over turns logged in [since, until]."""
    chosen = [t for t in timings if since <= t.at <= until]
    names: list[str] = []
    for t in chosen:
        names += [n for n in t.marks_ms if n not in names]
    return {
        "turns": len(chosen),
        **{n: summarize([t.marks_ms[n] for t in chosen if n in t.marks_ms]) for n in names},
    }
