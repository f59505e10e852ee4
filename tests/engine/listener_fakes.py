"""Scripted speech stages and signals for the listener tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import numpy as np

from openlive.engine.listener import Listener, ListenerEvent
from openlive.stages.speech import Audio, RecognitionResult

SR = 16_000


def tone(seconds: float, *, rate: int = SR, freq: float = 220.0, amp: float = 0.3) -> Audio:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(seconds: float, *, rate: int = SR) -> Audio:
    return np.zeros(round(seconds * rate), dtype=np.float32)


def noise(seconds: float, *, rate: int = SR, amp: float = 0.005, seed: int = 1) -> Audio:
    return (amp * np.random.default_rng(seed).standard_normal(round(seconds * rate))).astype(np.float32)


def pcm(audio: Audio) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


class FakeVadStream:
    """P(speech) from frame energy: 1.0 above ``threshold`` RMS, else 0.0 (or a scripted list)."""

    frame_samples = 512

    def __init__(self, threshold: float, script: list[float] | None) -> None:
        self.threshold = threshold
        self.script = script
        self.frames = 0
        self.resets = 0

    def process(self, frame: Audio) -> float:
        assert frame.size == self.frame_samples
        self.frames += 1
        if self.script is not None:
            return self.script.pop(0) if self.script else 0.0
        return 1.0 if float(np.sqrt(np.mean(frame**2))) > self.threshold else 0.0

    def reset(self) -> None:
        self.resets += 1


class FakeVad:
    def __init__(self, threshold: float = 0.02, script: list[float] | None = None) -> None:
        self.threshold = threshold
        self.script = script
        self.streams: list[FakeVadStream] = []

    def new_stream(self) -> FakeVadStream:
        stream = FakeVadStream(self.threshold, self.script)
        self.streams.append(stream)
        return stream


class FakeTurnDetector:
    """Returns ``probability`` (a constant or a function of the audio) and records every call."""

    def __init__(self, probability: float | Callable[[Audio], float]) -> None:
        self.probability = probability
        self.calls: list[int] = []  # audio length of each call

    async def end_of_turn_probability(self, audio: Audio) -> float:
        self.calls.append(audio.size)
        p = self.probability
        return p(audio) if callable(p) else p


class FakeRecognitionStream:
    """Text grows with the voiced audio fed: one word per 0.25 s of tone, from ``words``."""

    def __init__(self, owner: FakeRecognizer, language: str | None, vocabulary: Sequence[str] = ()) -> None:
        self.owner = owner
        self.language = language
        self.vocabulary = tuple(vocabulary)
        self.fed: list[Audio] = []
        self.running = 0
        self.finished = False

    def feed(self, audio: Audio) -> None:
        assert not self.finished
        self.fed.append(audio.copy())

    def audio(self) -> Audio:
        return np.concatenate(self.fed) if self.fed else np.zeros(0, dtype=np.float32)

    def _text(self) -> str:
        if self.owner.final_text is not None:
            return self.owner.final_text
        a = self.audio()
        windows = a[: a.size // 160 * 160].reshape(-1, 160)  # 10 ms windows
        voiced = int(np.sum(np.sqrt(np.mean(windows**2, axis=1)) > 0.02)) / 100
        return " ".join(self.owner.words[: int(voiced / 0.25)])

    async def partial(self) -> RecognitionResult | None:
        self.running += 1
        self.owner.max_concurrent = max(self.owner.max_concurrent, self.running)
        self.owner.partial_calls += 1
        try:
            await asyncio.sleep(self.owner.partial_delay)
            text = self.owner.partial_text
            if text is None:
                text = " ".join(self._text().split()[:-1] or [""])
            return RecognitionResult(text=text, language=self.language)
        finally:
            self.running -= 1

    async def finish(self) -> RecognitionResult:
        self.finished = True
        await asyncio.sleep(self.owner.finish_delay)
        return RecognitionResult(text=self._text(), language=self.owner.detected or self.language)


class FakeRecognizer:
    def __init__(
        self,
        words: Sequence[str] = ("front", "center", "is", "where", "the", "speaker", "is", "placed", "now"),
        *,
        final_text: str | None = None,
        detected: str | None = None,
        languages: Sequence[str] = ("en",),
        partial_delay: float = 0.0,
        finish_delay: float = 0.0,
        partial_text: str | None = None,
    ) -> None:
        self.words = list(words)
        self.final_text = final_text
        self.partial_text = partial_text  # every partial's text, when given (else: all but a last word)
        self.detected = detected
        self._languages = list(languages)
        self.partial_delay = partial_delay
        self.finish_delay = finish_delay
        self.streams: list[FakeRecognitionStream] = []
        self.partial_calls = 0
        self.max_concurrent = 0

    def languages(self) -> list[str]:
        return self._languages

    def new_stream(
        self, language: str | None = None, *, vocabulary: Sequence[str] = ()
    ) -> FakeRecognitionStream:
        stream = FakeRecognitionStream(self, language, vocabulary)
        self.streams.append(stream)
        return stream

    async def transcribe(self, audio: Audio, language: str | None = None) -> RecognitionResult:
        raise AssertionError("the listener recognises incrementally")


class FakeDetectingRecognizer(FakeRecognizer):
    """A multilingual ``FakeRecognizer`` that also identifies languages alone (a ``LanguageDetector``):
    always ``scores``, after ``detect_delay`` seconds; records the audio length of each call."""

    def __init__(self, scores: dict[str, float], *, detect_delay: float = 0.0, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.scores = scores
        self.detect_delay = detect_delay
        self.detect_calls: list[int] = []

    async def detect_language(self, audio: Audio) -> dict[str, float]:
        self.detect_calls.append(audio.size)
        await asyncio.sleep(self.detect_delay)
        return dict(self.scores)


class EventLog:
    """Collects a listener's events in the background."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.events: list[ListenerEvent] = []
        self.error: BaseException | None = None
        self._task = asyncio.get_running_loop().create_task(self._collect())

    async def _collect(self) -> None:
        try:
            async for event in self.listener.events():
                self.events.append(event)
        except Exception as exc:
            self.error = exc

    def of(self, kind: type) -> list[ListenerEvent]:
        return [e for e in self.events if isinstance(e, kind)]

    async def settle(self) -> None:
        await self.listener.drained()
        for _ in range(5):  # let queued events reach the collector
            await asyncio.sleep(0)

    async def close(self) -> None:
        await self.listener.aclose()
        await asyncio.wait_for(self._task, 2)


