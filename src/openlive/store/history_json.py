"""A conversation as text for the stores that keep it outside this process (SQLite, Redis).

It is the protocol's own JSON for a ``clientContent`` message, so whatever a conversation can hold
(text, inline data, function calls and responses, parts kept verbatim) round-trips exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from openlive.protocol import decode_client_message, encode_client_message
from openlive.protocol.messages import ClientContent, Content


def history_to_json(history: Sequence[Content]) -> str:
    return encode_client_message(ClientContent(turns=list(history), turn_complete=False))


def history_from_json(data: str | bytes) -> tuple[Content, ...] | None:
    """The conversation, or None if ``data`` is not one (written by something else)."""
    message = decode_client_message(data)
    return tuple(message.turns) if isinstance(message, ClientContent) else None
