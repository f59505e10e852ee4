"""Seeing in the session: the newest frame only, described off the voice path, reaching the model with
the user's turn and the history as text (scripted fakes, virtual time)."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest
from engine_fakes import FakePrefillingLanguageModel, RecordingOutbox, ScriptedLanguageModel, fake_profile
from listener_fakes import silence, tone

from openlive.engine.frames import age_words
from openlive.engine.session import LiveSession, SessionLimits
from openlive.protocol.messages import (
    Blob,
    ClientContent,
    Content,
    GenerationConfig,
    Modality,
    Part,
    RealtimeInput,
    Setup,
)
from openlive.stages.vision import FrameDescription

pytestmark = pytest.mark.looptime


@dataclasses.dataclass
class FakeDescriberStream:
    owner: FakeDescriber
    last: bytes | None = None

    async def describe(self, image: bytes, mime_type: str) -> FrameDescription:
        self.owner.described.append(image)
        await asyncio.sleep(self.owner.delay_s)  # OCR time, in virtual time
        changed, self.last = image != self.last, image
        return FrameDescription(
            text=f"a sign reading {image.decode()}", ocr_text=image.decode(), changed=changed
        )


@dataclasses.dataclass
class FakeDescriber:
    """Describes a frame whose bytes are its text, after ``delay_s`` (unit-test fake)."""

    delay_s: float = 0.5
    described: list[bytes] = dataclasses.field(default_factory=list)

    def new_stream(self) -> FakeDescriberStream:
        return FakeDescriberStream(self)

    async def aclose(self) -> None:
        pass


def seeing_session(
    llm: ScriptedLanguageModel, describer: FakeDescriber | None
) -> tuple[LiveSession, RecordingOutbox]:
    outbox = RecordingOutbox()
    setup = Setup(
        model="models/gemini-live-2.5-flash-native-audio",
        generation_config=GenerationConfig(response_modalities=[Modality.TEXT]),
    )
    profile = dataclasses.replace(fake_profile(llm), frames=describer)
    return LiveSession(setup, profile, outbox, session_id="v", limits=SessionLimits(audio_lead_s=60)), outbox


def frame(text: str) -> RealtimeInput:
    return RealtimeInput(video=Blob(mime_type="image/jpeg", data=text.encode()))


def ask(text: str, *parts: Part) -> ClientContent:
    return ClientContent(turns=[Content(role="user", parts=[*parts, Part(text=text)])], turn_complete=True)


async def test_a_frame_reaches_the_model_with_the_turn_and_the_history_as_text() -> None:
    llm = ScriptedLanguageModel(replies=[["It says EXIT 42."]])
    describer = FakeDescriber()
    session, outbox = seeing_session(llm, describer)
    await session.handle(frame("EXIT 42"))
    await asyncio.sleep(3)  # described in the background meanwhile
    await session.handle(ask("What does the sign say?"))
    await outbox.wait_turn()
    prompt = llm.requests[0].messages[-1].content
    assert prompt.startswith("[camera, just now: a sign reading EXIT 42]"), prompt
    assert prompt.endswith("What does the sign say?")
    texts = [c.text() for c in session.history]
    assert texts == [
        "What does the sign say?",
        "[camera, just now: a sign reading EXIT 42]",
        "It says EXIT 42.",
    ]
    assert not any(p.inline_data for c in session.history for p in c.parts)
    await session.aclose()


async def test_only_the_newest_frame_is_described_and_never_while_a_reply_speaks() -> None:
    llm = ScriptedLanguageModel(replies=[["A", " slow", " story."], ["Now B."]], delay_s=1.0)
    describer = FakeDescriber(delay_s=0.5)
    session, outbox = seeing_session(llm, describer)
    await session.handle(ask("Tell me a story."))
    await asyncio.sleep(0.1)
    for name in ("A", "B", "C", "D"):  # four frames at once, while the reply is being generated
        await session.handle(frame(name))
    await asyncio.sleep(1.0)
    assert describer.described == []  # deferred: the reply has the cores
    await outbox.wait_turn()
    await asyncio.sleep(1.0)
    assert describer.described == [b"D"]  # the newest only, once the reply was over
    await session.aclose()


async def test_a_frame_sent_during_a_reply_is_seen_by_the_next_turn_at_once() -> None:
    llm = ScriptedLanguageModel(replies=[["A", " slow", " story."], ["It reads STOP."]], delay_s=1.0)
    describer = FakeDescriber(delay_s=0.5)
    session, outbox = seeing_session(llm, describer)
    await session.handle(ask("Tell me a story."))
    await asyncio.sleep(0.1)
    await session.handle(frame("STOP"))
    await session.handle(ask("And the sign?"))  # cuts the story; the frame is described for this turn
    await outbox.wait_turn()
    await outbox.wait_turn()
    assert "a sign reading STOP" in llm.requests[-1].messages[-1].content
    await session.aclose()


async def test_an_image_part_is_described_for_its_own_turn() -> None:
    llm = ScriptedLanguageModel(replies=[["Open at nine."]])
    session, outbox = seeing_session(llm, FakeDescriber())
    image = Part(inline_data=Blob(mime_type="image/png", data=b"OPEN 9-17"))
    await session.handle(ask("When is it open?", image))
    await outbox.wait_turn()
    assert llm.requests[0].messages[-1].content.startswith("[image, just now: a sign reading OPEN 9-17]")
    assert not any(p.inline_data for c in session.history for p in c.parts)
    await session.aclose()


async def test_without_a_describer_frames_are_dropped_and_turns_unchanged() -> None:
    llm = ScriptedLanguageModel(replies=[["I cannot see."]])
    session, outbox = seeing_session(llm, None)
    await session.handle(frame("EXIT"))
    await session.handle(ask("What do you see?"))
    await outbox.wait_turn()
    assert llm.requests[0].messages[-1].content == "What do you see?"
    await session.aclose()


async def test_a_model_that_reads_images_gets_the_newest_frame_itself() -> None:
    llm = ScriptedLanguageModel(replies=[["It says EXIT 7."]])
    describer = FakeDescriber()
    session, outbox = seeing_session(llm, describer)
    session.profile = dataclasses.replace(session.profile, llm_sees_images=True)
    await session.handle(frame("EXIT 6"))
    await session.handle(frame("EXIT 7"))  # the newest counts
    await session.handle(ask("What does the sign say?"))
    await outbox.wait_turn()
    last = llm.requests[0].messages[-1]
    assert last.content == "What does the sign say?"
    assert [(i.mime_type, i.data) for i in last.images] == [("image/jpeg", b"EXIT 7")]
    assert describer.described == []  # the model reads it; nothing is described
    assert not any(p.inline_data for c in session.history for p in c.parts)
    await session.aclose()


async def test_the_prompt_read_while_the_user_speaks_carries_the_note_the_reply_will_send() -> None:
    # Without the note in the prefill, the note put before the user's words when the turn ends makes the
    # model read those words again (measured: +250 ms to the first token with a camera on).
    from test_session import listening_session, speak

    llm = FakePrefillingLanguageModel(replies=[["It says EXIT 42."]])
    session, outbox, _ = listening_session(llm)
    session.profile = dataclasses.replace(session.profile, frames=FakeDescriber())
    await session.handle(frame("EXIT 42"))
    await asyncio.sleep(1)  # described in the background meanwhile
    await speak(session, np.concatenate([silence(0.3), tone(1.3)]))  # still speaking: interims only
    assert llm.prefills, "no prefill while the user spoke"
    read_ahead = llm.prefills[-1].messages[-1].content
    assert read_ahead.startswith("[camera, just now: a sign reading EXIT 42]"), read_ahead
    await speak(session, silence(0.6))  # the pause ends the turn
    await outbox.wait_turn()
    sent = llm.requests[-1].messages[-1].content
    # The reply's prompt starts with exactly what was read ahead, up to the words the user added since.
    assert sent.startswith(read_ahead), (read_ahead, sent)
    await session.aclose()


@pytest.mark.parametrize(
    ("age_s", "words"),
    [
        (0.0, "just now"),
        (9.9, "just now"),
        (10.0, "about 10 s ago"),
        (59.0, "about 50 s ago"),
        (61, "about 1 min ago"),
    ],
)
def test_a_frames_age_is_worded_coarsely_so_that_prompts_match(age_s: float, words: str) -> None:
    assert age_words(age_s) == words
