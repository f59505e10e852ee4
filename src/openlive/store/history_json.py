"""A conversation as text for the stores that keep it outside this process (SQLite, Redis).

It is the protocol's own JSON for ``clientContent`` messages, so whatever a conversation can hold
(text, inline data, function calls and responses, parts kept verbatim) round-trips exactly. A long
conversation is stored as a JSON array of such messages, each within the protocol's limit on turns per
message (``MAX_TURNS``), since reading goes through the same decoder and its limits; a single message
(what earlier versions wrote) is read as well.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from openlive.protocol import decode_client_message, encode_client_message
from openlive.protocol.limits import MAX_TURNS
from openlive.protocol.messages import ClientContent, Content


def history_to_json(history: Sequence[Content]) -> str:
    chunks = [list(history[i : i + MAX_TURNS]) for i in range(0, len(history), MAX_TURNS)] or [[]]
    messages = [encode_client_message(ClientContent(turns=turns, turn_complete=False)) for turns in chunks]
    return messages[0] if len(messages) == 1 else "[" + ",".join(messages) + "]"


def history_from_json(data: str | bytes) -> tuple[Content, ...] | None:
    """The conversation, or None if ``data`` is not one (written by something else)."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    if not text.lstrip().startswith("["):
        message = decode_client_message(text)
        return tuple(message.turns) if isinstance(message, ClientContent) else None
    turns: list[Content] = []
    for item in json.loads(text):
        message = decode_client_message(json.dumps(item))
        if not isinstance(message, ClientContent):
            return None
        turns.extend(message.turns)
    return tuple(turns)
