"""Where resumable session state lives (``sessionResumption``): see ``resumption``."""

from openlive.store.resumption import RESUMPTION_TTL_S, MemoryResumptionStore, SessionSnapshot

__all__ = ["RESUMPTION_TTL_S", "MemoryResumptionStore", "SessionSnapshot"]
