"""``toolConfig`` → the stage's ``ToolChoice``, and the session puts it in every chat request."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from engine_fakes import RecordingOutbox, fake_profile

from openlive.engine.session import LiveSession, SessionLimits
from openlive.engine.tool_choice import tool_choice
from openlive.protocol.messages import (
    ClientContent,
    Content,
    FunctionDeclaration,
    GenerationConfig,
    JsonObject,
    Modality,
    Part,
    Setup,
    Tool,
)
from openlive.stages.language_model import ChatDone, ChatEvent, ChatRequest, TextDelta, ToolChoice

# Virtual time (looptime): the session's timers take no real time.
pytestmark = pytest.mark.looptime


@pytest.mark.parametrize(
    ("tool_config", "expected"),
    [
        (None, ToolChoice()),
        ({"functionCallingConfig": {"mode": "AUTO"}}, ToolChoice()),
        ({"functionCallingConfig": {"mode": "ANY"}}, ToolChoice(mode="required")),
        ({"functionCallingConfig": {"mode": "NONE"}}, ToolChoice(mode="none")),
        (
            {"functionCallingConfig": {"mode": "VALIDATED", "allowedFunctionNames": ["f"]}},
            ToolChoice(mode="auto", allowed_names=("f",)),
        ),
        (
            {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f", "g"]}},
            ToolChoice(mode="required", allowed_names=("f", "g")),
        ),
    ],
)
def test_gemini_modes_map_to_the_three_openai_ones(
    tool_config: JsonObject | None, expected: ToolChoice
) -> None:
    assert tool_choice(tool_config) == expected


class FakeRecordingLanguageModel:
    """A fake model: answers "Hello." and records each request it is given."""

    name = "fake-recording"

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        self.requests.append(request)
        yield TextDelta(text="Hello.")
        yield ChatDone(prompt_tokens=10, completion_tokens=1)

    async def aclose(self) -> None:
        pass


async def test_the_session_sends_the_setups_tool_choice_with_its_tools() -> None:
    llm = FakeRecordingLanguageModel()
    setup = Setup(
        model="models/gemini-live-2.5-flash-native-audio",
        generation_config=GenerationConfig(response_modalities=[Modality.TEXT]),
        tools=[Tool(function_declarations=[FunctionDeclaration(name="f"), FunctionDeclaration(name="g")])],
        tool_config={"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}},
    )
    outbox = RecordingOutbox()
    session = LiveSession(setup, fake_profile(llm), outbox, session_id="s1", limits=SessionLimits())
    await session.handle(
        ClientContent(turns=[Content(role="user", parts=[Part(text="Hi")])], turn_complete=True)
    )
    await outbox.wait_turn()
    request = llm.requests[-1]
    # The session sends every declared tool (its token budget counts them all); the backend filters.
    assert [t.name for t in request.tools] == ["f", "g"]
    assert request.tool_choice == ToolChoice(mode="required", allowed_names=("g",))
    await session.aclose()
