"""A spoken reply's first piece is synthesised as soon as its last word may be complete (a draft), one
token sooner than the splitter can cut it; driven with scripted fake stages in virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from engine_fakes import RecordingOutbox, ScriptedLanguageModel, ScriptedSynthesizer, fake_profile

from openlive.engine.session import LiveSession, SessionLimits
from openlive.protocol.messages import (
    ClientContent,
    Content,
    GenerationConfig,
    Modality,
    Part,
    Setup,
)

pytestmark = pytest.mark.looptime

TOKEN_S = 0.1  # one decoded token, as on two cores
SYNTHESIS_S = 0.08  # Piper on a short piece


class TimedSynthesizer(ScriptedSynthesizer):
    """Records when each synthesis started (loop time)."""

    def __init__(self) -> None:
        super().__init__(delay_s=SYNTHESIS_S)
        self.started: list[tuple[str, float]] = []

    async def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]:
        self.started.append((text, asyncio.get_running_loop().time()))
        async for pcm in super().synthesize(text, voice=voice, language=language):
            yield pcm


async def test_the_first_piece_is_synthesised_when_its_last_word_arrives() -> None:
    tokens = ["Jupiter", " is", " the", " largest", " planet", " in", " our", " solar", " system", "."]
    llm = ScriptedLanguageModel(replies=[tokens], delay_s=TOKEN_S)
    tts = TimedSynthesizer()
    setup = Setup(
        model="models/gemini-live-2.5-flash-native-audio",
        generation_config=GenerationConfig(response_modalities=[Modality.AUDIO]),
    )
    outbox = RecordingOutbox()
    session = LiveSession(
        setup, fake_profile(llm, tts), outbox, session_id="s1", limits=SessionLimits(audio_lead_s=60.0)
    )
    await session.start()
    asked = asyncio.get_running_loop().time()
    await session.handle(
        ClientContent(turns=[Content(role="user", parts=[Part(text="Which planet?")])], turn_complete=True)
    )
    await outbox.wait_turn()
    # "largest" is the 4th token: the piece "Jupiter is the largest" is synthesised then, not at
    # " planet" (the 5th), which shows the word was complete; and it is not synthesised twice.
    texts = [text for text, _ in tts.started]
    assert texts == ["Jupiter is the largest", "planet in our solar system."]
    assert tts.started[0][1] - asked == pytest.approx(4 * TOKEN_S, abs=0.02)
    spoken = [c for c in session.history if c.role == "model"][-1].text()
    assert spoken == "Jupiter is the largest planet in our solar system."
    await session.aclose()
