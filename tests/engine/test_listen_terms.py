"""Spelling the app's terms in transcripts: which terms, which heard words become them, and when not.

The phonemizer here is a fake (a fixed pronunciation table), so these tests pin the matching rules;
tests/backends/test_phonemes_espeak.py checks the same cases with espeak-ng's real pronunciations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from listener_fakes import (
    EventLog,
    FakeRecognizer,
    FakeTablePhonemizer,
    FakeTurnDetector,
    FakeVad,
    silence,
    stream,
    tone,
)

from openlive.engine.listen_terms import TermSpeller, instruction_terms, normalise_phonemes
from openlive.engine.listener import InterimTranscript, Listener, TurnEnded
from openlive.protocol.messages import RealtimeInputConfig


async def spell(text: str, terms: Sequence[str], language: str | None = "en") -> str:
    return await TermSpeller(FakeTablePhonemizer(), terms).spell(text, language)


def test_the_instruction_s_terms_are_its_names_and_hyphenated_words() -> None:
    text = (
        "You are the assistant of Nova Summit.\n"
        "- Wi-Fi network: Northwind-Guest.\n"
        "- The opening talk is in Aurora Hall, given by Priya Natarajan.\n"
        "Maybe ask the guest. Closing Keynote at noon; the keynote is short."
    )
    terms = instruction_terms(text)
    for term in ["Wi-Fi", "Northwind-Guest", "Nova Summit", "Aurora Hall", "Priya Natarajan", "Natarajan"]:
        assert term in terms
    # A capitalised word that opens a sentence or a list item alone is an ordinary word.
    assert "Maybe" not in terms and "You" not in terms
    # A word the text also writes in lower case is spelled in lower case.
    assert "keynote" in terms and "Keynote" not in terms


def test_phonemes_are_compared_without_stress_length_or_word_breaks() -> None:
    assert normalise_phonemes("wˈaɪf ˈaɪ") == normalise_phonemes("wˈaɪfˌaɪ")
    assert normalise_phonemes("nˈæɾɐɹ") == normalise_phonemes("nˈætəɹ")


async def test_words_that_sound_like_a_term_are_spelled_as_the_term() -> None:
    assert await spell("What is the wife I password?", ["Wi-Fi"]) == "What is the Wi-Fi password?"
    assert await spell("the key note.", ["keynote"]) == "the keynote."
    assert await spell("What is a roar a hall?", ["Aurora Hall"]) == "What is Aurora Hall?"


async def test_one_differing_sound_is_forgiven_only_in_a_long_term() -> None:
    # "life I" is one phoneme from "Wi-Fi" (six symbols): close enough.
    assert await spell("the life I password", ["Wi-Fi"]) == "the Wi-Fi password"
    # One sound off in a five-symbol term ("laɪfə") is not enough; the exact sounds are.
    assert await spell("the wife a rule", ["Lifa"]) == "the wife a rule"
    assert await spell("the life a rule", ["Lifa"]) == "the Lifa rule"


async def test_one_heard_word_is_never_replaced() -> None:
    # A homophone of a term is far more often what was said.
    assert await spell("I read the password", ["Reid"]) == "I read the password"


async def test_punctuation_between_heard_words_keeps_them_apart() -> None:
    assert await spell("my wife, I think", ["Wi-Fi"]) == "my wife, I think"


async def test_unknown_languages_and_failures_leave_the_transcript_as_heard() -> None:
    assert await spell("the wife I password", ["Wi-Fi"], language="de") == "the wife I password"
    speller = TermSpeller(FakeTablePhonemizer(fail=True), ["Wi-Fi"])
    assert await speller.spell("the wife I password", "en") == "the wife I password"
    # Languages written without spaces are not split into words, and the phonemizer is not asked.
    phonemizer = FakeTablePhonemizer()
    assert await TermSpeller(phonemizer, ["Wi-Fi"]).spell("ワイファイ は", "ja") == "ワイファイ は"
    assert phonemizer.calls == []


async def test_terms_are_phonemized_once_and_again_after_they_change() -> None:
    phonemizer = FakeTablePhonemizer()
    speller = TermSpeller(phonemizer, ["Wi-Fi"])
    await speller.prepare("en-US")
    await speller.spell("the wife I password", "en")
    await speller.spell("the life I password", "en")
    term_calls = [words for words, _ in phonemizer.calls if words == ["Wi-Fi"]]
    assert len(term_calls) == 1
    speller.set_terms(["keynote"])
    assert await speller.spell("the wife I key note", "en") == "the wife I keynote"
    assert speller.corrections == 3


async def test_the_listener_spells_interim_and_final_transcripts_alike() -> None:
    # The prompt read ahead from an interim transcript is the reply's only if both are spelled the same.
    asr = FakeRecognizer(words=["what", "is", "the", "wife", "I", "password", "please", "now"])
    listener = Listener(
        vad=FakeVad(),
        turn=FakeTurnDetector(0.9),
        recognizers={"en": asr},  # type: ignore[dict-item]
        config=RealtimeInputConfig(),
        language="en-US",
        speller=TermSpeller(FakeTablePhonemizer(), ["Wi-Fi"]),
    )
    log = EventLog(listener)
    await stream(listener, np.concatenate([silence(0.3), tone(2.0), silence(1.0)]))
    await log.settle()
    final = log.of(TurnEnded)[0].text  # type: ignore[attr-defined]
    assert final == "what is the Wi-Fi password please now"
    interims = [e.text for e in log.of(InterimTranscript)]  # type: ignore[attr-defined]
    assert any("Wi-Fi" in t for t in interims), interims
    assert not any("wife I" in t for t in interims), interims
    await log.close()
