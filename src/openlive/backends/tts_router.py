"""The embedded profile's one SpeechSynthesizer: routes by language, maps Gemini voice names.

English goes to Piper, Japanese to Kokoro. Any other language is spoken by the English Piper voice: the
profile has no other, and a reply read with English phonemes is more useful than silence (the LLM is
told the session language, so it mostly answers in en or ja anyway).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from openlive.backends.tts_kokoro import KokoroJaSynthesizer, kokoro_model_path
from openlive.backends.tts_piper import PiperSynthesizer
from openlive.backends.voices import GEMINI_VOICES, SUPPORTED_LANGUAGES, base_language, canonical_voice


class LanguageRoutingSynthesizer:
    """SpeechSynthesizer over one synthesizer per language; ``voice`` is a Gemini voice name."""

    def __init__(self, english: PiperSynthesizer, japanese: KokoroJaSynthesizer | None = None) -> None:
        self._english = english
        self._japanese = japanese

    def voices(self) -> list[str]:
        """The concrete voices behind the Gemini names."""
        names = list(self._english.voices())
        if self._japanese is not None:
            names += self._japanese.voices()
        return names

    def gemini_voices(self) -> list[str]:
        return list(GEMINI_VOICES)

    def languages(self) -> list[str]:
        return [lang for lang in SUPPORTED_LANGUAGES if lang == "en" or self._japanese is not None]

    def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]:
        # A concrete voice name ("jf_alpha") passes through; anything else is read as a Gemini name.
        name = voice if voice in self.voices() else canonical_voice(voice)
        if base_language(language) == "ja" and self._japanese is not None:
            return self._japanese.synthesize(text, voice=name, language="ja")
        return self._english.synthesize(text, voice=name, language="en")

    def close(self) -> None:
        self._english.close()
        if self._japanese is not None:
            self._japanese.close()

    async def aclose(self) -> None:
        # close() waits for the worker thread's job in progress: not on the event loop.
        await asyncio.to_thread(self.close)


def load_default_synthesizer(
    cache: Path, *, japanese: bool = True, piper_threads: int = 1, kokoro_threads: int = 1
) -> LanguageRoutingSynthesizer:
    """Piper (en) and, unless ``japanese`` is False, Kokoro (ja; its model is assembled into ``cache``)."""
    from openlive.backends.tts_piper import joe_voice_paths, load_piper_voice

    english = PiperSynthesizer(load_piper_voice(*joe_voice_paths(), threads=piper_threads))
    kokoro = KokoroJaSynthesizer(kokoro_model_path(cache), threads=kokoro_threads) if japanese else None
    return LanguageRoutingSynthesizer(english, kokoro)
