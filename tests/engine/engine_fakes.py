"""Scripted fake stages and a recording outbox, for engine unit tests only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from openlive.engine.acknowledgement import Acknowledgements
from openlive.engine.profile import Profile
from openlive.engine.resumption import ResumptionStore
from openlive.engine.session import LiveSession, SessionLimits
from openlive.protocol.errors import CloseCode
from openlive.protocol.messages import (
    ClientContent,
    Content,
    GenerationConfig,
    Modality,
    Part,
    ServerContent,
    ServerMessage,
    Setup,
    UsageMetadata,
)
from openlive.stages.language_model import (
    CallStarted,
    ChatDone,
    ChatEvent,
    ChatRequest,
    TextDelta,
    ToolCallRequest,
)


class MalformedCall:
    """A script item: the model wrote tool-call markup that could not be read (counted in ChatDone)."""


@dataclass
class ScriptedLanguageModel:
    """Replies with scripted turns, one per request; records the requests it was given."""

    replies: list[list[str | CallStarted | ToolCallRequest | MalformedCall]] = field(default_factory=list)
    delay_s: float = 0.0
    name: str = "scripted"
    requests: list[ChatRequest] = field(default_factory=list)
    # Prompt tokens each reply reports as read from the cache (never more than its prompt).
    cached_tokens: int = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        self.requests.append(request)
        script = self.replies.pop(0) if self.replies else ["Hello."]
        completion = 0
        malformed = 0
        for item in script:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if isinstance(item, ToolCallRequest | CallStarted):
                yield item
            elif isinstance(item, MalformedCall):
                malformed += 1
            else:
                completion += 1
                yield TextDelta(text=item)
        prompt = sum(self.count_tokens(m.content) for m in request.messages)
        yield ChatDone(
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached_prompt_tokens=min(self.cached_tokens, prompt),
            malformed_tool_calls=malformed,
        )


@dataclass
class FakePrefillingLanguageModel(ScriptedLanguageModel):
    """A ``ScriptedLanguageModel`` that is also a ``PromptPrefiller``: records each prefill request."""

    prefills: list[ChatRequest] = field(default_factory=list)

    def prefill(self, request: ChatRequest) -> None:
        self.prefills.append(request)


@dataclass
class ScriptedSynthesizer:
    """Emits 24 kHz PCM whose length is proportional to the text (50 ms per character)."""

    delay_s: float = 0.0
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def voices(self) -> list[str]:
        return ["fake"]

    def languages(self) -> list[str]:
        return ["en", "ja"]

    async def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]:
        self.calls.append((text, voice, language))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        yield b"\x01\x00" * (1200 * len(text))


@dataclass
class RecordingOutbox:
    messages: list[tuple[ServerMessage, UsageMetadata | None]] = field(default_factory=list)
    closed: tuple[CloseCode, str] | None = None
    turn_done: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, message: ServerMessage, usage: UsageMetadata | None = None) -> None:
        self.messages.append((message, usage))
        if isinstance(message, ServerContent) and message.turn_complete:
            self.turn_done.set()

    async def close(self, code: CloseCode, reason: str) -> None:
        self.closed = (code, reason)
        self.turn_done.set()

    def contents(self) -> list[ServerContent]:
        return [m for m, _ in self.messages if isinstance(m, ServerContent)]

    async def wait_turn(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self.turn_done.wait(), timeout)
        self.turn_done.clear()


def fake_profile(llm: ScriptedLanguageModel, tts: ScriptedSynthesizer | None = None) -> Profile:
    return Profile(
        name="fake",
        description="scripted stages",
        llm=llm,
        tts=tts if tts is not None else ScriptedSynthesizer(),
        system_prompt="You are openlive.",
        spoken_style_prompt="Speak briefly.",
    )


LIVE_MODEL = "models/gemini-live-2.5-flash-native-audio"


def live_session(
    llm: ScriptedLanguageModel,
    *,
    profile: Profile | None = None,
    modality: Modality = Modality.TEXT,
    limits: SessionLimits | None = None,
    session_id: str = "s1",
    resumption: ResumptionStore | None = None,
    acknowledgements: Acknowledgements | None = None,
    outbox: RecordingOutbox | None = None,
    **setup_fields: object,
) -> tuple[LiveSession, RecordingOutbox]:
    """A session over scripted stages (``fake_profile(llm)`` unless ``profile``), recording what it
    sends (in ``outbox``, a new ``RecordingOutbox`` unless given). ``setup_fields`` go into its
    ``Setup``; without a ``generation_config`` it replies in ``modality``."""
    config = setup_fields.pop("generation_config", None) or GenerationConfig(response_modalities=[modality])
    setup = Setup(model=LIVE_MODEL, generation_config=config, **setup_fields)  # type: ignore[arg-type]
    outbox = outbox if outbox is not None else RecordingOutbox()
    session = LiveSession(
        setup,
        profile if profile is not None else fake_profile(llm),
        outbox,
        session_id=session_id,
        limits=limits or SessionLimits(audio_lead_s=60.0),
        resumption=resumption,
        acknowledgements=acknowledgements,
    )
    return session, outbox


def user(text: str) -> ClientContent:
    """A typed user turn, complete."""
    return ClientContent(turns=[Content(role="user", parts=[Part(text=text)])], turn_complete=True)
