"""The client's use of the shared protocol codecs, with codec errors turned into ``LiveError``."""

from __future__ import annotations

from openlive.client.errors import LiveError
from openlive.protocol import decode_server_message, encode_client_message
from openlive.protocol.errors import ProtocolError
from openlive.protocol.messages import ClientMessage, ServerMessage


def encode(message: ClientMessage) -> str:
    return encode_client_message(message)


def decode_frame(frame: str | bytes) -> list[ServerMessage]:
    """One server frame (text or binary JSON) as typed messages; malformed input is a LiveError."""
    try:
        return decode_server_message(frame)
    except ProtocolError as exc:
        raise LiveError(int(exc.code), f"malformed server message: {exc.reason}") from None
