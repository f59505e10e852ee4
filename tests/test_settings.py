"""Settings: defaults < TOML < OPENLIVE_* environment < overrides, each value coerced to its field's type."""

from __future__ import annotations

from pathlib import Path

import pytest

from openlive.settings import Settings


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("false", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("true", True),
        ("1", True),
        ("Yes", True),
        ("on", True),
    ],
)
def test_a_switch_from_the_environment_reads_as_the_word_says(
    monkeypatch: pytest.MonkeyPatch, text: str, value: bool
) -> None:
    # A string from the environment used to be kept as it was: "false" was a true value.
    monkeypatch.setenv("OPENLIVE_CALL_ACKNOWLEDGEMENT", text)
    monkeypatch.setenv("OPENLIVE_LLM_ACCEPTS_IMAGES", text)
    settings = Settings.load()
    assert settings.call_acknowledgement is value and settings.llm_accepts_images is value


def test_a_switch_that_is_not_a_yes_or_a_no_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENLIVE_CALL_ACKNOWLEDGEMENT", "sometimes")
    with pytest.raises(ValueError, match="call_acknowledgement must be true or false"):
        Settings.load()


def test_a_switch_from_toml_is_a_boolean_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "openlive.toml"
    toml.write_text("call_acknowledgement = false\nport = 9000\n")
    monkeypatch.delenv("OPENLIVE_CALL_ACKNOWLEDGEMENT", raising=False)
    monkeypatch.delenv("OPENLIVE_PORT", raising=False)
    settings = Settings.load(toml_file=toml)
    assert settings.call_acknowledgement is False and settings.port == 9000
    monkeypatch.setenv("OPENLIVE_CALL_ACKNOWLEDGEMENT", "true")
    assert Settings.load(toml_file=toml).call_acknowledgement is True
    assert Settings().call_acknowledgement is True  # on by default
