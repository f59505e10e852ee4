"""Cut a streamed reply into clauses for speech, so synthesis can start at the first clause.

Speaking starts as soon as the first clause is complete (the biggest single lever on voice-to-voice
latency); later pieces are cut at sentence ends where possible, because the TTS sounds more natural on
whole sentences and is fast enough to keep ahead of playback.
"""

from __future__ import annotations

import re

_SENTENCE_END = "。！？!?"
_CLAUSE_END = "、，,;；:："
# Markdown and similar markup that an LLM may emit and that must not be read aloud.
_MARKUP = re.compile(r"(\*\*|__|`+|^#+\s*|^\s*[-*]\s+|^\s*\d+\.\s+)", re.MULTILINE)
_URL = re.compile(r"https?://\S+")
_EMOJI = re.compile("[\U0001f300-\U0001faff\U00002600-\U000027bf\U0001f000-\U0001f2ff]")


def speakable(text: str) -> str:
    """The text as it should be spoken: no markup, URLs or emoji, whitespace collapsed."""
    text = _URL.sub("", text)
    text = _MARKUP.sub("", text)
    text = _EMOJI.sub("", text)
    return re.sub(r"\s+", " ", text).strip()


def _is_cjk(ch: str) -> bool:
    return "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"


class ClauseSplitter:
    """Feed text deltas; get back the pieces that are ready to speak."""

    def __init__(self, *, first_min_chars: int = 5, min_chars: int = 40) -> None:
        self._buf = ""
        self._first = True
        self._first_min = first_min_chars
        self._min = min_chars

    def push(self, delta: str) -> list[str]:
        self._buf += delta
        out: list[str] = []
        while True:
            cut = self._find_cut()
            if cut is None:
                return out
            piece, self._buf = self._buf[:cut], self._buf[cut:]
            piece = piece.strip()
            if piece:
                out.append(piece)
                self._first = False

    def flush(self) -> str | None:
        piece, self._buf = self._buf.strip(), ""
        return piece or None

    def _find_cut(self) -> int | None:
        buf = self._buf
        min_len = self._first_min if self._first else self._min
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
            if not (is_sentence_end or (self._first and is_clause_end)):
                continue
            # Western punctuation ends a clause when followed by a space (not "3.5" or "e.g.x"), or, at
            # the end of what has arrived, when it cannot be a decimal point: waiting for the next token
            # would cost a whole token time (~0.1 s) before the first audio. CJK punctuation ends it at once.
            if _is_cjk(ch) or ch in "！？":
                return i + 1
            if i + 1 < len(buf) and buf[i + 1].isspace():
                return i + 1
            if (i + 1 == len(buf) and ch in "!?,;:") or (ch == "." and i > 0 and buf[i - 1].isalpha()):
                return i + 1 if i + 1 == len(buf) else None
        return None


def _is_abbreviation(buf: str, i: int) -> bool:
    word = buf[:i].rsplit(" ", 1)[-1]
    return word.lower() in {"mr", "mrs", "ms", "dr", "st", "vs", "e.g", "i.e", "etc", "no"} or (
        len(word) == 1 and word.isalpha()
    )
