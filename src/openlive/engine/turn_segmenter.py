"""The automatic-activity state machine: VAD probabilities in, onset / ask-the-model / end decisions out.

Pure and synchronous (no audio, no asyncio), so its timing can be tested frame by frame. Positions are
absolute 16 kHz sample indices of the session's input stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from openlive.engine.turn_policy import FRAME_SAMPLES, TurnPolicy

# "question": the end-of-turn model was unsure at its last question, but the pause's transcript asks
# one (see ``answer``).
EndReason = Literal["end_of_turn_model", "question", "silence", "max_length", "stream_end"]


@dataclass(frozen=True, slots=True)
class Onset:
    start: int  # first sample of the first speech frame


@dataclass(frozen=True, slots=True)
class AskTurnModel:
    """A pause long enough to ask the end-of-turn model (again); answer with ``TurnSegmenter.answer``."""


@dataclass(frozen=True, slots=True)
class EndOfTurn:
    reason: EndReason


Decision = Onset | AskTurnModel | EndOfTurn | None


class TurnSegmenter:
    def __init__(self, policy: TurnPolicy) -> None:
        self.policy = policy
        self.speaking = False
        self.onset = 0  # first sample of the utterance's speech
        self.speech_end = 0  # one past the last sample of speech so far
        self.voiced_frames = 0
        self._run_start: int | None = None
        self._run_frames = 0
        self._pause_start: int | None = None
        self._asks = 0  # questions to the end-of-turn model in the current pause
        self._last_end = 0

    @property
    def in_pause(self) -> bool:
        return self.speaking and self._pause_start is not None

    @property
    def pause_samples(self) -> int:
        """How long the current pause has lasted (0 while speaking or idle)."""
        if not self.speaking or self._pause_start is None:
            return 0
        return self._last_end - self._pause_start

    def push(self, probability: float, frame_end: int) -> Decision:
        """One VAD frame ending at sample ``frame_end`` with P(speech) = ``probability``."""
        p = self.policy
        frame_start = frame_end - FRAME_SAMPLES
        self._last_end = frame_end
        if not self.speaking:
            if probability >= p.start_threshold:
                if self._run_start is None:
                    self._run_start = frame_start
                self._run_frames += 1
                if self._run_frames >= p.min_speech_frames:
                    self.speaking = True
                    self.onset = self._run_start
                    self.speech_end = frame_end
                    self.voiced_frames = self._run_frames
                    self._pause_start = None
                    self._asks = 0
                    return Onset(self.onset)
            elif probability < p.stop_threshold:
                # A real pause breaks the run; a doubtful frame only does not count towards it.
                self._run_start = None
                self._run_frames = 0
            return None

        if probability >= p.start_threshold:
            self.voiced_frames += 1
            self._pause_start = None
            self._asks = 0
        elif probability < p.stop_threshold and self._pause_start is None:
            self._pause_start = frame_start
        if self._pause_start is None:
            self.speech_end = frame_end
        if frame_end - self.onset >= p.max_turn_frames * FRAME_SAMPLES:
            return EndOfTurn("max_length")
        if self._pause_start is not None:
            silent = frame_end - self._pause_start
            if silent >= p.silence_frames * FRAME_SAMPLES:
                return EndOfTurn("silence")
            checks = p.turn_checks if p.uses_turn_model else ()
            short = self.speech_end - self.onset < p.short_speech_frames * FRAME_SAMPLES
            while self._asks < len(checks) and silent >= checks[self._asks][0] * FRAME_SAMPLES:
                self._asks += 1
                if short and self._asks < len(checks):
                    continue  # a lone word: only the last, most patient question counts
                return AskTurnModel()
        return None

    def answer(self, end_probability: float, *, question: bool = False) -> EndOfTurn | None:
        """The end-of-turn model's P(end) for the current pause.

        ``question``: the pause's transcript ends with a question mark. At the model's last question
        that ends the turn whatever the model says: it judges prosody, and a flat or synthetic voice
        asks "What time is lunch served?" with P(end) 0.06, which would otherwise wait out the whole
        silence bound. Earlier questions keep to the model, so a pause inside a longer request still
        gets its chance to go on.
        """
        if not (self.in_pause and self._asks):
            return None
        if end_probability >= self.policy.turn_checks[self._asks - 1][1]:
            return EndOfTurn("end_of_turn_model")
        if question and self._asks == len(self.policy.turn_checks):
            return EndOfTurn("question")
        return None

    def reset(self) -> None:
        """Back to waiting for speech (after a turn ended or the stream paused)."""
        self.speaking = False
        self.voiced_frames = 0
        self._run_start = None
        self._run_frames = 0
        self._pause_start = None
        self._asks = 0
