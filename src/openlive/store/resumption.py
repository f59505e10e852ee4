"""Resumable session state, kept in this process's memory.

A session set up with ``sessionResumption`` gets a new handle after each completed turn
(``sessionResumptionUpdate``); a new connection whose ``setup.sessionResumption.handle`` names it starts
with that conversation as it was when the handle was issued. Gemini keeps a handle valid for 2 hours
after the session ends; here each stays valid for ``ttl_s`` after it was issued. A session's last
``KEEP_PER_SESSION`` handles stay valid, not only the newest: a client may not have received the update
that followed its last turn when the connection dropped (Firebase's client, for one, resumes from the
last handle it read). The state is lost when the server restarts, and is not shared between server
processes: a SQLite or Redis store with the same two methods is the way to both.

Handles are 256-bit random URL-safe strings: whoever holds one can continue the conversation, exactly
as with Gemini, so they must be treated as secrets.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from openlive.protocol.messages import Content

RESUMPTION_TTL_S = 2 * 60 * 60.0
# Beyond this many live handles the oldest are forgotten (a few per session; a few KB each).
MAX_HANDLES = 10_000
# Handles of one session that stay valid: the newest and the two before it.
KEEP_PER_SESSION = 3


@dataclass(frozen=True, slots=True)
class SessionSnapshot:
    """What a resumed session starts from: the conversation so far."""

    history: tuple[Content, ...]


@dataclass(slots=True)
class _Entry:
    snapshot: SessionSnapshot
    expires: float
    lineage: str  # the session's first handle: names the handles that one session was given


class MemoryResumptionStore:
    def __init__(
        self,
        *,
        ttl_s: float = RESUMPTION_TTL_S,
        max_handles: int = MAX_HANDLES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_s
        self._max = max_handles
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()  # oldest first
        self._lineages: dict[str, deque[str]] = {}  # lineage -> its live handles, oldest first
        self._lock = threading.Lock()

    def save(self, history: list[Content], *, replaces: str | None = None) -> str:
        """Keep a copy of ``history`` under a new handle (returned). ``replaces``: the session's previous
        handle; only the session's last ``KEEP_PER_SESSION`` handles stay valid."""
        snapshot = SessionSnapshot(history=tuple(copy.deepcopy(history)))
        handle = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            previous = self._entries.get(replaces) if replaces is not None else None
            lineage = previous.lineage if previous is not None else handle
            self._entries[handle] = _Entry(snapshot, now + self._ttl, lineage)
            handles = self._lineages.setdefault(lineage, deque())
            handles.append(handle)
            while len(handles) > KEEP_PER_SESSION:
                self._drop(handles[0])
            self._forget_expired(now)
            while len(self._entries) > self._max:
                self._drop(next(iter(self._entries)))
        return handle

    def load(self, handle: str) -> SessionSnapshot | None:
        """The state saved under ``handle``; None when it is unknown or expired."""
        now = self._clock()
        with self._lock:
            self._forget_expired(now)
            entry = self._entries.get(handle)
            return None if entry is None else entry.snapshot

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _forget_expired(self, now: float) -> None:
        # Entries are in issue order and share one TTL, so the expired ones are at the front.
        while self._entries:
            handle, entry = next(iter(self._entries.items()))
            if entry.expires > now:
                return
            self._drop(handle)

    def _drop(self, handle: str) -> None:
        entry = self._entries.pop(handle)
        handles = self._lineages[entry.lineage]
        handles.remove(handle)
        if not handles:
            del self._lineages[entry.lineage]
