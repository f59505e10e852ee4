"""A spoken reply's first piece is synthesised as soon as its last word may be complete (a draft), one
token sooner than the splitter can cut it, and the pieces after it are cut early while the speech
queued runs low, so the reply has no silence inside; driven with scripted fake stages in virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from engine_fakes import (
    RecordingOutbox,
    ScriptedLanguageModel,
    ScriptedSynthesizer,
    fake_profile,
    live_session,
    user,
)

from openlive.engine.session import LiveSession
from openlive.protocol.messages import (
    Modality,
    ServerContent,
    ServerMessage,
    UsageMetadata,
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


async def answer(
    tokens: list[str], tts: ScriptedSynthesizer, outbox: RecordingOutbox, question: str
) -> LiveSession:
    """A spoken session whose model writes ``tokens`` a token time apart, once the typed ``question``
    has been answered (the session is left open for the caller to check and close)."""
    llm = ScriptedLanguageModel(replies=[tokens], delay_s=TOKEN_S)
    session, _ = live_session(llm, profile=fake_profile(llm, tts), modality=Modality.AUDIO, outbox=outbox)
    await session.start()
    await session.handle(user(question))
    await outbox.wait_turn()
    return session


async def test_the_first_piece_is_synthesised_when_its_last_word_arrives() -> None:
    tokens = ["Jupiter", " is", " the", " largest", " planet", " in", " our", " solar", " system", "."]
    tts = TimedSynthesizer()
    asked = asyncio.get_running_loop().time()
    session = await answer(tokens, tts, RecordingOutbox(), "Which planet?")
    # "largest" is the 4th token: the piece "Jupiter is the largest" is synthesised then, not at
    # " planet" (the 5th), which shows the word was complete; and it is not synthesised twice.
    texts = [text for text, _ in tts.started]
    assert texts[0] == "Jupiter is the largest" and texts.count(texts[0]) == 1
    assert " ".join(texts) == "Jupiter is the largest planet in our solar system."
    assert tts.started[0][1] - asked == pytest.approx(4 * TOKEN_S, abs=0.02)
    spoken = [c for c in session.history if c.role == "model"][-1].text()
    assert spoken == "Jupiter is the largest planet in our solar system."
    await session.aclose()


class TimedOutbox(RecordingOutbox):
    """Records when each audio message was sent (loop time), and its length."""

    def __init__(self) -> None:
        super().__init__()
        self.audio: list[tuple[float, float]] = []

    async def send(self, message: ServerMessage, usage: UsageMetadata | None = None) -> None:
        if isinstance(message, ServerContent) and message.model_turn is not None:
            for part in message.model_turn.parts:
                if part.inline_data is not None:
                    seconds = len(part.inline_data.data) / 2 / 24_000
                    self.audio.append((asyncio.get_running_loop().time(), seconds))
        await super().send(message, usage)


def silences(audio: list[tuple[float, float]]) -> float:
    """Seconds a listener playing the audio from its first chunk waits for the next one."""
    play_until, waited = audio[0][0], 0.0
    for at, seconds in audio:
        waited += max(0.0, at - play_until)
        play_until = max(play_until, at) + seconds
    return waited


async def test_a_long_sentence_after_the_first_piece_is_cut_before_its_speech_runs_out() -> None:
    # Piper speaks ~65 ms a character; the model writes ~0.1 s a token: the rest of this sentence
    # takes 1.8 s to write, its first piece ~0.9 s to say.
    words = "Lunch is served from 12:30 PM to 1:30 PM every day in the Marina Foyer on the first floor."
    tokens = [words.split()[0]] + [" " + w for w in words.split()[1:]]
    tts = ScriptedSynthesizer(delay_s=SYNTHESIS_S)  # 50 ms of audio per character
    outbox = TimedOutbox()
    session = await answer(tokens, tts, outbox, "When is lunch?")
    pieces = [text for text, _, _ in tts.calls]
    assert pieces[0] == "Lunch is served"
    assert len(pieces) > 2, pieces  # the sentence after it did not wait for its full stop
    assert " ".join(pieces) == words
    assert silences(outbox.audio) < 0.1
    await session.aclose()
