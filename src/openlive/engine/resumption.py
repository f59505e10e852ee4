"""What the engine needs from a store of resumable sessions (``sessionResumption``).

The store itself lives in ``openlive.store``; the CLI wires one into the ``Engine``, so the engine and its
tests do not depend on where the state is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from openlive.protocol.messages import Content


class Snapshot(Protocol):
    @property
    def history(self) -> Sequence[Content]: ...


class ResumptionStore(Protocol):
    def save(self, history: list[Content], *, replaces: str | None = None) -> str:
        """Keep ``history`` under a new handle, which is returned; ``replaces`` stops being valid."""
        ...

    def load(self, handle: str) -> Snapshot | None:
        """The state saved under ``handle``; None when it is unknown or has expired."""
        ...
