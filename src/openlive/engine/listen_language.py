"""Which recogniser (and language hint) transcribes the next utterance.

With a session language (``speechConfig.languageCode``) the recogniser for it is used, else the
multilingual ``"*"`` one with that language as a hint. Without one, the ``"*"`` recogniser detects the
language; once an utterance of at least a second (short ones give unreliable language ID) comes back
in a language, that language is kept: its own recogniser when the profile has one (e.g. tiny.en is
faster and better on English than the multilingual base model), else ``"*"`` with the language as a
hint, which also skips detection on later turns.
"""

from __future__ import annotations

from openlive.engine.language import base_language
from openlive.stages.speech import RecognitionStream, SpeechRecognizer

MULTILINGUAL = "*"
MIN_DETECTION_SPEECH_S = 1.0


def _supports(recognizer: SpeechRecognizer, language: str) -> bool:
    try:
        return language in recognizer.languages()
    except Exception:  # a recogniser that cannot tell is trusted with the hint
        return True


class RecognizerChoice:
    def __init__(self, recognizers: dict[str, SpeechRecognizer], language: str | None) -> None:
        if not recognizers:
            raise ValueError("the listener needs at least one speech recogniser")
        self._recognizers = recognizers
        self.language: str | None = base_language(language) if language else None
        self.fixed = self.language is not None

    def _pick(self) -> tuple[SpeechRecognizer, str | None]:
        lang = self.language
        if lang is not None and lang in self._recognizers:
            return self._recognizers[lang], lang
        if MULTILINGUAL in self._recognizers:
            return self._recognizers[MULTILINGUAL], lang
        if lang is not None:
            for recognizer in self._recognizers.values():
                if _supports(recognizer, lang):
                    return recognizer, lang
        # No multilingual recogniser and nothing for this language: English if there is one.
        fallback = self._recognizers.get("en") or next(iter(self._recognizers.values()))
        return fallback, None

    def new_stream(self) -> RecognitionStream:
        recognizer, hint = self._pick()
        return recognizer.new_stream(hint)

    def observe(self, detected: str | None, speech_s: float) -> None:
        """A finished utterance came back as ``detected`` after ``speech_s`` seconds of speech."""
        if self.fixed or not detected or speech_s < MIN_DETECTION_SPEECH_S:
            return
        self.language = base_language(detected)
        self.fixed = True
