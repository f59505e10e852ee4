"""``openlive bench --text-sessions N``: N concurrent TEXT sessions against one replica, each asking one
short question, all at once; every session ends answered, refused or lost.

* answered: ``setupComplete``, then text and ``turnComplete`` for the question;
* refused: the server said no before the session started (the handshake answered with an HTTP status,
  such as 503 from a full or draining replica, or a close before ``setupComplete``);
* lost: the session started, but the answer never completed (a close mid-turn, or no ``turnComplete``
  within the timeout).

The figure issue 14 asks for is "50 concurrent text sessions on one replica: every one answered, none
refused or lost", with the time until the last answer (a replica with one embedded model answers them
one after another, so that time grows with N).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from openlive.bench.driver import DEFAULT_MODEL, LIVE_PATH, SHORT_ANSWERS
from openlive.bench.metrics import summarize
from openlive.protocol import (
    ClientContent,
    Content,
    GenerationConfig,
    Modality,
    Part,
    ServerContent,
    Setup,
    SetupComplete,
    decode_server_message,
    encode_client_message,
)

# Short questions with one-word answers, asked in turn (sessions differ, so no two prompts are equal
# and no answer comes from a cache of the one before).
QUESTIONS = (
    "What is the capital of France?",
    "What is the capital of Japan?",
    "What is the capital of Italy?",
    "What is the capital of Spain?",
    "What is the capital of Germany?",
)

Outcome = Literal["answered", "refused", "lost"]


@dataclass(slots=True)
class TextSessionResult:
    outcome: Outcome
    question: str
    answer: str = ""
    # Seconds from the start of the whole run (all sessions start together) to turnComplete.
    answered_after_s: float | None = None
    # Seconds from sending the question to turnComplete.
    turn_s: float | None = None
    reason: str = ""  # why a session was refused or lost


async def text_session(
    ws_url: str, question: str, *, started: float, timeout_s: float, connect_timeout_s: float = 30.0
) -> TextSessionResult:
    """One TEXT session: connect, set up, ask ``question``, wait for ``turnComplete``."""
    url = ws_url.rstrip("/") + LIVE_PATH + "?key=openlive-bench"
    setup = Setup(
        model=DEFAULT_MODEL,
        generation_config=GenerationConfig(response_modalities=[Modality.TEXT]),
        system_instruction=Content(role="user", parts=[Part(text=SHORT_ANSWERS)]),
    )
    try:
        ws = await asyncio.wait_for(connect(url, max_size=None, open_timeout=None), connect_timeout_s)
    except InvalidStatus as exc:
        return TextSessionResult("refused", question, reason=f"HTTP {exc.response.status_code}")
    except (OSError, TimeoutError) as exc:
        return TextSessionResult("refused", question, reason=f"{type(exc).__name__}: {exc}")
    texts: list[str] = []
    asked_at: float | None = None
    try:
        async with asyncio.timeout(timeout_s):
            await ws.send(encode_client_message(setup))
            async for frame in ws:
                messages = decode_server_message(frame)
                if asked_at is None and any(isinstance(m, SetupComplete) for m in messages):
                    turn = Content(role="user", parts=[Part(text=question)])
                    await ws.send(encode_client_message(ClientContent(turns=[turn], turn_complete=True)))
                    asked_at = time.monotonic()
                for m in messages:
                    if isinstance(m, ServerContent) and m.model_turn is not None:
                        texts.append(m.model_turn.text())
                if any(isinstance(m, ServerContent) and m.turn_complete for m in messages):
                    now = time.monotonic()
                    answer = "".join(texts).strip()
                    if not answer:
                        return TextSessionResult("lost", question, reason="turnComplete without text")
                    return TextSessionResult(
                        "answered",
                        question,
                        answer,
                        answered_after_s=now - started,
                        turn_s=now - (asked_at or now),
                    )
            reason = f"closed {ws.close_code} {ws.close_reason or ''}".strip()
    except TimeoutError:
        reason = f"no turnComplete within {timeout_s:g} s"
    except ConnectionClosed as exc:
        reason = f"closed {exc.rcvd.code if exc.rcvd else 1006} {exc.rcvd.reason if exc.rcvd else ''}".strip()
    finally:
        await ws.close()
    # Closed before setupComplete: the server turned the session away; after it: the answer was lost.
    return TextSessionResult("refused" if asked_at is None else "lost", question, reason=reason)


async def run_text_sessions(ws_url: str, n: int, *, timeout_s: float) -> list[TextSessionResult]:
    """``n`` sessions started together, each asking one of ``QUESTIONS``."""
    started = time.monotonic()
    return list(
        await asyncio.gather(
            *(
                text_session(ws_url, QUESTIONS[i % len(QUESTIONS)], started=started, timeout_s=timeout_s)
                for i in range(n)
            )
        )
    )


def summarize_text_sessions(results: Sequence[TextSessionResult]) -> dict[str, Any]:
    """The counts, the time to the last answer, and why sessions were refused or lost."""
    answered = [r for r in results if r.outcome == "answered"]
    finished = [r.answered_after_s for r in answered if r.answered_after_s is not None]
    return {
        "sessions": len(results),
        "answered": len(answered),
        "refused": sum(1 for r in results if r.outcome == "refused"),
        "lost": sum(1 for r in results if r.outcome == "lost"),
        "last_answer_s": max(finished) if finished else None,
        "answered_after_ms": summarize([s * 1000 for s in finished]),
        "turn_ms": summarize([r.turn_s * 1000 for r in answered if r.turn_s is not None]),
        "reasons": dict(Counter(f"{r.outcome}: {r.reason}" for r in results if r.outcome != "answered")),
        "answers": [{"question": r.question, "answer": r.answer[:200]} for r in answered],
    }


def format_text_sessions(summary: dict[str, Any]) -> str:
    """The printed table: one line of counts and times, then the reasons."""

    def seconds(value: Any) -> str:
        return "—" if value is None else f"{value:.1f} s"

    p50 = summary["turn_ms"].get("p50")
    lines = [
        f"{'sessions':>8} {'answered':>9} {'refused':>8} {'lost':>5} {'last answer':>12} {'turn p50':>9}",
        f"{summary['sessions']:>8} {summary['answered']:>9} {summary['refused']:>8} {summary['lost']:>5} "
        f"{seconds(summary['last_answer_s']):>12} {seconds(None if p50 is None else p50 / 1000):>9}",
    ]
    lines += [f"  {count} × {reason}" for reason, count in summary["reasons"].items()]
    return "\n".join(lines)
