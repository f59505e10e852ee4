"""Per-turn numbers from the client's logs: what was sent when, and what arrived when (pure functions).

All times are client-side ``time.monotonic`` values on the loopback: the only clock both ends of a
voice-to-voice measurement share is the client's, and the client is where a user would hear the reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from openlive.bench.clips import ClipKind
from openlive.bench.driver import Playback, Received, turn_end
from openlive.bench.metrics import contains_keyword, wer


@dataclass(slots=True)
class TurnResult:
    clip: str
    kind: str
    source: str
    # End of the user's speech (send time of the chunk holding its last sample) → first reply audio
    # chunk that is not silent. None when no audible reply came.
    v2v_ms: float | None
    # Client-side stage breakdown, each from the same end-of-speech instant.
    asr_final_ms: float | None  # → the input transcription marked finished (the server's ASR result)
    first_text_ms: float | None  # → the first output transcription (the LLM's first clause)
    first_audio_ms: float | None  # → the first reply audio chunk, silent or not
    input_transcript: str
    reply_text: str
    reply_audio_s: float
    # Silence a listener would hear inside the reply: playback starts with the first reply chunk and
    # stalls whenever the next chunk has not arrived by the time the audio before it has played.
    # 0 when the pipeline (LLM + TTS) always stays ahead of playback; None without reply audio.
    playback_gaps_ms: float | None
    correct: bool | None  # questions: an expected keyword is in the reply transcript
    wer: float | None  # recordings with a transcript
    early_reply: bool  # reply audio arrived while the user was still speaking
    completed: bool  # a turnComplete closed the reply

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ms(later: float | None, earlier: float | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier) * 1000.0


def join_transcript(events: Sequence[Received]) -> str:
    """Concatenate transcription deltas; a ``finished`` event closes a segment, and segments (several
    turns inside one long clip) are joined with a space."""
    segments: list[str] = []
    current = ""
    for event in events:
        current += event.text
        if event.finished:
            segments.append(current.strip())
            current = ""
    if current.strip():
        segments.append(current.strip())
    return " ".join(s for s in segments if s)


# A turn whose reply audio, played from its first chunk, stalls for longer than this in all fell behind
# real time (a stall under it is network jitter a client's playout buffer absorbs).
STALL_MS = 100.0


def playback_gaps_s(audio: Sequence[Received]) -> float | None:
    """Total stall time when the chunks are played back to back from the first one's arrival."""
    if not audio:
        return None
    play_until = audio[0].t  # when the audio received so far will have finished playing
    stalled = 0.0
    for chunk in audio:
        if chunk.t > play_until:
            stalled += chunk.t - play_until
            play_until = chunk.t
        play_until += chunk.audio_s
    return stalled


def analyse_turn(playback: Playback, events: Sequence[Received]) -> TurnResult:
    clip = playback.clip
    start = playback.started
    eos = playback.speech_end
    assert start is not None, "the clip was never sent"
    anchor = eos if eos is not None else playback.chunk_times[-1]
    if playback.waited_until is not None:
        # What arrived after the benchmark stopped waiting belongs to whatever was said next.
        events = [e for e in events if e.t <= playback.waited_until]
    end = turn_end(events, anchor)
    if end is not None:
        horizon = end
    elif playback.waited_until is not None:
        horizon = playback.waited_until
    else:
        horizon = max((e.t for e in events), default=anchor)

    heard = [e for e in events if start <= e.t <= horizon and e.kind == "input_text"]
    # The reply is what came after the end of speech, and after any interruption of an earlier answer
    # (a server that split the clip answered a part of it, then was cut off by the rest).
    cut_offs = [e.t for e in events if e.kind == "interrupted" and anchor < e.t <= horizon]
    reply_from = max([anchor, *cut_offs])
    reply = [e for e in events if reply_from < e.t <= horizon]
    audio = [e for e in reply if e.kind == "audio"]
    texts = [e for e in reply if e.kind == "output_text"]
    audible = next((e for e in audio if e.audible), None)
    finished = next((e for e in heard if e.finished and e.t > anchor), None)
    early = any(e.kind == "audio" and e.audible and start <= e.t <= anchor for e in events)

    reply_text = join_transcript(texts)
    audio_s = sum(e.audio_s for e in audio)
    gaps = playback_gaps_s(audio)
    heard_text = join_transcript(heard)
    return TurnResult(
        clip=clip.name,
        kind=str(clip.kind),
        source=clip.source,
        v2v_ms=_ms(audible.t if audible else None, eos),
        asr_final_ms=_ms(finished.t if finished else None, eos),
        first_text_ms=_ms(texts[0].t if texts else None, eos),
        first_audio_ms=_ms(audio[0].t if audio else None, eos),
        input_transcript=heard_text,
        reply_text=reply_text,
        reply_audio_s=audio_s,
        playback_gaps_ms=None if gaps is None else gaps * 1000.0,
        correct=contains_keyword(reply_text, clip.keywords) if clip.kind == ClipKind.QUESTION else None,
        wer=wer(clip.text, heard_text) if clip.kind == ClipKind.TRANSCRIPT else None,
        early_reply=early,
        completed=end is not None,
    )


@dataclass(slots=True)
class BargeInResult:
    # Onset of the interrupting speech (send time of its first speech chunk) → ``interrupted`` received.
    interrupted_ms: float | None
    # Same onset → the last audio chunk of the interrupted reply (0 when no chunk of it arrived after
    # the onset, which ``no_audio_after_onset`` flags).
    audio_stop_ms: float | None
    no_audio_after_onset: bool
    reply_audio_before_s: float  # how much of the long reply had arrived when the user cut in
    valid: bool  # the long reply was still in progress at the onset

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def analyse_barge_in(prompt: Playback, interrupter: Playback, events: Sequence[Received]) -> BargeInResult:
    onset = interrupter.speech_onset
    prompt_end = prompt.speech_end or prompt.started or 0.0
    assert onset is not None, "the interrupting clip has no speech"
    interrupted = next((e for e in events if e.kind == "interrupted" and e.t >= onset), None)
    completed_before = any(e.kind == "turn_complete" and prompt_end < e.t < onset for e in events)
    cutoff = interrupted.t if interrupted is not None else float("inf")
    old_audio = [e for e in events if e.kind == "audio" and prompt_end < e.t < cutoff]
    last_audio = old_audio[-1].t if old_audio else None
    quiet_after = last_audio is not None and last_audio < onset
    stop = None if last_audio is None else max(0.0, (last_audio - onset) * 1000.0)
    return BargeInResult(
        interrupted_ms=_ms(interrupted.t if interrupted else None, onset),
        audio_stop_ms=stop,
        no_audio_after_onset=quiet_after,
        reply_audio_before_s=sum(e.audio_s for e in old_audio if e.t < onset),
        valid=not completed_before and bool(old_audio),
    )


@dataclass(slots=True)
class NoiseResult:
    started_turn: bool  # any transcript text, reply audio or reply text after the noise began
    input_transcript: str
    reply_events: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def analyse_noise(playback: Playback, events: Sequence[Received]) -> NoiseResult:
    start = playback.started or 0.0
    later = [e for e in events if e.t >= start]
    heard = join_transcript([e for e in later if e.kind == "input_text"])
    replies = [e for e in later if e.kind in ("audio", "output_text", "turn_complete", "interrupted")]
    return NoiseResult(
        started_turn=bool(heard.strip() or replies), input_transcript=heard, reply_events=len(replies)
    )
