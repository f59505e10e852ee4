"""Profile builders: which LLM backend a configuration selects, and what every profile carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openlive.backends import embedded
from openlive.backends.llm_openai import OpenAICompatibleLanguageModel
from openlive.settings import Settings


class FakeSpeechStage:
    """Stands in for every speech stage: these tests are about the LLM wiring."""


@pytest.fixture
def no_speech_models(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    loaded_from: list[Path] = []

    def fake_load(cache: Path, core_share: Any = None) -> tuple[Any, Any, Any, Any]:
        loaded_from.append(cache)
        return FakeSpeechStage(), {"en": FakeSpeechStage()}, FakeSpeechStage(), FakeSpeechStage()

    monkeypatch.setattr(embedded, "_load_speech_stages", fake_load)
    return loaded_from


def test_remote_profile_uses_the_configured_endpoint(no_speech_models: list[Path], tmp_path: Path) -> None:
    settings = Settings(
        llm_url="http://gpu-box:8000/v1", llm_model="qwen-7b", llm_api_key="k", cache_dir=tmp_path
    )
    profile = embedded.load_configured_profile(settings)
    assert profile.name == embedded.REMOTE_PROFILE_NAME
    assert isinstance(profile.llm, OpenAICompatibleLanguageModel)
    assert profile.llm.url == "http://gpu-box:8000/v1/chat/completions"
    assert profile.llm.model == "qwen-7b"
    assert profile.spoken_style_prompt == embedded.SPOKEN_STYLE_PROMPT
    assert profile.input_token_limit == settings.llm_context_tokens
    assert set(profile.asr) == {"en"}
    assert no_speech_models == [tmp_path]


def test_remote_profile_needs_a_url() -> None:
    with pytest.raises(ValueError, match="llm_url"):
        embedded.load_remote_profile(Settings(llm_url=""))


def test_llm_endpoint_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENLIVE_LLM_URL", "http://127.0.0.1:11434")
    monkeypatch.setenv("OPENLIVE_LLM_MODEL", "llama3.2")
    settings = Settings.load()
    assert (settings.llm_url, settings.llm_model, settings.llm_api_key) == (
        "http://127.0.0.1:11434",
        "llama3.2",
        "",
    )


def test_spoken_style_prompt_asks_for_speakable_text() -> None:
    prompt = embedded.SPOKEN_STYLE_PROMPT.lower()
    assert "markdown" in prompt and "short" in prompt
    # The tool-call hint and tool-calling work only while the style prompt does not forbid "code".
    assert "code" not in prompt


@pytest.mark.models
def test_embedded_profile_loads_every_stage() -> None:
    profile = embedded.load_embedded_profile(Settings.load())
    assert profile.name == embedded.EMBEDDED_PROFILE_NAME
    assert profile.llm.count_tokens("hello world") == 2
    assert profile.tts is not None and profile.vad is not None and profile.turn is not None
    assert "en" in profile.asr


def test_instruction_retrieval_comes_from_the_environment_and_a_wrong_value_stops_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert embedded.instruction_retrieval_mode(Settings()) == "auto"
    monkeypatch.setenv("OPENLIVE_INSTRUCTION_RETRIEVAL", " Never")
    assert embedded.instruction_retrieval_mode(Settings.load()) == "never"
    with pytest.raises(ValueError, match="auto, always, never"):
        embedded.instruction_retrieval_mode(Settings(instruction_retrieval="sometimes"))
