"""Where resumable session state lives (``sessionResumption``): an SQLite file (``sqlite``, the default)
or this process's memory (``resumption``)."""

from openlive.store.resumption import RESUMPTION_TTL_S, MemoryResumptionStore, SessionSnapshot
from openlive.store.sqlite import SqliteResumptionStore

__all__ = ["RESUMPTION_TTL_S", "MemoryResumptionStore", "SessionSnapshot", "SqliteResumptionStore"]
