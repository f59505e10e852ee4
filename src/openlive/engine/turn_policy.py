"""How ``realtimeInputConfig.automaticActivityDetection`` maps onto concrete VAD and end-of-turn numbers.

The Live API only names the knobs; the numbers are ours, chosen for Silero VAD probabilities (speech
frames sit well above 0.8, background noise below 0.2) and Smart Turn v3's P(end):

=====================================  ==========================  ===============================
knob                                   HIGH (also UNSPECIFIED)     LOW
=====================================  ==========================  ===============================
startOfSpeechSensitivity               P(speech) ≥ 0.5 for 64 ms   P(speech) ≥ 0.7 for 192 ms
endOfSpeechSensitivity: the end-of-    after 160 / 320 / 480 ms    after 320 / 480 / 640 ms
turn model is asked during a pause,    of pause, ending the turn   of pause, ending the turn
the turn ends when P(end) reaches      at P(end) ≥ 0.9 / 0.7 / 0.5 at P(end) ≥ 0.95 / 0.85 / 0.7
silence that ends the turn regardless  1000 ms (500 ms without     1600 ms (800 ms without
(when silenceDurationMs is unset)      an end-of-turn model)       an end-of-turn model)
=====================================  ==========================  ===============================

Why a falling threshold rather than one question: Smart Turn is confident (0.86–0.97) at the end of a
finished sentence, so those turns end 160 ms into the pause; but it also gives 0.7–0.9 to a lone word
followed by a breath ("Front … center" in the ALSA recordings pauses 290 ms after "Front"). Asking
again as the pause grows, with a lower bar each time, keeps such pauses inside the turn for the price
of ~150–300 ms on the doubtful cases only. Each question is one ~30 ms inference. Utterances with less
than 600 ms of speech (a lone word: "yes", "Front …") skip the early questions and are only asked at
the last step (480 / 640 ms): with no syntax to go on the model is often sure and wrong, and that same
recording gets P(end) = 0.95 after 320 ms of pause.

``prefixPaddingMs``: Google documents it twice, differently — the API reference says "the required
duration of detected speech before start-of-speech is committed", the capabilities guide says "the
amount of audio to include before speech is detected". We honour both: when set, it replaces the
sensitivity's minimum speech duration (at least one 32 ms frame), and the audio kept before the onset
is the larger of it and 300 ms (look-back costs nothing but a little ASR time, and clipped first
words cost accuracy).

A reply to a statement is not heard before the pause has lasted ``reply_gap_ms`` (800 ms; 1000 ms with
LOW end sensitivity; never more than an explicit ``silenceDurationMs``). Smart Turn gives 0.86–0.97 at
the end of any finished sentence, so a request spoken in several sentences ("I'd like to book a room.
For Tuesday. For five people.") ends its turn ~160 ms into the first sentence pause, and a reply read
ahead during that pause is ready ~0.3 s later: heard at once, the user's next sentence would cut it.
Held, it is still unseen when the user goes on (speech is committed ~100 ms after it resumes, so a
pause shorter than ~0.7 s withdraws it without a trace and one reply answers the whole request; a
longer pause still ends the turn, as it does with Gemini). A question ("…?" as Whisper writes it) is
answered at once: it asks for the answer; and the hold costs nothing where the reply is slower than the
gap, as most are on two cores (voice-to-voice ~1 s). A three-sentence espeak-ng request with 0.77 s
pauses (tests/server/test_voice_genai.py, untrimmed clips) was cut in 3 of 4 runs with no gap (0.55 s
pauses: 0 of 3), 3 of 4 at 700 ms and 1 of 4 at 800 ms: the price of a longer gap is paid by every
quick reply to a statement, so it stays at 800 ms.

``silenceDurationMs`` is the upper bound: after that much non-speech the turn ends even if the
end-of-turn model still thinks the speaker will go on. The model may end it sooner — that is what
keeps voice-to-voice latency low. A pause counts as non-speech once P(speech) falls below the start
threshold minus 0.15 (Silero's own hysteresis), so a word's soft tail does not start the pause.
"""

from __future__ import annotations

from dataclasses import dataclass

