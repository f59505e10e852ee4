"""Search grounding in the session: sources in the prompt, groundingMetadata on the reply (fakes only)."""

from __future__ import annotations

import dataclasses

import pytest
from engine_fakes import RecordingOutbox, ScriptedLanguageModel, fake_profile, live_session, user
from session_checks import assert_well_formed

from openlive.engine.session import LiveSession
from openlive.protocol.messages import (
    ServerContent,
    Tool,
)
from openlive.stages.search import Passage

pytestmark = pytest.mark.looptime

CANBERRA = Passage(
    text="The capital of Australia is Canberra.", title="Australia", uri="countryinfo:Australia"
)


@dataclasses.dataclass
class FakeSearch:
    """Returns scripted passages and records the queries (unit-test fake)."""

    passages: list[Passage]
    queries: list[str] = dataclasses.field(default_factory=list)
    fails: bool = False

    async def search(self, query: str, *, limit: int = 3) -> list[Passage]:
        self.queries.append(query)
        if self.fails:
            raise OSError("the index is gone")
        return self.passages[:limit]

    async def aclose(self) -> None:
        pass


def grounded_session(
    llm: ScriptedLanguageModel, search: FakeSearch, *, tools: list[Tool]
) -> tuple[LiveSession, RecordingOutbox]:
    profile = dataclasses.replace(fake_profile(llm), search=search)
    return live_session(llm, profile=profile, session_id="g", tools=tools)


async def test_sources_reach_the_prompt_and_the_reply_carries_grounding_metadata() -> None:
    llm = ScriptedLanguageModel(replies=[["The capital of Australia is Canberra.", " Nice city."]])
    search = FakeSearch([CANBERRA])
    session, outbox = grounded_session(llm, search, tools=[Tool(google_search=True)])
    await session.handle(user("What is the capital of Australia?"))
    await outbox.wait_turn()
    assert search.queries == ["What is the capital of Australia?"]
    prompt = llm.requests[0].messages[-1]
    assert prompt.role == "user" and prompt.content.endswith("What is the capital of Australia?")
    assert "[1] Australia: The capital of Australia is Canberra." in prompt.content
    metadata = [c.grounding_metadata for c in outbox.contents() if c.grounding_metadata]
    assert len(metadata) == 1
    meta = metadata[0]
    assert meta["webSearchQueries"] == ["What is the capital of Australia?"]
    assert meta["groundingChunks"] == [
        {"retrievedContext": {"uri": "countryinfo:Australia", "title": "Australia", "text": CANBERRA.text}}
    ]
    support = meta["groundingSupports"][0]
    assert support["segment"]["text"] == "The capital of Australia is Canberra."
    assert support["groundingChunkIndices"] == [0] and len(meta["groundingSupports"]) == 1
    # The metadata comes before generationComplete, and the history keeps no sources.
    kinds = [
        "meta" if c.grounding_metadata else "done" if c.generation_complete else "" for c in outbox.contents()
    ]
    assert kinds.index("meta") < kinds.index("done")
    assert all("Sources" not in c.text() for c in session.history)
    assert_well_formed(outbox)
    await session.aclose()


async def test_without_google_search_nothing_is_retrieved_or_sent() -> None:
    llm = ScriptedLanguageModel(replies=[["Sydney."]])
    search = FakeSearch([CANBERRA])
    session, outbox = grounded_session(llm, search, tools=[])
    await session.handle(user("What is the capital of Australia?"))
    await outbox.wait_turn()
    assert search.queries == []
    assert not any(isinstance(m, ServerContent) and m.grounding_metadata for m, _ in outbox.messages)
    assert "Sources" not in llm.requests[0].messages[-1].content
    await session.aclose()


async def test_nothing_relevant_or_a_failing_search_answers_without_sources() -> None:
    for search in (FakeSearch([]), FakeSearch([CANBERRA], fails=True)):
        llm = ScriptedLanguageModel(replies=[["A joke."]])
        session, outbox = grounded_session(llm, search, tools=[Tool(google_search=True)])
        await session.handle(user("Tell me a joke."))
        await outbox.wait_turn()
        assert "Sources" not in llm.requests[0].messages[-1].content
        assert not any(c.grounding_metadata for c in outbox.contents())
        assert [c.model_turn.text() for c in outbox.contents() if c.model_turn] == ["A joke."]
        await session.aclose()
