"""Cut a streamed reply into clauses for speech, so synthesis can start at the first clause.

Speaking starts as soon as the first piece is ready (the biggest single lever on voice-to-voice
latency). The first piece ends at the first clause or sentence punctuation, or, in text with spaces,
after its first few words if no punctuation came first: a one-sentence answer such as "Jupiter is the
largest planet in our solar system." would otherwise keep the listener waiting for all of its ~10
tokens (~0.9 s at the embedded model's speed on two cores) instead of ~4. That first cut is never made
after a function word ("the", "of", "is"), so the piece ends on a word that carries stress and the
synthesiser's closing intonation falls where a speaker could pause. Japanese has no spaces: its first
piece may end after a topic or case particle that closes a phrase ("日本の首都は | 東京です。").
Later pieces are cut at sentence ends where possible, because the TTS sounds more natural on whole
sentences and is fast enough to keep ahead of playback. But the model may not be: on two cores it
writes a sentence's ~20 tokens in ~2 s, and a three-word first piece is spoken in ~1 s, so the
listener heard "Lunch is served … (2 s) … from 12:30 PM to 1:30 PM every day." When the speech queued
is about to run out, the next piece is cut the way the first one is (``push(hurry=True)``).
"""

from __future__ import annotations

import re

_SENTENCE_END = "。！？!?"
_CLAUSE_END = "、，,;；:："
# Markdown and similar markup that an LLM may emit and that must not be read aloud.
_MARKUP = re.compile(r"(\*\*|__|`+|^#+\s*|^\s*[-*]\s+|^\s*\d+\.\s+)", re.MULTILINE)
_URL = re.compile(r"https?://\S+")
# Tool markup a small model writes as text instead of calling ("<tools></tools>", "<tool_call>{…}",
# "`vote_for_session(id=3)`"): never spoken. Tags, and identifiers with an underscore followed by an
# argument list, which no spoken sentence contains.
_TAG = re.compile(r"</?[A-Za-z_][\w-]*(?:\s[^<>]*)?/?>")
_TAG_BODY = re.compile(r"<(tool_call|tools|function_call|function)>.*?</\1>", re.DOTALL)
_CODE_CALL = re.compile(r"\b[A-Za-z]\w*_\w*\s*\([^()]*\)")
_EMOJI = re.compile("[\U0001f300-\U0001faff\U00002600-\U000027bf\U0001f000-\U0001f2ff]")


def speakable(text: str) -> str:
    """The text as it should be spoken: no markup, URLs or emoji, whitespace collapsed."""
    text = _URL.sub("", text)
    text = _TAG_BODY.sub("", text)
    text = _TAG.sub("", text)
    text = _CODE_CALL.sub("", text)
    text = _MARKUP.sub("", text)
    text = _EMOJI.sub("", text)
    return re.sub(r"\s+", " ", text).strip()


# The first piece may end after this many words (text with spaces, no punctuation yet).
FIRST_PIECE_WORDS = 3
# Words a spoken phrase does not end on: articles, prepositions, conjunctions, auxiliaries, possessives.
_FUNCTION_WORD_LIST = """a an the this that these those of to in on at by for from with about as into over
    under than and or but nor so if because while although when where which who whose what how
    is are was were be been being am do does did have has had will would can could shall should may
    might must not no my your his her its our their it's there here very more most"""
_FUNCTION_WORDS = frozenset(_FUNCTION_WORD_LIST.split())
# A number is bound to the unit or noun after it ("7 | days", "9:00 | AM" would split a phrase).
_NUMBER = re.compile(r"[\d.,:]+")
_WORD_EDGE = re.compile(r"^[\W_]+|[\W_]+$")


def _is_cjk(ch: str) -> bool:
    return "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"


def _has_cjk(text: str) -> bool:
    return any(_is_cjk(ch) for ch in text)


# The first Japanese piece may end after a particle once it holds this many characters.
JAPANESE_FIRST_PIECE_CHARS = 4
_PHRASE_PARTICLES = "はがをも"
# Kana that end a particle, so that a phrase particle right after them is a compound ("では", "のが").
_PARTICLES = "はがをもでにとのへやかよね、。"


def _is_content_char(ch: str) -> bool:
    """Kanji, katakana (with the long-vowel mark) or a digit: what content words are written in."""
    return "\u4e00" <= ch <= "\u9fff" or "\u30a0" <= ch <= "\u30ff" or ch.isdigit()


