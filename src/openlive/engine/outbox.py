"""What a session writes to: the server's side of one connection, seen from the engine."""

from __future__ import annotations

from typing import Protocol

from openlive.protocol.errors import CloseCode
from openlive.protocol.messages import ServerMessage, UsageMetadata


class Outbox(Protocol):
    async def send(self, message: ServerMessage, usage: UsageMetadata | None = None) -> None:
        """Queue one server message (plus optional ``usageMetadata``) for the client, in order."""
        ...

    async def close(self, code: CloseCode, reason: str) -> None:
        """End the connection with a close code (e.g. 1011 on an internal failure, 1000 after goAway)."""
        ...
