"""A real app's long instruction through google-genai against a real ``openlive serve`` (issue 11).

A ≥40,000-character system instruction (an event's knowledge base, generated here) with five function
declarations: the first session's typed question, whose answer is only in the instruction's last third,
is answered once the instruction has been read (minutes on two cores, measured and printed); a second
session with the same instruction gets its answer without reading it again, and so does a session on a
freshly started server (the prefix's KV state comes from the disk cache). Four times that instruction
(~170,000 characters, over the model's context) is answered from the sections relevant to the question
(instruction retrieval, OPENLIVE_INSTRUCTION_RETRIEVAL=auto); an instruction whose rules alone cannot fit
the model's context is refused at setup with 1007 and the numbers.

One server serves the module; its prefix cache is a directory of the test's own, so that no earlier run
(or the user's cache) answers for it. The instruction is ~10,000 tokens of plain prose: reading it is the
bulk of this module's time (see docs/benchmarks.md for the rate).
"""

from __future__ import annotations

import asyncio
import random
import re
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google import genai
from google.genai import types
from serve_process import ServeProcess

# The first session waits for the instruction to be read: minutes on two cores (pytest's default is 300 s).
pytestmark = [pytest.mark.models, pytest.mark.timeout(1800)]

API_KEY = "long-instruction-test-key"
MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
# Reading ~10,000 tokens on two shared cores: ~2 minutes when the machine is quiet, more under load.
FIRST_ANSWER_TIMEOUT_S = 900.0
CACHED_ANSWER_TIMEOUT_S = 90.0
# Retrieval: the first line, the tools and up to ~1,500 tokens of sections to read.
RETRIEVED_ANSWER_TIMEOUT_S = 300.0
QUESTION = "What is the name of the boat that takes guests to the island dinner?"
ANSWER = re.compile(r"marigold", re.IGNORECASE)
FACT = (
    "On Friday evening the island dinner is served at the old lighthouse on Gull Island. Guests reach it "
    "on the boat called the Marigold Star, which leaves from Pier Seven at twenty to seven."
)

FIRST_NAMES = [
    "Ada",
    "Bruno",
    "Chiara",
    "Dmitri",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Keiko",
]
LAST_NAMES = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Brennan", "Haddad", "Kowalski"]
TOPICS = [
    "caching strategies for mobile apps",
    "accessible design for voice interfaces",
    "testing distributed systems",
    "energy use of data centres",
    "privacy by design in health records",
    "onboarding new engineers",
    "observability for small teams",
    "speech recognition in noisy rooms",
    "migrating a monolith step by step",
    "writing documentation people read",
]
ROOMS = ["the Harbour Hall", "the Sail Room", "the Anchor Room", "the Compass Room", "the Tide Studio"]
DAYS = ["Wednesday", "Thursday", "Friday"]


def knowledge_base() -> str:
    """An event's schedule, speakers and policies: ≥40,000 characters, the fact in the last third."""
    rng = random.Random(11)
    parts = [
        "You are the assistant of the North Harbour Developer Days, a three-day conference. Answer "
        "attendees' questions from the information below, briefly and politely. If the answer is not "
        "below, say you do not know. Use the tools to register attendees, book rooms and record votes.",
        "",
        "General information. The conference runs from Wednesday to Friday. Doors open at eight in the "
        "morning. Badges are collected at the front desk in the main lobby. Lunch is served every day "
        "at half past twelve in the Harbour Hall foyer. Coffee is available all day on the first floor.",
    ]
    n = 0
    while sum(len(p) + 1 for p in parts) < 29_500:
        n += 1
        speaker = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        topic = rng.choice(TOPICS)
        parts.append(
            f"Session {n}, on {rng.choice(DAYS)} at {rng.randint(9, 17)} o'clock in {rng.choice(ROOMS)}: "
            f"{speaker} speaks about {topic}. The talk lasts forty minutes and is followed by ten minutes "
            f"of questions. Slides will be shared with attendees after the event. Seating is first come, "
            f"first served, and the doors close five minutes after the start."
        )
    parts.append(FACT)  # here: after the first two thirds
    while sum(len(p) + 1 for p in parts) < 42_000:
        n += 1
        speaker = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        parts.append(
            f"Workshop {n}, on {rng.choice(DAYS)} afternoon in {rng.choice(ROOMS)}: {speaker} leads a "
            f"hands-on workshop about {rng.choice(TOPICS)}. Bring a laptop with a charged battery. Places "
            f"are limited to twenty people and are given in the order of registration."
        )
    return "\n".join(parts)


INSTRUCTION = knowledge_base()


def declaration(function: str, description: str, **properties: str) -> types.FunctionDeclaration:
    return types.FunctionDeclaration(
        name=function,
        description=description,
        parameters=types.Schema(
            type=types.Type.OBJECT,
            properties={
                k: types.Schema(type=types.Type.STRING, description=v) for k, v in properties.items()
            },
            required=list(properties),
        ),
    )


