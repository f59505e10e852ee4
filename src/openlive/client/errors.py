"""The client's error types: what went wrong, as a close code and a reason the user can read."""

from __future__ import annotations

# Close code websockets reports when the connection dropped without a close frame (RFC 6455 §7.1.5).
ABNORMAL_CLOSURE = 1006


class LiveError(Exception):
    """The server ended the session (or refused it) with a WebSocket close ``code`` and ``reason``.

    The Live API has no JSON error message: every error is a close frame (1007 invalid argument,
    1008 policy / bad key / unknown model, 1011 internal error), so this is the one error callers catch.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}".strip())
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.reason!r})"


class LiveConnectionError(LiveError):
    """No session could be opened at all: nothing listening, TLS failure, HTTP rejection, timeout.

    ``code`` is 1006 (no close frame) unless the server answered the handshake with an HTTP status,
    in which case it is that status (e.g. 401, 403, 404).
    """


class AudioDeviceError(RuntimeError):
    """The microphone or speaker is unavailable (``sounddevice`` missing, no PortAudio, no device)."""
