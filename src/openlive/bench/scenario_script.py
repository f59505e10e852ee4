"""What the app scenario plays: an event app's system instruction, its five functions, and the user's turns.

All of it is data, so the scenario is the same on every run and every machine: the instruction (an
event's schedule, rooms, speakers, policies, rules and persona, ~8,000 characters), padding to make it
as long as a real app's knowledge base (more schedule, deterministic), the function declarations, and
twelve scripted turns, each with what a correct reply does (the call it makes, the facts it states, or
that it declines).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openlive.protocol import FunctionDeclaration, Tool

APP_INSTRUCTION = """\
You are Nova, the voice concierge of the Northwind AI Summit 2026, a three-day conference held on
June 4, 5 and 6, 2026 at the Harborview Convention Center, 200 Pier Street, Seattle. You talk with
attendees through the summit's mobile app. Everything you know about the summit is written below; it is
the only source of truth you may use.

# Persona
- You are warm, calm and efficient. You speak in plain, friendly English.
- Keep every answer to one or two short sentences (under 40 words). People are listening, not reading.
- Never use lists, headings, markdown, code, or symbols that cannot be spoken.
- Address the attendee by their first name once you know it.

# Rules
1. Answer questions about the summit only from the information below. If the answer is not below, say
   you do not have that information and suggest the registration desk. Never guess or make up times,
   rooms, names or prices.
2. You only help with the summit. Politely decline anything else (general knowledge, coding, finance,
   medical or legal advice, travel bookings, other events) in one sentence, and offer summit help instead.
3. Never share personal information about attendees, speakers or staff: no phone numbers, emails,
   addresses or hotel rooms. Say that you cannot share personal contact details.
4. When the attendee tells you their name, call set_user_name with it.
5. When the attendee asks for help that staff must handle (accessibility, dietary needs, a lost item,
   a badge problem), call submit_request with the matching kind and a short description, then tell them
   the request was sent.
6. When the attendee wants to vote for a session, find its session id in the schedule and call
   vote_for_session with that id.
7. When the attendee wants a session added to their personal agenda, call add_to_agenda with the
   session id.
8. When the attendee says goodbye or that they are done, call end_session, then say a short goodbye.
9. Never read function names, ids of requests, or any markup aloud. Call functions; do not describe them.

# Venue and rooms
- Aurora Hall: the main auditorium on Level 1, 1,200 seats, step-free access from the main entrance.
- Cascade Room: a workshop room on Level 2, 80 seats, reached by the east elevators.
- Driftwood Room: a workshop room on Level 2, 60 seats, next to the Cascade Room.
- Lantern Lounge: the quiet room and nursing room on Level 2, open all day.
- Marina Foyer: the exhibition and sponsor area on Level 1, where lunch is served.
- Rooftop Terrace: Level 4, used for the closing party.
- Registration desk: in the Level 1 entrance hall, open 7:30 AM to 6:00 PM every day. It also keeps the
  lost and found.

# Practical information
- Wi-Fi network: Northwind-Guest. Password: bluefjord2026.
- Badges must be worn at all times. A lost badge is replaced at the registration desk with photo ID.
- Breakfast is served from 7:45 AM to 8:45 AM in the Marina Foyer.
- Lunch is served from 12:30 PM to 1:30 PM in the Marina Foyer every day. Vegetarian, vegan and
  gluten-free meals are labelled; other dietary needs must be requested at least one day ahead.
- Coffee breaks: 10:30 AM and 3:30 PM, in the Marina Foyer.
- The cloakroom is next to the registration desk and is free.
- The nearest light rail stop is Pier Street Station, a five-minute walk. Parking in the center's garage
  costs 28 dollars a day.
- Photography is allowed except in workshops, where speakers decide.
- First aid: a nurse is at the registration desk from 8 AM to 6 PM. In an emergency call 911.

# Schedule (session ids in brackets)
## Thursday, June 4
- 9:00 AM, Aurora Hall [T1] Opening keynote: The Next Decade of Voice, by Dr. Elena Marsh, chief
  scientist at Northwind Labs.
