"""Cutting a streamed reply into speakable clauses."""

from __future__ import annotations

from openlive.engine.clauses import ClauseSplitter, speakable


def feed(splitter: ClauseSplitter, text: str, step: int = 3) -> list[str]:
    out: list[str] = []
    for i in range(0, len(text), step):
        out += splitter.push(text[i : i + step])
    if rest := splitter.flush():
        out.append(rest)
    return out


def test_the_first_clause_is_cut_early_then_whole_sentences() -> None:
    pieces = feed(ClauseSplitter(), "Sure, Paris is the capital of France. It is on the Seine, in the north.")
    assert pieces == ["Sure, Paris is the capital of France.", "It is on the Seine, in the north."]
    pieces = feed(ClauseSplitter(), "Well, that depends on the season, really. Spring is best.")
    assert pieces[0] == "Well, that depends on the season,"


def test_decimal_points_and_abbreviations_do_not_end_a_sentence() -> None:
    pieces = feed(ClauseSplitter(), "It costs 3.5 dollars, e.g. at Mr. Smith's shop today. Thanks.")
    assert pieces[0].startswith("It costs 3.5 dollars,")
    assert all(not p.endswith(("Mr.", "e.g.")) for p in pieces)


def test_japanese_is_cut_at_its_own_punctuation_without_spaces() -> None:
    pieces = feed(ClauseSplitter(), "日本の首都は東京です。大阪も大きな都市です。")
    assert pieces == ["日本の首都は東京です。", "大阪も大きな都市です。"]
    first = feed(ClauseSplitter(), "はい、東京は日本の首都で、人口が多いです。")
    assert first[0] == "はい、東京は日本の首都で、"


def test_speakable_drops_markup_urls_and_emoji() -> None:
    assert speakable("**Paris** is `great` 😀 see https://x.example/a\n- item") == "Paris is great see item"
