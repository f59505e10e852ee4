"""Turn-taking, decided in one place: which reply runs, when it is released, cut, dropped or queued.

A sans-I/O state machine in the manner of h11: ``TurnCore.handle(event)`` changes the core's state and
returns the actions the session (the shell) must perform, in order. It never awaits, never touches a
socket, a model or the history; the user turns it is given are opaque payloads that it hands back in
``StartReply``. Every transition is a row of ``TRANSITIONS``; ``mermaid_diagram()`` draws the table
(docs/life-of-a-turn.md holds its output, and a test keeps the two the same).

The ordering rule for user turns (issue 9, defect 7), in words:

* A reply the client has seen or heard part of is cut only by the start of the user's speech (barge-in,
  unless ``activityHandling`` is NO_INTERRUPTION), a typed turn (``clientContent``, ``realtimeInput.text``:
  "a message here will interrupt any current model generation") or a function result scheduled INTERRUPT.
* A spoken turn that *ends* while a reply is in flight never cuts it. If the client has seen nothing of
  that reply yet, the reply is withdrawn unseen and one new reply answers both turns (merged); otherwise
  the spoken turn waits and is answered as soon as the reply ends. No finished turn is ever dropped.
* A speculative reply (started in a pause, before the end of the turn is decided) is invisible: it is
  released if the turn ends with the words it answers, and discarded without a trace otherwise.
* A WHEN_IDLE function result is answered once no reply is in flight and the user is not speaking; any
  reply released meanwhile answers it too, since the result is already in the history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

T = TypeVar("T")  # a user turn, opaque to the core (the session's Content)


class State(Enum):
    IDLE = "idle"  # no reply in flight
    SPECULATING = "speculating"  # a reply to a pause's words is being prepared; the client sees none of it
    REPLYING = "replying"  # a released reply is in flight (generating, speaking or awaiting results)
    CLOSED = "closed"


# ------------------------------------------------------------------------------------------------ events


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The user started speaking (VAD onset, or ``activityStart``)."""

    reply_seen: bool = True  # the client was sent something of the reply in flight (the shell knows)


@dataclass(frozen=True, slots=True)
class UserPaused:
    """The words so far, decoded in a pause that has not (yet) ended the turn."""

    text: str
    language: str


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    """Speech again after ``UserPaused``: the utterance goes on."""


@dataclass(frozen=True, slots=True)
class TurnDropped:
    """A ``SpeechStarted`` that did not become a turn (noise, an empty transcript)."""


@dataclass(frozen=True, slots=True)
class SpokenTurnEnded(Generic[T]):
    text: str
    language: str
    turn: T | None  # None when the turn has no words
    reply_seen: bool  # the client was sent something of the reply in flight (the shell knows)
    # clock() before which a reply this event releases or starts may not be heard (0: at once); see
    # TurnPolicy.holds_reply.
    speak_after: float = 0.0


@dataclass(frozen=True, slots=True)
class TypedTurn(Generic[T]):
    turn: T


@dataclass(frozen=True, slots=True)
class Interjection:
    """``clientContent`` without ``turnComplete``: context that cuts the reply, but no turn yet."""


@dataclass(frozen=True, slots=True)
class ReplyEnded:
    reply_id: int


@dataclass(frozen=True, slots=True)
class ResultsArrived:
    """Function results that the model should answer (NON_BLOCKING calls)."""

    interrupt: bool  # scheduling INTERRUPT; otherwise WHEN_IDLE


@dataclass(frozen=True, slots=True)
class TimeUp:
    """The connection or session time limit is reached."""


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection is gone."""


@dataclass(frozen=True, slots=True)
class _BecameIdle:
    """Internal: raised by the core itself after every transition that ends in IDLE."""

    speak_after: float = 0.0  # the triggering event's (a spoken turn's end), for a reply it starts


Event = (
    SpeechStarted
    | UserPaused
    | SpeechResumed
    | TurnDropped
    | SpokenTurnEnded[T]
    | TypedTurn[T]
    | Interjection
    | ReplyEnded
    | ResultsArrived
    | TimeUp
    | Closed
)


# ------------------------------------------------------------------------------------------------ actions


@dataclass(frozen=True, slots=True)
class Speculate:
    """Start a reply to ``text`` that is held back (nothing sent) until released."""

    reply_id: int
    text: str
    language: str


@dataclass(frozen=True, slots=True)
class Release:
    """The turn ended with the speculative reply's words: commit its user turn, let its output out."""

    reply_id: int
    speak_after: float = 0.0  # clock() before which it may not be heard (0: at once)


