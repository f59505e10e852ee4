"""The SearchProvider stage: a query in, passages with their sources out (search grounding)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(slots=True, kw_only=True, frozen=True)
class Passage:
    """One retrieved passage and where it came from."""

    text: str
    title: str
    uri: str
    # "web": a web result (groundingChunks.web); "document": a local document (retrievedContext).
    kind: Literal["web", "document"] = "document"
    # Relevance in [0, 1]: the share of the query's content words the passage holds (providers may refine).
    score: float = 0.0


class SearchProvider(Protocol):
    async def search(self, query: str, *, limit: int = 3) -> list[Passage]:
        """The passages most relevant to ``query``, best first; [] when nothing is relevant."""
        ...

    async def aclose(self) -> None:
        """Release connections and files (server shutdown)."""
        ...


class PassageIndex(Protocol):
    """An index a session fills with its own texts (an over-long instruction's sections, each under
    its own uri) and searches as a ``SearchProvider`` does. Filling it blocks (run it off the event
    loop); a search is quick (one query embedding) and may run on it."""

    def add_documents(self, documents: Iterable[tuple[str, str, str]], *, source: str) -> int:
        """Add (uri, title, text) documents; returns how many."""
        ...

    def search_now(self, query: str, *, limit: int = 3) -> list[Passage]:
        """The passages most relevant to ``query``, best first; [] when nothing is relevant."""
        ...
