"""What every request handler shares: the engine, settings, keys, tokens, metrics, open connections."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from openlive.engine import Engine
from openlive.server.auth import KeyChecker
from openlive.server.metrics import Metrics
from openlive.server.tokens import TokenStore
from openlive.settings import Settings

if TYPE_CHECKING:
    from openlive.server.connection import LiveConnection

SHUTDOWN_REASON = "The server is shutting down."


@dataclass(slots=True, kw_only=True)
class ServerState:
    engine: Engine
    settings: Settings
    keys: KeyChecker
    tokens: TokenStore = field(default_factory=TokenStore)
    metrics: Metrics = field(default_factory=Metrics)
    connections: set[LiveConnection] = field(default_factory=set)
    shutting_down: bool = False

    @classmethod
    def create(cls, engine: Engine, settings: Settings) -> ServerState:
        return cls(engine=engine, settings=settings, keys=KeyChecker(settings.api_keys))

    async def close_all(self, timeout: float = 3.0) -> None:
        """Graceful shutdown: tell every session ``goAway`` (so clients can resume elsewhere), close it
        with 1001, and give the closes a moment to go out."""
        self.shutting_down = True
        conns = list(self.connections)
        for conn in conns:
            await conn.go_away(SHUTDOWN_REASON)
        if conns:
            await asyncio.wait([asyncio.ensure_future(c.finished.wait()) for c in conns], timeout=timeout)
