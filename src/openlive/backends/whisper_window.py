"""Whisper on a window sized to the utterance instead of a fixed 30 s one.

faster-whisper always pads the audio to Whisper's 30 s window (3000 mel frames), and on two cores the
encoder then dominates recognition: ~220 ms of the ~290 ms that tiny.en takes for a 2 s question. The
encoder itself accepts a shorter input (CTranslate2 slices its position embeddings), and its cost falls
with the length: 1000 frames (10 s) encode in ~27 ms. The catch, known from whisper.cpp's ``audio_ctx``, is
that the model was trained on 30 s windows: very short windows make the decoder loop ("Side left. Side
left. …"). Measured on the bench recordings and the ALSA clips: windows of 3-4 s loop on a third of them;
windows of ≥ 10 s, with a beam of 5, give the full window's words on all but the hardest espeak-ng
question (which they hear better), and jfk.wav without the full greedy window's "am I fellow".

So a window is the utterance plus 2 s of padding, never shorter than 10 s; the decode is bounded by a
token budget for its length, and a result that still looks like a loop (it hit the budget, or compresses
like a repetition does) is thrown away so the caller decodes the full 30 s window instead. Utterances
longer than one window go the usual way.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from openlive.stages.speech import INPUT_SAMPLE_RATE, Audio

HOP = 160  # samples per mel frame at 16 kHz
FULL_FRAMES = 3000  # Whisper's 30 s window
MIN_FRAMES = 1000  # 10 s: shorter windows make the decoder loop (see the module docstring)
PAD_FRAMES = 200  # room after the speech, as the model is used to seeing
# Tokens allowed per second of audio (fast Japanese runs ~10/s) plus a fixed allowance, at most
# Whisper's own sample length (half its 448 text positions).
TOKENS_PER_S = 20
TOKENS_EXTRA = 12
MAX_TOKENS = 220
# The most tokens of custom vocabulary put before a decode (Whisper's previous-text slot): what the
# windowed decoder's max_length leaves after the prompt. Terms past it are not used.
MAX_VOCABULARY_TOKENS = 96
# openai-whisper's own hallucination bound: text that gzip compresses this well is a repetition.
MAX_COMPRESSION_RATIO = 2.4
# Beam search costs ~15-20 ms more than greedy on a short window (the encoder dominates) and is the more
# accurate: on jfk.wav greedy hears "And so am I fellow Americans", a beam of 5 "And so my fellow".
BEAM_SIZE = 5


@dataclass(slots=True)
class WindowResult:
    text: str
    no_speech_prob: float
    avg_logprob: float


def window_frames(samples: int) -> int | None:
    """The window (mel frames, even) for an utterance of ``samples``; None when it needs the full path."""
    frames = -(-samples // HOP) + PAD_FRAMES
    if frames > FULL_FRAMES:
        return None
    frames = max(frames, MIN_FRAMES)
    return frames + frames % 2  # the encoder's convolution halves it


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


class WindowedWhisper:
    """Encode once on a short window; identify the language and decode (beam search) from that encoding.

    ``model`` is a ``faster_whisper.WhisperModel``; only its CTranslate2 model, feature extractor and
    tokenizer are used. Synchronous: call from the recognizer's executor.
    """

    def __init__(self, model: Any) -> None:
        from faster_whisper.tokenizer import Tokenizer

        self._model = model
        self._tokenizer_type = Tokenizer
        self._multilingual = bool(model.model.is_multilingual)

    def encode(self, audio: Audio) -> Any | None:
        """The encoder output for ``audio`` on its window, or None when it is longer than one window."""
        import ctranslate2

        frames = window_frames(audio.size)
        if frames is None:
            return None
        # The log-mel features of the audio alone, then zero features up to the window: faster-whisper's
        # own padding, which the model's answers are used to. (Padding the audio with silence instead,
        # as openai-whisper does, turned the bench's espeak "capital of France" into "capital and
        # friends".)
        features = self._model.feature_extractor(np.asarray(audio, dtype=np.float32))[:, :frames]
        batch = np.zeros((1, features.shape[0], frames), dtype=np.float32)
        batch[0, :, : features.shape[1]] = features
        return self._model.model.encode(ctranslate2.StorageView.from_array(batch), to_cpu=False)

    def language_probabilities(self, encoded: Any) -> dict[str, float]:
        """Whisper's P(language) for each of its languages (codes as Whisper spells them)."""
        if not self._multilingual:
            return {"en": 1.0}
        found = self._model.model.detect_language(encoded)[0]
        return {token[2:-2]: float(p) for token, p in found}

    def decode(self, encoded: Any, samples: int, language: str, vocabulary: str = "") -> WindowResult | None:
        """Decoding of the encoded window in ``language`` (Whisper's code; the caller identifies it,
        see ``language_probabilities``); None when the result looks like a decoding loop.

        ``vocabulary`` (the session's custom vocabulary, as text) goes where Whisper reads the previous
        text (``<|startofprev|>``), as faster-whisper's ``hotwords`` and ``initial_prompt`` do: the
        decoder then prefers those spellings."""
        from faster_whisper.transcribe import get_suppressed_tokens

        tokenizer = self._tokenizer_type(
            self._model.hf_tokenizer,
            self._multilingual,
            task="transcribe",
            language=language if self._multilingual else "en",
        )
        budget = min(MAX_TOKENS, TOKENS_EXTRA + int(TOKENS_PER_S * samples / INPUT_SAMPLE_RATE))
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        if vocabulary.strip():
            terms = tokenizer.encode(" " + vocabulary.strip())[:MAX_VOCABULARY_TOKENS]
            prompt = [tokenizer.sot_prev, *terms, *prompt]
        result = self._model.model.generate(
            encoded,
            [prompt],
            beam_size=BEAM_SIZE,
            # CTranslate2 4.x stops Whisper decoding after max_length // 2 new tokens (measured);
            # twice the budget lets it reach the budget either way, and the check below enforces it.
            max_length=min(448, 2 * (len(prompt) + budget)),
            suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizer, (-1,)) or ()),
            return_scores=True,
            return_no_speech_prob=True,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        text = tokenizer.decode(tokens).strip()
        if len(tokens) >= budget or compression_ratio(text) > MAX_COMPRESSION_RATIO:
            return None
        n = len(result.sequences_ids[0])
        avg_logprob = float(result.scores[0]) * n / (n + 1) if result.scores else 0.0
        return WindowResult(text=text, no_speech_prob=float(result.no_speech_prob), avg_logprob=avg_logprob)
