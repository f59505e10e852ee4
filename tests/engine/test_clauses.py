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
    assert pieces == ["Sure,", "Paris is the capital of France. It is on the Seine, in the north."]
    pieces = feed(ClauseSplitter(), "Paris. It is the capital of France, on the Seine, and it is lovely.")
    assert pieces[0] == "Paris."


def test_without_punctuation_the_first_piece_ends_after_a_few_words_on_a_content_word() -> None:
    # One-sentence answers would otherwise wait for all their tokens before any audio.
    assert feed(ClauseSplitter(), "Jupiter is the largest planet in our solar system.") == [
        "Jupiter is the largest",
        "planet in our solar system.",
    ]
    # Never on a function word or before a number's unit.
    assert feed(ClauseSplitter(), "Paris is the capital of France.")[0] == "Paris is the capital"
    assert feed(ClauseSplitter(), "There are 7 days in a week.")[0] == "There are 7 days"
    assert feed(ClauseSplitter(), "It starts at 9:00 AM on Thursday.")[0] == "It starts at 9:00 AM"
    # Only the first piece is cut at a word; the rest waits for sentence ends.
    pieces = feed(
        ClauseSplitter(), "The dragon slept on its gold for many long years and never woke up. The end."
    )
    assert pieces == ["The dragon slept", "on its gold for many long years and never woke up.", "The end."]


def test_a_word_is_not_cut_before_the_next_token_shows_it_is_complete() -> None:
    splitter = ClauseSplitter()
    assert splitter.push("Jupiter is the larg") == []
    assert splitter.push("est") == []  # "largest" or "largesse"? not known yet
    assert splitter.push(" planet") == ["Jupiter is the largest"]


def test_the_tentative_first_piece_is_the_cut_the_next_word_would_confirm() -> None:
    # What the speaker may synthesise a token early (Speaker.draft): exactly what push then returns.
    splitter = ClauseSplitter()
    assert splitter.push("Jupiter is the larg") == []
    assert splitter.tentative() == "Jupiter is the larg"  # if the word ends here, the cut comes here
    assert splitter.push("est") == []
    assert splitter.tentative() == "Jupiter is the largest"
    assert splitter.push(" planet") == ["Jupiter is the largest"]
    assert splitter.tentative() is None  # the first piece is out: later pieces end at sentence ends
    # No cut would come: too few words, a function word or a number last, a word still open.
    for text in ("Jupiter is", "Paris is the", "There are 7", "Paris is the capital "):
        splitter = ClauseSplitter()
        splitter.push(text)
        assert splitter.tentative() is None, text
    splitter = ClauseSplitter()
    splitter.push("日本の首都は")
    assert splitter.tentative() is None  # Japanese cuts after a particle, once the next phrase begins


def test_a_hurried_piece_after_the_first_is_cut_like_the_first() -> None:
    # When the speech queued runs low (Speaker.running_low), a later piece ends at a clause mark or
    # after a few words on a content word, not at the sentence end.
    text = "Sure, lunch is served from 12:30 PM to 1:30 PM, every day in the Marina Foyer."
    splitter = ClauseSplitter()
    assert splitter.push("Sure, lunch is served from 12") == ["Sure,"]
    assert splitter.push(":30 PM to 1", hurry=False) == []  # speech is queued: wait
    assert splitter.tentative() is None
    assert splitter.push(":30 PM", hurry=True) == ["lunch is served"]  # one early piece per push
    assert splitter.push(",", hurry=True) == ["from 12:30 PM to 1:30 PM,"]  # a clause mark comes first
    assert splitter.push(" every day in the Marina", hurry=True) == []  # "Marina" may not be complete yet
    assert splitter.tentative() is None  # drafts are for the first piece only
    assert splitter.push(" Foyer.") == []  # not hurried: a sentence under 40 characters waits
    assert splitter.flush() == "every day in the Marina Foyer."
    assert feed(ClauseSplitter(), text) == ["Sure,", text[6:]]


