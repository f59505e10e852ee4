"""Tool calls of the embedded model under the call grammar, with the real Qwen2.5 model (``-m models``).

Sampled hot (temperature 1.3, no top-k or top-p cut), the 1.5B model left alone breaks calls: JSON
that does not parse, arguments of the wrong type, a bare or wrongly tagged object that was spoken. With
the grammar every call it starts is a declared function with arguments its schema allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from openlive.backends.assets import cache_dir, llm_gguf_path
from openlive.backends.embedded import SPOKEN_STYLE_PROMPT
from openlive.stages import ChatDone, ChatMessage, ChatRequest, SamplingParams, TextDelta, ToolCallRequest
from openlive.stages.language_model import ToolSpec

if TYPE_CHECKING:  # imported in the fixture: collecting this file must not need llama.cpp
    from openlive.backends.llm_llamacpp import LlamaCppLanguageModel

pytestmark = pytest.mark.models


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


TOOLS = [
    ToolSpec(
        name="vote_for_session",
        description="Vote for a conference session",
        parameters=_object(
            {"session_id": {"type": "string"}, "stars": {"type": "integer", "enum": [1, 2, 3, 4, 5]}},
            ["session_id", "stars"],
        ),
    ),
    ToolSpec(
        name="book_room",
        description="Book a meeting room",
        parameters=_object({"room": {"type": "string"}, "hours": {"type": "number"}}, ["room", "hours"]),
    ),
    ToolSpec(
        name="register_attendee",
        description="Register a person for the event",
        parameters=_object({"name": {"type": "string"}, "vip": {"type": "boolean"}}, ["name"]),
    ),
    ToolSpec(
        name="set_reminder",
        description="Remind the person of a session",
        parameters=_object({"session_id": {"type": "string"}, "minutes_before": {"type": "integer"}}, []),
    ),
    ToolSpec(name="end_session", description="End the conversation"),
]
SCHEMAS = {tool.name: tool.parameters for tool in TOOLS}
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def schema_errors(args: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """What in ``args`` the (flat) schema does not allow; enough for these tools' schemas."""
    properties: dict[str, Any] = schema.get("properties", {})
    errors = [f"missing {key}" for key in schema.get("required", []) if key not in args]
    for key, value in args.items():
        if properties and key not in properties:
            errors.append(f"unknown {key}")
            continue
        expected = properties.get(key, {})
        types = JSON_TYPES.get(expected.get("type", ""), (object,))
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            errors.append(f"{key}={value!r} is not {expected.get('type')}")
        if "enum" in expected and value not in expected["enum"]:
            errors.append(f"{key}={value!r} not in {expected['enum']}")
    return errors


@pytest.fixture(scope="module")
def model() -> Iterator[LlamaCppLanguageModel]:
    from openlive.backends.llm_llamacpp import LlamaCppLanguageModel

    llm = LlamaCppLanguageModel(llm_gguf_path(cache_dir()), n_ctx=4096, n_threads=2)
    yield llm
    llm.close()


@pytest.mark.parametrize(
    "user",
    [
        "Please vote for session S12, five stars.",
        "Book room B for two and a half hours, and register me, Ana Lima, as a VIP.",
    ],
)
async def test_every_started_call_is_a_declared_function_with_schema_valid_arguments(
    model: LlamaCppLanguageModel, user: str
) -> None:
    calls: list[ToolCallRequest] = []
    for seed in range(1, 6):
        request = ChatRequest(
            messages=[
                ChatMessage(role="system", content=SPOKEN_STYLE_PROMPT),
                ChatMessage(role="user", content=user),
            ],
            tools=TOOLS,
            sampling=SamplingParams(temperature=1.3, top_k=0, top_p=1.0, seed=seed, max_tokens=120),
        )
        events = [event async for event in model.stream(request)]
        done = events[-1]
        assert isinstance(done, ChatDone)
        text = "".join(e.text for e in events if isinstance(e, TextDelta))
        made = [e for e in events if isinstance(e, ToolCallRequest)]
        assert done.malformed_tool_calls == 0, (seed, text, made)
        assert not any(mark in text for mark in ("{", "<", "`", "_session", "tool_call")), (seed, text)
        for call in made:
            assert call.name in SCHEMAS, (seed, call)
            assert schema_errors(call.args, SCHEMAS[call.name]) == [], (seed, call)
        calls += made
    # Calls were made at all (so the grammar was used), and mostly the one asked for.
    assert len(calls) >= 3, calls


EVENT = (
    "You are the voice assistant of a small conference. Keynote: 9 AM in Hall A. Robotics workshop: "
    "11 AM in Room C, session S12. Lunch: noon in the foyer. Rooms A, B and C can be booked."
)
# A spoken-style conversation: questions answered in words, requests made as calls, a goodbye that
# ends the session. (user, the function it asks for, or None)
CONVERSATION = [
    ("When is the keynote?", None),
    ("Please vote for the robotics workshop, five stars.", "vote_for_session"),
    ("Where is lunch?", None),
    ("Book room B for two hours, please.", "book_room"),
    ("Thanks, that's all. Goodbye!", "end_session"),
]


async def test_a_conversation_calls_what_is_asked_for_and_answers_questions_in_words(
    model: LlamaCppLanguageModel,
) -> None:
    # Without the call decision the model wrote what it would call in prose and called nothing in
    # such conversations (docs/benchmarks.md, "The call decision").
    messages = [ChatMessage(role="system", content=f"{SPOKEN_STYLE_PROMPT}\n\n{EVENT}")]
    outcomes: list[tuple[str, str | None, list[str], str]] = []
    for turn, (user, wanted) in enumerate(CONVERSATION):
        messages.append(ChatMessage(role="user", content=user))
        calls: list[str] = []
        text = ""
        for _ in range(2):  # the turn, and the words after its call's result
            request = ChatRequest(
                messages=list(messages), tools=TOOLS, sampling=SamplingParams(seed=turn, max_tokens=60)
            )
            events = [event async for event in model.stream(request)]
            said = "".join(e.text for e in events if isinstance(e, TextDelta))
            made = [e for e in events if isinstance(e, ToolCallRequest)]
            messages.append(ChatMessage(role="assistant", content=said, tool_calls=made))
            text += said
            calls += [call.name for call in made]
            if not made:
                break
            for call in made:
                messages.append(ChatMessage(role="tool", content='{"ok": true}', tool_call_id=call.id))
        outcomes.append((user, wanted, calls, text))
    right = [calls == ([wanted] if wanted else []) for _, wanted, calls, _ in outcomes]
    assert sum(right) >= 4, outcomes
    assert all(text.strip() for _, wanted, _, text in outcomes if wanted is None), outcomes
    assert not any(mark in text for *_, text in outcomes for mark in ("Function:", "<", "{")), outcomes
