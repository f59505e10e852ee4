"""Server metrics in Prometheus's format (``GET /metrics``), with ``prometheus_client``.

Each app has its own registry rather than the library's global one, so that several servers in one
process (the tests, an embedder) count separately. Names (``_total`` is added to counters by the
library): sessions and connections open, sessions set up, messages and bytes each way, closes by code,
handshakes refused by reason (``draining``, ``full``), whether the replica is draining, its session
limit, ephemeral tokens minted, and histograms of each reply turn's server-side stage marks.

The stage marks come from the line the engine logs at the end of every reply turn (``session <id> turn:
speech_end +0 ms, turn_decided +207 ms, start +717 ms, first_token +1109 ms, first_audio +2170 ms``,
the line ``openlive bench`` reads too): :class:`StageMarks` is a logging handler on the ``openlive.engine``
logger that turns each mark into a histogram observation, in seconds after the end of speech (or the
turn's start, for typed turns). It needs the engine's INFO records (``--log-level info``, the default).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.sessions_active = Gauge("openlive_sessions_active", "Live sessions set up and open.", registry=r)
        self.sessions = Counter("openlive_sessions", "Live sessions set up.", registry=r)
        self.connections_active = Gauge(
            "openlive_connections_active", "Open Live WebSocket connections, set up or not.", registry=r
        )
        self.sessions_max = Gauge(
            "openlive_sessions_max", "Connections this replica admits at once (max_sessions).", registry=r
        )
        self.draining = Gauge(
            "openlive_draining", "1 while the replica drains (after SIGTERM), else 0.", registry=r
        )
        self.messages_in = Counter("openlive_messages_in", "Client messages received.", registry=r)
        self.messages_out = Counter("openlive_messages_out", "Server messages sent.", registry=r)
        self.bytes_in = Counter("openlive_bytes_in", "Client message bytes received.", registry=r)
        self.bytes_out = Counter("openlive_bytes_out", "Server message bytes sent.", registry=r)
        self.closes = Counter(
            "openlive_closes", "Connections ended, by WebSocket close code.", ["code"], registry=r
        )
        self.refused = Counter(
            "openlive_handshakes_refused",
            "Live connections refused at the handshake with HTTP 503, by reason (draining, full).",
            ["reason"],
            registry=r,
        )
        self.tokens_minted = Counter("openlive_tokens_minted", "Ephemeral tokens minted.", registry=r)
        self.turn_marks = Histogram(
            "openlive_turn_mark_seconds",
            "Server-side stage marks of each reply turn (end of turn decided, reply started, first token, "
            "first audio, ...), in seconds after the end of the user's speech.",
            ["mark"],
            buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
            registry=r,
        )

    def closed(self, code: int) -> None:
        self.closes.labels(code=str(code)).inc()

    def value(self, name: str, **labels: str) -> float:
        """One sample's value (0 when it has none yet), as a scrape would read it."""
        v = self.registry.get_sample_value(name, labels)
        return 0.0 if v is None else v

    def render(self) -> bytes:
        return generate_latest(self.registry)


ENGINE_LOGGER = "openlive.engine"
_TURN_LINE = "session %s turn: %s"
_MARK = re.compile(r"(\w+) ([+-]\d+(?:\.\d+)?) ms")


class StageMarks(logging.Handler):
    """Observes the stage marks of the reply turns of this server's own sessions (``owns(session_id)``):
    several servers in one process share the engine's logger but not their metrics."""

    def __init__(self, metrics: Metrics, owns: Callable[[str], bool]) -> None:
        super().__init__(logging.INFO)
        self._metrics = metrics
        self._owns = owns

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg != _TURN_LINE or not isinstance(record.args, tuple) or len(record.args) != 2:
            return
        session_id, marks = record.args
        if not self._owns(str(session_id)):
            return
        for name, ms in _MARK.findall(str(marks)):
            seconds = float(ms) / 1000.0
            if seconds >= 0:  # a mark before the end of speech (a speculative start) is not a latency
                self._metrics.turn_marks.labels(mark=name).observe(seconds)
