"""Which recognised utterances are real user turns.

Whisper, given near-silence or noise, writes either annotations (``[BLANK_AUDIO]``, ``(noise)``,
``*music*``, ``♪``) or a handful of stock phrases it learnt from subtitles ("you", "Thank you.",
"Thanks for watching!"). The rules, applied after VAD already required real speech:

1. Annotations in brackets, parentheses, asterisks and music signs are removed from the text.
2. What is left must contain a letter or digit (any script); punctuation alone is no turn.
3. In automatic mode an utterance whose speech (VAD onset to last speech frame) lasts under 250 ms
   is dropped before recognition: a click or a cough, not a word ("no" already takes ~300 ms).
4. A stock hallucination phrase is dropped only when the VAD heard less than 600 ms of voiced audio:
   "Thank you." is also a very common real turn, and a real one comes with real speech.
"""

from __future__ import annotations

import re
import unicodedata

MIN_SPEECH_S = 0.25
HALLUCINATION_MAX_VOICED_S = 0.6

_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|（[^）]*）|\*[^*]*\*|[♪♫♬]+")
_SPACES = re.compile(r"\s+")

# Normalised (lower case, letters, digits and single spaces only).
_STOCK_HALLUCINATIONS = frozenset(
    {
        "you",
        "thank you",
        "thanks",
        "thank you very much",
        "thanks for watching",
        "thank you for watching",
        "thank you so much for watching",
        "please subscribe",
        "bye",
        "ご視聴ありがとうございました",
        "おやすみなさい",
    }
)


def clean_transcript(text: str) -> str:
    """The transcript without annotations and with single spaces."""
    return _SPACES.sub(" ", _ANNOTATION.sub(" ", text)).strip()


def _normalise(text: str) -> str:
    kept = "".join(ch if ch.isalnum() or ch.isspace() else " " for ch in unicodedata.normalize("NFKC", text))
    return _SPACES.sub(" ", kept).strip().lower()


def has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def drop_reason(text: str, *, voiced_s: float | None) -> str | None:
    """Why the cleaned transcript ``text`` is no turn, or None when it is one.

    ``voiced_s`` is the VAD's voiced duration, or None when no VAD decided (manual activity).
    """
    if not has_words(text):
        return "no words in the transcript"
    if (
        voiced_s is not None
        and voiced_s < HALLUCINATION_MAX_VOICED_S
        and _normalise(text) in _STOCK_HALLUCINATIONS
    ):
        return "a stock recognition hallucination on little speech"
    return None
