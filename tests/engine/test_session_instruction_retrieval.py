"""Instruction retrieval in the session: an instruction too long for the context is read in parts (fakes)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Iterable

import numpy as np
import pytest
from engine_fakes import (
    FakePrefillingLanguageModel,
    RecordingOutbox,
    ScriptedLanguageModel,
    fake_profile,
    live_session,
    user,
)
from listener_fakes import SR, FakeRecognizer, FakeTurnDetector, FakeVad, pcm, silence, tone
from session_checks import assert_well_formed, until

from openlive.engine.instruction_retrieval import PARTS_NOTE, RETRIEVED_PREAMBLE
from openlive.engine.session import LiveSession
from openlive.protocol.errors import CloseCode, ProtocolError
from openlive.protocol.messages import (
    AudioTranscriptionConfig,
    Blob,
    Content,
    GenerationConfig,
    Modality,
    Part,
    RealtimeInput,
    SpeechConfig,
)
from openlive.stages.search import Passage

pytestmark = pytest.mark.looptime

PERSONA = "You are Ava, the voice assistant of DevConf."
RULES = "## Rules\nNever talk about ticket prices."
WORKSHOP = "## Robotics workshop\nThe robotics workshop is in room B12 on the second floor."
PARKING = "## Parking\nCars park in the north garage after 8 am."
# ~4,700 words (39,000 characters): more than the fake profile holds for an instruction (3,008 'tokens').
FILLER = [
    f"## Talk {i}\n" + " ".join(f"talk{i} speaker{i} topic{i} detail{n}." for n in range(25))
    for i in range(45)
]
LONG_GUIDE = "\n\n".join([PERSONA, RULES, *FILLER[:20], WORKSHOP, *FILLER[20:], PARKING])


def make_session(
    llm: ScriptedLanguageModel,
    instruction: str,
    *,
    mode: str = "auto",
    listening: bool = False,
    **profile_fields: object,
) -> tuple[LiveSession, RecordingOutbox]:
    if listening:  # the real listener over scripted speech stages
        asr = FakeRecognizer(words=("where", "is", "the", "robotics", "workshop", "please"))
        profile_fields |= {"asr": {"en": asr}, "vad": FakeVad(), "turn": FakeTurnDetector(0.9)}
    profile = dataclasses.replace(fake_profile(llm), instruction_retrieval=mode, **profile_fields)  # type: ignore[arg-type]
    return live_session(
        llm,
        profile=profile,
        session_id="r",
        generation_config=GenerationConfig(
            response_modalities=[Modality.TEXT], speech_config=SpeechConfig(language_code="en-US")
        ),
        system_instruction=Content(parts=[Part(text=instruction)]),
        input_audio_transcription=AudioTranscriptionConfig() if listening else None,
    )


async def test_an_instruction_too_long_for_the_context_is_retrieved_instead_of_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    llm = ScriptedLanguageModel(replies=[["Room B12."], ["Sure."]])
    with caplog.at_level(logging.INFO, logger="openlive.engine.instruction_retrieval"):
        session, outbox = make_session(llm, LONG_GUIDE)
    [logged] = [r.getMessage() for r in caplog.records if "instruction retrieval" in r.getMessage()]
    assert re.search(r"need \d{4,} tokens, the model holds 3008; 2 kept sections", logged), logged
    await session.handle(user("Where is the robotics workshop?"))
    await outbox.wait_turn()
    assert outbox.closed is None
    system, *turns = llm.requests[0].messages
    # The rules and persona stay in the system turn, whole; the rest of the instruction is not there.
    assert system.content.startswith("You are openlive.\n\n" + PERSONA)
    assert RULES in system.content and PARTS_NOTE in system.content
    assert "Robotics" not in system.content and "talk3 " not in system.content
    # The turn carries the section about its question, before the person's words, and no other.
    last = turns[-1].content
    assert last.startswith(RETRIEVED_PREAMBLE) and WORKSHOP in last
    assert last.endswith("The person says: Where is the robotics workshop?")
    assert "Parking" not in last and "## Talk" not in last
    # The next turn gets its own section; the history keeps only what was said.
    await session.handle(user("Where do cars park?"))
    await outbox.wait_turn()
    messages = llm.requests[1].messages
    assert [m.content for m in messages[1:3]] == ["Where is the robotics workshop?", "Room B12."]
    assert PARKING in messages[-1].content and WORKSHOP not in messages[-1].content
    assert_well_formed(outbox)
    await session.aclose()


async def test_a_question_no_section_is_about_gets_only_the_rules_and_persona() -> None:
    llm = ScriptedLanguageModel(replies=[["Hello."]])
    session, outbox = make_session(llm, LONG_GUIDE)
    await session.handle(user("Good morning!"))
    await outbox.wait_turn()
    assert [m.content for m in llm.requests[0].messages[1:]] == ["Good morning!"]
    await session.aclose()


def test_with_never_an_instruction_too_long_is_refused_at_setup_with_the_numbers() -> None:
    with pytest.raises(ProtocolError) as refused:
        make_session(ScriptedLanguageModel(), LONG_GUIDE, mode="never")
    assert refused.value.code == CloseCode.INVALID_ARGUMENT
    assert re.search(
        r"the instruction and tools need \d{4,} tokens; the model holds 3008$", refused.value.reason
    )


def test_the_setup_is_refused_when_even_the_rules_and_persona_do_not_fit() -> None:
    rules = "## Rules\n" + "Always be polite. " * 1200  # 3,600 words of rules: kept whole, too long
    with pytest.raises(ProtocolError) as refused:
        make_session(ScriptedLanguageModel(), "\n\n".join([PERSONA, rules, WORKSHOP]))
    assert refused.value.code == CloseCode.INVALID_ARGUMENT
    assert "rules and tools need" in refused.value.reason and "holds 3008" in refused.value.reason


def test_rules_far_too_long_are_refused_without_tokenizing_them() -> None:
    llm = ScriptedLanguageModel()
    counted: list[int] = []
    count = llm.count_tokens
    llm.count_tokens = lambda text: counted.append(len(text)) or count(text)  # type: ignore[method-assign]
    rules = "## Rules\n" + "Always be polite. " * 20_000
    with pytest.raises(ProtocolError) as refused:
        make_session(llm, "\n\n".join([PERSONA, rules, WORKSHOP]))
    assert re.search(r"rules and tools need \d+ tokens; the model holds 3008$", refused.value.reason)
    assert all(n < 1000 for n in counted), counted  # the persona, the note: never the rules


async def test_a_repeated_section_is_put_in_the_prompt_once() -> None:
    llm = ScriptedLanguageModel(replies=[["Room B12."]])
    session, outbox = make_session(llm, "\n\n".join([LONG_GUIDE, WORKSHOP, WORKSHOP]))
    await session.handle(user("Where is the robotics workshop?"))
    await outbox.wait_turn()
    assert llm.requests[0].messages[-1].content.count(WORKSHOP) == 1
    await session.aclose()


async def test_auto_sends_an_instruction_that_fits_whole_and_always_retrieves_it() -> None:
    short = "\n\n".join([PERSONA, RULES, WORKSHOP, PARKING])
    llm = ScriptedLanguageModel(replies=[["Room B12."], ["Room B12."]])
    whole, outbox = make_session(llm, short)
    await whole.handle(user("Where is the robotics workshop?"))
    await outbox.wait_turn()
    assert llm.requests[0].messages[0].content.endswith(short)
    assert llm.requests[0].messages[-1].content == "Where is the robotics workshop?"
    await whole.aclose()
    parts, outbox = make_session(llm, short, mode="always")
    await parts.handle(user("Where is the robotics workshop?"))
    await outbox.wait_turn()
    assert PARKING not in llm.requests[1].messages[0].content
    assert WORKSHOP in llm.requests[1].messages[-1].content
    await parts.aclose()


@dataclasses.dataclass
class FakePassageIndex:
    """Unit-test fake of the profile's index: records what it is given, finds what it is told to."""

    answers: dict[str, list[str]]  # query -> uris, best first
    documents: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    queries: list[str] = dataclasses.field(default_factory=list)

    def add_documents(self, documents: Iterable[tuple[str, str, str]], *, source: str) -> int:
        added = list(documents)
        self.documents += added
        return len(added)

    def search_now(self, query: str, *, limit: int = 3) -> list[Passage]:
        self.queries.append(query)
        by_uri = {uri: (title, text) for uri, title, text in self.documents}
        uris = self.answers.get(query, [])[:limit]
        return [Passage(text=by_uri[u][1], title=by_uri[u][0], uri=u) for u in uris]


