"""What every request handler shares: the engine, settings, keys, tokens, metrics, open connections, and
whether this replica admits new sessions (admission control and the drain).

Admission: a new Live connection is refused at the WebSocket handshake, with HTTP 503, while the replica
drains or when it already holds ``max_sessions`` connections, so that a load balancer (or a client that
retries) goes to another replica. ``GET /readyz`` answers 503 in both cases too. Sessions per API key are
counted by the connection itself (``max_sessions_per_key``).

Drain (SIGTERM, :meth:`ServerState.drain`): readiness turns 503 at once; every session is sent ``goAway``
with the time left and is closed with 1001 as soon as no turn is under way (a reply in progress finishes,
and its resumption handle goes out); new connections are refused; whatever is still open when the time is
up is closed with 1001.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from openlive.engine import Engine
from openlive.engine.load import SessionLoad
from openlive.server.auth import KeyChecker
from openlive.server.load_gauges import SessionLoadCollector
from openlive.server.metrics import ENGINE_LOGGER, Metrics, StageMarks
from openlive.server.tokens import TokenIssuer
from openlive.settings import Settings

if TYPE_CHECKING:
    from openlive.server.connection import LiveConnection

SHUTDOWN_REASON = "The server is shutting down."


@dataclass(slots=True, kw_only=True)
class ServerState:
    engine: Engine
    settings: Settings
    keys: KeyChecker
    tokens: TokenIssuer = field(default_factory=TokenIssuer)
    metrics: Metrics = field(default_factory=Metrics)
    connections: set[LiveConnection] = field(default_factory=set)
    # Set-up or setting-up sessions per API key (a token counts for the key that minted it).
    sessions_by_key: Counter[str] = field(default_factory=Counter)
    draining: bool = False

    stage_marks: StageMarks | None = None

    @classmethod
    def create(cls, engine: Engine, settings: Settings, tokens: TokenIssuer | None = None) -> ServerState:
        state = cls(engine=engine, settings=settings, keys=KeyChecker(settings.api_keys))
        if tokens is not None:
            state.tokens = tokens
        state.metrics.sessions_max.set(settings.max_sessions)
        state.metrics.registry.register(SessionLoadCollector(state.session_loads))
        return state

    def session_loads(self) -> Iterator[SessionLoad]:
        """Each running session's queue depths and lags (``openlive_llm_wait_max_seconds``, ...)."""
        return (c.session.load() for c in list(self.connections) if c.session is not None)

    def watch_stage_marks(self) -> None:
        """Feed the engine's per-turn stage marks of this server's sessions into its histograms."""
        if self.stage_marks is None:
            self.stage_marks = StageMarks(self.metrics, self.owns_session)
            logging.getLogger(ENGINE_LOGGER).addHandler(self.stage_marks)

    def unwatch_stage_marks(self) -> None:
        if self.stage_marks is not None:
            logging.getLogger(ENGINE_LOGGER).removeHandler(self.stage_marks)
            self.stage_marks = None

    def owns_session(self, session_id: str) -> bool:
        return any(c.session_id == session_id for c in self.connections)

    def refusal(self) -> str | None:
        """Why a new Live connection must be refused at the handshake (``draining``, ``full``), or None."""
        if self.draining:
            return "draining"
        if len(self.connections) >= self.settings.max_sessions:
            return "full"
        return None

    def ready(self) -> str | None:
        """None when a load balancer may send this replica new sessions, else why not (``loading``, ...)."""
        if not self.engine.is_ready():
            return "loading"
        return self.refusal()

    async def drain(self, timeout_s: float) -> None:
        """Stop admitting sessions and let the open ones end (see the module docstring); returns when all
        have ended, or closes the rest with 1001 after ``timeout_s``."""
        self.draining = True
        self.metrics.draining.set(1)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        # Together: a client that does not read may hold its own goAway for a while, not the others'.
        await asyncio.gather(*(c.drain(timeout_s) for c in list(self.connections)), return_exceptions=True)
        await self._wait_finished(list(self.connections), deadline - loop.time())
        await self.close_all()

    async def close_all(self, timeout: float = 3.0) -> None:
        """Tell every session ``goAway`` with no time left (so clients can resume elsewhere), close it
        with 1001, and give the closes a moment to go out."""
        self.draining = True
        self.metrics.draining.set(1)
        conns = list(self.connections)
        await asyncio.gather(*(c.go_away(SHUTDOWN_REASON) for c in conns), return_exceptions=True)
        await self._wait_finished(conns, timeout)

    @staticmethod
    async def _wait_finished(conns: list[LiveConnection], timeout: float) -> None:
        if not conns or timeout <= 0:
            return
        waiters = [asyncio.create_task(c.finished.wait()) for c in conns]
        try:
            await asyncio.wait(waiters, timeout=timeout)
        finally:
            for w in waiters:
                w.cancel()
            for w in waiters:
                with contextlib.suppress(asyncio.CancelledError):
                    await w
