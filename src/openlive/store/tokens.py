"""Ephemeral tokens (``POST /v1alpha/auth_tokens``) and their use counts, where every server sees them: this
process's memory (``MemoryTokenStore``), an SQLite file that survives a restart and is shared by the
processes of one machine (``SqliteTokenStore``, the default of ``openlive serve``), or Redis shared by
replicas on several machines (``RedisTokenStore``).

The store knows nothing of what a token allows: the server keeps that as JSON text (``data``). It keeps
how many sessions the token may start (``uses``, 0 for any number), how many it has started (``spent``),
and when it expires (wall-clock seconds). :meth:`spend` counts a use only while one is left, in one atomic
step, so two replicas that race to start the last session of a token cannot both win. A token is
forgotten ``keep_s`` after it expires, so a late client hears "expired" rather than "unknown".

The calls block (a file or a socket): the server makes them off its event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import redis

from openlive.store.sqlite_file import open_private_db

# Expired tokens are kept this long, so a late client hears "expired" rather than "unknown".
KEEP_EXPIRED_S = 600.0
DEFAULT_REDIS_PREFIX = "openlive:tokens:"


@dataclass(frozen=True, slots=True)
class StoredToken:
    data: str  # what the token allows, as the server wrote it
    uses: int  # sessions it may start; 0: any number
    expires: float  # wall-clock seconds
    spent: int = 0  # sessions it has started


class MemoryTokenStore:
    """Tokens in this process only: for embedding and tests (lost at a restart, not shared)."""

    def __init__(self, *, keep_s: float = KEEP_EXPIRED_S, clock: Callable[[], float] = time.time) -> None:
        self._tokens: dict[str, StoredToken] = {}
        self._keep = keep_s
        self._clock = clock
        self._lock = threading.Lock()

    def add(self, name: str, data: str, *, uses: int, expires: float) -> None:
        with self._lock:
            cutoff = self._clock() - self._keep
            for old in [n for n, t in self._tokens.items() if t.expires < cutoff]:
                del self._tokens[old]
            self._tokens[name] = StoredToken(data, uses, expires)

    def get(self, name: str) -> StoredToken | None:
        with self._lock:
            token = self._tokens.get(name)
            if token is None or token.expires + self._keep < self._clock():
                return None
            return token

    def spend(self, name: str) -> bool:
        with self._lock:
            token = self._tokens.get(name)
            if token is None or (token.uses and token.spent >= token.uses):
                return False
            self._tokens[name] = replace(token, spent=token.spent + 1)
            return True

    def discard(self, name: str) -> None:
        with self._lock:
            self._tokens.pop(name, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    uses INTEGER NOT NULL,
    spent INTEGER NOT NULL DEFAULT 0,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_by_expiry ON tokens (expires);
"""


class SqliteTokenStore:
    """Tokens in an SQLite file (a table beside the resumable sessions when given the same file)."""

    def __init__(
        self, path: Path, *, keep_s: float = KEEP_EXPIRED_S, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = open_private_db(path, _SCHEMA)
        self._keep = keep_s
        self._clock = clock
        self._lock = threading.Lock()

    def add(self, name: str, data: str, *, uses: int, expires: float) -> None:
        with self._lock:
            self._db.execute("DELETE FROM tokens WHERE expires < ?", (self._clock() - self._keep,))
            self._db.execute(
                "INSERT OR REPLACE INTO tokens (name, data, uses, spent, expires) VALUES (?, ?, ?, 0, ?)",
                (name, data, uses, expires),
            )

    def get(self, name: str) -> StoredToken | None:
        with self._lock:
            row = self._db.execute(
                "SELECT data, uses, expires, spent FROM tokens WHERE name = ? AND expires >= ?",
                (name, self._clock() - self._keep),
            ).fetchone()
        return None if row is None else StoredToken(row[0], int(row[1]), float(row[2]), int(row[3]))

    def spend(self, name: str) -> bool:
        # One statement: SQLite serialises writers, so processes sharing the file cannot overspend.
        with self._lock:
            cursor = self._db.execute(
                "UPDATE tokens SET spent = spent + 1 WHERE name = ? AND (uses = 0 OR spent < uses)", (name,)
            )
        return cursor.rowcount == 1

    def discard(self, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM tokens WHERE name = ?", (name,))

    def __len__(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM tokens").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


# KEYS[1]: the token's hash. Returns 1 when a use was counted, 0 when none is left, -1 when unknown.
_SPEND = """
local uses = redis.call('HGET', KEYS[1], 'uses')
if not uses then return -1 end
uses = tonumber(uses)
if uses > 0 and tonumber(redis.call('HGET', KEYS[1], 'spent')) >= uses then return 0 end
redis.call('HINCRBY', KEYS[1], 'spent', 1)
return 1
"""


class RedisTokenStore:
    """Tokens in Redis (or Valkey), shared by every replica that points at it. One hash per token,
    ``<prefix><name>``, which Redis deletes ``keep_s`` after the token expires; a use is counted by a
    Lua script, so the check and the count are one step for all replicas."""

    def __init__(
        self,
        url: str,
        *,
        keep_s: float = KEEP_EXPIRED_S,
        prefix: str = DEFAULT_REDIS_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Short timeouts: a dead Redis must fail a handshake quickly, not hold it.
        self._redis = redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)
        self._spend = self._redis.register_script(_SPEND)
        self._keep = keep_s
        self._prefix = prefix
        self._clock = clock

    def add(self, name: str, data: str, *, uses: int, expires: float) -> None:
        key = self._prefix + name
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, mapping={"data": data, "uses": uses, "spent": 0, "expires": repr(expires)})
        pipe.pexpireat(key, max(1, round((expires + self._keep) * 1000)))
        pipe.execute()

    def get(self, name: str) -> StoredToken | None:
        values = cast(
            "list[bytes | None]",
            self._redis.hmget(self._prefix + name, ["data", "uses", "expires", "spent"]),
        )
        data, uses, expires, spent = values
        if data is None or uses is None or expires is None or spent is None:
            return None
        if float(expires) + self._keep < self._clock():
            return None
        return StoredToken(data.decode(), int(uses), float(expires), int(spent))

    def spend(self, name: str) -> bool:
        return int(cast(int, self._spend(keys=[self._prefix + name]))) == 1

    def discard(self, name: str) -> None:
        self._redis.delete(self._prefix + name)

    def __len__(self) -> int:
        return sum(1 for _ in self._redis.scan_iter(match=self._prefix + "*", count=500))

    def close(self) -> None:
        self._redis.close()


TokenStore = MemoryTokenStore | SqliteTokenStore | RedisTokenStore
