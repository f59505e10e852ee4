"""Seeing, in the session: the newest camera or screen frame, described off the voice path.

Clients may send frames faster than they can be described (OCR takes ~0.5-1.7 s on one busy core), so
only the newest frame is kept — never a queue. A background worker describes it when no reply is being
generated (describing must not take the cores from the LLM and the TTS while they speak); when a user
turn starts a reply, the reply asks for a note at once (``note``), which describes a frame still waiting
right then, so that a frame sent while the user spoke is seen with that turn. The note gives what was
seen and how long ago: ``[camera, just now: text reading "EXIT 42"; mostly blue and white; bright]``
(the age is coarse, see ``age_words``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from openlive.stages.vision import FrameDescriber, FrameDescriberBusy, FrameDescription

log = logging.getLogger(__name__)

# The longest a reply waits for the newest frame's description before it answers without it.
NOTE_TIMEOUT_S = 5.0
# A description older than this is not offered to the model any more (the view has likely moved on).
NOTE_MAX_AGE_S = 120.0


@dataclass(slots=True)
class _Frame:
    image: bytes
    mime_type: str
    source: str  # "camera" (realtimeInput.video / mediaChunks) or "image" (a clientContent part)
    arrived_at: float


class FrameWatcher:
    """The newest frame of one session and its description. ``offer`` and ``note`` are called from the
    session's tasks; only the watcher's own task (``run``) describes frames."""

    def __init__(
        self, describer: FrameDescriber, *, clock: Callable[[], float], busy: Callable[[], bool]
    ) -> None:
        self._stream = describer.new_stream()
        self._clock = clock
        self._busy = busy  # a reply is being generated: background describing waits
        self._pending: _Frame | None = None
        self._described: tuple[_Frame, FrameDescription] | None = None
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()  # a reply waits for a note: describe now, busy or not
        self._idle = asyncio.Event()  # nothing pending or being described
        self._idle.set()
        self.frames_offered = 0
        self.frames_described = 0

    def offer(self, image: bytes, mime_type: str, *, source: str = "camera") -> None:
        """The newest frame replaces any frame still waiting (returns at once)."""
        self._pending = _Frame(image, mime_type, source, self._clock())
        self.frames_offered += 1
        self._idle.clear()
        self._wake.set()

    async def note(self, timeout_s: float = NOTE_TIMEOUT_S) -> str:
        """What was seen, for the turn starting now: the newest frame (described now if it waits) and
        its age; "" when nothing (recent) was seen or it could not be described in time."""
        if self._pending is not None:
            self._urgent.set()
            self._wake.set()
            try:
                async with asyncio.timeout(timeout_s):
                    await self._idle.wait()
            except TimeoutError:
                log.info("frame description not ready after %.1f s; answering without it", timeout_s)
        return self.peek_note()

    def peek_note(self) -> str:
        """The note for the newest frame described so far, without describing or waiting: what the
        session's prompt prefill puts in the turn the user is still speaking, so that the reply's prompt
        (built by ``note`` when the turn ends) matches it and is not read again."""
        if self._described is None:
            return ""
        frame, description = self._described
        age = self._clock() - frame.arrived_at
        if age > NOTE_MAX_AGE_S or not description.text:
            return ""
        return f"[{frame.source}, {age_words(age)}: {description.text}]"

    async def run(self) -> None:
        """The worker: describe the newest frame, waiting while a reply is being generated unless a
        reply asked for a note. Owned by the session (cancelled with it)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._busy() and not self._urgent.is_set() and self._pending is not None:
                # Poll rather than subscribe: a reply ends through the session's inbox, and a quarter of
                # a second matters little to a frame that is only looked at when a turn starts.
                try:
                    async with asyncio.timeout(0.25):
                        await self._urgent.wait()
                except TimeoutError:
                    pass
            frame, self._pending = self._pending, None
            if frame is None:
                self._idle.set()
                continue
            try:
                description = await self._stream.describe(frame.image, frame.mime_type)
            except FrameDescriberBusy:
                description = None
            except ValueError as exc:  # not an image: the client's data, one line in the log
                log.info("frame not described: %s", exc)
                description = None
            except Exception:  # seeing is best effort: a failing describer costs the view, not the session
                log.warning("frame description failed", exc_info=True)
                description = None
            if description is not None:
                self.frames_described += 1
                if description.changed or self._described is None:
                    self._described = (frame, description)
                else:  # the same view: it is still "seen now"
                    self._described = (frame, self._described[1])
            if self._pending is None:
                self._urgent.clear()
                self._idle.set()


def age_words(age_s: float) -> str:
    """How long ago a frame arrived, coarse on purpose: the note written while the user speaks (the
    prompt prefill) and the one written when the turn ends must be the same text for the model's cached
    prompt to be reused, so the wording changes every 10 s, not every second."""
    if age_s < 10:
        return "just now"
    if age_s < 60:
        return f"about {int(age_s // 10) * 10} s ago"
    return f"about {int(age_s // 60)} min ago"
