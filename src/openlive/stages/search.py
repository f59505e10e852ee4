"""The SearchProvider stage: a query in, passages with their sources out (search grounding)."""

from __future__ import annotations

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
