"""Stages have a lifecycle: ``Engine.aclose()`` closes each loaded profile's stages once, at shutdown;
what the engine shares between a profile's sessions is shared."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from engine_fakes import RecordingOutbox, ScriptedLanguageModel, ScriptedSynthesizer, fake_profile

from openlive.engine import Engine, Profile
from openlive.protocol.messages import FunctionDeclaration, GenerationConfig, Modality, Setup, Tool


class ClosingStage:
    """A stage that only records being closed (unit-test fake)."""

    def __init__(self, log: list[str], name: str, *, fails: bool = False) -> None:
        self.log, self.name, self.fails = log, name, fails

    async def aclose(self) -> None:
        self.log.append(self.name)
        if self.fails:
            raise RuntimeError(f"{self.name} could not close")


async def test_engine_aclose_closes_every_stage_once_even_when_one_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed: list[str] = []
    shared_asr = ClosingStage(closed, "asr")

    def load() -> Profile:
        return Profile(
            name="p",
            description="closing fakes",
            llm=ClosingStage(closed, "llm", fails=True),  # type: ignore[arg-type]
            tts=ClosingStage(closed, "tts"),  # type: ignore[arg-type]
            asr={"en": shared_asr, "*": shared_asr},  # type: ignore[dict-item]
            vad=ClosingStage(closed, "vad"),  # type: ignore[arg-type]
            turn=ClosingStage(closed, "turn"),  # type: ignore[arg-type]
        )

    engine = Engine({"p": ("closing fakes", load)}, default_profile="p")
    await engine.load()
    with caplog.at_level(logging.ERROR):
        await engine.aclose()
    assert sorted(closed) == ["asr", "llm", "tts", "turn", "vad"]
    assert "closing ClosingStage failed" in caplog.text
    await engine.aclose()  # a second close has nothing left to close
    assert len(closed) == 5


async def test_the_sessions_of_a_profile_share_its_call_acknowledgements() -> None:
    # Each phrase is synthesised once per voice and process, not by every session that starts.
    tts = ScriptedSynthesizer()
    profile = dataclasses.replace(fake_profile(ScriptedLanguageModel(), tts), call_acknowledgement=True)
    engine = Engine({"fake": ("fakes", lambda: profile)}, default_profile="fake")
    await engine.load()
    setup = Setup(
        model="models/fake",
        generation_config=GenerationConfig(response_modalities=[Modality.AUDIO]),
        tools=[Tool(function_declarations=[FunctionDeclaration(name="f")])],
    )
    sessions = [engine.open_session(setup, RecordingOutbox(), session_id=f"s{i}") for i in range(2)]
    for session in sessions:
        await session.start()
    for session in sessions:
        await session.aclose()
    said = [text for text, _, _ in tts.calls]
    assert said and len(said) == len(set(said)), said  # the second session synthesised nothing again