async def test_once_the_profiles_index_is_filled_its_ranking_chooses_the_sections() -> None:
    index = FakePassageIndex(answers={})
    llm = ScriptedLanguageModel(replies=[["North garage."]])
    session, outbox = make_session(llm, LONG_GUIDE, passage_index=lambda: index)
    retrieval = session._retrieval()
    assert retrieval is not None
    await session.start()
    await until(lambda: retrieval.index_ready)
    # Every section but the persona and rules, once.
    assert [text for _, _, text in index.documents] == [s.text for s in retrieval.sections if not s.kept]
    assert len(index.documents) > 45 and all(text not in (PERSONA, RULES) for _, _, text in index.documents)
    # A question worded unlike its section (the embeddings' part): the index's answer is used.
    [parking_uri] = [uri for uri, _, text in index.documents if text == PARKING]
    index.answers["Where can I leave my car?"] = [parking_uri]
    await session.handle(user("Where can I leave my car?"))
    await outbox.wait_turn()
    assert index.queries == ["Where can I leave my car?"]
    assert PARKING in llm.requests[0].messages[-1].content
    await session.aclose()


async def speak(session: LiveSession, audio: np.ndarray) -> None:
    """Send ``audio`` as realtime input in 20 ms chunks, letting the listener run between them."""
    step = SR // 50
    for i in range(0, audio.size, step):
        blob = Blob(mime_type=f"audio/pcm;rate={SR}", data=pcm(audio[i : i + step]))
        await session.handle(RealtimeInput(audio=blob))
        await asyncio.sleep(0)
    assert session._listener is not None
    await session._listener.drained()
    for _ in range(5):  # let queued listener events reach the session
        await asyncio.sleep(0)


