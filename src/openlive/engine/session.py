"""One Live session per connection: the conversation state machine (filled in below)."""

from __future__ import annotations

from dataclasses import dataclass

from openlive.engine.outbox import Outbox
from openlive.engine.profile import Profile
from openlive.protocol.messages import ClientMessage, Setup


@dataclass(slots=True, kw_only=True)
class SessionLimits:
    session_time_limit_s: float = 15 * 60.0
    connection_time_limit_s: float = 10 * 60.0
    go_away_before_s: float = 60.0


class LiveSession:
    def __init__(
        self, setup: Setup, profile: Profile, outbox: Outbox, *, session_id: str, limits: SessionLimits
    ) -> None:
        self.setup = setup
        self.profile = profile
        self.outbox = outbox
        self.session_id = session_id
        self.limits = limits

    async def start(self) -> None:
        """Called by the server right after it has sent ``setupComplete``."""

    async def handle(self, message: ClientMessage) -> None:
        """Consume one client message (never a second ``Setup``); raises ``ProtocolError``."""

    async def aclose(self) -> None:
        """The connection is gone: cancel everything in flight."""
