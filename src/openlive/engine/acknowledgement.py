"""The short word a spoken reply opens with when it begins with a function call.

On two cores the embedded model writes a call's arguments in 1–3 s, and the app then runs the function:
without a word the person hears nothing for seconds after a request, and a voice agent that goes
silent reads as one that did not hear. So, as soon as the model has begun a call (``CallStarted``) and
the reply has said nothing yet, the speaker says an acknowledgement ("Okay.") while the call is written
and answered; the reply to the function's result follows as usual. It is the server's word, not the
model's: sent with its output transcription, but not recorded in the history (the model's prompt stays
what it read and wrote, so nothing is read again). Only confirmations that fit any call (a name
given, a request sent, a goodbye) are used, in turn, so that replies do not all open alike. A language
without phrases here gets none. ``Profile.call_acknowledgement`` switches it; a deviation from
Gemini, whose replies may open with a call in silence (docs/compatibility.md).
"""

from __future__ import annotations

import logging

from openlive.engine.language import base_language
from openlive.stages.speech import SpeechSynthesizer

log = logging.getLogger(__name__)

ACKNOWLEDGEMENTS: dict[str, tuple[str, ...]] = {
    "en": ("Okay.", "Sure.", "All right."),
    "de": ("Okay.", "Gut.", "Alles klar."),
    "fr": ("D'accord.", "Très bien."),
    "es": ("Claro.", "De acuerdo."),
    "it": ("Certo.", "Va bene."),
    "pt": ("Claro.", "Certo."),
    "nl": ("Oké.", "Prima."),
    "pl": ("Dobrze.", "Jasne."),
    "ru": ("Хорошо.", "Ладно."),
    "ja": ("はい。", "承知しました。"),
    "zh": ("好的。", "好。"),
    "ko": ("네.", "알겠습니다."),
}


def acknowledgement(language: str, turn: int) -> str | None:
    """The acknowledgement for a reply in ``language`` (a BCP-47 code or its base), the ``turn``-th in
    turn; None where there are none for the language."""
    phrases = ACKNOWLEDGEMENTS.get(base_language(language or "en"))
    if not phrases:
        return None
    return phrases[turn % len(phrases)]


class Acknowledgements:
    """Acknowledgement audio by voice, language and phrase, synthesised ahead and shared.

    Said when a call begins, a phrase would otherwise be synthesised while the model writes the call's
    arguments, on the same two cores (the ``toolCall`` came ~150 ms later, measured in the app
    scenario). A session prepares its voice's phrases when it starts (``prepare``); the engine gives the
    sessions of one profile one instance, so each phrase is synthesised once per voice and process,
    not once per session (64 sessions starting at once would otherwise queue ~200 syntheses on the
    TTS's one worker, ahead of their replies). A phrase not prepared yet is synthesised when said.
    """

    def __init__(self, tts: SpeechSynthesizer) -> None:
        self._tts = tts
        self._audio: dict[tuple[str, str, str], bytes] = {}
        self._preparing: set[tuple[str, str, str]] = set()

    def audio(self, voice: str, language: str, phrase: str) -> bytes | None:
        """The prepared audio of ``phrase`` in ``language`` and ``voice``, if any."""
        return self._audio.get((voice, base_language(language), phrase))

    async def prepare(self, voice: str, language: str) -> None:
        """Synthesise ``language``'s phrases in ``voice`` that no one has (best effort: after a failure
        they are synthesised when said)."""
        language = base_language(language)
        for phrase in ACKNOWLEDGEMENTS.get(language, ()):
            key = (voice, language, phrase)
            if key in self._audio or key in self._preparing:
                continue
            self._preparing.add(key)
            try:
                chunks = [c async for c in self._tts.synthesize(phrase, voice=voice, language=language)]
            except Exception:
                log.warning("could not prepare the acknowledgement %r", phrase, exc_info=True)
                return
            finally:
                self._preparing.discard(key)
            self._audio[key] = b"".join(chunks)
