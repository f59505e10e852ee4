"""Seeing: a camera or screen frame (or an image part) turned into text the language model can read.

The embedded language model reads only text, so a frame reaches it as a short description: the text
read in the frame and a cheap summary of the scene. A describer keeps one stream per session, because
"did the view change?" is a question about that session's previous frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# The image formats a frame may come in (realtimeInput.video, mediaChunks, inlineData image parts).
FRAME_MIME_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})


@dataclass(slots=True, kw_only=True)
class FrameDescription:
    # What the language model reads, e.g. 'text reading "EXIT 42"; mostly blue and white; bright'.
    text: str
    # The text read in the frame, lines joined by " / " ("" if none).
    ocr_text: str
    # The frame differs meaningfully from the last one this stream described; when False, the rest is
    # the previous description, returned without looking again.
    changed: bool


class FrameDescriberBusy(RuntimeError):
    """The describer already has as many frames waiting as it allows: skip this frame (a newer one will
    come) rather than queue it behind work that would make it stale."""


class FrameDescriberStream(Protocol):
    """One per session. Calls are served one at a time, in order."""

    async def describe(self, image: bytes, mime_type: str) -> FrameDescription:
        """Describe one encoded frame (``FRAME_MIME_TYPES``). Raises ``ValueError`` for bytes that are not
        a decodable image of an accepted type, ``FrameDescriberBusy`` when the describer is saturated."""
        ...


class FrameDescriber(Protocol):
    def new_stream(self) -> FrameDescriberStream: ...

    async def aclose(self) -> None:
        """Release the models and the worker thread (server shutdown); no stream is used after."""
        ...
