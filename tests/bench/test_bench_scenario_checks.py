"""The app scenario's per-turn checks, on fake transcripts and calls."""

from __future__ import annotations

import pytest

from openlive.bench.scenario_checks import (
    GROUNDING,
    INSTRUCTION,
    TOOL_USE,
    ObservedCall,
    check_turn,
    has_phrase,
    pass_rates,
    tool_markup,
)
from openlive.bench.scenario_script import APP_TURNS, ScriptedTurn


def turn(name: str) -> ScriptedTurn:
    return next(t for t in APP_TURNS if t.name == name)


def by_category(turn_: ScriptedTurn, reply: str, calls: list[ObservedCall]) -> dict[str, bool]:
    return {c.category: c.passed for c in check_turn(turn_, reply, calls)}


def test_the_expected_call_with_the_right_argument_passes_tool_use() -> None:
    calls = [ObservedCall("set_user_name", {"name": "Maria Lopez"})]
    assert by_category(turn("give_name"), "Nice to meet you, Maria!", calls) == {
        TOOL_USE: True,
        INSTRUCTION: True,
    }


@pytest.mark.parametrize(
    "calls",
    [
        [],  # no call
        [ObservedCall("set_user_name", {"name": "Mario"})],  # wrong argument
        [ObservedCall("set_user_name", {"name": "Maria"}), ObservedCall("end_session", {})],  # extra call
    ],
)
def test_a_missing_wrong_or_extra_call_fails_tool_use(calls: list[ObservedCall]) -> None:
    assert by_category(turn("give_name"), "Hello Maria.", calls)[TOOL_USE] is False


def test_arguments_compare_in_lower_case_letters_and_digits() -> None:
    vote = turn("vote_speech")
    assert by_category(vote, "Done.", [ObservedCall("vote_for_session", {"session_id": "T 7"})])[TOOL_USE]
    assert not by_category(vote, "Done.", [ObservedCall("vote_for_session", {"session_id": "T5"})])[TOOL_USE]
    lost = turn("lost_item")
    assert by_category(lost, "Reported.", [ObservedCall("submit_request", {"kind": "lost_item"})])[TOOL_USE]
    assert not by_category(lost, "Sent.", [ObservedCall("submit_request", {"kind": "other"})])[TOOL_USE]


def test_a_call_where_none_is_expected_fails_tool_use() -> None:
    calls = [ObservedCall("add_to_agenda", {"session_id": "T1"})]
    result = by_category(turn("keynote_room"), "It is in Aurora Hall.", calls)
    assert result == {TOOL_USE: False, INSTRUCTION: True, GROUNDING: True}


def test_grounding_needs_every_fact_in_one_of_its_spellings() -> None:
    lunch = turn("lunch_time")
    assert by_category(lunch, "Lunch is at 12:30 PM in the Marina Foyer.", [])[GROUNDING]
    assert by_category(lunch, "Lunch is at 12: 30 PM.", [])[GROUNDING]  # a clause cut inside the time
    assert by_category(lunch, "Lunch starts at twelve thirty.", [])[GROUNDING]
    assert not by_category(lunch, "Lunch is at noon.", [])[GROUNDING]
    assert not by_category(lunch, "Lunch is at 112:30.", [])[GROUNDING]  # a fact starts at a word
    wifi = turn("wifi_password")
    assert by_category(wifi, "The password is bluefjord2026.", [])[GROUNDING]


@pytest.mark.parametrize(
    "reply",
    [
        "You can vote by calling `vote_for_session` with T7.",
        "<tools></tools>",
        '<tool_call>{"name": "end_session"}</tool_call>',
        "I will call end_session now.",
        '{"name": "set_user_name"}',
    ],
)
def test_tool_markup_in_the_transcript_fails_instruction_following(reply: str) -> None:
    assert tool_markup(reply) is not None
    result = check_turn(turn("keynote_room"), reply, [])
    assert next(c for c in result if c.category == INSTRUCTION).passed is False


def test_ordinary_speech_is_not_markup() -> None:
    assert tool_markup("Your session has ended. Goodbye, Maria!") is None
    assert tool_markup("I submitted the request for you.") is None


def test_a_decline_needs_a_refusal_phrase_and_no_call_and_no_number() -> None:
    stocks = turn("out_of_scope")
    assert by_category(stocks, "Sorry, I can only help with the summit.", []) == {
        TOOL_USE: True,
        INSTRUCTION: True,
    }
    assert not by_category(stocks, "Buy index funds and hold them.", [])[INSTRUCTION]
    # "I don't provide …" is a refusal too (the model's own wording in the app scenario).
    assert by_category(stocks, "I don't provide advice on buying shares.", [])[INSTRUCTION]
    assert not by_category(stocks, "You should consult a financial advisor.", [])[INSTRUCTION]
    phone = turn("speaker_phone")
    assert by_category(phone, "I can't share personal contact details.", [])[INSTRUCTION]
    assert not by_category(phone, "Sorry, but it is 206-555-0142.", [])[INSTRUCTION]
    call = [ObservedCall("submit_request", {"kind": "other"})]
    assert not by_category(phone, "Sorry, I cannot share that.", call)[INSTRUCTION]


def test_no_answer_or_a_long_answer_fails_instruction_following() -> None:
    room = turn("keynote_room")
    assert by_category(room, "", [])[INSTRUCTION] is False
    assert by_category(room, " ".join(["Aurora"] * 51), [])[INSTRUCTION] is False
    assert by_category(room, " ".join(["Aurora"] * 50), [])[INSTRUCTION] is True
    # A turn that made its call may say nothing (the app acted).
    assert by_category(turn("goodbye"), "", [ObservedCall("end_session", {})])[INSTRUCTION] is True


def test_has_phrase_reads_apostrophes_and_punctuation_as_spoken() -> None:
    assert has_phrase("I’m sorry, I can’t do that.", ("can't",)) == "can't"
    assert has_phrase("Aurora-Hall", ("aurora hall",)) == "aurora hall"
    assert has_phrase("Nothing here", ("aurora",)) is None


def test_pass_rates_count_only_the_turns_a_category_applies_to() -> None:
    checks = [
        check_turn(turn("keynote_room"), "It's in Aurora Hall.", []),
        check_turn(turn("give_name"), "Hi!", []),
    ]
    rates = pass_rates(checks)
    assert rates[TOOL_USE] == {"passed": 1, "total": 2, "rate": 0.5}
    assert rates[INSTRUCTION] == {"passed": 2, "total": 2, "rate": 1.0}
    assert rates[GROUNDING] == {"passed": 1, "total": 1, "rate": 1.0}
    assert pass_rates([])[GROUNDING]["rate"] is None
