"""Input transcription as append-only chunks, from revisable recognition hypotheses.

The wire gives ``inputTranscription`` chunks that clients concatenate, so a word once sent cannot be
taken back. Whisper's interim hypotheses do change, mostly at their end. Only words that two
consecutive hypotheses agree on (the "local agreement" policy of streaming Whisper) are sent while the
user speaks, and never the last word. The rest follows when the turn ends.
"""

from __future__ import annotations

import re

_CJK = re.compile("[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
_NOT_WORD = re.compile(r"[^\w']+")


def _units(text: str) -> tuple[list[str], str]:
    """Words and the separator that joins them; characters for scripts written without spaces."""
    if _CJK.search(text):
        return [c for c in text if not c.isspace()], ""
    return text.split(), " "


def _norm(unit: str) -> str:
    return _NOT_WORD.sub("", unit.lower())


def _agreement(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if _norm(x) != _norm(y):
            break
        n += 1
    return n


def _resume_at(units: list[str], sent: list[str]) -> int:
    """Where in ``units`` the part already ``sent`` ends: after the longest run of units that matches
    the end of ``sent``; with no match at all, after as many units as were sent."""
    best_end, best_run = min(len(sent), len(units)), 0
    for end in range(1, len(units) + 1):
        run = 0
        while run < min(end, len(sent)) and _norm(units[end - 1 - run]) == _norm(sent[-1 - run]):
            run += 1
        if run > best_run:
            best_end, best_run = end, run
    return best_end


class IncrementalTranscript:
    """One utterance's transcript, turned into the chunks to send."""

    def __init__(self) -> None:
        self._sent: list[str] = []
        self._previous: list[str] = []
        # Whether an earlier utterance was sent: clients concatenate the chunks, and a turn the user
        # goes on with after a pause (or the next turn) must not run into it ("a table.It's for four").
        self._spoke_before = False

    @property
    def pending(self) -> bool:
        """Whether chunks of an unfinished utterance were sent."""
        return bool(self._sent)

    def interim(self, hypothesis: str) -> str:
        """The chunk to send for a new interim hypothesis ("" when nothing new is certain)."""
        units, sep = _units(hypothesis)
        agreed = min(_agreement(units, self._previous), len(units) - 1)
        self._previous = units
        if agreed <= len(self._sent) or _agreement(units, self._sent) < len(self._sent):
            return ""
        return self._emit(units[len(self._sent) : agreed], sep)

    def final(self, text: str) -> str:
        """The last chunk: the final transcript beyond what was sent.

        The final decode may differ from the interim ones anywhere, also in a word already sent ("Um,
        what time…" then "What time…"): the rest resumes after the place where the words sent last
        line up with the final text, so nothing is sent twice and the chunks read as one utterance.
        """
        units, sep = _units(text)
        chunk = self._emit(units[_resume_at(units, self._sent) :], sep)
        self._spoke_before = self._spoke_before or bool(chunk) or bool(self._sent)
        self._sent, self._previous = [], []
        return chunk

    def _emit(self, units: list[str], sep: str) -> str:
        if not units:
            return ""
        lead = sep if self._sent or self._spoke_before else ""
        self._sent.extend(units)
        return lead + sep.join(units)