async def stream(listener: Listener, audio: Audio, *, rate: int = SR, chunk_ms: int = 20) -> None:
    """Feed ``audio`` (at ``rate``) in chunks, letting the consumer run between them."""
    step = rate * chunk_ms // 1000
    for i in range(0, audio.size, step):
        listener.feed(pcm(audio[i : i + step]), rate)
        await asyncio.sleep(0)


# Pronunciations as espeak-ng writes them (stress marks included, which the speller ignores).
PRONUNCIATIONS = {
    "wi-fi": "wˈaɪfˌaɪ",
    "wife": "wˈaɪf",
    "i": "ˈaɪ",
    "life": "lˈaɪf",
    "keynote": "kˈiːnoʊt",
    "key": "kˈiː",
    "note": "nˈoʊt",
    "reid": "ɹˈiːd",
    "read": "ɹˈiːd",
    "the": "ðə",
    "what": "wˌʌt",
    "is": "ɪz",
    "password": "pˈæswɜːd",
    "aurora hall": "ɔːɹˈoːɹə hˈɔːl",
    "a": "ɐ",
    "roar": "ɹˈoːɹ",
    "hall": "hˈɔːl",
    "aurora": "ɔːɹˈoːɹə",
    "or": "ɔːɹ",
    "ora": "ˈoːɹə",
    "lifa": "lˈaɪfə",
}


class FakeTablePhonemizer:
    """A fixed pronunciation table; "" for words it does not have; None for languages but English."""

    def __init__(self, *, fail: bool = False) -> None:
        self.calls: list[tuple[list[str], str]] = []
        self.fail = fail

    async def phonemes(self, words: Sequence[str], language: str) -> list[str] | None:
        self.calls.append((list(words), language))
        if self.fail:
            raise RuntimeError("no phonemes today")
        if language != "en":
            return None
        return [PRONUNCIATIONS.get(w.lower(), "") for w in words]
