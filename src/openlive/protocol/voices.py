"""Voice names and language codes of the Gemini Live API (reference §6): wire vocabulary for all layers."""

from __future__ import annotations

GEMINI_VOICES: tuple[str, ...] = (
    "Zephyr", "Kore", "Orus", "Autonoe", "Umbriel", "Erinome", "Laomedeia", "Schedar", "Achird", "Sadachbia",
    "Puck", "Fenrir", "Aoede", "Enceladus", "Algieba", "Algenib", "Achernar", "Gacrux", "Zubenelgenubi",
    "Sadaltager", "Charon", "Leda", "Callirrhoe", "Iapetus", "Despina", "Rasalgethi", "Alnilam",
    "Pulcherrima", "Vindemiatrix", "Sulafat",
)  # fmt: skip

DEFAULT_VOICE = "Puck"

_BY_LOWER = {v.lower(): v for v in GEMINI_VOICES}


def canonical_voice(name: str) -> str | None:
    """The canonical spelling of a Gemini voice name (matched case-insensitively), or None if unknown."""
    return _BY_LOWER.get(name.strip().lower())


def base_language(code: str) -> str:
    """The primary language subtag of a ``languageCode``: ``en-US`` → ``en``, ``EN_us`` → ``en``;
    ``cmn-CN`` → ``zh`` (the proto's Mandarin code)."""
    lang = code.replace("_", "-").split("-", 1)[0].strip().lower()
    return {"cmn": "zh"}.get(lang, lang)
