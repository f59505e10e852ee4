"""The app's own terms, spelled as the app writes them when the recogniser splits them into words.

A small recogniser hears a name it has never seen as the everyday words that sound the same: Whisper
tiny.en writes "Wi-Fi" as "wife I", "keynote" as "key note". The model then answers a question nobody
asked ("What is the wife I password?" got a refusal in half the probes, docs/benchmarks.md). Biasing
the recogniser with the app's names was tried and made it worse (the names leak into other
utterances), so the transcript is corrected after the fact, and only where the sounds agree:

* **The terms** are the client's ``customVocabulary`` and the names in the system instruction:
  hyphenated words ("Wi-Fi", "Northwind-Guest"), runs of capitalised words ("Aurora Hall", "Priya
  Natarajan") and each word of such a run.
* **A correction** replaces two to four heard words with one term of fewer words when their phonemes
  (espeak-ng's, stress and length marks removed, a few vowel qualities merged) are the term's, or
  differ from a term of six or more phonemes by one edit. One heard word is never replaced: a
  homophone ("read" for a term "Reid") is far more often what was said.

Both the interim and the final transcripts go through the same speller, so the prompt read ahead
while the user speaks stays the reply's prompt. A deviation from Gemini (the transcript is the
app's spelling, not the recogniser's), switched off with ``OPENLIVE_ASR_TERM_SPELLING=false``; see
docs/compatibility.md.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from openlive.engine.language import base_language
from openlive.stages.speech import Phonemizer

log = logging.getLogger(__name__)

# The most heard words one term may replace, and the most terms a session keeps (an instruction of
# 40,000 characters has ~300 names; each costs one dictionary entry).
MAX_SPAN_WORDS = 4
MAX_TERMS = 1024
# A term this long (in phoneme symbols) may differ from the heard words by one edit ("life I" for
# "Wi-Fi"); a shorter one must match exactly, or too many word pairs would pass for it.
NEAR_MATCH_MIN_PHONEMES = 6
# Languages whose words are not separated by spaces: a heard "word" there is a whole phrase.
_UNSPACED_LANGUAGES = frozenset({"ja", "zh", "th", "lo", "km", "my", "bo"})

_HYPHENATED = re.compile(r"\b[^\W\d_]+(?:-[^\W_]+)+\b")
_CAPITALISED_RUN = re.compile(r"\b[A-Z][\w'’]*[a-z][\w'’]*(?:[ \t]+[A-Z][\w'’]*[a-z][\w'’]*)*\b")
_LOWER_WORD = re.compile(r"\b[a-z][\w'’]*\b")
# What comes before a word that opens a sentence or a list item (after spaces are skipped).
_LIST_MARKER = re.compile(r"(?:^|\n)[ \t]*(?:[-*•]|\d+[.)])\Z")
# A word as heard, with what surrounds it: ("(", "wife", ",") and so on.
_WORD = re.compile(r"^(\W*)(.*?)(\W*)$")
_STRESS_AND_LENGTH = str.maketrans("", "", "ˈˌːˑ‿ -'")
# Vowel qualities espeak-ng writes differently for the same sound in and out of a word's stress.
_MERGED = (("ɚ", "əɹ"), ("ɝ", "əɹ"), ("ɐ", "ə"), ("ʌ", "ə"), ("ɜ", "ə"), ("ᵻ", "ɪ"), ("ɾ", "t"), ("ɔ", "ɑ"))


def instruction_terms(text: str) -> list[str]:
    """The names an instruction spells its own way, in the order they first appear."""
    found: dict[str, None] = {}
    for match in _HYPHENATED.finditer(text):
        found.setdefault(match.group(0))
    for match in _CAPITALISED_RUN.finditer(text):
        words = match.group(0).split()
        if len(words) > 1:
            found.setdefault(" ".join(words))
        elif _opens_sentence(text, match.start()):
            # A capitalised word that opens a sentence or a list item is most often an ordinary word
            # ("Maybe", "Into"), and "may be" must not become "Maybe".
            continue
        for word in words:
            found.setdefault(word)
    # A word the instruction also writes in lower case is an ordinary word capitalised by a heading
    # ("Closing Keynote"): it is spelled the ordinary way.
    lower = {w for w in _LOWER_WORD.findall(text)}
    terms = (t.lower() if " " not in t and t.lower() in lower else t for t in found)
    return [t for t in dict.fromkeys(terms) if sum(ch.isalpha() for ch in t) >= 3][:MAX_TERMS]


def _spaced_language(language: str | None) -> str | None:
    """The primary subtag of ``language`` ("en" when unknown); None for a language written without
    spaces, whose heard "words" are whole phrases."""
    lang = base_language(language) if language else "en"
    return None if lang in _UNSPACED_LANGUAGES else lang


def _parts(word: str) -> tuple[str, str, str]:
    """A heard word as (what precedes it, the word, what follows it): "(wife," -> "(", "wife", ","."""
    match = _WORD.match(word)
    assert match is not None  # the pattern matches any string
    before, core, after = match.groups()
    return before, core, after


def _opens_sentence(text: str, start: int) -> bool:
    i = start
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    if i == 0 or text[i - 1] in '.!?:;\n"“(':
        return True
    return _LIST_MARKER.search(text[max(0, i - 8) : i]) is not None


def normalise_phonemes(phonemes: str) -> str:
    out = phonemes.translate(_STRESS_AND_LENGTH)
    for a, b in _MERGED:
        out = out.replace(a, b)
    return out


def _within_one_edit(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


@dataclass(frozen=True, slots=True)
class _Term:
    text: str
    words: int
    sounds: str  # normalised phonemes


class TermSpeller:
    """Spells a session's terms in its transcripts (see the module docstring). Owned by the session;
    the listener calls ``spell`` on each transcript it emits."""

    def __init__(self, phonemizer: Phonemizer, terms: Iterable[str] = ()) -> None:
        self._phonemizer = phonemizer
        self._terms: list[str] = []
        self._sounds: dict[str, list[_Term]] = {}  # language -> the terms as they sound in it
        # Held while a language's terms are phonemized, so that a transcript arriving meanwhile waits
        # for that run instead of starting a second one.
        self._lock = asyncio.Lock()
        self.corrections = 0  # heard spans replaced (for tests and logs)
        self.set_terms(terms)

    def set_terms(self, terms: Iterable[str]) -> None:
        """The session's terms from now on (a new instruction brings new names)."""
        self._terms = list(dict.fromkeys(t.strip() for t in terms if t.strip()))[:MAX_TERMS]
        self._sounds.clear()

    async def spell(self, text: str, language: str | None) -> str:
        """``text`` with the heard spans that sound like a term replaced by the term; ``text`` itself
        when nothing matches, the language is not one the phonemizer knows, or it fails."""
        lang = _spaced_language(language)
        if not self._terms or lang is None:
            return text
        heard = text.split()
        if len(heard) < 2:
            return text
        try:
            terms = await self._terms_in(lang)
            if not terms:
                return text
            parts = [_parts(w) for w in heard]
            sounds = await self._phonemizer.phonemes([core for _, core, _ in parts], lang)
        except Exception:  # best effort: the transcript as heard is still a transcript
            log.warning("term spelling failed; the transcript is kept as heard", exc_info=True)
            return text
        if sounds is None:
            return text
        return self._replace(heard, parts, [normalise_phonemes(s) for s in sounds], terms)

    async def prepare(self, language: str | None) -> None:
        """Phonemize the terms now (the session's start), not on the first transcript's path."""
        lang = _spaced_language(language)
        if self._terms and lang is not None:
            try:
                await self._terms_in(lang)
            except Exception:
                log.warning("the session's terms could not be phonemized", exc_info=True)

    async def _terms_in(self, lang: str) -> list[_Term]:
        async with self._lock:
            if lang not in self._sounds:
                terms = self._terms
                sounds = await self._phonemizer.phonemes(terms, lang)
                known = [
                    _Term(text=t, words=len(t.split()), sounds=normalise_phonemes(s))
                    for t, s in zip(terms, sounds or (), strict=False)
                    if s
                ]
                if terms is not self._terms:  # replaced meanwhile (set_terms): not kept
                    return known
                self._sounds[lang] = known
            return self._sounds[lang]

    def _replace(
        self,
        heard: list[str],
        parts: Sequence[tuple[str, str, str]],
        sounds: list[str],
        terms: list[_Term],
    ) -> str:
        exact = {t.sounds: t for t in terms}
        near = [t for t in terms if len(t.sounds) >= NEAR_MATCH_MIN_PHONEMES]
        out: list[str] = []
        i = 0
        while i < len(heard):
            found = None
            # The longest span first: "key note speaker" is tried before "key note".
            for n in range(min(MAX_SPAN_WORDS, len(heard) - i), 1, -1):
                span = parts[i : i + n]
                # Punctuation inside the span means the recogniser heard a boundary there.
                if any(after for _, _, after in span[:-1]) or any(before for before, _, _ in span[1:]):
                    continue
                if not all(sounds[i : i + n]):  # a word without a pronunciation matches nothing
                    continue
                said = "".join(sounds[i : i + n])
                term = exact.get(said) or next((t for t in near if _within_one_edit(t.sounds, said)), None)
                if term is not None and term.words < n:
                    found = (n, term)
                    break
            if found is None:
                out.append(heard[i])
                i += 1
                continue
            n, term = found
            before, after = parts[i][0], parts[i + n - 1][2]
            log.info("heard %r, spelled %r", " ".join(heard[i : i + n]), term.text)
            self.corrections += 1
            out.append(f"{before}{term.text}{after}")
            i += n
        return " ".join(out)


__all__ = ["TermSpeller", "instruction_terms", "normalise_phonemes"]
