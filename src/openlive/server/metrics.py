"""Server counters, rendered in the Prometheus text exposition format (no client library needed)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class Metrics:
    sessions_active: int = 0
    sessions_total: int = 0
    connections_active: int = 0
    messages_in: int = 0
    messages_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    closes: Counter[int] = field(default_factory=Counter)
    tokens_minted: int = 0

    def render(self) -> str:
        lines: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, int]]) -> None:
            lines.append(f"# HELP {name} {help_}")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(f"{name}{labels} {value}" for labels, value in samples)

        metric(
            "openlive_sessions_active",
            "gauge",
            "Live sessions set up and open.",
            [("", self.sessions_active)],
        )
        metric("openlive_sessions_total", "counter", "Live sessions set up.", [("", self.sessions_total)])
        metric(
            "openlive_connections_active",
            "gauge",
            "Open Live WebSocket connections, set up or not.",
            [("", self.connections_active)],
        )
        metric("openlive_messages_in_total", "counter", "Client messages received.", [("", self.messages_in)])
        metric("openlive_messages_out_total", "counter", "Server messages sent.", [("", self.messages_out)])
        metric("openlive_bytes_in_total", "counter", "Client message bytes received.", [("", self.bytes_in)])
        metric("openlive_bytes_out_total", "counter", "Server message bytes sent.", [("", self.bytes_out)])
        metric(
            "openlive_closes_total",
            "counter",
            "Connections ended, by WebSocket close code.",
            [(f'{{code="{code}"}}', n) for code, n in sorted(self.closes.items())],
        )
        metric(
            "openlive_tokens_minted_total", "counter", "Ephemeral tokens minted.", [("", self.tokens_minted)]
        )
        return "\n".join(lines) + "\n"
