"""How far behind one session is, read at any moment: what a replica's metrics report per stage.

``LiveSession.load()`` builds it from counters the session's parts already keep (its inbox, its
listener's audio backlog, the reply waiting for the language model), without locks: it is read on the
event loop, between the steps that change them. The server sums it over its sessions at scrape time
(``server/load_gauges.py``); the engine knows nothing of Prometheus.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionLoad:
    # Client messages and internal events waiting for the session's loop.
    inbox_depth: int = 0
    # Seconds of microphone audio received and not yet processed by the listener (VAD, turn, ASR).
    audio_queued_s: float = 0.0
    # How long the reply in flight has waited for the language model's first output (a token or a
    # call): the model's queue and prompt reading. None when no reply is waiting for it.
    llm_wait_s: float | None = None