class ClauseSplitter:
    """Feed text deltas; get back the pieces that are ready to speak."""

    def __init__(self, *, first_min_chars: int = 5, min_chars: int = 40) -> None:
        self._buf = ""
        self._first = True
        self._first_min = first_min_chars
        self._min = min_chars

    def push(self, delta: str, *, hurry: bool = False) -> list[str]:
        """Add ``delta``; the pieces now ready. ``hurry``: the speech queued is about to run out (see
        ``Speaker.running_low``), so the next piece is cut as early as the first one is, at a clause
        mark or after a few words, instead of at a sentence end: the model writes a long sentence more
        slowly than its first piece is spoken, and the listener would hear a silence inside it."""
        self._buf += delta
        out: list[str] = []
        while True:
            cut = self._find_cut(early=self._first or (hurry and not out))
            if cut is None:
                return out
            piece, self._buf = self._buf[:cut], self._buf[cut:]
            piece = piece.strip()
            if piece:
                out.append(piece)
                self._first = False

    def tentative(self) -> str | None:
        """The first piece as ``push`` will cut it if the next delta starts a new word; None when there
        is none (the first piece is out, or the last word would not end it).

        The splitter knows a word is complete only once the next token begins with a space, one decode
        step (~0.1 s on two cores) after the word itself: synthesis of this text can start that much
        sooner, and is kept if the cut comes there (``Speaker.draft``). Only for the first piece: a
        draft that the next token shows was inside a word ("Roo", "Rooft") is a synthesis thrown away,
        on cores the model is decoding on, and the pieces after the first have speech ahead of them.
        """
        buf = self._buf
        if not self._first or not buf or buf[-1].isspace() or _has_cjk(buf):
            return None
        cut = self._find_word_cut(buf + " ")
        return buf.strip() if cut == len(buf) else None

    def flush(self) -> str | None:
        piece, self._buf = self._buf.strip(), ""
        return piece or None

    def _find_cut(self, *, early: bool) -> int | None:
        cut = self._find_punctuation_cut(early=early)
        if cut is None and early:
            cut = (
                self._find_word_cut(self._buf)
                if not _has_cjk(self._buf)
                else self._find_japanese_phrase_cut()
            )
        return cut

    def _find_japanese_phrase_cut(self) -> int | None:
        """After the first topic, subject or object particle (は, が, を, も) that closes a phrase of
        at least ``JAPANESE_FIRST_PIECE_CHARS`` characters: "日本の首都は | 東京です。".

        Kokoro's synthesis time grows with the length of the piece (~0.6 s per second of speech on one
        thread), so a whole first sentence kept the listener waiting ~1.4 s. The particle counts only
        once a kanji, katakana or digit follows it (the next phrase has begun: "こんにちは。" and
        "ありがとう" go on in kana or punctuation) and not after another particle (compounds such as
        "では", "には", "のは"). A speaker pauses naturally at such a boundary.
        """
        buf = self._buf
        for i in range(JAPANESE_FIRST_PIECE_CHARS - 1, len(buf) - 1):
            if (
                buf[i] in _PHRASE_PARTICLES
                and _is_cjk(buf[i - 1])
                and buf[i - 1] not in _PARTICLES
                and _is_content_char(buf[i + 1])
            ):
                return i + 1
        return None

    def _find_word_cut(self, buf: str) -> int | None:
        """The end of the first complete word of ``buf``, from the ``FIRST_PIECE_WORDS``-th on, that
        may end a phrase. A word is complete once whitespace follows it (the next token has begun).
        A capitalised word followed by another is inside a name ("Rooftop | Terrace"): no cut there,
        nor after a capitalised last word while the next is unknown (``tentative``'s probe)."""
        words = 0
        for match in re.finditer(r"\S+(?=\s)", buf):
            token = match.group()
            words += 1
            if words < FIRST_PIECE_WORDS or len(buf[: match.end()].strip()) < self._first_min:
                continue
            word = _WORD_EDGE.sub("", token)
            acronym = len(word) > 1 and word.isupper()  # "AM" is not "am", "US" not "us"
            if not word or (word.lower() in _FUNCTION_WORDS and not acronym) or _NUMBER.fullmatch(word):
                continue
            after = buf[match.end() :].lstrip()
            if token[0].isupper() and (not after or after[0].isupper()):
                continue
            return match.end()
        return None

    def _find_punctuation_cut(self, *, early: bool) -> int | None:
        buf = self._buf
        min_len = self._first_min if early else self._min
        for i, ch in enumerate(buf):
            # A CJK character carries about as much speech as a short word: half the length is enough.
            needed = max(4, min_len // 2) if _is_cjk(ch) else min_len
            if i + 1 < needed and ch != "\n":
                continue
            if ch == "\n":
                if buf[: i + 1].strip():
                    return i + 1
                continue
            is_sentence_end = ch in _SENTENCE_END or (ch == "." and not _is_abbreviation(buf, i))
            is_clause_end = ch in _CLAUSE_END
            if not (is_sentence_end or (early and is_clause_end)):
                continue
            # Western punctuation ends a clause when followed by a space (not "3.5" or "e.g.x"), or, at
            # the end of what has arrived, when it cannot be a decimal point: waiting for the next token
            # would cost a whole token time (~0.1 s) before the first audio. CJK punctuation ends it at once.
            if _is_cjk(ch) or ch in "！？":
                return i + 1
            if i + 1 < len(buf) and buf[i + 1].isspace():
                return i + 1
            # Never inside a number: "12:" may go on as "12:00", "5," as "5,000" (an earlier cut made
            # the transcript read "12: 00 PM").
            after_digit = i > 0 and buf[i - 1].isdigit()
            if (i + 1 == len(buf) and ch in "!?,;:" and not (after_digit and ch in ",:")) or (
                ch == "." and i > 0 and buf[i - 1].isalpha()
            ):
                return i + 1 if i + 1 == len(buf) else None
        return None


def _is_abbreviation(buf: str, i: int) -> bool:
    word = buf[:i].rsplit(" ", 1)[-1]
    return word.lower() in {"mr", "mrs", "ms", "dr", "st", "vs", "e.g", "i.e", "etc", "no"} or (
        len(word) == 1 and word.isalpha()
    )
