"""A SearchProvider over a self-hosted SearXNG instance's JSON API (``/search?format=json``).

For operators who run that metasearch engine (``searxng_url``; its ``settings.yml`` must list ``json``
under ``search.formats``). Results become ``web`` passages: the snippet as text, the page as source.
"""

from __future__ import annotations

from typing import Any

import httpx

from openlive.stages.search import Passage


class SearxngSearch:
    def __init__(
        self, base_url: str, *, timeout_s: float = 3.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.url = base_url.rstrip("/") + "/search"
        self._client = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    async def search(self, query: str, *, limit: int = 3) -> list[Passage]:
        response = await self._client.get(self.url, params={"q": query, "format": "json"})
        response.raise_for_status()
        body: Any = response.json()
        results = body.get("results", []) if isinstance(body, dict) else []
        passages: list[Passage] = []
        for result in results:
            if not isinstance(result, dict):
                continue
            url, title, snippet = result.get("url"), result.get("title"), result.get("content")
            if isinstance(url, str) and isinstance(snippet, str) and snippet.strip():
                score = result.get("score")
                passages.append(
                    Passage(
                        text=snippet.strip(),
                        title=title if isinstance(title, str) else url,
                        uri=url,
                        kind="web",
                        score=float(score) if isinstance(score, int | float) else 0.0,
                    )
                )
            if len(passages) == limit:
                break
        return passages

    async def aclose(self) -> None:
        await self._client.aclose()
