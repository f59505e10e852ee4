import math

import numpy as np
import pytest

from openlive.bench.metrics import (
    contains_keyword,
    corpus_wer,
    edit_distance,
    normalize_text,
    percentile,
    summarize,
    wer,
    word_errors,
)


def test_normalize_lowercases_and_drops_punctuation() -> None:
    assert normalize_text("Ask not, what YOUR country... can do!") == [
        "ask",
        "not",
        "what",
        "your",
        "country",
        "can",
        "do",
    ]
    assert normalize_text("It's well-known — isn't it?") == ["it's", "well", "known", "isn't", "it"]


def test_identical_text_has_no_errors_despite_case_and_punctuation() -> None:
    assert wer("Ever tried. Ever failed.", "ever tried ever failed") == 0.0


def test_substitution_deletion_insertion_each_count_once() -> None:
    ref = "front center speaker"
    assert word_errors(ref, "front centre speaker").errors == 1  # substitution
    assert word_errors(ref, "front speaker").errors == 1  # deletion
    assert word_errors(ref, "the front center speaker").errors == 1  # insertion
    assert wer(ref, "front speaker") == pytest.approx(1 / 3)


def test_edit_distance_is_symmetric_levenshtein() -> None:
    a, b = ["a", "b", "c", "d"], ["a", "x", "c", "d", "e"]
    assert edit_distance(a, b) == 2
    assert edit_distance(b, a) == 2
    assert edit_distance([], b) == 5
    assert edit_distance(a, []) == 4


def test_empty_hypothesis_is_all_deletions_and_empty_reference_is_special() -> None:
    assert wer("front left", "") == 1.0
    assert wer("", "") == 0.0
    assert math.isinf(wer("", "noise"))


def test_corpus_wer_weighs_by_reference_length() -> None:
    pairs = [
        (
            "one two three four five six seven eight nine ten",
            "one two three four five six seven eight nine ten",
        ),
        ("front left", "front right"),
    ]
    # 1 error over 12 words, not the mean of 0 % and 50 %.
    assert corpus_wer(pairs) == pytest.approx(1 / 12)
    assert corpus_wer([]) is None


@pytest.mark.parametrize("q", [0, 5, 50, 90, 95, 100])
def test_percentile_matches_numpy_linear_interpolation(q: float) -> None:
    values = [812.0, 420.5, 655.0, 1300.0, 530.0, 700.0, 610.0]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_edge_cases() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summarize_reports_the_distribution() -> None:
    s = summarize([100.0, 200.0, 300.0, 400.0])
    assert s == {"n": 4, "p50": 250.0, "p95": pytest.approx(385.0), "mean": 250.0, "min": 100.0, "max": 400.0}
    assert summarize([])["p50"] is None


def test_keyword_match_is_on_whole_normalised_words() -> None:
    assert contains_keyword("The capital of France is Paris.", ("paris",))
    assert contains_keyword("There are 7 days.", ("seven", "7"))
    assert not contains_keyword("Parisian food is great.", ("paris",))