@dataclass(frozen=True, slots=True)
class Discard:
    """Cancel the speculative reply; its tentative user turn never reaches the history."""

    reply_id: int


@dataclass(frozen=True, slots=True)
class Withdraw:
    """Cancel a released reply the client has seen nothing of; its user turns stay in the history."""

    reply_id: int


@dataclass(frozen=True, slots=True)
class Interrupt:
    """Cut the reply: keep what was sent of it, send ``interrupted`` (and cancel its open calls), then
    ``turnComplete``."""

    reply_id: int


@dataclass(frozen=True, slots=True)
class StartReply(Generic[T]):
    """Add ``turns`` (oldest first) to the history and start a released reply that answers them."""

    reply_id: int
    turns: tuple[T, ...]
    spoken: bool  # any of the turns was spoken (the prompt's input modality)
    speak_after: float = 0.0  # clock() before which it may not be heard (0: at once)


@dataclass(frozen=True, slots=True)
class AnswerResults:
    """Start a released reply about the function results in the history (no new user words)."""

    reply_id: int


@dataclass(frozen=True, slots=True)
class EndSession:
    """Close the connection normally (the time limit)."""


Action = Speculate | Release | Discard | Withdraw | Interrupt | StartReply[T] | AnswerResults | EndSession


# ------------------------------------------------------------------------------------------------ the table

_Guard = Callable[["TurnCore[object]", object], bool]


@dataclass(frozen=True, slots=True)
class Transition:
    state: State
    event: type
    guard: str  # a key of GUARDS; "" when the row always applies
    actions: tuple[str, ...]  # names of the action kinds, in order (the effects are in TurnCore._do)
    target: State


GUARDS: dict[str, _Guard] = {
    "same words": lambda core, ev: core._speculation == (ev.text, ev.language),  # type: ignore[attr-defined]
    "other words": lambda core, ev: core._speculation != (ev.text, ev.language),  # type: ignore[attr-defined]
    "no words": lambda core, ev: ev.turn is None,  # type: ignore[attr-defined]
    "barge-in on, reply seen": lambda core, ev: core.barge_in and ev.reply_seen,  # type: ignore[attr-defined]
    "barge-in on, reply unseen": lambda core, ev: core.barge_in and not ev.reply_seen,  # type: ignore[attr-defined]
    "barge-in off": lambda core, _: not core.barge_in,
    "reply unseen": lambda core, ev: ev.turn is not None and not ev.reply_seen,  # type: ignore[attr-defined]
    "reply seen": lambda core, ev: ev.turn is not None and ev.reply_seen,  # type: ignore[attr-defined]
    "current reply": lambda core, ev: ev.reply_id == core.reply_id,  # type: ignore[attr-defined]
    "stale reply": lambda core, ev: ev.reply_id != core.reply_id,  # type: ignore[attr-defined]
    "interrupt": lambda core, ev: ev.interrupt,  # type: ignore[attr-defined]
    "when idle": lambda core, ev: not ev.interrupt,  # type: ignore[attr-defined]
    "turns waiting": lambda core, _: bool(core._waiting),
    "withdrawn, user silent": lambda core, _: not core._waiting and core._reanswer and not core.user_speaking,
    "results waiting, user silent": lambda core, _: (
        not core._waiting and not core._reanswer and core._results_waiting and not core.user_speaking
    ),
    "nothing waiting": lambda core, _: (
        not core._waiting and not ((core._reanswer or core._results_waiting) and not core.user_speaking)
    ),
}

S, P, I = State.SPECULATING, State.REPLYING, State.IDLE  # noqa: E741 (rows read as a table)

