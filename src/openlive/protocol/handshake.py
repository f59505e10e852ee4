"""The connection rules of a Live session, sans-I/O, for both ends of the socket.

* The client's first message is ``setup``, and ``setup`` is sent only once.
* The server's first message is ``setupComplete`` (Firebase's SDKs treat anything else as a handshake
  failure; google-genai waits for it).

The server checks what it receives with ``ServerHandshake`` and the client SDK checks both what it
sends and what it receives with ``ClientHandshake``, so the two ends apply the same rules from one place.
"""

from __future__ import annotations

from openlive.protocol.errors import CloseCode, ProtocolError, invalid_argument
from openlive.protocol.messages import ClientMessage, ServerMessage, Setup, SetupComplete

FIRST_MUST_BE_SETUP = "the first message must be setup."
SETUP_ONLY_ONCE = "setup may only be sent once, as the first message."


class ServerHandshake:
    """What a server accepts from its client, in order."""

    def __init__(self) -> None:
        self.setup: Setup | None = None

    def receive(self, message: ClientMessage) -> ClientMessage:
        """``message`` if the rules allow it here; ``ProtocolError`` 1007 otherwise."""
        if self.setup is None:
            if not isinstance(message, Setup):
                raise invalid_argument(FIRST_MUST_BE_SETUP)
            self.setup = message
        elif isinstance(message, Setup):
            raise invalid_argument(SETUP_ONLY_ONCE)
        return message


class ClientHandshake:
    """What a client may send, and what it accepts from its server, in order."""

    def __init__(self) -> None:
        self.setup_sent = False
        self.established = False

    def send(self, message: ClientMessage) -> ClientMessage:
        """``message`` if it may be sent now; ``ValueError`` for a caller's mistake."""
        if not self.setup_sent:
            if not isinstance(message, Setup):
                raise ValueError(FIRST_MUST_BE_SETUP)
            self.setup_sent = True
        elif isinstance(message, Setup):
            raise ValueError(SETUP_ONLY_ONCE)
        return message

    def receive(self, message: ServerMessage) -> ServerMessage:
        """``message`` if the server may send it now; ``ProtocolError`` 1011 for a server that breaks
        the handshake (its first message is not setupComplete)."""
        if not self.established:
            if not isinstance(message, SetupComplete):
                kind = type(message).__name__
                raise ProtocolError(
                    CloseCode.INTERNAL, f"Handshake failure: the server answered setup with {kind}"
                )
            self.established = True
        return message