def test_no_word_cut_inside_a_name() -> None:
    # Two capitalised words in a row are one name: the cut comes after the name, not inside it.
    splitter = ClauseSplitter()
    assert splitter.push("It is at Rooftop") == []
    assert splitter.tentative() is None  # "Rooftop" may go on with a capitalised word
    assert splitter.push(" Terr") == []
    assert splitter.push("ace on") == ["It is at Rooftop Terrace"]
    assert feed(ClauseSplitter(), "Priya Natarajan Iyer gives it.", step=1)[0] == "Priya Natarajan Iyer"
    assert feed(ClauseSplitter(), "It is Aurora Hall on level one.", step=1)[0] == "It is Aurora Hall"


def test_punctuation_still_wins_when_it_comes_first() -> None:
    assert feed(ClauseSplitter(), "Sure, it is. Paris is the capital.")[0] == "Sure,"
    assert feed(ClauseSplitter(), "Seven days.")[0] == "Seven days."


def test_a_sentence_end_at_the_end_of_the_stream_is_cut_without_waiting_for_the_next_token() -> None:
    splitter = ClauseSplitter()
    assert splitter.push("The capital is Paris") == []
    assert splitter.push(".") == ["The capital is Paris."]
    # A digit before the point may be a decimal: wait for what follows.
    splitter = ClauseSplitter()
    assert splitter.push("It costs 3") == [] and splitter.push(".") == []
    assert splitter.push("5 euros. ") == ["It costs 3.5 euros."]


def test_decimal_points_and_abbreviations_do_not_end_a_sentence() -> None:
    pieces = feed(ClauseSplitter(), "It costs 3.5 dollars, e.g. at Mr. Smith's shop today. Thanks.")
    assert pieces[0].startswith("It costs 3.5 dollars,")
    assert all(not p.endswith(("Mr.", "e.g.")) for p in pieces)


def test_japanese_is_cut_at_its_own_punctuation_without_spaces() -> None:
    pieces = feed(ClauseSplitter(), "東京、大阪、京都。日本の大きな都市はどこも人が多いですね。")
    assert pieces == ["東京、大阪、", "京都。日本の大きな都市はどこも人が多いですね。"]
    assert feed(ClauseSplitter(), "はい、そうです。")[0] == "はい、そうです。"


def test_the_first_japanese_piece_ends_after_a_particle_that_closes_a_phrase() -> None:
    assert feed(ClauseSplitter(), "日本の首都は東京です。大阪も大きな都市です。") == [
        "日本の首都は",
        "東京です。大阪も大きな都市です。",
    ]
    assert feed(ClauseSplitter(), "東京タワーは333メートルです。")[0] == "東京タワーは"
    assert feed(ClauseSplitter(), "富士山の高さは3776メートルです。")[0] == "富士山の高さは"
    assert feed(ClauseSplitter(), "はい、東京は日本の首都で、人口が多いです。")[0] == "はい、東京は"


def test_no_japanese_cut_inside_words_compounds_or_a_too_short_phrase() -> None:
    for text in (
        "今日はいい天気ですね。",
        "日本には四つの島があります。",
        "私は学生です。",
        "それではまた明日。",
    ):
        assert feed(ClauseSplitter(), text) == [text], text


def test_a_japanese_particle_is_not_cut_before_the_next_character_arrives() -> None:
    splitter = ClauseSplitter()
    assert splitter.push("日本の首都") == []
    assert splitter.push("は") == []  # "日本の首都は" could still go on as "日本の首都はい…"
    assert splitter.push("東京") == ["日本の首都は"]


def test_speakable_drops_markup_urls_and_emoji() -> None:
    assert speakable("**Paris** is `great` 😀 see https://x.example/a\n- item") == "Paris is great see item"


def test_no_cut_inside_a_time_or_a_number() -> None:
    splitter = ClauseSplitter()
    pieces = splitter.push("Lunch is at 12:")
    pieces += splitter.push("00 PM, and the total is 5,")
    pieces += splitter.push("000 dollars. ")
    pieces += [p for p in [splitter.flush()] if p]
    text = " ".join(pieces)
    assert "12:00 PM" in text and "5,000 dollars" in text, pieces


def test_tool_markup_is_never_spoken() -> None:
    assert speakable("<tools></tools>") == ""
    assert speakable('<tool_call>{"name": "vote", "arguments": {}}</tool_call> Done.') == "Done."
    assert speakable("You can vote by calling `vote_for_session(session_id=3)` now.") == (
        "You can vote by calling now."
    )
    assert speakable("It costs 5 (five) euros.") == "It costs 5 (five) euros."
