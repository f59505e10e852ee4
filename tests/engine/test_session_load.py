"""``LiveSession.load()``: what the replica's metrics report per session (the reply's wait for the
language model, the inbox, the listener's backlog), read while a reply waits and after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from engine_fakes import RecordingOutbox, fake_profile

from openlive.engine.load import SessionLoad
from openlive.engine.session import LiveSession, SessionLimits
from openlive.protocol.messages import ClientContent, Content, GenerationConfig, Modality, Part, Setup
from openlive.stages.language_model import ChatDone, ChatEvent, ChatRequest, TextDelta

# Virtual time (looptime): the model's wait takes no real time.
pytestmark = pytest.mark.looptime


class FakeQueuedLanguageModel:
    """A fake model that answers only once ``go`` is set, as a shared model busy with others would."""

    name = "fake-queued"

    def __init__(self) -> None:
        self.go = asyncio.Event()

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        await self.go.wait()
        yield TextDelta(text="Paris.")
        yield ChatDone(prompt_tokens=10, completion_tokens=1)

    async def aclose(self) -> None:
        pass


async def test_load_reports_how_long_the_reply_has_waited_for_the_model() -> None:
    llm = FakeQueuedLanguageModel()
    setup = Setup(model="models/x", generation_config=GenerationConfig(response_modalities=[Modality.TEXT]))
    outbox = RecordingOutbox()
    session = LiveSession(setup, fake_profile(llm), outbox, session_id="s1", limits=SessionLimits())
    assert session.load() == SessionLoad()
    question = Content(role="user", parts=[Part(text="Capital of France?")])
    await session.handle(ClientContent(turns=[question], turn_complete=True))
    await asyncio.sleep(2.0)
    waiting = session.load()
    assert waiting.llm_wait_s == pytest.approx(2.0, abs=0.1)
    assert waiting.inbox_depth == 0 and waiting.audio_queued_s == 0.0
    llm.go.set()
    await outbox.wait_turn()
    assert session.load().llm_wait_s is None  # answered: nothing waits any more
    await session.aclose()