TOOLS = [
    types.Tool(
        function_declarations=[
            declaration("register_attendee", "Register an attendee for the conference", name="full name"),
            declaration("book_room", "Book a meeting room for a time", room="room name", time="start time"),
            declaration("vote_for_session", "Record a vote for a session", session="session number"),
            declaration("join_waitlist", "Put an attendee on a workshop's waiting list", workshop="number"),
            declaration(
                "end_conversation", "End the conversation when the attendee says goodbye", reason="why"
            ),
        ]
    )
]


@dataclass
class Answer:
    text: str
    seconds: float
    calls: list[str]
    cached_tokens: int = 0  # usageMetadata.cachedContentTokenCount: the prompt's tokens not read again


@pytest.fixture(scope="module")
def prefix_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("llm-prefix")


def serve(workdir: Path, prefix_dir: Path) -> ServeProcess:
    env = {"OPENLIVE_LLM_PREFIX_CACHE_DIR": str(prefix_dir)}
    return ServeProcess(workdir, API_KEY, tls=True, log_lines=60, env=env)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, prefix_dir: Path) -> Iterator[ServeProcess]:
    with serve(tmp_path_factory.mktemp("long-instruction"), prefix_dir) as srv:
        yield srv


def connect(server: ServeProcess, instruction: str, tools: list[types.Tool] = TOOLS) -> Any:
    ctx = ssl.create_default_context(cafile=str(server.cert))
    client = genai.Client(
        api_key=API_KEY,
        http_options=types.HttpOptions(base_url=server.https_url, async_client_args={"ssl": ctx}),
    )
    config = types.LiveConnectConfig(
        response_modalities=["TEXT"], system_instruction=instruction, tools=tools
    )
    return client.aio.live.connect(model=MODEL, config=config)


async def ask(
    server: ServeProcess,
    question: str,
    timeout_s: float,
    instruction: str = INSTRUCTION,
    tools: list[types.Tool] = TOOLS,
) -> Answer:
    """One session: the typed question, and the reply's text (and any calls) until turnComplete."""
    text: list[str] = []
    calls: list[str] = []
    cached = 0
    async with connect(server, instruction, tools) as session:
        started = time.monotonic()
        await session.send_realtime_input(text=question)
        async with asyncio.timeout(timeout_s):
            async for message in session.receive():
                if message.tool_call:  # answered as an app would, so that the turn completes
                    called = message.tool_call.function_calls or []
                    calls += [c.name or "" for c in called]
                    await session.send_tool_response(
                        function_responses=[
                            types.FunctionResponse(id=c.id, name=c.name, response={"result": "done"})
                            for c in called
                        ]
                    )
                if message.usage_metadata:
                    cached = max(cached, message.usage_metadata.cached_content_token_count or 0)
                content = message.server_content
                if content and content.model_turn:
                    text += [p.text for p in content.model_turn.parts or [] if p.text]
                if content and content.turn_complete:
                    break
        return Answer("".join(text), time.monotonic() - started, calls, cached)


def log_lines(server: ServeProcess, marker: str) -> list[str]:
    return [line for line in server.log_path.read_text(errors="replace").splitlines() if marker in line]


# The 1.5B model, at its default temperature and with five tools, does not answer every time: it may
# describe a function call instead (seen in a fresh-clone CI run: "you can use the following function
# call: ... This function will return the name of the boat"). Sessions after the first start at once from
# the cached instruction, so the question is asked again, up to this many sessions in all, and one
# answer from the instruction's last third must come.
ANSWER_TRIES = 3


@dataclass
class FirstAnswers:
    first: Answer  # the first session's: it waited for the instruction to be read
    all: list[Answer]

    @property
    def seconds(self) -> float:
        return self.first.seconds


@pytest.fixture(scope="module")
def first_answer(server: ServeProcess) -> FirstAnswers:
    first = asyncio.run(ask(server, QUESTION, FIRST_ANSWER_TIMEOUT_S))
    print(f"\nfirst session: answered after {first.seconds:.0f} s: {first.text!r}")
    answers = [first]
    while not any(ANSWER.search(a.text) and not a.calls for a in answers) and len(answers) < ANSWER_TRIES:
        answers.append(asyncio.run(ask(server, QUESTION, CACHED_ANSWER_TIMEOUT_S)))
        print(f"session {len(answers)}: {answers[-1].text!r}")
    return FirstAnswers(first, answers)


def test_the_instruction_is_long_and_the_fact_is_in_its_last_third() -> None:
    assert len(INSTRUCTION) >= 40_000
    assert INSTRUCTION.index(FACT) > 2 * len(INSTRUCTION) // 3
    assert INSTRUCTION.count("Marigold") == 1 and "island" not in INSTRUCTION.replace(FACT, "")


