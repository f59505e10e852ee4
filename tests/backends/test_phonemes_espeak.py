"""espeak-ng's pronunciations, as the term speller uses them (the real binary, no model)."""

from __future__ import annotations

import shutil

import pytest

from openlive.backends.phonemes_espeak import EspeakPhonemizer
from openlive.engine.listen_terms import TermSpeller, normalise_phonemes

if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is needed (scripts/install-system-packages.sh)", allow_module_level=True)


async def test_a_term_and_the_words_it_is_misheard_as_sound_the_same() -> None:
    phonemizer = EspeakPhonemizer()
    sounds = await phonemizer.phonemes(["Wi-Fi", "wife", "I", "keynote", "key", "note"], "en")
    assert sounds is not None and all(sounds)
    wifi, wife, i, keynote, key, note = (normalise_phonemes(s) for s in sounds)
    assert wifi == wife + i
    assert keynote == key + note


async def test_each_word_gets_its_own_pronunciation_and_repeats_are_cached() -> None:
    phonemizer = EspeakPhonemizer()
    words = ["Dr.", "12:30", "Northwind-Guest", "", "hello,", "hello"]
    sounds = await phonemizer.phonemes(words, "en")
    assert sounds is not None and len(sounds) == len(words)
    assert sounds[3] == "" and all(s for i, s in enumerate(sounds) if i != 3)
    assert sounds[4] == sounds[5]  # punctuation is not pronounced
    runs = phonemizer.runs
    assert await phonemizer.phonemes(["hello", "Dr."], "en") == [sounds[5], sounds[0]]
    assert phonemizer.runs == runs


async def test_a_language_without_a_voice_has_no_pronunciations() -> None:
    assert await EspeakPhonemizer().phonemes(["hello"], "xx") is None


async def test_the_speller_with_espeak_fixes_what_tiny_en_made_of_the_app_s_names() -> None:
    # The app scenario's Wi-Fi question, as Whisper tiny.en heard espeak-ng say it (docs/benchmarks.md).
    speller = TermSpeller(EspeakPhonemizer(), ["Wi-Fi", "Northwind-Guest", "keynote", "Aurora Hall"])
    assert await speller.spell("What is the wife I password?", "en") == "What is the Wi-Fi password?"
    assert await speller.spell("What is the life I password?", "en") == "What is the Wi-Fi password?"
    assert await speller.spell("Where is the opening key note?", "en") == "Where is the opening keynote?"
    # Ordinary speech is left alone.
    for text in ["It may be raining.", "Can I log in to the app?", "I read the hall schedule."]:
        assert await speller.spell(text, "en") == text
