"""One way to open the SQLite files the stores keep: owner-only, WAL, shared between server processes."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def open_private_db(path: Path, schema: str) -> sqlite3.Connection:
    """Open (creating it and its folder) the SQLite file at ``path`` and apply ``schema``.

    The file is created readable by its owner only before SQLite opens it (SQLite would use the umask):
    it holds conversation text and token names that open sessions. WAL journaling keeps a write to a
    fraction of a millisecond; the busy timeout lets another server process finish its write. The
    connection is used from several threads, so its users serialise access with a lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    db.executescript(schema)
    return db
