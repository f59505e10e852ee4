"""Randomised interleavings: hypothesis drives a session with arbitrary sequences of client messages,
listener events, function results, model and synthesiser failures and delays, in TEXT and AUDIO, in
virtual time (looptime: a sleep of a second takes none), and checks the session's invariants after
every step. Unit test over scripted fakes (no models)."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator
from typing import Any

import looptime
import numpy as np
from engine_fakes import RecordingOutbox, fake_profile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from listener_fakes import SR, FakeRecognizer, FakeTurnDetector, FakeVad, pcm, silence
from session_checks import assert_well_formed, describe, live_tasks

from openlive.engine.listener import InterimTranscript, SpeechResumed, SpeechStarted, TurnDropped, TurnEnded
from openlive.engine.session import LiveSession, SessionLimits
from openlive.protocol.messages import (
    AudioTranscriptionConfig,
    Blob,
    ClientContent,
    Content,
    FunctionBehavior,
    FunctionDeclaration,
    FunctionResponse,
    FunctionResponseScheduling,
    GenerationConfig,
    Modality,
    Part,
    RealtimeInput,
    Setup,
    SpeechConfig,
    Tool,
    ToolCall,
    ToolCallCancellation,
    ToolResponse,
)
from openlive.stages.language_model import ChatDone, ChatEvent, ChatRequest, TextDelta, ToolCallRequest

TOOLS = [
    Tool(
        function_declarations=[
            FunctionDeclaration(name="blocking"),
            FunctionDeclaration(name="background", behavior=FunctionBehavior.NON_BLOCKING),
        ]
    )
]
DELAYS = [0.0, 0.01, 0.1, 0.5]


@dataclasses.dataclass
class ChaosLanguageModel:
    """Streams a few words after random delays; sometimes calls a function or fails (unit tests only)."""

    rng: random.Random
    name: str = "chaos"
    calls: int = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        words = self.rng.randint(0, 5)
        for i in range(words):
            await asyncio.sleep(self.rng.choice(DELAYS))
            yield TextDelta(text=f"w{i}. " if i % 2 else f"w{i} ")
        fate = self.rng.random()
        if fate < 0.03:
            raise RuntimeError("the model failed")
        if request.tools and fate < 0.3:
            self.calls += 1
            yield ToolCallRequest(id=f"call-{self.calls}", name=self.rng.choice(["blocking", "background"]))
        yield ChatDone(prompt_tokens=len(request.messages), completion_tokens=words)


@dataclasses.dataclass
class ChaosSynthesizer:
    rng: random.Random

    def voices(self) -> list[str]:
        return ["fake"]

    def languages(self) -> list[str]:
        return ["en"]

    async def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]:
        await asyncio.sleep(self.rng.choice(DELAYS))
        if self.rng.random() < 0.02:
            raise RuntimeError("the synthesiser failed")
        yield b"\x01\x00" * (240 * len(text))


TEXTS = st.sampled_from(["hello there", "what time is it", "stop", ""])
STEPS = st.one_of(
    st.tuples(st.just("typed"), TEXTS),
    st.tuples(st.just("realtime_text"), TEXTS),
    st.tuples(st.just("incomplete"), TEXTS),
    st.tuples(st.just("speech_started")),
    st.tuples(st.just("paused"), TEXTS),
    st.tuples(st.just("resumed")),
    st.tuples(st.just("dropped")),
    st.tuples(st.just("ended"), TEXTS),
    st.tuples(st.just("stream_end")),
    st.tuples(st.just("respond"), st.integers(0, 3), st.sampled_from(list(FunctionResponseScheduling))),
    st.tuples(st.just("wait"), st.sampled_from([0.0, 0.005, 0.05, 0.3, 2.0])),
)


class Run:
    def __init__(self, modality: Modality, seed: int, barge_in: bool) -> None:
        rng = random.Random(seed)
        self.outbox = RecordingOutbox()
        setup = Setup(
            model="models/gemini-live-2.5-flash-native-audio",
            generation_config=GenerationConfig(
                response_modalities=[modality], speech_config=SpeechConfig(language_code="en-US")
            ),
            input_audio_transcription=AudioTranscriptionConfig(),
            output_audio_transcription=AudioTranscriptionConfig(),
            tools=TOOLS,
        )
        if not barge_in:
            setup.realtime_input_config.activity_handling = "NO_INTERRUPTION"  # type: ignore[assignment]
        profile = dataclasses.replace(
            fake_profile(ChaosLanguageModel(rng), ChaosSynthesizer(rng)),  # type: ignore[arg-type]
            asr={"en": FakeRecognizer(words=("hello",))},
            vad=FakeVad(),
            turn=FakeTurnDetector(0.9),
        )
        loop = asyncio.get_running_loop()
        self.session = LiveSession(
            setup,
            profile,
            self.outbox,
            session_id="chaos",
            limits=SessionLimits(audio_lead_s=0.2, connection_time_limit_s=30.0, go_away_before_s=5.0),
            clock=loop.time,
        )
        self.answered: set[str] = set()

    async def step(self, step: tuple[Any, ...]) -> None:
        session = self.session
        kind = step[0]
        if kind == "typed" and step[1]:
            turn = Content(role="user", parts=[Part(text=step[1])])
            await session.handle(ClientContent(turns=[turn], turn_complete=True))
        elif kind == "realtime_text":
            await session.handle(RealtimeInput(text=step[1]))
        elif kind == "incomplete" and step[1]:
            await session.handle(ClientContent(turns=[Content(role="user", parts=[Part(text=step[1])])]))
        elif kind == "stream_end":
            await session.handle(RealtimeInput(audio_stream_end=True))
        elif kind == "respond":
            ids = [
                fc.id for m, _ in self.outbox.messages if isinstance(m, ToolCall) for fc in m.function_calls
            ]
            if ids:
                call_id = ids[step[1] % len(ids)]
                assert call_id is not None
                self.answered.add(call_id)
                name = "background" if step[1] % 2 else "blocking"
                response = FunctionResponse(id=call_id, name=name, response={"ok": True}, scheduling=step[2])
                await session.handle(ToolResponse(function_responses=[response]))
        elif kind == "wait":
            await asyncio.sleep(step[1])
        elif kind in ("speech_started", "paused", "resumed", "dropped", "ended"):
            listener = session._listener
            assert listener is not None
            if kind == "speech_started":
                listener._emit(SpeechStarted(at_s=0.0))
            elif kind == "paused":
                listener._emit(InterimTranscript(step[1], at_pause=True))
            elif kind == "resumed":
                listener._emit(SpeechResumed())
            elif kind == "dropped":
                listener._emit(TurnDropped(speech_end_s=0.0, reason="noise"))
            else:
                audio = np.zeros(0, dtype=np.float32)
                listener._emit(TurnEnded(text=step[1], language="en", speech_end_s=0.0, audio=audio))
        for _ in range(3):
            await asyncio.sleep(0)  # let the listener's events reach the inbox

    def check(self) -> None:
        session = self.session
        replies = [t for t in session.tasks_alive() if ":reply-" in t.get_name()]
        assert len(replies) <= 1, f"{len(replies)} replies in flight"
        assert_well_formed(self.outbox)
        reply = session.last_reply
        if reply is not None and reply.tentative is not None:
            assert all(c is not reply.tentative for c in session.history), "a tentative turn in the history"

    def check_calls(self) -> None:
        """Every BLOCKING call is answered, cancelled, or still open on the reply in flight."""
        if self.outbox.closed is not None:
            return  # the session failed (a scripted fault): its calls ended with it
        cancelled = {i for m, _ in self.outbox.messages if isinstance(m, ToolCallCancellation) for i in m.ids}
        reply = self.session.last_reply
        still_open = set(reply.open_call_ids()) if reply is not None and reply.running else set()
        for message, _ in self.outbox.messages:
            if isinstance(message, ToolCall):
                for call in message.function_calls:
                    if call.name == "blocking":
                        assert call.id in self.answered | cancelled | still_open, (
                            call.id,
                            describe(self.outbox),
                        )


async def scenario(modality: Modality, seed: int, barge_in: bool, steps: list[tuple[Any, ...]]) -> None:
    run = Run(modality, seed, barge_in)
    session = run.session
    await session.start()
    await session.handle(RealtimeInput(audio=Blob(mime_type=f"audio/pcm;rate={SR}", data=pcm(silence(0.02)))))
    for step in steps:
        async with asyncio.timeout(60):  # virtual seconds: a step that hangs fails, never blocks
            await run.step(step)
        run.check()
    await asyncio.sleep(1.0)
    run.check()
    run.check_calls()
    await session.aclose()
    sent = len(run.outbox.messages)
    assert live_tasks() == [], live_tasks()
    await asyncio.sleep(5.0)
    assert len(run.outbox.messages) == sent, "sent after aclose()"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,  # the same examples in every run of make test; a campaign can raise the count
)
@given(
    modality=st.sampled_from([Modality.TEXT, Modality.AUDIO]),
    seed=st.integers(0, 2**16),
    barge_in=st.booleans(),
    steps=st.lists(STEPS, max_size=25),
)
def test_random_interleavings_keep_the_session_invariants(
    modality: Modality, seed: int, barge_in: bool, steps: list[tuple[Any, ...]]
) -> None:
    loop = looptime.new_event_loop()
    try:
        loop.run_until_complete(scenario(modality, seed, barge_in, steps))
    finally:
        loop.close()
