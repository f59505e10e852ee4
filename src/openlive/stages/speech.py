"""Speech stages: voice activity, end of turn, recognition and synthesis.

Audio conventions, everywhere above the wire: mono float32 numpy arrays in [-1, 1] at 16 kHz going in
(recognition, VAD, turn detection) and 16-bit little-endian PCM bytes at 24 kHz coming out (synthesis).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Audio = npt.NDArray[np.float32]

INPUT_SAMPLE_RATE = 16_000
OUTPUT_SAMPLE_RATE = 24_000


class VadStream(Protocol):
    """Per-session VAD state. ``process`` takes exactly ``frame_samples`` samples at 16 kHz."""

    frame_samples: int

    def process(self, frame: Audio) -> float:
        """Speech probability of this frame, 0..1."""
        ...

    def reset(self) -> None: ...


class VoiceActivityDetector(Protocol):
    def new_stream(self) -> VadStream: ...

    async def aclose(self) -> None:
        """Release the model and its threads (server shutdown); no stream is used after."""
        ...


class TurnDetector(Protocol):
    async def aclose(self) -> None:
        """Release the model and its threads (server shutdown)."""
        ...

    async def end_of_turn_probability(self, audio: Audio) -> float:
        """P(the speaker has finished) given the audio of the turn so far (the model uses its tail)."""
        ...


@dataclass(slots=True, kw_only=True)
class RecognitionResult:
    text: str
    language: str | None = None  # ISO 639-1, e.g. "en", "ja"


class RecognitionStream(Protocol):
    """Incremental recognition of one utterance: feed audio while the user speaks, then finish."""

    def feed(self, audio: Audio) -> None: ...

    async def partial(self) -> RecognitionResult | None:
        """Decode what has been fed so far; None when nothing new is worth decoding."""
        ...

    async def finish(self) -> RecognitionResult: ...


class SpeechRecognizer(Protocol):
    """``vocabulary``: terms the speech is likely to hold (``customVocabulary``: names, jargon), which
    the recogniser should prefer where it can; callers pass it only when there is some, so recognisers
    that cannot use it may leave the keyword out."""

    def languages(self) -> list[str]: ...

    def new_stream(
        self, language: str | None = None, *, vocabulary: Sequence[str] = ()
    ) -> RecognitionStream: ...

    async def transcribe(
        self, audio: Audio, language: str | None = None, *, vocabulary: Sequence[str] = ()
    ) -> RecognitionResult: ...

    async def aclose(self) -> None:
        """Release the model and its threads (server shutdown); recognisers may share an executor,
        so closing twice, or closing one that shares it, must be harmless."""
        ...


@runtime_checkable
class LanguageDetector(Protocol):
    """Optional on a ``SpeechRecognizer``: language identification alone, without transcribing.

    The listener uses it to learn an unknown language from the first second of an utterance, while the
    user is still speaking, and then recognises the utterance with the recogniser for that language.
    """

    async def detect_language(self, audio: Audio) -> dict[str, float]:
        """Scores (higher: likelier) of the languages it may choose among (ISO 639-1 keys): those the
        profile can answer in, which the backend is configured with. Empty when it cannot tell."""
        ...


class SpeechSynthesizer(Protocol):
    """Text to 24 kHz 16-bit PCM. ``synthesize`` yields chunks as soon as they are ready."""

    def voices(self) -> list[str]:
        """The real voice names this synthesizer offers (the Gemini names map onto these)."""
        ...

    def languages(self) -> list[str]: ...

    def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None:
        """Release the voices and their threads (server shutdown)."""
        ...


class Phonemizer(Protocol):
    """Words to their pronunciation (IPA), for matching what was heard against what an app spells."""

    async def phonemes(self, words: Sequence[str], language: str) -> list[str] | None:
        """One pronunciation per word or phrase of ``words``, in order ("" for one it cannot say);
        None when it does not know ``language`` (ISO 639-1)."""
        ...
