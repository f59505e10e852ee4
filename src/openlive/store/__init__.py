"""Where state shared by server processes lives: resumable sessions (``sessionResumption``) and ephemeral
tokens with their use counts (``tokens``), each in an SQLite file (the default of ``openlive serve``), in
Redis shared by several servers, or in this process's memory."""

from openlive.store.redis_store import RedisResumptionStore
from openlive.store.resumption import RESUMPTION_TTL_S, MemoryResumptionStore, SessionSnapshot
from openlive.store.sqlite import SqliteResumptionStore
from openlive.store.tokens import MemoryTokenStore, RedisTokenStore, SqliteTokenStore, StoredToken, TokenStore

__all__ = [
    "RESUMPTION_TTL_S",
    "MemoryResumptionStore",
    "MemoryTokenStore",
    "RedisResumptionStore",
    "RedisTokenStore",
    "SessionSnapshot",
    "SqliteResumptionStore",
    "SqliteTokenStore",
    "StoredToken",
    "TokenStore",
]
