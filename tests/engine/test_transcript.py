"""Append-only input transcription chunks from revisable hypotheses."""

from __future__ import annotations

from openlive.engine.transcript import IncrementalTranscript


def test_only_words_two_hypotheses_agree_on_are_sent_and_never_the_last() -> None:
    t = IncrementalTranscript()
    assert t.interim("What in") == ""  # nothing to agree with yet
    assert t.interim("What is the") == "What"  # "in" was revised: only "What" agreed
    assert t.interim("What is the capital") == " is the"
    assert t.interim("What is the capital of") == " capital"
    assert t.final("What is the capital of France?") == " of France?"


def test_concatenated_chunks_equal_the_final_transcript_when_hypotheses_only_grow() -> None:
    t = IncrementalTranscript()
    hypotheses = [
        "Ask not",
        "Ask not what your",
        "Ask not what your country can",
        "Ask not what your country",
    ]
    chunks = [t.interim(h) for h in hypotheses]
    final = "Ask not what your country can do for you."
    chunks.append(t.final(final))
    assert "".join(chunks) == final


def test_punctuation_and_case_do_not_break_agreement() -> None:
    t = IncrementalTranscript()
    t.interim("Hello. How are")
    assert t.interim("hello, how are you") == "hello, how are"
    assert t.final("Hello, how are you?") == " you?"


def test_a_revised_word_after_sending_resumes_after_the_agreed_part() -> None:
    t = IncrementalTranscript()
    t.interim("one two three")
    assert t.interim("one two three four") == "one two three"
    # The final revises the sent "three": it is not sent again ("three tree"); what follows it is.
    assert t.final("one two tree four") == " four"


def test_a_revised_first_word_does_not_repeat_the_utterance() -> None:
    t = IncrementalTranscript()
    t.interim("Um, what time is lunch on June")
    sent = t.interim("Um, what time is lunch on June 5")
    assert sent == "Um, what time is lunch on June"
    # The final drops "Um," (seen in a real session: the whole question was sent a second time).
    assert t.final("What time is lunch on June 5th?") == " 5th?"


def test_japanese_is_chunked_by_character() -> None:
    t = IncrementalTranscript()
    t.interim("日本の首")
    assert t.interim("日本の首都は") == "日本の首"
    assert t.final("日本の首都はどこですか") == "都はどこですか"


def test_final_resets_for_the_next_utterance() -> None:
    t = IncrementalTranscript()
    t.interim("a b c")
    t.interim("a b c d")
    assert t.pending
    t.final("a b c d")
    assert not t.pending
    # The next utterance's first chunk is set apart from the last one's: clients concatenate chunks.
    assert t.final("new words") == " new words"


def test_an_utterance_after_a_pause_does_not_run_into_the_one_before() -> None:
    # Seen with google-genai: "I would like to book a table.It's for four people." after a 0.4 s pause.
    t = IncrementalTranscript()
    first = t.final("I would like to book a table.")
    t.interim("It's for")
    second = t.interim("It's for four") + t.final("It's for four people.")
    assert first + second == "I would like to book a table. It's for four people."


def test_the_first_utterance_has_no_leading_space() -> None:
    t = IncrementalTranscript()
    assert t.final("Hello there.") == "Hello there."
