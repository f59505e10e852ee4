"""Resumable session state in Redis (or Valkey): shared by openlive servers on several machines, so a
client may resume on any of them (``resumption_url``, ``OPENLIVE_RESUMPTION_URL=redis://host:6379/0``).

Same contract as ``MemoryResumptionStore``: a new handle per save, a session's newest
``KEEP_PER_SESSION`` handles valid, ``ttl_s`` from issue, at most ``max_handles`` live. Keys, under
``prefix``:

* ``h:<handle>``: a hash with the session's lineage (the first handle it was given), the time it
  expires, and the history as the protocol's JSON (``history_json``); Redis deletes it ``ttl_s`` after
  the save, and ``load`` also checks the stored expiry against the clock;
* ``l:<lineage>``: the handles of one session, scored by issue time, to forget all but its newest;
* ``all``: every handle, scored by issue time, for the bound.

A save is one Lua script, so concurrent servers never see half of one. The script names keys that it
derives from its arguments, which Redis Cluster does not allow: use a single Redis (with replicas if
need be). The conversation text lives in Redis: protect it as you protect the handles (a password,
TLS with ``rediss://``, a private network).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any, cast

import redis

from openlive.protocol.messages import Content
from openlive.store.history_json import history_from_json, history_to_json
from openlive.store.resumption import KEEP_PER_SESSION, MAX_HANDLES, RESUMPTION_TTL_S, SessionSnapshot

DEFAULT_PREFIX = "openlive:resumption:"

# ARGV: prefix, handle, replaces ('' for none), now, expires, ttl in ms, keep, max, history
_SAVE = """
local p, handle, replaces = ARGV[1], ARGV[2], ARGV[3]
local now, expires, ttl_ms = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local keep, max = tonumber(ARGV[7]), tonumber(ARGV[8])
local lineage = handle
if replaces ~= '' then
  lineage = redis.call('HGET', p .. 'h:' .. replaces, 'lineage') or handle
end
local key = p .. 'h:' .. handle
redis.call('HSET', key, 'lineage', lineage, 'expires', expires, 'history', ARGV[9])
redis.call('PEXPIRE', key, ttl_ms)
local session = p .. 'l:' .. lineage
redis.call('ZADD', session, now, handle)
redis.call('PEXPIRE', session, ttl_ms)
for _, old in ipairs(redis.call('ZRANGE', session, 0, -(keep + 1))) do
  redis.call('DEL', p .. 'h:' .. old)
  redis.call('ZREM', session, old)
  redis.call('ZREM', p .. 'all', old)
end
local all = p .. 'all'
redis.call('ZADD', all, now, handle)
redis.call('ZREMRANGEBYSCORE', all, '-inf', now - ttl_ms / 1000)
local excess = redis.call('ZCARD', all) - max
if excess > 0 then
  for _, old in ipairs(redis.call('ZRANGE', all, 0, excess - 1)) do
    redis.call('DEL', p .. 'h:' .. old)
    redis.call('ZREM', all, old)
  end
end
return 1
"""


class RedisResumptionStore:
    def __init__(
        self,
        url: str,
        *,
        ttl_s: float = RESUMPTION_TTL_S,
        max_handles: int = MAX_HANDLES,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # A short timeout: the session saves off the event loop, but a dead Redis must not hold a turn.
        self._redis = redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)
        self._save = self._redis.register_script(_SAVE)
        self._ttl = ttl_s
        self._max = max_handles
        self._prefix = prefix
        self._clock = clock

    def save(self, history: list[Content], *, replaces: str | None = None) -> str:
        handle = secrets.token_urlsafe(32)
        now = self._clock()
        args: list[Any] = [
            self._prefix,
            handle,
            replaces or "",
            repr(now),
            repr(now + self._ttl),
            max(1, round(self._ttl * 1000)),
            KEEP_PER_SESSION,
            self._max,
            history_to_json(history),
        ]
        self._save(keys=[], args=args)
        return handle

    def load(self, handle: str) -> SessionSnapshot | None:
        expires, data = cast(
            "list[bytes | None]", self._redis.hmget(f"{self._prefix}h:{handle}", ["expires", "history"])
        )
        if expires is None or data is None or float(expires) <= self._clock():
            return None
        turns = history_from_json(data)
        return None if turns is None else SessionSnapshot(history=turns)

    def __len__(self) -> int:
        live = self._redis.zcount(f"{self._prefix}all", f"({self._clock() - self._ttl!r}", "+inf")
        return int(live)

    def close(self) -> None:
        self._redis.close()
