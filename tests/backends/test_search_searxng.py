"""The SearXNG provider against a fake JSON API (unit test: no machine here reaches a real one)."""

from __future__ import annotations

import httpx
import pytest

from openlive.backends.search_searxng import SearxngSearch


def fake_searxng(request: httpx.Request) -> httpx.Response:
    """A stand-in for SearXNG's /search?format=json (unit-test fake)."""
    if request.url.params.get("format") != "json":
        return httpx.Response(403)
    if request.url.params.get("q") == "broken":
        return httpx.Response(500)
    return httpx.Response(
        200,
        json={
            "query": request.url.params["q"],
            "results": [
                {"url": "https://example.org/a", "title": "A", "content": "First snippet.", "score": 2.5},
                {"url": "https://example.org/b", "title": "B", "content": ""},  # no snippet: skipped
                {"url": "https://example.org/c", "content": "Third snippet."},
                {"url": "https://example.org/d", "title": "D", "content": "Fourth."},
            ],
        },
    )


async def test_results_become_web_passages_in_order() -> None:
    search = SearxngSearch("http://searx.local/", transport=httpx.MockTransport(fake_searxng))
    passages = await search.search("capital of australia", limit=2)
    assert [(p.uri, p.title, p.text, p.kind) for p in passages] == [
        ("https://example.org/a", "A", "First snippet.", "web"),
        ("https://example.org/c", "https://example.org/c", "Third snippet.", "web"),
    ]
    assert passages[0].score == 2.5
    with pytest.raises(httpx.HTTPStatusError):
        await search.search("broken")
    await search.aclose()
