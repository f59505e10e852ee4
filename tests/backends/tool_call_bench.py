"""Call rate and false-call rate of the embedded LLM with a long instruction and five tools (issue 11).

Not a test: run it by hand on a quiet machine (check ``uptime``), e.g.
`HF_HUB_OFFLINE=1 .venv/bin/python tests/backends/tool_call_bench.py` (add ``--no-grammar`` for the
model left alone: no call grammar, no rewrite of a bare call's opening). It sends single-turn TEXT
requests (the default sampling, fixed seeds) with an ~8,000-character event instruction: N where the
person asks for something a tool does, N where a tool is not needed. It prints, per request, the calls
and the text, and at the end: the call rate (the expected function called, with arguments its schema
allows), the false-call rate (any call where none was expected), the malformed calls, and how many
replies' text held tool markup (``{``, ``<``, a backtick or a function name).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import time
from typing import Any

from openlive.backends.assets import cache_dir, llm_gguf_path
from openlive.backends.llm_llamacpp import LlamaCppLanguageModel
from openlive.stages import ChatDone, ChatMessage, ChatRequest, SamplingParams, TextDelta, ToolCallRequest
from openlive.stages.language_model import ToolSpec


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


TOOLS = [
    ToolSpec(
        name="register_attendee",
        description="Register a person for the summit, with their full name and email address.",
        parameters=_object({"name": {"type": "string"}, "email": {"type": "string"}}, ["name", "email"]),
    ),
    ToolSpec(
        name="vote_for_session",
        description="Record the person's vote for a session, from 1 to 5 stars.",
        parameters=_object(
            {"session_id": {"type": "string"}, "stars": {"type": "integer", "enum": [1, 2, 3, 4, 5]}},
            ["session_id", "stars"],
        ),
    ),
    ToolSpec(
        name="book_meeting_room",
        description="Book one of the small meeting rooms for the person.",
        parameters=_object(
            {
                "room": {"type": "string", "enum": ["Birch", "Cedar", "Maple"]},
                "start_time": {"type": "string"},
            },
            ["room", "start_time"],
        ),
    ),
    ToolSpec(
        name="send_feedback",
        description="Pass the person's feedback or complaint on to the organisers.",
        parameters=_object({"message": {"type": "string"}}, ["message"]),
    ),
    ToolSpec(name="end_conversation", description="End the conversation when the person says goodbye."),
]
SCHEMAS = {tool.name: tool.parameters for tool in TOOLS}

# (what the person says, the function that should be called)
CALLS = [
    ("Please register me for the summit. I'm Ana Lima, ana.lima@example.com.", "register_attendee"),
    ("Sign me up: my name is Tom Becker and my email is tom@becker.de.", "register_attendee"),
    ("I want to vote for session S4, five stars.", "vote_for_session"),
    ("Give session S11 three stars, please.", "vote_for_session"),
    ("Book the Cedar room for me at 2 PM.", "book_meeting_room"),
    ("Can you reserve the Maple meeting room at 10:30?", "book_meeting_room"),
    ("Please tell the organisers the coffee in hall A ran out at nine.", "send_feedback"),
    ("I have a complaint: the wifi in the Lagoon room keeps dropping.", "send_feedback"),
    ("That's all, thanks. Goodbye!", "end_conversation"),
    ("OK bye, we're done here.", "end_conversation"),
]
QUESTIONS = [
    "What time does lunch start?",
    "Who gives the opening keynote?",
    "Where is the Lagoon room?",
    "Is there a vegetarian option at dinner?",
    "How do I get from the station to the venue?",
    "What is session S4 about?",
    "Can I bring my dog to the summit?",
    "When does the registration desk open on Friday?",
    "How many stars can a vote have?",
    "Which rooms can be booked for meetings?",
]
MARKUP = re.compile(r"[{}<>`]|" + "|".join(re.escape(t.name) for t in TOOLS))


def instruction() -> str:
    """An ~8,000-character event knowledge base: rules first, then schedule, rooms, speakers, policies."""
    parts = [
        "You are Mira, the voice assistant of the Harbour Tech Summit (June 5 to 7, Lisbon). Answer "
        "questions about the summit from the information below, briefly and politely. Use your tools to "
        "register attendees, record votes for sessions, book meeting rooms, pass on feedback and end the "
        "conversation. Do not answer questions unrelated to the summit.",
        "## Schedule",
    ]
    topics = [
        "Edge inference on small devices",
        "Open-source maintainers' panel",
        "Designing voice interfaces",
        "Scaling Postgres in practice",
        "Rust for embedded systems",
        "Privacy by design",
        "Green data centres",
        "Accessibility testing",
        "Observability without the noise",
        "Teaching programming to adults",
        "WebAssembly outside the browser",
        "Robotics in agriculture",
    ]
    rooms = ["Main Hall", "Lagoon room", "Harbour room", "Lighthouse room"]
    speakers = [
        "Dr. Ines Carvalho",
        "Marcus Webb",
        "Aiko Tanaka",
        "Lena Fischer",
        "Omar Haddad",
        "Priya Nair",
        "João Pereira",
        "Sofia Rossi",
        "Daniel Kim",
        "Grace Mensah",
        "Hugo Laurent",
        "Eva Novak",
    ]
    for i, topic in enumerate(topics, start=1):
        day = 5 + (i - 1) // 4
        hour = 9 + 2 * ((i - 1) % 4)
        parts.append(
            f'Session S{i}: "{topic}" by {speakers[i - 1]}, June {day} at {hour}:00 in the '
            f"{rooms[(i - 1) % 4]}. It lasts 90 minutes with 15 minutes of questions at the end; slides are "
            "shared on the summit app afterwards."
        )
    parts += [
        "The opening keynote is on June 5 at 8:30 in the Main Hall, by Dr. Ines Carvalho, on what small "
        "models can do on a phone.",
        "## Meals",
        "Breakfast is served from 7:30 to 8:30 in the foyer. Lunch starts at 12:30 every day in the "
        "Garden Terrace; there are vegetarian, vegan and gluten-free options, marked on the cards. Dinner "
        "on June 6 is at 19:30 at the Riverside restaurant, a ten-minute walk along the river; vegetarian "
        "and vegan menus are available if chosen at registration. Coffee is in hall A all day.",
        "## Rooms and venue",
        "The Main Hall is on the ground floor. The Lagoon room and the Harbour room are on the first floor, "
        "left of the stairs; the Lighthouse room is on the second floor. The small meeting rooms Birch, "
        "Cedar and Maple are on the second floor and can be booked for 30 minutes at a time between 9:00 "
        "and 18:00. The venue is the Doca Conference Centre, Avenida Brasília 12. From Cais do Sodré "
        "station take tram 15 three stops to Doca, or walk twenty minutes along the river.",
        "## Registration",
        "The registration desk opens at 7:00 on June 5 and at 8:00 on June 6 and 7 (Friday and Saturday). "
        "Attendees register with their full name and email address; the badge is printed at the desk. "
        "Day passes cost 120 euros, full passes 290 euros, students pay half with a valid card.",
        "## Voting",
        "Attendees vote for sessions from 1 to 5 stars; each session can be voted once per person. The "
        "best-rated session wins the audience award, announced at the closing on June 7 at 17:00.",
        "## Policies",
        "Pets are not allowed in the venue, except assistance dogs. Photography is allowed except where a "
        "speaker asks otherwise. The code of conduct applies to everyone; report problems to any staff "
        "member in a green shirt or through feedback. Lost items are kept at the registration desk. The "
        "venue has step-free access, hearing loops in the Main Hall and quiet room on the first floor. "
        "Wifi: network HarbourSummit, password tide2026. Refunds are possible up to May 20.",
        "## Frequently asked",
        "Sessions are in English; the keynote has live captions in Portuguese. Recordings of all Main "
        "Hall sessions are published a week after the summit. Lockers are next to the registration desk "
        "and cost two euros a day. The summit app shows the schedule, room changes and the voting form. "
        "Children under twelve come free with a parent; there is no childcare. First aid is in the foyer, "
        "next to the cloakroom. Taxis wait at the east entrance; the last tram leaves Doca at 23:40.",
        "Volunteers in yellow shirts help with directions. Power sockets are along the walls of every "
        "room; the Lagoon room has sockets at every seat. Meeting rooms must be left tidy for the next "
        "booking, and a booking not used within ten minutes is released.",
        "## Speakers",
    ]
    for name, topic in zip(speakers, topics, strict=True):
        parts.append(
            f"{name} speaks on {topic.lower()}; they have worked in the field for over ten years and are "
            "happy to meet attendees at the speakers' corner in the foyer after their session."
        )
    return "\n".join(parts)


def schema_ok(args: dict[str, Any], schema: dict[str, Any]) -> bool:
    properties = schema.get("properties", {})
    if any(key not in args for key in schema.get("required", [])):
        return False
    for key, value in args.items():
        expected = properties.get(key)
        if properties and expected is None:
            return False
        if expected and "enum" in expected and value not in expected["enum"]:
            return False
        if (
            expected
            and expected.get("type") == "integer"
            and (not isinstance(value, int) or isinstance(value, bool))
        ):
            return False
        if expected and expected.get("type") == "string" and not isinstance(value, str):
            return False
    return True


async def ask(
    model: LlamaCppLanguageModel, system: str, user: str, seed: int
) -> tuple[str, list[ToolCallRequest], ChatDone]:
    request = ChatRequest(
        messages=[ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)],
        tools=TOOLS,
        sampling=SamplingParams(seed=seed, max_tokens=80),
    )
    events = [event async for event in model.stream(request)]
    done = events[-1]
    assert isinstance(done, ChatDone)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    return text, [e for e in events if isinstance(e, ToolCallRequest)], done


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-grammar", action="store_true", help="the model alone (the former behaviour)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--raw", action="store_true", help="also print each reply as sampled")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.raw:  # what the model wrote, markup and all, before the parser
        logging.getLogger("openlive.backends.llm_llamacpp").setLevel(logging.DEBUG)
        logging.getLogger("openlive.backends.llm_llamacpp").addFilter(
            lambda record: record.getMessage().startswith("reply as sampled")
        )
    model = LlamaCppLanguageModel(llm_gguf_path(cache_dir()), n_ctx=8192, n_threads=2)
    if args.no_grammar:
        model._call_grammars = lambda tools: None  # type: ignore[method-assign]
    system = instruction()
    print(
        f"instruction: {len(system)} characters, {model.count_tokens(system)} tokens; "
        f"grammar: {not args.no_grammar}"
    )
    started = time.perf_counter()
    called = valid = false_calls = malformed = markup = 0
    try:
        for i, (user, expected) in enumerate(CALLS):
            text, calls, done = await ask(model, system, user, args.seed + i)
            hit = any(c.name == expected for c in calls)
            called += hit
            valid += any(c.name == expected and schema_ok(c.args, SCHEMAS[c.name]) for c in calls)
            malformed += done.malformed_tool_calls
            markup += bool(MARKUP.search(text))
            print(
                f"call  {'OK ' if hit else 'MISS'} {user!r} -> {[(c.name, c.args) for c in calls]} {text!r}"
            )
        for i, user in enumerate(QUESTIONS):
            text, calls, done = await ask(model, system, user, args.seed + 100 + i)
            false_calls += bool(calls)
            malformed += done.malformed_tool_calls
            markup += bool(MARKUP.search(text))
            print(
                f"none  {'FALSE' if calls else 'OK   '} {user!r} -> "
                f"{[(c.name, c.args) for c in calls]} {text!r}"
            )
    finally:
        model.close()
    n, m = len(CALLS), len(QUESTIONS)
    print(
        f"call rate {called}/{n} (schema-valid {valid}/{n}); false calls {false_calls}/{m}; "
        f"malformed {malformed}; replies with markup in the text {markup}/{n + m}; "
        f"{time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    asyncio.run(main())