from openlive.protocol.messages import AutomaticActivityDetection, EndSensitivity, StartSensitivity
from openlive.stages.speech import INPUT_SAMPLE_RATE

FRAME_SAMPLES = 512  # Silero VAD's frame at 16 kHz
FRAME_MS = FRAME_SAMPLES * 1000 // INPUT_SAMPLE_RATE  # 32

DEFAULT_PREROLL_MS = 300
HYSTERESIS = 0.15
# Past this much audio in one utterance the turn is ended: Whisper decodes 30 s windows, and a stream
# that never pauses (music, a television) must not grow without bound.
MAX_TURN_MS = 30_000
SHORT_SPEECH_MS = 600
# The least pause before a reply to a statement may be heard (HIGH, LOW end sensitivity): see above.
REPLY_GAP_MS = (800, 1000)
QUESTION_MARKS = ("?", "？", "؟", ";")  # ";" is the Greek question mark


def asks_question(text: str) -> bool:
    """Whether a pause's transcript ends with a question mark (``TurnSegmenter.answer``). Whisper writes
    one only when the words ask; a full stop it writes at almost every pause, and an exclamation mark
    inside speeches too (the bench's Kennedy recording reads "… Ask not! What your country …")."""
    return text.rstrip().endswith(QUESTION_MARKS)


def frames_for_ms(ms: int) -> int:
    """Whole VAD frames covering ``ms`` (at least one)."""
    return max(1, -(-ms // FRAME_MS))


@dataclass(frozen=True, slots=True)
class TurnPolicy:
    start_threshold: float  # a frame with P(speech) at least this is speech
    stop_threshold: float  # below this it is a pause; in between keeps the current state
    min_speech_frames: int  # speech frames needed (without a pause) before the onset is committed
    preroll_samples: int  # audio kept before the first speech frame
    # (non-speech frames into a pause, P(end) that then ends the turn): when to ask the model
    turn_checks: tuple[tuple[int, float], ...]
    short_speech_frames: int  # utterances with less speech than this get only the last question
    silence_frames: int  # non-speech frames that end the turn regardless
    max_turn_frames: int
    uses_turn_model: bool
    reply_gap_ms: int = 0  # the least pause before a reply to a statement is heard (0: none)

    def holds_reply(self, text: str) -> bool:
        """Whether a reply to this turn (ended by the end-of-turn model) waits out ``reply_gap_ms``."""
        return self.reply_gap_ms > 0 and not asks_question(text)


def turn_policy(aad: AutomaticActivityDetection, *, has_turn_model: bool) -> TurnPolicy:
    low_start = aad.start_of_speech_sensitivity == StartSensitivity.LOW
    low_end = aad.end_of_speech_sensitivity == EndSensitivity.LOW
    start_threshold = 0.7 if low_start else 0.5
    min_speech_ms = 192 if low_start else 64
    preroll_ms = DEFAULT_PREROLL_MS
    if aad.prefix_padding_ms is not None:
        min_speech_ms = max(0, aad.prefix_padding_ms)
        preroll_ms = max(preroll_ms, aad.prefix_padding_ms)
    if aad.silence_duration_ms is not None:
        silence_ms = max(0, aad.silence_duration_ms)
    elif has_turn_model:
        silence_ms = 1600 if low_end else 1000
    else:
        silence_ms = 800 if low_end else 500
    return TurnPolicy(
        start_threshold=start_threshold,
        stop_threshold=start_threshold - HYSTERESIS,
        min_speech_frames=frames_for_ms(min_speech_ms),
        preroll_samples=preroll_ms * INPUT_SAMPLE_RATE // 1000,
        turn_checks=tuple(
            (frames_for_ms(ms), p)
            for ms, p in (
                ((320, 0.95), (480, 0.85), (640, 0.7)) if low_end else ((160, 0.9), (320, 0.7), (480, 0.5))
            )
        ),
        short_speech_frames=frames_for_ms(SHORT_SPEECH_MS),
        silence_frames=frames_for_ms(silence_ms),
        max_turn_frames=frames_for_ms(MAX_TURN_MS),
        uses_turn_model=has_turn_model,
        reply_gap_ms=min(REPLY_GAP_MS[low_end], silence_ms),
    )
