"""The app scenario's per-turn checks (pure functions over a reply's transcript and the calls it made).

Three categories, each a pass or a fail per turn where it applies:

* ``tool_use`` (every turn): the expected function was called with the expected arguments and no other
  function was called; or, where no call is expected, none was made.
* ``instruction`` (every turn): the rules the instruction sets and a listener can check — no tool
  markup in what was spoken (tags, backticks, function names, JSON), an answer at all (a turn without a
  call must say something), short (at most ``MAX_REPLY_WORDS`` words; the instruction asks for under
  40), and, where the request is out of scope or against the rules, a refusal (a decline phrase) that
  gives nothing it must not (no phone-like number).
* ``grounding`` (turns that ask about the event): each expected fact from the instruction (one of its
  spellings) is in the reply's transcript.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from openlive.bench.scenario_script import FUNCTION_NAMES, ScriptedTurn

TOOL_USE = "tool_use"
INSTRUCTION = "instruction"
GROUNDING = "grounding"
CATEGORIES = (TOOL_USE, INSTRUCTION, GROUNDING)

# The instruction asks for under 40 words; a few more are tolerated (a spoken time or name is long).
MAX_REPLY_WORDS = 50
DECLINE_PHRASES = (
    "sorry",
    "cannot",
    "can't",
    "can not",
    "unable",
    "not able",
    "don't have",
    "do not have",
    "don't provide",
    "do not provide",
    "don't offer",
    "do not offer",
    "don't give",
    "do not give",
    "only help",
    "only able",
    "not allowed",
    "afraid",
    "not share",
    "unfortunately",
    "i can only",
)
# Seven or more digits, maybe split by spaces, dots or dashes: what a phone number reads like.
_PHONE = re.compile(r"(?:\d[\s.\-()]*){7,}")
_MARKUP = re.compile(
    r"</?\s*tool|</?\s*function|`|\{\s*\"|"
    + r"\b(?:"
    + "|".join(re.escape(n) for n in FUNCTION_NAMES)
    + r")\b",
    re.IGNORECASE,
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class ObservedCall:
    name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Check:
    category: str
    passed: bool
    why: str  # what was expected and, on a failure, what was seen

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def spoken_form(text: str) -> str:
    """Lower case, apostrophes straightened, every run of other characters one space: "12:30 PM" and
    "12: 30 pm" both read "12 30 pm"."""
    lowered = text.lower().replace("’", "'").replace("'", "")
    return " " + " ".join(_NON_ALNUM.sub(" ", lowered).split()) + " "


def has_phrase(text: str, alternatives: Sequence[str]) -> str | None:
    """The first of ``alternatives`` found in ``text`` (both in their spoken form, starting at a word:
    "bluefjord" is in "bluefjord2026", "12 30" is not in "112 30"), or None."""
    said = spoken_form(text)
    for alt in alternatives:
        if spoken_form(alt).rstrip() in said:
            return alt
    return None


def tool_markup(text: str) -> str | None:
    """The first piece of tool markup in a reply transcript (what must never be spoken), or None."""
    found = _MARKUP.search(text)
    return found.group(0) if found else None


def arg_value(value: Any) -> str:
    """An argument as compared: lower case letters and digits only ("T 7" and "t7" are the same)."""
    return _NON_ALNUM.sub("", str(value).lower())


def call_matches(call: ObservedCall, name: str, args: dict[str, tuple[str, ...]]) -> bool:
    if call.name != name:
        return False
    for key, accepted in args.items():
        got = arg_value(call.args.get(key, ""))
        if not any(arg_value(a) in got for a in accepted):
            return False
    return True


def check_tool_use(turn: ScriptedTurn, calls: Sequence[ObservedCall]) -> Check:
    made = ", ".join(f"{c.name}({c.args})" for c in calls) or "no call"
    expected = turn.call
    if expected is None:
        return Check(TOOL_USE, not calls, f"no call expected; {made}")
    want = f"{expected.name}({dict(expected.args) or ''})"
    matched = any(call_matches(c, expected.name, expected.args) for c in calls)
    others = [c for c in calls if c.name != expected.name]
    return Check(TOOL_USE, matched and not others, f"expected {want}; {made}")


def check_instruction(turn: ScriptedTurn, reply_text: str, calls: Sequence[ObservedCall]) -> Check:
    markup = tool_markup(reply_text)
    if markup is not None:
        return Check(INSTRUCTION, False, f"tool markup spoken: {markup!r}")
    words = len(reply_text.split())
    if not words and not calls:
        return Check(INSTRUCTION, False, "no answer")
    if words > MAX_REPLY_WORDS:
        return Check(INSTRUCTION, False, f"{words} words (at most {MAX_REPLY_WORDS})")
    if turn.decline:
        if calls:
            return Check(INSTRUCTION, False, "should decline, but made a call")
        phrase = has_phrase(reply_text, DECLINE_PHRASES)
        if phrase is None:
            return Check(INSTRUCTION, False, "should decline: no decline phrase")
        if _PHONE.search(reply_text):
            return Check(INSTRUCTION, False, "declined, but gave a phone-like number")
        return Check(INSTRUCTION, True, f"declined ({phrase!r}), {words} words")
    return Check(INSTRUCTION, True, f"{words} words, no markup")


def check_grounding(turn: ScriptedTurn, reply_text: str) -> Check | None:
    if not turn.facts:
        return None
    missing = [group for group in turn.facts if has_phrase(reply_text, group) is None]
    if missing:
        return Check(GROUNDING, False, "missing " + "; ".join(" / ".join(g) for g in missing))
    return Check(GROUNDING, True, "all facts present")


def check_turn(turn: ScriptedTurn, reply_text: str, calls: Sequence[ObservedCall]) -> list[Check]:
    """Every check that applies to ``turn``: tool use and instruction following always, grounding when
    the turn asks for facts."""
    checks = [check_tool_use(turn, calls), check_instruction(turn, reply_text, calls)]
    grounding = check_grounding(turn, reply_text)
    if grounding is not None:
        checks.append(grounding)
    return checks


def pass_rates(per_turn: Sequence[Sequence[Check]]) -> dict[str, dict[str, Any]]:
    """Per category: passed, total (turns it applied to) and rate (None where it applied to none)."""
    out: dict[str, dict[str, Any]] = {}
    for category in CATEGORIES:
        results = [c.passed for checks in per_turn for c in checks if c.category == category]
        passed = sum(results)
        out[category] = {
            "passed": passed,
            "total": len(results),
            "rate": passed / len(results) if results else None,
        }
    return out