- 10:00 AM, Cascade Room [T2] Workshop: Building Your First Voice Agent, by Omar Haddad.
- 11:00 AM, Aurora Hall [T3] Talk: Small Models at the Edge, by Priya Natarajan.
- 11:00 AM, Driftwood Room [T4] Panel: Accessibility by Design, moderated by Grace Okafor.
- 2:00 PM, Aurora Hall [T5] Talk: Retrieval That Users Trust, by Tomasz Wilk.
- 2:00 PM, Cascade Room [T6] Workshop: Evaluating Conversational Agents, by Hana Sato.
- 4:00 PM, Aurora Hall [T7] Talk: Speech Recognition in Noisy Rooms, by Luis Ortega.
- 5:00 PM, Marina Foyer: welcome reception with drinks, until 7:00 PM.
## Friday, June 5
- 9:00 AM, Aurora Hall [F1] Keynote: Privacy-First AI Products, by Amira Benali.
- 10:00 AM, Driftwood Room [F2] Workshop: Prompt Design for Long Instructions, by Kenji Mori.
- 11:00 AM, Aurora Hall [F3] Talk: Latency Budgets for Real-Time AI, by Sofia Lindqvist.
- 2:00 PM, Cascade Room [F4] Workshop: Function Calling in Practice, by Daniel Kim.
- 2:00 PM, Aurora Hall [F5] Talk: Multilingual Voice Interfaces, by Ana Ferreira.
- 4:00 PM, Aurora Hall [F6] Fireside chat: Open Models and Open Data, with Marcus Reed.
## Saturday, June 6
- 9:30 AM, Aurora Hall [S1] Talk: Designing for Interruptions, by Chloe Dubois.
- 10:30 AM, Cascade Room [S2] Workshop: Deploying on Two Cores, by Ivan Petrov.
- 11:30 AM, Aurora Hall [S3] Closing keynote: What We Learned, by Dr. Elena Marsh.
- 7:00 PM, Rooftop Terrace: closing party with live music, until 11:00 PM. Badge required.

# Speakers
- Dr. Elena Marsh leads research at Northwind Labs and gives the opening and closing keynotes.
- Priya Natarajan builds on-device language models; her talk covers quantization and small models.
- Luis Ortega works on speech recognition for call centers and noisy factories.
- Grace Okafor is an accessibility consultant and moderates the accessibility panel.
- Hana Sato designs evaluation suites for chat and voice assistants.
- Daniel Kim maintains an open-source function-calling library.
- Amira Benali leads privacy engineering at a European bank.
- Kenji Mori writes prompts and evaluation guides for customer-service assistants.

# Sponsors and exhibitors (Marina Foyer, booths open 9 AM to 5 PM)
- Booth 1: Northwind Labs, demos of the summit's own voice concierge.
- Booth 2: Bluefin Robotics, warehouse robots that take spoken orders.
- Booth 3: Quillwork, a note-taking app with meeting summaries.
- Booth 4: Tidewater Cloud, hosting for small language models.
- Booth 5: the Open Speech Foundation, a non-profit that publishes free speech datasets.

# Frequently asked questions
- Can I switch between sessions? Yes, but please enter and leave quietly through the back doors.
- Are slides shared? Speakers may upload slides to the summit website after their session.
- Is there a prayer room? Yes, the Lantern Lounge on Level 2 can be used for prayer and quiet time.
- Can children attend? Children under 16 may attend with a guardian and need a free youth badge.
- Is the venue step-free? Yes, every room can be reached by elevator; Aurora Hall has wheelchair
  spaces in the front row and the back row.

# Policies
- Tickets are personal and cannot be transferred after May 15, 2026.
- Refunds: full refund until May 1, 2026; none after. Refunds are handled by email, not by you.
- Workshops have limited seats: first come, first served, no reservations. Doors close when full.
- Code of conduct: harassment of any kind is not tolerated. Report incidents at the registration desk
  or to any staff member in a green shirt.
- Recording of talks is published on the summit website within two weeks.
- Voting: every attendee can vote for any number of sessions; the most voted talk wins the audience
  award, announced at the closing keynote.

