"""The Speaker's first sound: the synthesiser's leading near-silence is cut from the reply's first audio
only (later clauses keep their natural pause), and a draft of the first piece is synthesised ahead."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest
from engine_fakes import RecordingOutbox

from openlive.engine.speaker import Speaker, trim_leading_silence
from openlive.engine.tasks import TaskOwner
from openlive.protocol.messages import ServerContent

# Virtual time (looptime): the scripted delays and timers take no real time.
pytestmark = pytest.mark.looptime

RATE = 24_000
LEAD = np.zeros(RATE * 40 // 1000, dtype="<i2")  # 40 ms, as Piper starts a piece
TONE = (3000 * np.sin(np.arange(RATE // 10) * 2 * np.pi * 220 / RATE)).astype("<i2")  # 100 ms


def test_trim_keeps_five_ms_before_the_first_sound_and_leaves_silence_alone() -> None:
    trimmed = np.frombuffer(trim_leading_silence(np.concatenate([LEAD, TONE]).tobytes()), dtype="<i2")
    keep = RATE * 5 // 1000
    assert TONE.size + keep - 2 <= trimmed.size <= TONE.size + keep  # the tone's first samples are ~0
    assert np.array_equal(trimmed[-TONE.size :], TONE)
    quiet = (np.ones(480) * 50).astype("<i2").tobytes()  # below -50 dBFS throughout: not cut to nothing
    assert trim_leading_silence(quiet) == quiet


class LeadingSilenceSynthesizer:
    def voices(self) -> list[str]:
        return ["fake"]

    def languages(self) -> list[str]:
        return ["en"]

    async def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]:
        yield np.concatenate([LEAD, TONE]).tobytes()


async def test_only_the_replys_first_audio_loses_its_leading_silence() -> None:
    outbox = RecordingOutbox()
    speaker = Speaker(LeadingSilenceSynthesizer(), outbox, voice="fake", language="en", transcribe=False)
    owner = TaskOwner("test")
    speaker.start(owner)
    speaker.say("Paris is the capital")
    speaker.say("of France.")
    await speaker.finish()
    await owner.aclose()
    audio = [
        np.frombuffer(p.inline_data.data, dtype="<i2")
        for m, _ in outbox.messages
        if isinstance(m, ServerContent) and m.model_turn
        for p in m.model_turn.parts
        if p.inline_data
    ]
    samples = np.concatenate(audio)
    first_sound = int(np.flatnonzero(np.abs(samples) > 100)[0])
    assert first_sound <= RATE * 5 // 1000  # the first audio sent starts within 5 ms of the sound
    # The second clause keeps its 40 ms lead-in: the pause between clauses is the synthesiser's.
    second = samples[first_sound + TONE.size :]
    assert int(np.flatnonzero(np.abs(second) > 100)[0]) >= LEAD.size - RATE * 5 // 1000


@pytest.mark.parametrize(
    ("language", "joined"), [("en", "Paris is the capital of France."), ("zh", "巴黎是法国的首都。")]
)
async def test_transcription_pieces_join_with_the_languages_separator(language: str, joined: str) -> None:
    # Chinese (like Japanese) has no spaces between words; a space after each piece would show in it.
    outbox = RecordingOutbox()
    speaker = Speaker(LeadingSilenceSynthesizer(), outbox, voice="fake", language=language, transcribe=True)
    owner = TaskOwner("test")
    speaker.start(owner)
    first, second = ("Paris is the capital", "of France.") if language == "en" else ("巴黎是", "法国的首都。")
    speaker.say(first)
    speaker.say(second)
    await speaker.finish()
    await owner.aclose()
    pieces = [
        m.output_transcription.text
        for m, _ in outbox.messages
        if isinstance(m, ServerContent) and m.output_transcription
    ]
    assert "".join(pieces).strip() == joined
    assert speaker.heard_text() == joined


class RecordingSynthesizer:
    """Synthesises in 80 ms of virtual time, a tone per character; records the texts it was given."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def voices(self) -> list[str]:
        return ["fake"]

    def languages(self) -> list[str]:
        return ["en"]

    async def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]:
        self.texts.append(text)
        await asyncio.sleep(0.08)
        yield TONE.tobytes() * len(text)


