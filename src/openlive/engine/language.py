"""Language codes: BCP-47 codes from ``speechConfig.languageCode`` and a guess from written text."""

from __future__ import annotations

import re

from openlive.protocol.voices import base_language as base_language

# speechConfig.languageCode values of the BidiGenerateContent proto (reference §6).
GEMINI_LANGUAGE_CODES = frozenset(
    {
        "de-DE",
        "en-AU",
        "en-GB",
        "en-IN",
        "en-US",
        "es-US",
        "fr-FR",
        "hi-IN",
        "pt-BR",
        "ar-XA",
        "es-ES",
        "fr-CA",
        "id-ID",
        "it-IT",
        "ja-JP",
        "tr-TR",
        "vi-VN",
        "bn-IN",
        "gu-IN",
        "kn-IN",
        "ml-IN",
        "mr-IN",
        "ta-IN",
        "te-IN",
        "nl-NL",
        "ko-KR",
        "cmn-CN",
        "pl-PL",
        "ru-RU",
        "th-TH",
    }
)

_KANA = re.compile("[\u3040-\u30ff]")
_HAN = re.compile("[\u4e00-\u9fff]")


def is_known_language_code(code: str) -> bool:
    return code in GEMINI_LANGUAGE_CODES or re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,4})?", code) is not None


def guess_language(text: str) -> str | None:
    """A script-based guess, good enough to pick between the profile's voices (en/ja) for typed text."""
    if _KANA.search(text):
        return "ja"
    if _HAN.search(text):
        return "ja"  # Han without kana: the embedded stack speaks Japanese, not Chinese
    if re.search(r"[A-Za-z]", text):
        return "en"
    return None
