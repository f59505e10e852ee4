"""The sans-I/O turn-taking core: its table is complete, its rules hold, and the docs show the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from openlive.engine.turn_core import (
    AnswerResults,
    Closed,
    Discard,
    Event,
    Interjection,
    Interrupt,
    Release,
    ReplyEnded,
    ResultsArrived,
    Speculate,
    SpeechResumed,
    SpeechStarted,
    SpokenTurnEnded,
    StartReply,
    State,
    TimeUp,
    TurnCore,
    TurnDropped,
    TypedTurn,
    UserPaused,
    Withdraw,
    mermaid_diagram,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "life-of-a-turn.md"


def core_in(state: State, *, barge_in: bool = True) -> TurnCore[str]:
    core: TurnCore[str] = TurnCore(barge_in=barge_in)
    if state is State.SPECULATING:
        core.handle(UserPaused("hello", "en"))
    elif state is State.REPLYING:
        core.handle(TypedTurn("typed"))
    assert core.state is state
    return core


def every_event(core: TurnCore[str]) -> list[Event[str]]:
    return [
        SpeechStarted(),
        UserPaused("hello", "en"),
        UserPaused("other", "en"),
        SpeechResumed(),
        TurnDropped(),
        SpokenTurnEnded("hello", "en", "hello", reply_seen=False),
        SpokenTurnEnded("hello", "en", "hello", reply_seen=True),
        SpokenTurnEnded("other", "en", "other", reply_seen=False),
        SpokenTurnEnded("", "en", None, reply_seen=False),
        TypedTurn("typed"),
        Interjection(),
        ReplyEnded(core.reply_id),
        ReplyEnded(core.reply_id + 100),
        ResultsArrived(interrupt=True),
        ResultsArrived(interrupt=False),
        TimeUp(),
        Closed(),
    ]


@pytest.mark.parametrize("barge_in", [True, False])
@pytest.mark.parametrize("state", [State.IDLE, State.SPECULATING, State.REPLYING])
def test_every_event_has_a_transition_in_every_state(state: State, barge_in: bool) -> None:
    for event in every_event(core_in(state, barge_in=barge_in)):
        # A fresh core each time (the same reply ids: core_in is deterministic); raises
        # InvalidTransition when no row matches.
        core_in(state, barge_in=barge_in).handle(event)


def test_the_docs_show_the_table() -> None:
    assert mermaid_diagram() in DOC.read_text(), "regenerate the diagram in docs/life-of-a-turn.md"


def test_a_typed_turn_during_speculation_then_the_spoken_end_merges_both() -> None:
    core = core_in(State.SPECULATING)
    speculative = core.reply_id
    actions = core.handle(TypedTurn("typed"))
    assert [type(a) for a in actions] == [Discard, StartReply]
    assert actions[0] == Discard(speculative)
    typed_reply = core.reply_id
    actions = core.handle(SpokenTurnEnded("hello", "en", "hello", reply_seen=False))
    assert [type(a) for a in actions] == [Withdraw, StartReply]
    assert actions[0] == Withdraw(typed_reply)
    start = actions[1]
    assert isinstance(start, StartReply) and start.turns == ("hello",) and start.spoken


def test_a_spoken_end_after_the_reply_was_seen_waits_for_it() -> None:
    core = core_in(State.REPLYING)
    assert core.handle(SpokenTurnEnded("hello", "en", "hello", reply_seen=True)) == []
    actions = core.handle(ReplyEnded(core.reply_id))
    assert len(actions) == 1 and isinstance(actions[0], StartReply) and actions[0].turns == ("hello",)


def test_interrupting_twice_cuts_once() -> None:
    core = core_in(State.REPLYING)
    assert [type(a) for a in core.handle(SpeechStarted())] == [Interrupt]
    assert core.handle(SpeechStarted()) == []
    assert core.state is State.IDLE


def test_no_barge_in_keeps_the_reply() -> None:
    core = core_in(State.REPLYING, barge_in=False)
    assert core.handle(SpeechStarted()) == []
    assert core.state is State.REPLYING


def test_the_speculation_is_released_for_the_same_words_only() -> None:
    core = core_in(State.SPECULATING)
    assert core.handle(UserPaused("hello", "en")) == []
    assert core.handle(SpokenTurnEnded("hello", "en", "hello", reply_seen=False)) == [Release(core.reply_id)]
    core = core_in(State.SPECULATING)
    assert core.handle(UserPaused("hello", "ja")) == [Discard(1), Speculate(2, "hello", "ja")]


def test_a_spoken_turn_says_when_the_reply_it_releases_or_starts_may_be_heard() -> None:
    # The listener holds a reply to a statement ended in a short pause (TurnPolicy.holds_reply): the
    # time travels with the turn's end to the action that lets the reply out, and nowhere else.
    core = core_in(State.SPECULATING)
    assert core.handle(SpokenTurnEnded("hello", "en", "hello", False, speak_after=7.5)) == [
        Release(core.reply_id, speak_after=7.5)
    ]
    core = core_in(State.SPECULATING)
    actions = core.handle(SpokenTurnEnded("hi there", "en", "hi there", False, speak_after=7.5))
    assert actions == [Discard(1), StartReply(2, ("hi there",), True, speak_after=7.5)]
    core = core_in(State.IDLE)
    assert core.handle(TypedTurn("typed")) == [StartReply(1, ("typed",), False)]  # at once
    # A turn queued behind a reply the client heard is answered when that reply ends: at once.
    core = core_in(State.REPLYING)
    assert core.handle(SpokenTurnEnded("more", "en", "more", True, speak_after=7.5)) == []
    assert core.handle(ReplyEnded(core.reply_id)) == [StartReply(2, ("more",), True)]


def test_a_when_idle_result_waits_for_the_user_and_the_reply() -> None:
    core = core_in(State.SPECULATING)
    core.handle(SpeechStarted())  # the discard; the user speaks
    core.handle(UserPaused("hello", "en"))
    assert core.handle(ResultsArrived(interrupt=False)) == []
    assert [type(a) for a in core.handle(SpeechResumed())] == [Discard]  # still speaking: not yet
    assert [type(a) for a in core.handle(TurnDropped())] == [AnswerResults]


def test_a_released_reply_answers_waiting_results_too() -> None:
    core = core_in(State.IDLE)
    core.handle(SpeechStarted())
    core.handle(ResultsArrived(interrupt=False))
    assert [type(a) for a in core.handle(SpokenTurnEnded("hi", "en", "hi", reply_seen=False))] == [StartReply]
    assert core.handle(ReplyEnded(core.reply_id)) == []  # nothing left to answer


def test_nothing_happens_after_the_end() -> None:
    core = core_in(State.REPLYING)
    core.handle(Closed())
    for event in every_event(core):
        assert core.handle(event) == []


def test_speech_withdraws_an_unseen_reply_and_answers_with_what_follows() -> None:
    core = core_in(State.REPLYING)
    assert [type(a) for a in core.handle(SpeechStarted(reply_seen=False))] == [Withdraw]
    actions = core.handle(SpokenTurnEnded("and then", "en", "and then", reply_seen=False))
    assert len(actions) == 1 and isinstance(actions[0], StartReply) and actions[0].turns == ("and then",)
    core = core_in(State.REPLYING)
    core.handle(SpeechStarted(reply_seen=False))
    actions = core.handle(TurnDropped())  # what followed was not a turn: the first one is answered alone
    assert len(actions) == 1 and isinstance(actions[0], StartReply) and actions[0].turns == ()
