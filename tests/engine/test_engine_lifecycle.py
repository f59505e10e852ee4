"""Stages have a lifecycle: ``Engine.aclose()`` closes each loaded profile's stages once, at shutdown."""

from __future__ import annotations

import logging

import pytest

from openlive.engine import Engine, Profile


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
