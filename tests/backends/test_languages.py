"""The language table: all of Whisper's languages, a voice espeak-ng really has for each it names, and
docs/models.md showing exactly this table."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from faster_whisper.tokenizer import _LANGUAGE_CODES

from openlive.backends.languages import WHISPER_LANGUAGES, language_voices, markdown_table
from openlive.backends.tts_espeak import installed_voices

DOCS = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def test_every_whisper_base_language_is_in_the_table() -> None:
    # faster-whisper's list also has Cantonese ("yue"), which only large-v3 knows; Javanese is "jw" there.
    whisper = {"jv" if code == "jw" else code for code in _LANGUAGE_CODES} - {"yue"}
    assert set(WHISPER_LANGUAGES) == whisper and len(whisper) == 99


def test_neural_voices_first_then_espeak() -> None:
    engines = {row.code: row.engine for row in language_voices()}
    assert engines["en"] == "piper" and engines["ja"] == "kokoro"
    assert engines["es"] == engines["de"] == engines["zh"] == "espeak-ng"
    assert engines["yo"] == "piper (English)"
    assert sum(e in ("piper", "kokoro", "espeak-ng") for e in engines.values()) == 78


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_every_named_espeak_voice_exists() -> None:
    have = installed_voices(shutil.which("espeak-ng") or "espeak-ng")
    named = {voice for _, voice in WHISPER_LANGUAGES.values() if voice}
    assert named <= have, named - have


def test_docs_show_the_generated_table() -> None:
    page = DOCS.read_text(encoding="utf-8")
    found = re.search(r"<!-- languages:begin -->\n(.*?)<!-- languages:end -->", page, re.DOTALL)
    assert found, "docs/models.md lost its languages markers"
    assert found.group(1) == markdown_table(), "regenerate with: python -m openlive.backends.languages"
