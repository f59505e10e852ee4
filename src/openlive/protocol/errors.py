"""The one error type the protocol layer raises: a WebSocket close code and a short reason."""

from __future__ import annotations

from enum import IntEnum

# A close frame's reason may hold at most 123 bytes of UTF-8 (RFC 6455 §5.5: 125-byte control payload
# minus the 2-byte code).
MAX_REASON_BYTES = 123


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    INVALID_ARGUMENT = 1007  # "Request contains an invalid argument."
    POLICY = 1008  # auth failure, unknown model, policy violation
    MESSAGE_TOO_BIG = 1009
    INTERNAL = 1011  # internal error or overload


def truncate_reason(reason: str) -> str:
    """Cut ``reason`` so that it fits a close frame, on a UTF-8 character boundary."""
    raw = reason.encode("utf-8")
    if len(raw) <= MAX_REASON_BYTES:
        return reason
    return raw[: MAX_REASON_BYTES - 3].decode("utf-8", errors="ignore") + "..."


class ProtocolError(Exception):
    """Malformed or disallowed input, reported to the peer by closing with ``code`` and ``reason``."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = truncate_reason(reason)

    def __repr__(self) -> str:
        return f"ProtocolError({int(self.code)}, {self.reason!r})"


def invalid_argument(detail: str) -> ProtocolError:
    return ProtocolError(CloseCode.INVALID_ARGUMENT, f"Request contains an invalid argument: {detail}")


def policy_violation(reason: str) -> ProtocolError:
    return ProtocolError(CloseCode.POLICY, reason)


def internal_error(reason: str = "Internal error encountered.") -> ProtocolError:
    return ProtocolError(CloseCode.INTERNAL, reason)
