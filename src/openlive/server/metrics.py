"""Server metrics in Prometheus's format (``GET /metrics``), with ``prometheus_client``.

Each app has its own registry rather than the library's global one, so that several servers in one
process (the tests, an embedder) count separately. Names (``_total`` is added to counters by the
library): sessions and connections open, sessions set up, messages and bytes each way, closes by code,
handshakes refused by reason (``draining``, ``full``), whether the replica is draining, its session
limit, and ephemeral tokens minted.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
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

    def closed(self, code: int) -> None:
        self.closes.labels(code=str(code)).inc()

    def value(self, name: str, **labels: str) -> float:
        """One sample's value (0 when it has none yet), as a scrape would read it."""
        v = self.registry.get_sample_value(name, labels)
        return 0.0 if v is None else v

    def render(self) -> bytes:
        return generate_latest(self.registry)