# Expected to fail before the call decision (2026-12-03): the 1.5B model described a function call
# instead of answering in 3 sessions of 3 in a fresh-clone CI run. It has passed in every CI run since.
def test_a_question_answered_only_by_the_last_third_is_answered(
    server: ServeProcess, first_answer: FirstAnswers
) -> None:
    # The fact must be said. A function called beside it (seen once: "the Marigold Star … I will book
    # the old lighthouse" with book_room) is the model's false call, measured by the app scenario bench.
    answered = [a for a in first_answer.all if ANSWER.search(a.text)]
    assert answered, (first_answer.all, server.log_tail())
    # The whole instruction was read once, and its state kept.
    read = log_lines(server, "(instruction and tools) read")
    assert len(read) == 1, server.log_tail()
    tokens = int(re.search(r"prompt prefix of (\d+) tokens", read[0]).group(1))  # type: ignore[union-attr]
    assert tokens > 8_000, read


def test_a_second_session_with_the_same_instruction_does_not_read_it_again(
    server: ServeProcess, first_answer: FirstAnswers
) -> None:
    answer = asyncio.run(ask(server, QUESTION, CACHED_ANSWER_TIMEOUT_S))
    # What is tested here is that the instruction is not read again; whether the small model answers
    # from it or echoes its tool list as text (it sometimes does, at its default temperature) is the
    # first test's and the tool-use work's business.
    assert answer.text.strip(), (answer, server.log_tail())
    # What the client is told (usageMetadata): the instruction's tokens were cached, not read. (The
    # server's "cached prompt prefix used" line is logged only by a session's opening prefill, which a
    # question sent at once overtakes: seen in a fresh-clone CI run.)
    [read] = log_lines(server, "(instruction and tools) read")
    tokens = int(re.search(r"prompt prefix of (\d+) tokens", read).group(1))  # type: ignore[union-attr]
    assert answer.cached_tokens >= tokens, (answer, read, server.log_tail())
    assert answer.seconds < first_answer.seconds / 3, (answer.seconds, first_answer.seconds)


def test_a_restarted_server_takes_the_instruction_from_the_disk_cache(
    tmp_path: Path, prefix_dir: Path, first_answer: FirstAnswers
) -> None:
    # first_answer: the instruction's state is on disk once the first session has had its answer.
    with serve(tmp_path, prefix_dir) as restarted:
        answer = asyncio.run(ask(restarted, QUESTION, CACHED_ANSWER_TIMEOUT_S))
        assert answer.text.strip(), (answer, restarted.log_tail())  # see the test above
        assert log_lines(restarted, "loaded from the disk cache"), restarted.log_tail()
        assert not log_lines(restarted, "(instruction and tools) read"), restarted.log_tail()


def test_an_instruction_that_cannot_fit_is_refused_at_setup_with_the_numbers(server: ServeProcess) -> None:
    # ~40,000 tokens under a heading that keeps it whole (rules are never retrieved in parts): over the
    # 32,768-token context even with instruction retrieval.
    too_long = f"# Rules\n{INSTRUCTION * 4}"

    async def attempt() -> None:
        async with asyncio.timeout(60), connect(server, too_long):
            pass

    with pytest.raises(genai.errors.APIError) as info:
        asyncio.run(attempt())
    assert info.value.code == 1007, server.log_tail()
    numbers = re.search(r"need (\d+) tokens; the model holds (\d+)", str(info.value))
    assert numbers, str(info.value)
    needed, holds = int(numbers.group(1)), int(numbers.group(2))
    assert needed > holds and holds < 32_768 and needed > 32_768, str(info.value)


def test_an_instruction_over_the_context_is_answered_from_its_relevant_sections(server: ServeProcess) -> None:
    too_long = "\n".join([INSTRUCTION] * 4)  # ~170,000 characters, ~40,000 tokens: over the context
    started = time.monotonic()
    # Without the five functions: with them, the 1.5B model, whose instruction (here its first line)
    # says to use them, called one instead of answering in 3 of 3 runs of this test (and, asked
    # directly, in 3 of 3 tries with the fact before the question, 1 of 3 with it in the system turn);
    # tool use is issue 11's other part. This test is about retrieval.
    try:
        answer = asyncio.run(
            ask(server, QUESTION, RETRIEVED_ANSWER_TIMEOUT_S, instruction=too_long, tools=[])
        )
    except Exception as exc:
        raise AssertionError(server.log_tail()) from exc
    print(f"\nretrieval session: answered after {answer.seconds:.0f} s: {answer.text!r}")
    assert ANSWER.search(answer.text), (answer, server.log_tail())
    [logged] = log_lines(server, "instruction retrieval (auto)")
    numbers = re.search(r"need (\d+) tokens, the model holds (\d+)", logged)
    assert numbers and int(numbers.group(1)) > 32_768 > int(numbers.group(2)), logged
    assert time.monotonic() - started < RETRIEVED_ANSWER_TIMEOUT_S
