"""Which recogniser (and language hint) transcribes the next utterance.

With a session language (``speechConfig.languageCode``) the recogniser for it is used, else the
multilingual ``"*"`` one with that language as a hint. Without one, the ``"*"`` recogniser detects the
language; once an utterance of at least a second (short ones give unreliable language ID) comes back
in a language, that language is kept: its own recogniser when the profile has one (e.g. tiny.en is
faster and better on English than the multilingual base model), else ``"*"`` with the language as a
hint, which also skips detection on later turns.

Detecting by transcribing is slow, though: the multilingual model decodes several times slower than
tiny.en, and until a language is kept every utterance would go through it. So when the ``"*"``
recogniser can identify languages alone (``LanguageDetector``), an utterance in an unknown language
gets a ``DetectingStream``: it buffers the audio, and at the first partial request with enough of it
(while the user is still speaking) asks for the language, then hands the utterance — the audio so far
and all that follows — to the recogniser for that language. English is then transcribed by tiny.en
from the first turn, and the language can only be one the backend was told the profile answers in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import numpy as np

from openlive.engine.language import base_language
from openlive.stages.speech import (
    INPUT_SAMPLE_RATE,
    Audio,
    LanguageDetector,
    RecognitionResult,
    RecognitionStream,
    SpeechRecognizer,
)

log = logging.getLogger(__name__)

MULTILINGUAL = "*"
MIN_DETECTION_SPEECH_S = 1.0
# Identify the language once this much audio is buffered. The listener's first partial request comes
# after 0.6 s of speech, about 0.8 s of audio with the pre-roll: that one qualifies, so the language is
# known while the user is still speaking. Half a second of natural speech is usually enough; where it is
# not, the answer is checked again (below). An utterance with less audio than this is identified at
# finish().
DETECT_MIN_SAMPLES = int(0.6 * INPUT_SAMPLE_RATE)
# A language is settled when its summed probability over the looks so far (Whisper's, over all its
# languages) is this many times the next one's and either this high or heard on this much audio.
# Anything less is checked again at a later partial request with at least RECHECK_MIN_NEW_SAMPLES
# more audio, up to MAX_IDENTIFICATIONS looks in all (each costs ~0.3 s of the ASR worker). Robotic
# or accented speech gives close or wrong scores on its first second: among the 78 languages the
# embedded voices speak, espeak-ng's German is English (0.39) or Hindi at 0.8 and 1.3 s and German
# (0.76, next 0.04) from 1.8 s; its Spanish is Spanish at 0.72 on 0.8 s and 0.88 on 1.3 s. Natural
# English is English at 0.9 or more at once.
CONFIDENT_RATIO = 3.0
SURE_PROBABILITY = 0.8
SETTLE_MIN_SAMPLES = int(1.5 * INPUT_SAMPLE_RATE)
MAX_IDENTIFICATIONS = 4
RECHECK_MIN_NEW_SAMPLES = int(0.5 * INPUT_SAMPLE_RATE)


def _supports(recognizer: SpeechRecognizer, language: str) -> bool:
    try:
        return language in recognizer.languages()
    except Exception:  # a recogniser that cannot tell is trusted with the hint
        return True


class RecognizerChoice:
    def __init__(
        self, recognizers: dict[str, SpeechRecognizer], language: str | None, vocabulary: Sequence[str] = ()
    ) -> None:
        if not recognizers:
            raise ValueError("the listener needs at least one speech recogniser")
        self._recognizers = recognizers
        # The session's customVocabulary, handed to every stream (whatever its language).
        self._vocabulary = tuple(vocabulary)
        self.language: str | None = base_language(language) if language else None
        self.fixed = self.language is not None

    def _pick(self, lang: str | None) -> tuple[SpeechRecognizer, str | None]:
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
        recognizer, hint = self._pick(self.language)
        multilingual = self._recognizers.get(MULTILINGUAL)
        if self.language is None and recognizer is multilingual and isinstance(recognizer, LanguageDetector):
            return DetectingStream(recognizer, self._stream_for)
        return self._open(recognizer, hint)

    def _stream_for(self, detected: str | None) -> RecognitionStream:
        """The stream for an utterance found to be in ``detected`` (None: the detector could not tell)."""
        # Not kept for the session here: observe() does that, after a long enough turn.
        recognizer, hint = self._pick(base_language(detected) if detected else None)
        return self._open(recognizer, hint)

    def _open(self, recognizer: SpeechRecognizer, hint: str | None) -> RecognitionStream:
        # Only with a vocabulary: a recogniser that cannot use one need not know the keyword.
        if self._vocabulary:
            return recognizer.new_stream(hint, vocabulary=self._vocabulary)
        return recognizer.new_stream(hint)

    def observe(self, detected: str | None, speech_s: float) -> None:
        """A finished utterance came back as ``detected`` after ``speech_s`` seconds of speech."""
        if self.fixed or not detected or speech_s < MIN_DETECTION_SPEECH_S:
            return
        self.language = base_language(detected)
        self.fixed = True


class DetectingStream:
    """A ``RecognitionStream`` for an utterance whose language is not known yet (see module docstring).

    A doubtful identification (see ``CONFIDENT_RATIO``, ``SURE_PROBABILITY``, ``SETTLE_MIN_SAMPLES``)
    is tentative: later partial requests, with more audio, identify again (at most
    ``MAX_IDENTIFICATIONS`` times) and switch streams if the answer changed. ``finish`` never identifies
    again, to stay fast.

    Identification and the decodes that follow it take turns under one lock, and the backend runs
    them all in its single ASR executor, so two never compete for the cores.
    """

    def __init__(
        self, detector: LanguageDetector, stream_for: Callable[[str | None], RecognitionStream]
    ) -> None:
        self._detector = detector
        self._stream_for = stream_for
        self._chunks: list[Audio] = []  # the utterance so far, kept while the language may change
        self._samples = 0
        self._identified_samples = 0  # how much audio the last identification heard
        self._inner: RecognitionStream | None = None
        self._settled = False
        self._identifications = 0
        self._evidence: dict[str, float] = {}  # each language's probabilities, summed over the looks
        self._lock = asyncio.Lock()
        self.language: str | None = None  # as identified, once it has been

    def feed(self, audio: Audio) -> None:
        if self._inner is not None:
            self._inner.feed(audio)
        if not self._settled and audio.size:
            self._chunks.append(np.array(audio, dtype=np.float32, copy=True).reshape(-1))
            self._samples += audio.size

    async def partial(self) -> RecognitionResult | None:
        if self._lock.locked() or self._samples < DETECT_MIN_SAMPLES:
            return None  # identifying already, or too little audio to tell a language by
        async with self._lock:
            new = self._samples - self._identified_samples
            if self._inner is None or (not self._settled and new >= RECHECK_MIN_NEW_SAMPLES):
                await self._identify()
            inner = self._inner
        assert inner is not None
        return await inner.partial()

    async def finish(self) -> RecognitionResult:
        async with self._lock:  # waits for an identification in progress
            if self._inner is None:
                await self._identify()
            inner = self._inner
            self._settled, self._chunks = True, []
        assert inner is not None
        return await inner.finish()

    async def _identify(self) -> None:
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.float32)
        self._chunks = [audio] if audio.size else []
        scores = await self._detector.detect_language(audio) if audio.size else {}
        # Each look hears the utterance so far; their probabilities are added up, so one odd look does
        # not overturn consistent earlier ones (espeak-ng's German: de 0.50 at 0.8 s, de 0.76 at 1.4 s,
        # then Thai 0.64 at 2.1 s).
        for code, p in scores.items():
            self._evidence[code] = self._evidence.get(code, 0.0) + p
        evidence = self._evidence
        language = max(evidence, key=evidence.__getitem__) if evidence else None
        ranked = sorted(evidence.values(), reverse=True)
        first = self._inner is None
        self._identified_samples = audio.size
        self._identifications += 1
        confident = len(ranked) < 2 or ranked[0] >= CONFIDENT_RATIO * ranked[1]
        sure = not ranked or ranked[0] >= SURE_PROBABILITY or audio.size >= SETTLE_MIN_SAMPLES
        self._settled = (confident and sure) or self._identifications >= MAX_IDENTIFICATIONS
        if first or language != self.language:
            inner = self._stream_for(language)
            # All of it: what was fed while the detector ran belongs to the utterance too.
            for chunk in self._chunks:
                inner.feed(chunk)
            self._inner = inner
        self.language = language
        # Which language an utterance was taken for, on how much audio, and how sure: the first thing
        # to look at when a reply comes in the wrong language.
        log.debug(
            "language %s on %.2f s (%s)%s",
            language,
            audio.size / INPUT_SAMPLE_RATE,
            ", ".join(f"{k} {v:.2f}" for k, v in sorted(scores.items(), key=lambda kv: -kv[1])[:3]),
            " settled" if self._settled else "",
        )
        if self._settled:
            self._chunks = []
