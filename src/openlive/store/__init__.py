"""Where resumable session state lives (``sessionResumption``): an SQLite file (``sqlite``, the default
of ``openlive serve``), Redis shared by several servers (``redis_store``), or this process's memory
(``resumption``)."""

from openlive.store.redis_store import RedisResumptionStore
from openlive.store.resumption import RESUMPTION_TTL_S, MemoryResumptionStore, SessionSnapshot
from openlive.store.sqlite import SqliteResumptionStore

__all__ = [
    "RESUMPTION_TTL_S",
    "MemoryResumptionStore",
    "RedisResumptionStore",
    "SessionSnapshot",
    "SqliteResumptionStore",
]
