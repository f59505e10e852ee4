"""What ``LiveSession.receive()`` yields: the protocol's own dataclasses, under Firebase AI Logic's names.

Thin aliases rather than wrapper classes: one set of types from the wire to the application, so
``isinstance(msg, LiveServerContent)`` and ``isinstance(msg, ServerContent)`` are the same test.
"""

from __future__ import annotations

from openlive.protocol.messages import (
    GoAway,
    ServerContent,
    ServerMessage,
    SessionResumptionUpdate,
    SetupComplete,
    ToolCall,
    ToolCallCancellation,
    UsageMetadata,
    VoiceActivity,
)

LiveServerContent = ServerContent
LiveServerToolCall = ToolCall
LiveServerToolCallCancellation = ToolCallCancellation
LiveServerGoingAwayNotice = GoAway
LiveServerSessionResumptionUpdate = SessionResumptionUpdate
LiveUsage = UsageMetadata
LiveVoiceActivity = VoiceActivity
LiveServerMessage = ServerMessage


def audio_of(content: ServerContent) -> list[tuple[bytes, str]]:
    """The audio parts of a server content message, as (PCM bytes, MIME type) pairs."""
    if content.model_turn is None:
        return []
    return [
        (p.inline_data.data, p.inline_data.mime_type)
        for p in content.model_turn.parts
        if p.inline_data is not None and p.inline_data.mime_type.startswith("audio/")
    ]


def text_of(content: ServerContent) -> str:
    """The model's text in this message (text parts, thoughts left out)."""
    return content.model_turn.text() if content.model_turn is not None else ""


__all__ = [
    "LiveServerContent",
    "LiveServerGoingAwayNotice",
    "LiveServerMessage",
    "LiveServerSessionResumptionUpdate",
    "LiveServerToolCall",
    "LiveServerToolCallCancellation",
    "LiveUsage",
    "LiveVoiceActivity",
    "SetupComplete",
    "audio_of",
    "text_of",
]