async def test_the_prompt_read_ahead_while_the_user_speaks_has_the_sections_for_the_words_so_far() -> None:
    llm = FakePrefillingLanguageModel(replies=[["Room B12."]])
    session, outbox = make_session(llm, LONG_GUIDE, listening=True)
    await speak(session, np.concatenate([silence(0.3), tone(1.3)]))  # still speaking: interims only
    ahead = [r.messages[-1].content for r in llm.prefills]
    assert any(WORKSHOP in m and m.endswith("where is the robotics") for m in ahead), ahead
    await speak(session, silence(0.6))  # the pause ends the turn
    await outbox.wait_turn()
    # The reply's prompt is the one read ahead up to the user's words: its prefix is reused.
    real = llm.requests[-1].messages
    assert WORKSHOP in real[-1].content and real[-1].content.endswith("where is the robotics workshop")
    assert [m.content for m in real[:-1]] == [m.content for m in llm.prefills[-1].messages[:-1]]
    await session.aclose()


async def test_a_later_session_with_the_same_instruction_takes_the_filled_index() -> None:
    made: list[FakePassageIndex] = []

    def factory() -> FakePassageIndex:
        made.append(FakePassageIndex(answers={}))
        return made[-1]

    first, _ = make_session(ScriptedLanguageModel(), LONG_GUIDE, passage_index=factory)
    await first.start()
    retrieval = first._retrieval()
    assert retrieval is not None
    await until(lambda: retrieval.index_ready)
    await first.aclose()
    second, _ = make_session(ScriptedLanguageModel(), LONG_GUIDE, passage_index=factory)
    await second.start()
    assert second._retrieval() is not None and second._retrieval().index_ready  # type: ignore[union-attr]
    other, _ = make_session(ScriptedLanguageModel(), LONG_GUIDE + "\n\nOne more line.", passage_index=factory)
    await other.start()
    await until(lambda: len(made) == 2)  # another instruction: its own index
    await second.aclose()
    await other.aclose()