TRANSITIONS: tuple[Transition, ...] = (
    # Nothing in flight.
    Transition(I, SpeechStarted, "", (), I),
    Transition(I, UserPaused, "", ("Speculate",), S),
    Transition(I, SpeechResumed, "", (), I),
    Transition(I, TurnDropped, "", (), I),
    Transition(I, SpokenTurnEnded, "no words", (), I),
    Transition(I, SpokenTurnEnded, "", ("StartReply",), P),
    Transition(I, TypedTurn, "", ("StartReply",), P),
    Transition(I, Interjection, "", (), I),
    Transition(I, ReplyEnded, "", (), I),
    Transition(I, ResultsArrived, "interrupt", ("AnswerResults",), P),
    Transition(I, ResultsArrived, "when idle", ("wait for idle",), I),
    Transition(I, _BecameIdle, "turns waiting", ("StartReply",), P),
    Transition(I, _BecameIdle, "withdrawn, user silent", ("StartReply",), P),
    Transition(I, _BecameIdle, "results waiting, user silent", ("AnswerResults",), P),
    Transition(I, _BecameIdle, "nothing waiting", (), I),
    # A speculative reply, unseen.
    Transition(S, SpeechStarted, "", ("Discard",), I),
    Transition(S, UserPaused, "same words", (), S),
    Transition(S, UserPaused, "other words", ("Discard", "Speculate"), S),
    Transition(S, SpeechResumed, "", ("Discard",), I),
    Transition(S, TurnDropped, "", ("Discard",), I),
    Transition(S, SpokenTurnEnded, "no words", ("Discard",), I),
    Transition(S, SpokenTurnEnded, "same words", ("Release",), P),
    Transition(S, SpokenTurnEnded, "", ("Discard", "StartReply"), P),
    Transition(S, TypedTurn, "", ("Discard", "StartReply"), P),
    Transition(S, Interjection, "", ("Discard",), I),
    Transition(S, ReplyEnded, "stale reply", (), S),
    # A speculative reply can only end once released; ending unreleased means it failed (the shell
    # closes the session), so the core just forgets it.
    Transition(S, ReplyEnded, "current reply", (), I),
    Transition(S, ResultsArrived, "interrupt", ("Discard", "AnswerResults"), P),
    Transition(S, ResultsArrived, "when idle", ("wait for idle",), S),
    # A released reply.
    # Speech cuts a reply the client has seen; one it has not seen yet (the turn ended at a sentence
    # pause and the user goes on) is withdrawn without a word, and answered with what the user adds.
    Transition(P, SpeechStarted, "barge-in on, reply seen", ("Interrupt",), I),
    Transition(P, SpeechStarted, "barge-in on, reply unseen", ("Withdraw", "answer later"), I),
    Transition(P, SpeechStarted, "barge-in off", (), P),
    Transition(P, UserPaused, "", (), P),
    Transition(P, SpeechResumed, "", (), P),
    Transition(P, TurnDropped, "", (), P),
    Transition(P, SpokenTurnEnded, "no words", (), P),
    Transition(P, SpokenTurnEnded, "reply unseen", ("Withdraw", "StartReply"), P),
    Transition(P, SpokenTurnEnded, "reply seen", ("queue the turn",), P),
    Transition(P, TypedTurn, "", ("Interrupt", "StartReply"), P),
    Transition(P, Interjection, "", ("Interrupt",), I),
    Transition(P, ReplyEnded, "current reply", (), I),
    Transition(P, ReplyEnded, "stale reply", (), P),
    Transition(P, ResultsArrived, "interrupt", ("Interrupt", "AnswerResults"), P),
    Transition(P, ResultsArrived, "when idle", ("wait for idle",), P),
)
# From any state but CLOSED: the time limit, and the end of the connection.
TRANSITIONS += tuple(
    row
    for state in (I, S, P)
    for row in (
        Transition(state, TimeUp, "", ("EndSession",), State.CLOSED),
        Transition(state, Closed, "", (), State.CLOSED),
    )
)
del S, P, I


class InvalidTransition(RuntimeError):
    """An event no row of the table accepts: a bug in the shell or in the table."""


