"""The listening side of a session: incoming audio in, turn events out.

``feed`` only queues the bytes (it runs on the event loop and must stay cheap). One consumer task per
listener decodes, resamples to 16 kHz and cuts the stream into 32 ms frames; in automatic mode each
frame goes through the VAD inline (~80 µs for Silero) and the ``TurnSegmenter`` decides onsets and
pauses. On a pause the end-of-turn model is asked (awaited: it runs in its backend's executor, and the
frames that arrive meanwhile wait in the queue, so decisions stay in stream order). While the user
speaks, each utterance has its own ``RecognitionStream``; a background task asks it for a partial
transcript after every ~0.6 s of new speech, and once more 64 ms into each pause, one request at a
time. At the end of the turn the final transcript comes from ``finish()`` (which a backend may answer
from that pause-time decode when only silence followed it).

Events come out strictly in stream order, one utterance after another: ``SpeechStarted``, any number
of ``InterimTranscript`` (and ``SpeechResumed``), then ``TurnEnded`` or ``TurnDropped``. The transcript
decoded at a pause comes as ``InterimTranscript(at_pause=True)`` even when its words are unchanged: it
is what ``TurnEnded`` will say if the pause ends the turn, so the session may start answering it early
(speculatively); ``SpeechResumed`` says the user went on after such a pause, so that answer is void.
While ``finish()`` runs the consumer waits, so a new utterance that starts right after a turn ended is
reported once that turn's text is known (no reply can have been sent before that, so barge-in loses nothing).

Manual mode (``automaticActivityDetection.disabled``): the audio between ``activity_start`` and
``activity_end`` is the turn, nothing is decided by the VAD; ``activity_start`` also yields a
``SpeechStarted`` so the session handles barge-in the same way in both modes.

``turnCoverage`` decides what the turn's words are recognised from (the language model reads words,
so that is what the turn is made of). With ``TURN_INCLUDES_ONLY_ACTIVITY`` (the default, and the audio
half of ``TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO``) it is the utterance: the pre-roll, the speech
and up to 200 ms after it. With ``TURN_INCLUDES_ALL_INPUT`` the input since the previous turn ended
(at most the last 30 s) that was not activity counts too: speech the VAD heard but did not take for an
onset (quiet, P(speech) >= 0.25 only; a burst too short to be a turn) is recognised with the utterance
that follows, from its first such frame; silence before that is left out, since Whisper only invents
words in it. In manual mode (no VAD) everything since the previous turn is recognised. Input that may be
the reply's own echo (audio arriving while a reply is played back) never counts as such speech.
``TurnEnded.audio`` is the utterance, or with ``TURN_INCLUDES_ALL_INPUT`` all input since the previous
turn.

Noise is kept out three ways: the VAD must hear sustained speech before an onset, utterances shorter
than 250 ms are dropped before recognition, and transcripts are filtered (see ``turn_filter``). The
reply's own echo (a client without echo cancellation) is kept out by ``listen_echo``: the session
reports every reply chunk it sends (``note_playback``) and an onset whose audio is that reply, heard
back, is not committed; the next run of speech frames is checked afresh, so a user who talks over the
echo still gets an onset, where the input stops matching.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from openlive.engine.listen_audio import AudioTape, InputResampler, PcmDecoder
from openlive.engine.listen_echo import EchoGate
from openlive.engine.listen_language import RecognizerChoice
from openlive.engine.listen_terms import TermSpeller
from openlive.engine.turn_filter import MIN_SPEECH_S, clean_transcript, drop_reason, has_words
from openlive.engine.turn_policy import FRAME_SAMPLES, asks_question, turn_policy
from openlive.engine.turn_segmenter import AskTurnModel, EndOfTurn, Onset, TurnSegmenter
from openlive.protocol.errors import CloseCode, ProtocolError, internal_error
from openlive.protocol.messages import RealtimeInputConfig, TurnCoverage
from openlive.stages.speech import (
    INPUT_SAMPLE_RATE,
    Audio,
    RecognitionStream,
    SpeechRecognizer,
    TurnDetector,
    VadStream,
    VoiceActivityDetector,
)

log = logging.getLogger(__name__)

SR = INPUT_SAMPLE_RATE
# A partial transcript after this much new speech: often enough for live captions, rare enough that
# Whisper (RTF ~0.05 on tiny.en) leaves the cores to the rest of the pipeline.
PARTIAL_EVERY_SAMPLES = int(0.6 * SR)
# A pause this long starts a decode of the utterance so far (see _maybe_speculate): two frames, so a
# single doubtful VAD frame inside a word does not trigger it.
SPECULATE_AFTER_SAMPLES = 2 * FRAME_SAMPLES
# The end-of-turn model looks at the last 8 s; a little more context costs only a copy.
TURN_MODEL_AUDIO_SAMPLES = 16 * SR
TURN_AUDIO_TAIL_SAMPLES = int(0.2 * SR)
ALL_INPUT_MAX_SAMPLES = 30 * SR
# With TURN_INCLUDES_ALL_INPUT, a frame this likely to be speech is speech the turn includes, though the
# VAD's onset needs more (0.5 or 0.7, for 64 or 192 ms): quiet or short speech. Silero gives silence and
# steady noise well under 0.1.
FAINT_SPEECH_PROBABILITY = 0.25
# Let other tasks run after this many frames of inline VAD work (a backlog after a slow finish()).
FRAMES_PER_YIELD = 16
# The most audio (seconds) that may wait to be processed. A backlog builds only while the listener waits
# on a slow stage (the final decode of a turn) or when a client sends far faster than real time; past
# this bound the session is closed with 1008 rather than answer seconds late or drop speech silently.
MAX_QUEUED_AUDIO_S = 30.0
AUDIO_BACKLOG_REASON = (
    "Resource has been exhausted: more than {:.0f} s of audio is waiting to be processed; "
    "send audio at most in real time."
)


# --------------------------------------------------------------------------------------------------
# Events


@dataclass(slots=True)
class SpeechStarted:
    at_s: float  # stream time (seconds of audio received) of the first speech frame
    wall: float = 0.0  # clock() when the onset was committed (and this event queued)


@dataclass(slots=True)
class InterimTranscript:
    text: str  # the utterance so far
    # Decoded in a pause that is still going on: the turn's final text if this pause ends it.
    at_pause: bool = False


@dataclass(slots=True)
class SpeechResumed:
    """Speech again after an ``InterimTranscript(at_pause=True)``: the utterance goes on."""


@dataclass(slots=True)
class TurnEnded:
    text: str
    language: str | None  # ISO 639-1, as recognised (or as fixed by the session)
    speech_end_s: float  # stream time of the end of the speech
    audio: Audio  # 16 kHz mono float32, see turnCoverage in the module docstring
    speech_end_wall: float = 0.0  # clock() when the audio at speech_end_s had arrived (feed())
    decided_wall: float = 0.0  # clock() when the end of the turn was decided, before the final ASR
    decided_s: float = 0.0  # stream time at which it was decided (decided_s - speech_end_s: the wait)
    # clock() before which no reply to this turn may be heard (0: at once); see TurnPolicy.holds_reply.
    speak_after_wall: float = 0.0


@dataclass(slots=True)
class TurnDropped:
    """A ``SpeechStarted`` that did not become a turn (noise, a cough, an empty transcript)."""

    speech_end_s: float
    reason: str


ListenerEvent = SpeechStarted | InterimTranscript | SpeechResumed | TurnEnded | TurnDropped


# --------------------------------------------------------------------------------------------------
# Internals


@dataclass(slots=True)
class _Chunk:
    pcm: bytes
    rate: int


class _Control(Enum):
    ACTIVITY_START = "activity_start"
    ACTIVITY_END = "activity_end"
    STREAM_END = "stream_end"


@dataclass(slots=True, eq=False)
class _Utterance:
    start: int  # first sample of the utterance's audio (pre-roll included)
    speech_start: int  # first sample of speech (the onset)
    stream: RecognitionStream
    unpartialed: int = 0  # samples of speech fed since the last partial request
    partial_task: asyncio.Task[None] | None = field(default=None)
    speculated: bool = False  # a decode was started in the current pause
    pauses: int = 0  # pauses that started a decode so far (which pause a decode belongs to)
    pause_reported: bool = False  # an at_pause transcript went out for the current pause
    interim: str = ""


class Listener:
    """Turns one session's audio into ``ListenerEvent``s. Use from the event loop; ``events()`` has
    a single consumer (the session). A stage failure ends the stream by raising from ``events()``."""

    def __init__(
        self,
        *,
        vad: VoiceActivityDetector | None,
        turn: TurnDetector | None,
        recognizers: dict[str, SpeechRecognizer],
        config: RealtimeInputConfig,
        language: str | None,
        clock: Callable[[], float] = time.monotonic,
        vocabulary: Sequence[str] = (),
        speller: TermSpeller | None = None,
    ) -> None:
        """``vocabulary``: ``inputAudioTranscription.customVocabulary``, for the recognisers.
        ``speller``: spells the session's terms in every transcript, interim and final alike."""
        aad = config.automatic_activity_detection
        self.manual = aad.disabled
        self._vad: VadStream | None = None
        if not self.manual:
            if vad is None:
                raise internal_error("Automatic activity detection needs a VAD; this profile has none.")
            self._vad = vad.new_stream()
            if self._vad.frame_samples != FRAME_SAMPLES:
                raise ValueError(f"the VAD must take {FRAME_SAMPLES}-sample frames")
        self._turn = turn
        # Only automatic onsets can be the echo: manual activity is the client's own decision.
        self.echo: EchoGate | None = None if self.manual else EchoGate()
        self.policy = turn_policy(aad, has_turn_model=turn is not None)
        self._segmenter = TurnSegmenter(self.policy)
        self._choice = RecognizerChoice(recognizers, language, vocabulary)
        self._all_input = config.turn_coverage == TurnCoverage.TURN_INCLUDES_ALL_INPUT
        self._clock = clock
        self._speller = speller

        self._inbox: asyncio.Queue[_Chunk | _Control] = asyncio.Queue()
        self._queued_s = 0.0  # seconds of audio in the inbox, bounded by MAX_QUEUED_AUDIO_S
        self._events: asyncio.Queue[ListenerEvent | BaseException | None] = asyncio.Queue()
        self._decoder = PcmDecoder()
        self._resampler = InputResampler()
        self._tape = AudioTape()
        self._pending = np.zeros(0, dtype=np.float32)  # samples short of a whole VAD frame
        # (input seconds received, clock()) per fed chunk, to date the end of speech in wall time.
        self._arrivals: deque[tuple[float, float]] = deque(maxlen=4096)
        self._input_s = 0.0
        self._utt: _Utterance | None = None
        self._coverage_start = 0  # where the next turn's audio begins (turnCoverage ALL_INPUT)
        # ALL_INPUT: the first frame since the previous turn heard as (faint) speech, not as echo.
        self._first_voice: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._partials: set[asyncio.Task[None]] = set()  # in flight, to cancel on close
        self._closed = False
        self.last_speech_end_wall: float | None = None  # speech_end_wall of the last TurnEnded

    @property
    def queued_audio_s(self) -> float:
        """Seconds of audio received and not yet processed (the backlog, bounded by MAX_QUEUED_AUDIO_S)."""
        return self._queued_s

    # ----------------------------------------------------------------------------------------------
    # Input (called from the session, on the event loop)

    def feed(self, pcm: bytes, sample_rate: int) -> None:
        """Queue s16le mono PCM at ``sample_rate``; returns at once."""
        if sample_rate <= 0:
            raise ProtocolError(CloseCode.INVALID_ARGUMENT, f"Invalid audio sample rate {sample_rate}.")
        if self._closed or not pcm:
            return
        seconds = len(pcm) / 2 / sample_rate
        if self._queued_s + seconds > MAX_QUEUED_AUDIO_S:
            raise ProtocolError(CloseCode.POLICY, AUDIO_BACKLOG_REASON.format(MAX_QUEUED_AUDIO_S))
        self._queued_s += seconds
        self._input_s += seconds
        self._arrivals.append((self._input_s, self._clock()))
        self._put(_Chunk(pcm, sample_rate))

    def note_playback(self, pcm24k: bytes) -> None:
        """The session has just sent this reply audio (s16le, 24 kHz): it may come back as echo."""
        if self.echo is not None and not self._closed:
            self.echo.note_playback(pcm24k, self._clock())

    def activity_start(self) -> None:
        self._require_manual("activityStart")
        self._put(_Control.ACTIVITY_START)

    def activity_end(self) -> None:
        self._require_manual("activityEnd")
        self._put(_Control.ACTIVITY_END)

    def audio_stream_end(self) -> None:
        """The client paused its microphone: end the turn now if speech is pending (automatic mode)."""
        if not self.manual:  # "An audioStreamEnd isn't sent" with manual activity (reference §5)
            self._put(_Control.STREAM_END)

    def events(self) -> AsyncIterator[ListenerEvent]:
        self._ensure_started()
        return self._event_stream()

    async def aclose(self) -> None:
        self._closed = True
        tasks = [t for t in (self._task, *self._partials) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._events.put_nowait(None)

    async def drained(self) -> None:
        """Wait until everything fed or signalled so far has been processed (tests, benchmarks)."""
        self._ensure_started()
        if self._task is None:
            return
        joined = asyncio.ensure_future(self._inbox.join())
        # A failed or closed consumer never drains the queue: stop waiting when it ends.
        await asyncio.wait([joined, self._task], return_when=asyncio.FIRST_COMPLETED)
        joined.cancel()

    @property
    def speaking(self) -> bool:
        """An utterance is in progress (after ``SpeechStarted``, before its end event)."""
        return self._utt is not None

    # ----------------------------------------------------------------------------------------------

    def _require_manual(self, what: str) -> None:
        if not self.manual:
            raise ProtocolError(
                CloseCode.INVALID_ARGUMENT,
                f"Request contains an invalid argument: {what} is only allowed when "
                "automaticActivityDetection.disabled is true.",
            )

    def _put(self, item: _Chunk | _Control) -> None:
        if self._closed:
            return
        self._inbox.put_nowait(item)
        self._ensure_started()

    def _ensure_started(self) -> None:
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="openlive-listener")

    async def _event_stream(self) -> AsyncIterator[ListenerEvent]:
        while True:
            item = await self._events.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _emit(self, event: ListenerEvent) -> None:
        self._events.put_nowait(event)

    async def _run(self) -> None:
        try:
            while True:
                item = await self._inbox.get()
                if isinstance(item, _Chunk):
                    self._queued_s = max(0.0, self._queued_s - len(item.pcm) / 2 / item.rate)
                    samples = self._resampler.process(self._decoder.decode(item.pcm), item.rate)
                    await self._ingest(samples)
                elif item is _Control.STREAM_END:
                    await self._stream_end()
                elif item is _Control.ACTIVITY_START:
                    self._activity_start()
                else:
                    await self._activity_end()
                self._inbox.task_done()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a stage failed: the session learns it from events() and closes
            log.exception("listener failed")
            self._closed = True
            self._events.put_nowait(exc)

    # ----------------------------------------------------------------------------------------------
    # Audio

    async def _ingest(self, samples: Audio) -> None:
        if self.manual:
            self._tape.append(samples)
            if self._utt is not None:
                self._feed_utterance(self._utt, samples, speech=True)
            else:
                self._trim_idle()
            return
        pending = np.concatenate([self._pending, samples]) if self._pending.size else samples
        whole = pending.size // FRAME_SAMPLES
        for i in range(whole):
            await self._frame(pending[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES])
            if i % FRAMES_PER_YIELD == FRAMES_PER_YIELD - 1:
                await asyncio.sleep(0)
        self._pending = pending[whole * FRAME_SAMPLES :].copy()

    async def _frame(self, frame: Audio) -> None:
        assert self._vad is not None
        self._tape.append(frame)
        end = self._tape.end
        probability = self._vad.process(frame)
        utt = self._utt
        if self._all_input and utt is None and self._first_voice is None:
            self._note_faint_speech(probability, end)
        if utt is not None:
            self._feed_utterance(utt, frame, speech=not self._segmenter.in_pause)
        decision = self._segmenter.push(probability, end)
        if utt is not None and not isinstance(decision, EndOfTurn):
            self._maybe_speculate(utt)
        if isinstance(decision, Onset):
            if self._is_echo(end):
                # Not an onset: wait for the next run of speech frames, which is checked again.
                self._segmenter.reset()
            else:
                self._begin(
                    decision.start, start=max(self._tape.start, decision.start - self.policy.preroll_samples)
                )
        elif isinstance(decision, AskTurnModel) and utt is not None and self._turn is not None:
            audio = self._tape.slice(max(utt.start, end - TURN_MODEL_AUDIO_SAMPLES), end)
            try:
                probability_end = await self._turn.end_of_turn_probability(audio)
            except (
                Exception
            ):  # the silence bound still ends the turn; one bad inference is no reason to close
                log.warning("end-of-turn model failed", exc_info=True)
                probability_end = 0.0
            # The pause's own transcript, when its decode is back (~0.1-0.2 s into the pause).
            question = utt.pause_reported and asks_question(utt.interim)
            log.debug(
                "end of turn? P(end) %.2f after %d ms of pause%s",
                probability_end,
                self._segmenter.pause_samples * 1000 // SR,
                ", the words ask a question" if question else "",
            )
            decision = self._segmenter.answer(probability_end, question=question)
        if isinstance(decision, EndOfTurn):
            await self._end(decision.reason)
        if self._utt is None:
            self._trim_idle()

    def _note_faint_speech(self, probability: float, end: int) -> None:
        """ALL_INPUT: remember where speech that is not (yet) activity began, unless it may be echo."""
        if probability < FAINT_SPEECH_PROBABILITY:
            return
        begin = end - FRAME_SAMPLES
        if self.echo is not None and self.echo.may_echo(self.arrival_wall(begin / SR)):
            return
        self._first_voice = begin

    def _is_echo(self, end: int) -> bool:
        echo = self.echo
        if echo is None:
            return False
        begin = max(self._tape.start, end - echo.window_samples)
        first_arrival = self.arrival_wall(begin / SR)
        if not echo.may_echo(first_arrival):
            return False
        rejected = echo.is_echo(self._tape.slice(begin, end), first_arrival, self.arrival_wall(end / SR))
        log.debug("onset at %.2f s: echo correlation %.2f", end / SR, echo.last_score or 0.0)
        return rejected

    def _trim_idle(self) -> None:
        end = self._tape.end
        keep_from = end - (0 if self.manual else self.policy.preroll_samples)
        if self._all_input:
            keep_from = min(keep_from, max(self._coverage_start, end - ALL_INPUT_MAX_SAMPLES))
        self._tape.trim_before(keep_from)

    def _flush_tail(self) -> None:
        """Push the resampler's tail and any part frame into the tape and the utterance (no VAD)."""
        tail = np.concatenate([self._pending, self._resampler.flush()])
        self._pending = np.zeros(0, dtype=np.float32)
        self._decoder.reset()
        if tail.size:
            self._tape.append(tail)
            if self._utt is not None:
                self._utt.stream.feed(tail)

    # ----------------------------------------------------------------------------------------------
    # Utterances

    def _begin(self, speech_start: int, *, start: int) -> None:
        if self._all_input:
            # All input since the previous turn: in manual mode all of it, else from the first speech
            # the VAD heard (see the module docstring); never before what the tape still holds.
            earliest = self._coverage_start if self.manual else self._first_voice
            if earliest is not None:
                start = max(min(start, earliest), self._coverage_start, self._tape.start)
        stream = self._choice.new_stream()
        stream.feed(self._tape.slice(start, self._tape.end))
        self._utt = _Utterance(start=start, speech_start=speech_start, stream=stream)
        self._emit(SpeechStarted(at_s=speech_start / SR, wall=self._clock()))

    def _feed_utterance(self, utt: _Utterance, audio: Audio, *, speech: bool) -> None:
        utt.stream.feed(audio)
        if not speech:
            return
        utt.unpartialed += audio.size
        busy = utt.partial_task is not None and not utt.partial_task.done()
        if utt.unpartialed >= PARTIAL_EVERY_SAMPLES and not busy:
            utt.unpartialed = 0
            self._start_partial(utt)

    def _maybe_speculate(self, utt: _Utterance) -> None:
        """Start decoding as soon as a pause begins, before the end of the turn is decided.

        If the pause does end the turn, the decode covers the whole utterance and a backend that
        keeps its last result (as the Whisper one does when only silence followed) answers
        ``finish()`` without decoding again: the ASR then overlaps the end-of-turn wait instead of
        following it. If the user goes on, it was one more interim transcript.
        """
        pause = self._segmenter.pause_samples
        if pause == 0:
            if utt.speculated:
                utt.pauses += 1  # a decode of the pause that just ended is stale when it returns
            if utt.pause_reported:
                self._emit(SpeechResumed())
            utt.speculated = utt.pause_reported = False
            return
        busy = utt.partial_task is not None and not utt.partial_task.done()
        if utt.speculated or busy or pause < SPECULATE_AFTER_SAMPLES:
            return
        utt.speculated = True
        utt.unpartialed = 0
        self._start_partial(utt, pause=utt.pauses)

    def _start_partial(self, utt: _Utterance, *, pause: int | None = None) -> None:
        task = asyncio.get_running_loop().create_task(self._partial(utt, pause))
        utt.partial_task = task
        self._partials.add(task)
        task.add_done_callback(self._partials.discard)

    async def _partial(self, utt: _Utterance, pause: int | None) -> None:
        """``pause``: the pause this decode was started in (None: a decode during speech)."""
        try:
            result = await utt.stream.partial()
        except Exception:  # live captions are best effort; finish() reports real failures
            log.warning("partial transcription failed", exc_info=True)
            return
        if result is None or self._utt is not utt:
            return
        text = clean_transcript(result.text)
        if not has_words(text):
            return
        text = await self._spell(text, result.language)
        if self._utt is not utt:
            return
        at_pause = pause == utt.pauses and self._segmenter.in_pause
        if at_pause or text != utt.interim:
            utt.interim = text
            utt.pause_reported = utt.pause_reported or at_pause
            self._emit(InterimTranscript(text, at_pause=at_pause))

    async def _end(self, reason: str) -> None:
        utt = self._utt
        if utt is None:
            return
        self._utt = None
        decided = self._clock()
        decided_s = self._tape.end / SR
        if self.manual:
            speech_end = self._tape.end
            voiced_s: float | None = None
        else:
            speech_end = self._segmenter.speech_end
            voiced_s = self._segmenter.voiced_frames * FRAME_SAMPLES / SR
            self._segmenter.reset()
        if utt.partial_task is not None and not utt.partial_task.done():
            # Let a running partial complete rather than cancel it: its decode keeps running in the
            # backend's executor anyway (cancelling only queues finish() behind it), and a backend
            # may reuse that result when nothing but silence followed. Its text is not emitted.
            await asyncio.wait([utt.partial_task])
        audio_end = (
            self._tape.end if self.manual else min(self._tape.end, speech_end + TURN_AUDIO_TAIL_SAMPLES)
        )
        audio = self._tape.slice(self._coverage_start if self._all_input else utt.start, audio_end)
        speech_s = (speech_end - utt.speech_start) / SR
        if self._all_input:  # if dropped, its speech is input the next turn includes
            earlier = self._first_voice
            self._first_voice = utt.speech_start if earlier is None else min(earlier, utt.speech_start)
        if voiced_s is not None and speech_s < MIN_SPEECH_S:
            self._emit(TurnDropped(speech_end / SR, f"{speech_s * 1000:.0f} ms of speech is too short"))
            return
        result = await utt.stream.finish()
        text = clean_transcript(result.text)
        why = drop_reason(text, voiced_s=voiced_s)
        if why is not None:
            log.info("utterance dropped (%s, ended by %s): %r", why, reason, result.text)
            self._emit(TurnDropped(speech_end / SR, why))
            return
        self._choice.observe(result.language, speech_s)
        text = await self._spell(text, result.language)
        # Only a turn ends the input a turn covers: a dropped utterance stays in the next turn's (ALL_INPUT).
        self._coverage_start, self._first_voice = audio_end, None
        wall = self.arrival_wall(speech_end / SR)
        self.last_speech_end_wall = wall
        # Only a turn the end-of-turn model ended in a short pause is held (one ended by its question
        # would not be anyway): silence, the length limit, the client's audioStreamEnd or activityEnd
        # say the user is done.
        held = reason == "end_of_turn_model" and self.policy.holds_reply(text)
        self._emit(
            TurnEnded(
                text=text,
                language=result.language or self._choice.language,
                speech_end_s=speech_end / SR,
                audio=audio,
                speech_end_wall=wall,
                decided_wall=decided,
                decided_s=decided_s,
                speak_after_wall=wall + self.policy.reply_gap_ms / 1000 if held else 0.0,
            )
        )

    async def _spell(self, text: str, language: str | None) -> str:
        if self._speller is None:
            return text
        return await self._speller.spell(text, language or self._choice.language)

    def arrival_wall(self, stream_s: float) -> float:
        """clock() when the audio at stream time ``stream_s`` had arrived (within the last ~4096 chunks);
        e.g. ``arrival_wall(SpeechStarted.at_s)`` dates the onset for barge-in latency."""
        for input_s, wall in self._arrivals:
            if input_s >= stream_s - 1e-6:
                return wall
        return self._clock()

    # ----------------------------------------------------------------------------------------------
    # Control signals

    async def _stream_end(self) -> None:
        self._flush_tail()
        if self._utt is not None:
            await self._end("stream_end")
        self._segmenter.reset()
        if self._vad is not None:
            self._vad.reset()  # the next audio is not a continuation of this one

    def _activity_start(self) -> None:
        if self._utt is None:
            self._begin(self._tape.end, start=self._tape.end)

    async def _activity_end(self) -> None:
        if self._utt is not None:
            self._flush_tail()
            await self._end("activity_end")


__all__ = [
    "InterimTranscript",
    "Listener",
    "ListenerEvent",
    "SpeechResumed",
    "SpeechStarted",
    "TurnDropped",
    "TurnEnded",
]