def sent_audio(outbox: RecordingOutbox) -> bytes:
    return b"".join(
        p.inline_data.data
        for m, _ in outbox.messages
        if isinstance(m, ServerContent) and m.model_turn
        for p in m.model_turn.parts
        if p.inline_data
    )


async def run_speaker(
    steps: list[tuple[str, str]], step_s: float = 0.1
) -> tuple[RecordingSynthesizer, float, bytes]:
    """Play ``steps`` (("draft" | "say", text)) a token time apart; the synthesiser's texts, when the
    first audio was sent (seconds after the first step) and the audio."""
    tts = RecordingSynthesizer()
    outbox = RecordingOutbox()
    loop = asyncio.get_running_loop()
    speaker = Speaker(
        tts, outbox, voice="fake", language="en", transcribe=False, lead_s=60.0, clock=loop.time
    )
    owner = TaskOwner("test")
    speaker.start(owner)
    started = loop.time()
    for i, (kind, text) in enumerate(steps):
        if i and step_s:
            await asyncio.sleep(step_s)
        speaker.draft(text) if kind == "draft" else speaker.say(text)
    await speaker.finish()
    await owner.aclose()
    assert speaker.first_audio_at is not None
    return tts, speaker.first_audio_at - started, sent_audio(outbox)


async def test_a_draft_the_next_clause_confirms_is_sent_without_synthesising_it_again() -> None:
    tts, first, audio = await run_speaker(
        [("draft", "Jupiter is the largest"), ("say", "Jupiter is the largest")]
    )
    assert tts.texts == ["Jupiter is the largest"]
    assert first == pytest.approx(0.1)  # at the say, not 80 ms of synthesis after it
    _, undrafted, same = await run_speaker([("say", "Jupiter is the largest")])
    assert undrafted == pytest.approx(0.08)
    assert trim_leading_silence(same) == audio


@pytest.mark.parametrize(
    ("clause", "texts"),
    [
        ("Jupiter is the largest,", ["Jupiter is the largest"]),  # the mark came next: same words
        ("Jupiter is the largest.", ["Jupiter is the largest"]),
        ("Jupiter is the largest?", ["Jupiter is the largest", "Jupiter is the largest?"]),  # intonation
        ("Jupiter is the largesse", ["Jupiter is the largest", "Jupiter is the largesse"]),
    ],
)
async def test_a_clause_other_than_the_draft_is_synthesised_itself(clause: str, texts: list[str]) -> None:
    tts, _, audio = await run_speaker([("draft", "Jupiter is the largest"), ("say", clause)])
    assert tts.texts == texts
    assert len(audio) == len(TONE.tobytes()) * len(texts[-1])


async def test_only_the_newest_draft_is_synthesised() -> None:
    # Drafts given faster than they synthesise: the ones overtaken in the queue are skipped.
    tts, _, _ = await run_speaker(
        [
            ("draft", "The opening"),
            ("draft", "The opening key"),
            ("draft", "The opening keynote"),
            ("say", "The opening keynote"),
        ],
        step_s=0.0,
    )
    assert tts.texts == ["The opening keynote"]
    tts, _, _ = await run_speaker([("draft", "A b c"), ("draft", "A b c"), ("say", "A b c")], step_s=0.1)
    assert tts.texts == ["A b c"]  # the same draft twice is one synthesis


async def test_the_speech_queued_counts_what_is_not_heard_yet() -> None:
    loop = asyncio.get_running_loop()
    tts = RecordingSynthesizer()  # 100 ms of audio per character
    speaker = Speaker(tts, RecordingOutbox(), voice="fake", language="en", transcribe=False, clock=loop.time)
    assert speaker.queued_s() == 0.0 and speaker.running_low()
    speaker.say("x" * 30)  # not synthesised yet: estimated from its length (~65 ms a character)
    assert speaker.queued_s() == pytest.approx(30 * 0.065)
    assert not speaker.running_low()
    owner = TaskOwner("test")
    speaker.start(owner)
    await speaker.finish()  # 3 s of audio, sent at most 1 s (and a 100 ms chunk) ahead of playback
    assert speaker.queued_s() == pytest.approx(1.1, abs=0.05)
    await asyncio.sleep(0.6)  # playback goes on
    assert speaker.queued_s() == pytest.approx(0.5, abs=0.05)
    assert speaker.running_low()
    await asyncio.sleep(1.0)
    assert speaker.queued_s() == 0.0
    await owner.aclose()