@dataclass(slots=True)
class TurnCore(Generic[T]):
    """The turn-taking decisions of one session. See the module docstring for the rules."""

    barge_in: bool = True  # activityHandling is not NO_INTERRUPTION
    state: State = State.IDLE
    reply_id: int = 0  # the reply in flight (SPECULATING, REPLYING), else the last one
    user_speaking: bool = False
    _speculation: tuple[str, str] | None = None  # (text, language) of the speculative reply
    _waiting: list[T] = field(default_factory=list)  # finished user turns not answered yet
    _waiting_spoken: bool = False
    _results_waiting: bool = False  # WHEN_IDLE function results not answered yet
    # A reply was withdrawn unseen when the user went on speaking: its turns, in the history, still
    # want an answer (with whatever the user adds, or alone if what follows is not a turn).
    _reanswer: bool = False
    _next_id: int = 1

    def handle(self, event: Event[T]) -> list[Action[T]]:
        """Apply ``event``; return what the shell must do, in order. Raises ``InvalidTransition``."""
        if self.state is State.CLOSED:
            return []  # after the end nothing happens, whatever arrives late
        self._note(event)
        actions = self._apply(event)
        if self.state is State.IDLE and not isinstance(event, Closed | TimeUp):
            actions += self._apply(_BecameIdle(_speak_after(event)))
        return actions

    # ---------------------------------------------------------------------------------------------

    def _note(self, event: object) -> None:
        """Facts every row depends on alike, kept before the table is consulted."""
        if isinstance(event, SpeechStarted):
            self.user_speaking = True
        elif isinstance(event, SpokenTurnEnded | TurnDropped):
            self.user_speaking = False

    def _apply(self, event: object) -> list[Action[T]]:
        row = self._row(event)
        actions: list[Action[T]] = []
        for name in row.actions:
            actions.extend(self._do(name, event))
        self.state = row.target
        if row.target is not State.SPECULATING:
            self._speculation = None
        return actions

    def _row(self, event: object) -> Transition:
        for row in TRANSITIONS:
            if (
                row.state is self.state
                and isinstance(event, row.event)
                and (not row.guard or GUARDS[row.guard](self, event))  # type: ignore[arg-type]
            ):
                return row
        raise InvalidTransition(f"no transition from {self.state.name} on {type(event).__name__}")

    def _new_reply(self) -> int:
        self.reply_id = self._next_id
        self._next_id += 1
        return self.reply_id

    def _do(self, name: str, event: object) -> list[Action[T]]:
        if name == "Speculate":
            assert isinstance(event, UserPaused)
            self._speculation = (event.text, event.language)
            return [Speculate(self._new_reply(), event.text, event.language)]
        if name == "Release":
            self._results_waiting = self._reanswer = False  # its prompt holds them
            return [Release(self.reply_id, _speak_after(event))]
        if name == "Discard":
            self._speculation = None
            return [Discard(self.reply_id)]
        if name == "Withdraw":
            return [Withdraw(self.reply_id)]
        if name == "Interrupt":
            return [Interrupt(self.reply_id)]
        if name == "StartReply":
            if isinstance(event, SpokenTurnEnded | TypedTurn) and event.turn is not None:
                self._waiting.append(event.turn)
                self._waiting_spoken |= isinstance(event, SpokenTurnEnded)
            turns, spoken = tuple(self._waiting), self._waiting_spoken or self._reanswer
            self._waiting, self._waiting_spoken = [], False
            self._results_waiting = self._reanswer = False
            return [StartReply(self._new_reply(), turns, spoken, _speak_after(event))]
        if name == "AnswerResults":
            if self._waiting:  # turns queued meanwhile: one reply answers them and the results
                return self._do("StartReply", event)
            self._results_waiting = False
            return [AnswerResults(self._new_reply())]
        if name == "queue the turn":
            assert isinstance(event, SpokenTurnEnded) and event.turn is not None
            self._waiting.append(event.turn)
            self._waiting_spoken = True
            return []
        if name == "answer later":
            self._reanswer = True
            return []
        if name == "wait for idle":
            self._results_waiting = True
            return []
        if name == "EndSession":
            return [EndSession()]
        raise AssertionError(f"unknown action {name}")


def _speak_after(event: object) -> float:
    """When a reply ``event`` releases or starts may be heard: a spoken turn's end says (0: at once)."""
    return event.speak_after if isinstance(event, SpokenTurnEnded | _BecameIdle) else 0.0


def mermaid_diagram() -> str:
    """The transition table as a Mermaid state diagram (docs/life-of-a-turn.md)."""
    lines = ["stateDiagram-v2", "    [*] --> idle"]
    for row in TRANSITIONS:
        if row.event is Closed:
            continue
        label = row.event.__name__.lstrip("_")
        if row.guard:
            label += f" [{row.guard}]"
        if row.actions:
            label += " / " + ", ".join(row.actions)
        lines.append(f"    {row.state.value} --> {row.target.value}: {label}")
    lines.append("    closed --> [*]")
    return "\n".join(lines) + "\n"
