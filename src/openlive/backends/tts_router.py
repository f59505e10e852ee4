"""The embedded profile's one SpeechSynthesizer: routes by language, maps Gemini voice names.

English goes to Piper, Japanese to Kokoro: a neural voice is preferred wherever one exists. Every other
language that espeak-ng has a voice for (``backends/languages.py``) goes to espeak-ng: robotic, but the
right language. What is left (a language no voice speaks, or espeak-ng missing) is spoken by the English
Piper voice: a reply read with English phonemes is more useful than silence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from openlive.backends.tts_espeak import EspeakSynthesizer
from openlive.backends.tts_kokoro import KokoroJaSynthesizer, kokoro_model_path
from openlive.backends.tts_piper import PiperSynthesizer
from openlive.backends.voices import GEMINI_VOICES, base_language, canonical_voice

log = logging.getLogger(__name__)


class LanguageRoutingSynthesizer:
    """SpeechSynthesizer over one synthesizer per language; ``voice`` is a Gemini voice name."""

    def __init__(
        self,
        english: PiperSynthesizer,
        japanese: KokoroJaSynthesizer | None = None,
        others: EspeakSynthesizer | None = None,
    ) -> None:
        self._english = english
        self._japanese = japanese
        self._others = others

    def voices(self) -> list[str]:
        """The concrete voices behind the Gemini names."""
        names = list(self._english.voices())
        if self._japanese is not None:
            names += self._japanese.voices()
        if self._others is not None:
            names += self._others.voices()
        return names

    def gemini_voices(self) -> list[str]:
        return list(GEMINI_VOICES)

    def languages(self) -> list[str]:
        """Every language a voice of its own speaks: what language identification may choose."""
        langs = ["en"] + (["ja"] if self._japanese is not None else [])
        if self._others is not None:
            langs += [lang for lang in self._others.languages() if lang not in langs]
        return langs

    def engine_for(self, language: str) -> str:
        """Which synthesizer speaks ``language``: "piper", "kokoro" or "espeak-ng"."""
        lang = base_language(language)
        if lang == "ja" and self._japanese is not None:
            return "kokoro"
        if lang != "en" and self._others is not None and lang in self._others.languages():
            return "espeak-ng"
        return "piper"

    def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]:
        # A concrete voice name ("jf_alpha") passes through; anything else is read as a Gemini name.
        name = voice if voice in self.voices() else canonical_voice(voice)
        engine = self.engine_for(language)
        if engine == "kokoro" and self._japanese is not None:
            return self._japanese.synthesize(text, voice=name, language="ja")
        if engine == "espeak-ng" and self._others is not None:
            return self._others.synthesize(
                text, voice=canonical_voice(voice), language=base_language(language)
            )
        return self._english.synthesize(text, voice=name, language="en")

    def close(self) -> None:
        self._english.close()
        if self._japanese is not None:
            self._japanese.close()
        if self._others is not None:
            self._others.close()

    async def aclose(self) -> None:
        # close() waits for the worker thread's job in progress: not on the event loop.
        await asyncio.to_thread(self.close)


def load_default_synthesizer(
    cache: Path,
    *,
    japanese: bool = True,
    others: bool = True,
    piper_threads: int = 1,
    kokoro_threads: int = 1,
) -> LanguageRoutingSynthesizer:
    """Piper (en), Kokoro (ja; its model is assembled into ``cache``) unless ``japanese`` is False, and
    espeak-ng for the other languages unless ``others`` is False. Without the espeak-ng binary the
    profile still loads, with a warning, and those languages fall back to the English voice."""
    from openlive.backends.tts_piper import joe_voice_paths, load_piper_voice

    english = PiperSynthesizer(load_piper_voice(*joe_voice_paths(), threads=piper_threads))
    kokoro = KokoroJaSynthesizer(kokoro_model_path(cache), threads=kokoro_threads) if japanese else None
    espeak: EspeakSynthesizer | None = None
    if others:
        try:
            espeak = EspeakSynthesizer(exclude=("en", "ja") if japanese else ("en",))
        except FileNotFoundError as exc:
            log.warning("%s: replies in languages other than English and Japanese use the English voice", exc)
    return LanguageRoutingSynthesizer(english, kokoro, espeak)