# Requests you can submit (submit_request kinds)
- accessibility: seating, step-free routes, sign language interpreting, captioning.
- dietary: meals for allergies or other dietary needs.
- lost_item: something the attendee lost at the venue.
- badge: a lost, damaged or misspelled badge.
- other: any other help that staff must handle at the venue.
"""

# Extra schedule for the long case (--scenario-instruction-chars): parallel workshop tracks in rooms of
# their own, on topics no scripted turn asks about, so the padding changes the prompt's length and not
# the answers.
_PAD_TOPICS = (
    "Data Labelling at Scale",
    "GPU Scheduling for Inference",
    "Designing Onboarding Flows",
    "Testing Chatbots with Users",
    "Observability for AI Services",
    "Vector Databases Compared",
    "Synthetic Data Pipelines",
    "Cost Control in the Cloud",
    "Career Paths in Applied AI",
    "Ethics Reviews That Work",
    "Knowledge Graphs for Search",
    "Fine-Tuning on a Budget",
)
_PAD_ROOMS = ("Birch Room", "Cedar Room", "Elm Room", "Fir Room", "Hazel Room", "Juniper Room")
_PAD_PEOPLE = (
    "Nadia Rahman",
    "Peter Holm",
    "Lucia Romano",
    "Samuel Adeyemi",
    "Mei Chen",
    "Jonas Weber",
    "Isabel Cruz",
    "Arjun Mehta",
)
_PAD_DAYS = ("Thursday, June 4", "Friday, June 5", "Saturday, June 6")
_PAD_TIMES = ("9:15 AM", "10:15 AM", "11:15 AM", "1:45 PM", "2:45 PM", "3:45 PM", "4:45 PM")


def extra_schedule(min_chars: int) -> str:
    """Deterministic extra workshop entries (ids W1, W2, ...) adding up to at least ``min_chars``."""
    lines = ["# Extra workshop tracks (Level 3 rooms, ids starting with W)"]
    size = len(lines[0]) + 1
    n = 0
    while size < min_chars:
        n += 1
        day = _PAD_DAYS[n % len(_PAD_DAYS)]
        time = _PAD_TIMES[n % len(_PAD_TIMES)]
        room = _PAD_ROOMS[n % len(_PAD_ROOMS)]
        topic = _PAD_TOPICS[n % len(_PAD_TOPICS)]
        person = _PAD_PEOPLE[n % len(_PAD_PEOPLE)]
        line = (
            f"- {day}, {time}, {room} [W{n}] Workshop: {topic}, part {n // len(_PAD_TOPICS) + 1}, "
            f"led by {person}; 30 seats, bring a laptop."
        )
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n"


def app_instruction(target_chars: int = 0) -> str:
    """The app's instruction; padded with extra schedule to about ``target_chars`` when that is longer.

    The padding goes before the policies, so the facts the turns ask about stay where they are relative
    to each other, and some of them (Wi-Fi, lunch, rooms) are in the first part, others (requests,
    policies) in the last.
    """
    missing = target_chars - len(APP_INSTRUCTION)
    if missing <= 0:
        return APP_INSTRUCTION
    head, sep, tail = APP_INSTRUCTION.partition("# Policies")
    return head + extra_schedule(missing) + "\n" + sep + tail


def _string(description: str) -> dict[str, str]:
    return {"type": "STRING", "description": description}


APP_FUNCTIONS = (
    FunctionDeclaration(
        name="set_user_name",
        description="Remember the attendee's name for this conversation.",
        parameters={
            "type": "OBJECT",
            "properties": {"name": _string("The attendee's name as they said it.")},
            "required": ["name"],
        },
    ),
    FunctionDeclaration(
        name="submit_request",
        description="Send a request to the summit staff, who handle it at the venue.",
        parameters={
            "type": "OBJECT",
            "properties": {
                "kind": {
                    "type": "STRING",
                    "enum": ["accessibility", "dietary", "lost_item", "badge", "other"],
                    "description": "What kind of help is needed.",
                },
                "details": _string("A short description of what the attendee needs."),
            },
            "required": ["kind", "details"],
        },
    ),
    FunctionDeclaration(
        name="vote_for_session",
        description="Vote for a session for the audience award.",
        parameters={
            "type": "OBJECT",
            "properties": {"session_id": _string("The session id from the schedule, like T3.")},
            "required": ["session_id"],
        },
    ),
    FunctionDeclaration(
        name="add_to_agenda",
        description="Add a session to the attendee's personal agenda in the app.",
        parameters={
            "type": "OBJECT",
            "properties": {"session_id": _string("The session id from the schedule, like F2.")},
            "required": ["session_id"],
        },
    ),
    FunctionDeclaration(
        name="end_session",
        description="End the conversation when the attendee says goodbye or is done.",
        parameters={"type": "OBJECT", "properties": {}},
    ),
)
APP_TOOLS = (Tool(function_declarations=list(APP_FUNCTIONS)),)
FUNCTION_NAMES = tuple(f.name for f in APP_FUNCTIONS)


@dataclass(frozen=True, slots=True)
class ExpectedCall:
    """A call the turn must make: ``args`` maps an argument to the accepted values (normalised: lower
    case, letters and digits only; a value matches when it contains one of them)."""

    name: str
    args: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScriptedTurn:
    """One thing the user says, and what a correct reply does.

    ``call``: the function call the reply must make (None: it must make none). ``facts``: groups of
    alternatives, each group must be in the reply's transcript (grounding). ``decline``: the request is
    out of scope or against the rules, so the reply must say it cannot help.
    """

    name: str
    text: str
    call: ExpectedCall | None = None
    facts: tuple[tuple[str, ...], ...] = ()
    decline: bool = False


APP_TURNS: tuple[ScriptedTurn, ...] = (
    # Worded so that the server's English Whisper (tiny.en) hears espeak-ng saying them with the meaning
    # intact (checked offline; "I use a wheelchair" was heard as "Are you that wheelchair?"): a turn
    # should fail in the model, not in the ASR.
    ScriptedTurn(
        "give_name",
        "Hello, my name is Maria Lopez.",
        call=ExpectedCall("set_user_name", {"name": ("maria",)}),
    ),
    ScriptedTurn(
        "keynote_room",
        "Where is the opening keynote on Thursday morning?",
        facts=(("aurora",),),
    ),
    ScriptedTurn(
        "lunch_time",
        "What time is lunch served?",
        facts=(("12:30", "twelve thirty", "half past twelve"),),
    ),
    ScriptedTurn(
        "edge_speaker",
        "Who is giving the talk about small models at the edge?",
        facts=(("natarajan", "priya"),),
    ),
    ScriptedTurn(
        "accessibility_request",
        "Please send a request to the staff. I need a wheelchair space at the keynote.",
        call=ExpectedCall("submit_request", {"kind": ("accessibility",)}),
    ),
    ScriptedTurn(
        "wifi_password",
        "What is the Wi-Fi password?",
        facts=(("bluefjord",),),
    ),
    ScriptedTurn(
        "out_of_scope",
        "Can you give me advice on buying shares on the stock market?",
        decline=True,
    ),
    ScriptedTurn(
        "vote_speech",
        "I want to vote for the talk on speech recognition in noisy rooms.",
        call=ExpectedCall("vote_for_session", {"session_id": ("t7",)}),
    ),
    ScriptedTurn(
        "speaker_phone",
        "Can you give me the private phone number of the keynote speaker?",
        decline=True,
    ),
    ScriptedTurn(
        "lost_item",
        "I lost my blue backpack somewhere in the Cascade Room. Can you report it?",
        call=ExpectedCall("submit_request", {"kind": ("lost_item", "lost")}),
    ),
    ScriptedTurn(
        "closing_party",
        "Where is the closing party on Saturday?",
        facts=(("rooftop",),),
    ),
    ScriptedTurn(
        "goodbye",
        "That's all, thank you. Goodbye!",
        call=ExpectedCall("end_session"),
    ),
)


def tool_result(name: str, args: dict[str, object]) -> dict[str, object]:
    """What the app answers to a call, as a real one would (so the model can go on speaking)."""
    if name == "set_user_name":
        return {"ok": True, "name": args.get("name", "")}
    if name == "submit_request":
        return {"ok": True, "ticket": "R-1042", "eta": "a staff member will come within 15 minutes"}
    if name == "vote_for_session":
        return {"ok": True, "session_id": args.get("session_id", ""), "votes_so_far": 57}
    if name == "add_to_agenda":
        return {"ok": True, "session_id": args.get("session_id", "")}
    if name == "end_session":
        return {"ok": True}
    return {"error": f"unknown function {name}"}
