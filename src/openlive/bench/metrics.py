"""The benchmark's arithmetic: word error rate and latency summaries (pure functions)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

_NON_WORD = re.compile(r"[^\w\s']|_")
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> list[str]:
    """Lower case, punctuation dropped (apostrophes inside words kept), split on whitespace.

    Hyphens and dashes separate words ("well-known" → "well known"), as they would when spoken.
    """
    lowered = text.lower().replace("-", " ").replace("’", "'")
    cleaned = _NON_WORD.sub(" ", lowered)
    return [w.strip("'") for w in _SPACE.split(cleaned) if w.strip("'")]


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance over words: substitutions + deletions + insertions (one row of the table)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp_word in enumerate(hypothesis, start=1):
            current[j] = min(
                previous[j] + 1,  # deletion
                current[j - 1] + 1,  # insertion
                previous[j - 1] + (ref_word != hyp_word),  # substitution or match
            )
        previous = current
    return previous[-1]


@dataclass(frozen=True, slots=True)
class WordErrors:
    errors: int
    reference_words: int

    @property
    def rate(self) -> float:
        if self.reference_words == 0:
            return 0.0 if self.errors == 0 else math.inf
        return self.errors / self.reference_words


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    return WordErrors(edit_distance(ref, hyp), len(ref))


def wer(reference: str, hypothesis: str) -> float:
    return word_errors(reference, hypothesis).rate


def corpus_wer(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Total word errors over total reference words (long clips weigh more, as usual); None if empty."""
    counts = [word_errors(ref, hyp) for ref, hyp in pairs]
    words = sum(c.reference_words for c in counts)
    return sum(c.errors for c in counts) / words if words else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(values: Sequence[float]) -> dict[str, float | int | None]:
    """n, p50, p95, mean, min, max of a list of measurements (None fields when empty)."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "mean": None, "min": None, "max": None}
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "mean": sum(values) / len(values),
        "min": min(values),
        "max": max(values),
    }


def contains_keyword(reply: str, keywords: Sequence[str]) -> bool:
    words = set(normalize_text(reply))
    return any(k.lower() in words for k in keywords)
