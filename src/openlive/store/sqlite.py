"""Resumable session state in an SQLite file: it survives a restart and is shared by server processes
on one machine (the default store of ``openlive serve``).

Same contract as ``MemoryResumptionStore``: a new handle per save, a session's newest
``KEEP_PER_SESSION`` handles valid, ``ttl_s`` from issue, at most ``max_handles`` live. Time is the wall
clock, since entries outlive the process. The history is stored as the protocol's own JSON
(``history_json``). The file holds conversation text, so it is created readable by its owner only; WAL
journaling keeps a save to a fraction of a millisecond, and the session makes it off the event loop.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

from openlive.protocol.messages import Content
from openlive.store.history_json import history_from_json, history_to_json
from openlive.store.resumption import KEEP_PER_SESSION, MAX_HANDLES, RESUMPTION_TTL_S, SessionSnapshot
from openlive.store.sqlite_file import open_private_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS handles (
    handle TEXT PRIMARY KEY,
    lineage TEXT NOT NULL,
    issued REAL NOT NULL,
    expires REAL NOT NULL,
    history TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS handles_by_lineage ON handles (lineage, issued);
CREATE INDEX IF NOT EXISTS handles_by_expiry ON handles (expires);
"""


class SqliteResumptionStore:
    def __init__(
        self,
        path: Path,
        *,
        ttl_s: float = RESUMPTION_TTL_S,
        max_handles: int = MAX_HANDLES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = open_private_db(path, _SCHEMA)
        self._ttl = ttl_s
        self._max = max_handles
        self._clock = clock
        self._lock = threading.Lock()

    def save(self, history: list[Content], *, replaces: str | None = None) -> str:
        data = history_to_json(history)
        handle = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT lineage FROM handles WHERE handle = ?", (replaces,)).fetchone()
                lineage = row[0] if row is not None else handle
                db.execute(
                    "INSERT INTO handles VALUES (?, ?, ?, ?, ?)",
                    (handle, lineage, now, now + self._ttl, data),
                )
                db.execute(
                    "DELETE FROM handles WHERE handle IN (SELECT handle FROM handles WHERE lineage = ?"
                    " ORDER BY issued DESC, rowid DESC LIMIT -1 OFFSET ?)",
                    (lineage, KEEP_PER_SESSION),
                )
                db.execute("DELETE FROM handles WHERE expires <= ?", (now,))
                db.execute(
                    "DELETE FROM handles WHERE handle IN (SELECT handle FROM handles"
                    " ORDER BY issued DESC, rowid DESC LIMIT -1 OFFSET ?)",
                    (self._max,),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return handle

    def load(self, handle: str) -> SessionSnapshot | None:
        with self._lock:
            row = self._db.execute(
                "SELECT history FROM handles WHERE handle = ? AND expires > ?", (handle, self._clock())
            ).fetchone()
        if row is None:
            return None
        turns = history_from_json(row[0])
        return None if turns is None else SessionSnapshot(history=turns)

    def __len__(self) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM handles WHERE expires > ?", (self._clock(),)
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
