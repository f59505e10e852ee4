import numpy as np

from openlive.bench.analysis import analyse_barge_in, analyse_noise, analyse_turn, join_transcript
from openlive.bench.audio import float_to_pcm16
from openlive.bench.clips import Clip, ClipKind
from openlive.bench.driver import CHUNK_MS, Playback, Received

RATE = 16_000


def _clip(
    name: str,
    kind: ClipKind,
    speech_s: float,
    *,
    lead_s: float = 0.2,
    tail_s: float = 0.2,
    text: str = "what is the capital of france",
    keywords: tuple[str, ...] = ("paris",),
) -> Clip:
    t = np.arange(int(speech_s * RATE)) / RATE
    x = np.concatenate(
        [np.zeros(int(lead_s * RATE)), 0.3 * np.sin(2 * np.pi * 200 * t), np.zeros(int(tail_s * RATE))]
    )
    return Clip(name, float_to_pcm16(x), kind, text, "test", keywords)


def _played(clip: Clip, start: float) -> Playback:
    p = Playback(clip)
    n = -(-len(clip.pcm) // (RATE * CHUNK_MS // 1000 * 2))
    p.chunk_times = [start + (i + 1) * CHUNK_MS / 1000 for i in range(n)]
    return p


def _audio(t: float, *, loud: bool) -> Received:
    return Received(t, "audio", audio_bytes=4800, rate=24_000, sound_at=0 if loud else None)


def test_end_of_speech_is_the_send_time_of_the_chunk_with_the_last_speech_sample() -> None:
    p = _played(_clip("q", ClipKind.QUESTION, 1.0, lead_s=0.2, tail_s=0.4), start=100.0)
    # Speech ends at sample 19200 (1.2 s): chunk 59, sent at 100 + 60 * 0.02.
    assert p.speech_end is not None and abs(p.speech_end - 101.2) < 1e-9
    assert p.speech_onset is not None and abs(p.speech_onset - 100.22) < 1e-9


def test_turn_metrics_from_event_log() -> None:
    p = _played(_clip("q", ClipKind.QUESTION, 1.0), start=10.0)
    eos = p.speech_end
    assert eos is not None
    events = [
        Received(10.5, "input_text", text="what is the"),
        Received(eos + 0.30, "input_text", text=" capital of France?", finished=True),
        Received(eos + 0.45, "output_text", text="The capital of France "),
        _audio(eos + 0.50, loud=False),  # leading silence does not count as the reply being heard
        _audio(eos + 0.55, loud=True),
        _audio(eos + 0.65, loud=True),
        Received(eos + 0.70, "output_text", text="is Paris."),
        Received(eos + 0.80, "turn_complete"),
        _audio(eos + 5.0, loud=True),  # belongs to some later turn
    ]
    r = analyse_turn(p, events)
    assert r.v2v_ms is not None and abs(r.v2v_ms - 550) < 1e-6
    assert r.asr_final_ms is not None and abs(r.asr_final_ms - 300) < 1e-6
    assert r.first_text_ms is not None and abs(r.first_text_ms - 450) < 1e-6
    assert r.first_audio_ms is not None and abs(r.first_audio_ms - 500) < 1e-6
    assert r.input_transcript == "what is the capital of France?"
    assert r.reply_text == "The capital of France is Paris."
    assert r.correct is True and r.wer is None
    assert abs(r.reply_audio_s - 0.3) < 1e-9  # three 0.1 s chunks up to turnComplete
    # 0.1 s chunks at +0.50, +0.55, +0.65: each arrives before the previous one has finished playing.
    assert r.playback_gaps_ms == 0.0
    assert r.completed and not r.early_reply


def test_no_reply_gives_no_latency_and_a_wrong_answer_is_flagged() -> None:
    p = _played(_clip("q", ClipKind.QUESTION, 1.0), start=0.0)
    assert analyse_turn(p, []).v2v_ms is None
    eos = p.speech_end
    assert eos is not None
    r = analyse_turn(
        p,
        [
            Received(eos + 0.4, "output_text", text="Lyon."),
            _audio(eos + 0.5, loud=True),
            Received(eos + 0.6, "turn_complete"),
        ],
    )
    assert r.correct is False


def test_transcript_clip_gets_a_word_error_rate_over_all_its_segments() -> None:
    clip = _clip(
        "jfk", ClipKind.TRANSCRIPT, 2.0, text="ask not what your country can do for you", keywords=()
    )
    p = _played(clip, start=0.0)
    eos = p.speech_end
    assert eos is not None
    events = [
        Received(0.9, "input_text", text="Ask not what your country", finished=True),  # an early turn end
        _audio(1.0, loud=True),  # the server answered mid-clip: an early reply
        Received(1.1, "interrupted"),
        Received(eos + 0.3, "input_text", text="can do for me.", finished=True),
        _audio(eos + 0.6, loud=True),
        Received(eos + 0.7, "turn_complete"),
    ]
    r = analyse_turn(p, events)
    assert r.input_transcript == "Ask not what your country can do for me."
    assert r.wer is not None and abs(r.wer - 1 / 9) < 1e-9
    assert r.early_reply and r.correct is None


def test_join_transcript_separates_finished_segments() -> None:
    events = [
        Received(0, "input_text", text="front"),
        Received(0, "input_text", text=" left", finished=True),
        Received(0, "input_text", text="rear", finished=True),
    ]
    assert join_transcript(events) == "front left rear"


def test_barge_in_times_run_from_the_interrupting_speech_onset() -> None:
    prompt = _played(_clip("long", ClipKind.BARGE_PROMPT, 1.0), start=0.0)
    start = 5.0
    cut_in = _played(_clip("stop", ClipKind.BARGE_IN, 1.0, lead_s=0.1), start=start)
    onset = cut_in.speech_onset
    assert onset is not None
    events = [_audio(t, loud=True) for t in (2.0, 3.0, 4.0, onset + 0.05, onset + 0.12)]
    events += [
        Received(onset + 0.15, "interrupted"),
        Received(onset + 0.16, "turn_complete"),
        _audio(onset + 1.5, loud=True),
    ]  # the answer to the interruption is not the old reply
    r = analyse_barge_in(prompt, cut_in, events)
    assert r.valid and not r.no_audio_after_onset
    assert r.interrupted_ms is not None and abs(r.interrupted_ms - 150) < 1e-6
    assert r.audio_stop_ms is not None and abs(r.audio_stop_ms - 120) < 1e-6
    assert abs(r.reply_audio_before_s - 0.3) < 1e-9


def test_barge_in_after_the_reply_finished_is_not_a_valid_trial() -> None:
    prompt = _played(_clip("long", ClipKind.BARGE_PROMPT, 1.0), start=0.0)
    cut_in = _played(_clip("stop", ClipKind.BARGE_IN, 1.0), start=5.0)
    events = [_audio(2.0, loud=True), Received(2.5, "turn_complete")]
    r = analyse_barge_in(prompt, cut_in, events)
    assert not r.valid and r.no_audio_after_onset and r.audio_stop_ms == 0.0 and r.interrupted_ms is None


def test_noise_starts_a_turn_only_if_the_server_reacts() -> None:
    p = _played(_clip("noise", ClipKind.NOISE, 1.0), start=0.0)
    quiet = analyse_noise(p, [Received(1.5, "input_text", text="", finished=True)])
    assert not quiet.started_turn
    loud = analyse_noise(p, [Received(1.5, "input_text", text="Hmm.", finished=True), _audio(2.0, loud=True)])
    assert loud.started_turn and loud.input_transcript == "Hmm." and loud.reply_events == 1


def test_turn_end_waits_for_the_segment_holding_the_end_of_speech() -> None:
    from openlive.bench.driver import turn_end

    eos = 10.0
    events = [
        Received(8.0, "input_text", text="ask not what your country can do for you", finished=True),
        # The answer to that early part arrives late (a busy server) and is cut off by the rest.
        _audio(10.2, loud=True),
        Received(10.3, "interrupted"),
        Received(10.31, "turn_complete"),
    ]
    assert turn_end(events, eos) is None  # the last part has not even been recognised yet
    events.append(Received(10.6, "input_text", text="ask what you can do", finished=True))
    assert turn_end(events, eos) is None  # recognised, but not answered yet
    events += [_audio(11.0, loud=True), Received(11.5, "turn_complete")]
    assert turn_end(events, eos) == 11.5


def test_turn_end_without_finished_marks_takes_the_first_completed_reply() -> None:
    from openlive.bench.driver import turn_end

    events = [Received(1.0, "input_text", text="hi"), _audio(1.5, loud=True), Received(1.6, "turn_complete")]
    assert turn_end(events, 0.5) == 1.6
    assert turn_end(events, 1.55) is None


def test_reply_metrics_skip_an_answer_to_an_earlier_part_that_was_interrupted() -> None:
    p = _played(_clip("q", ClipKind.QUESTION, 1.0), start=0.0)
    eos = p.speech_end
    assert eos is not None
    events = [
        _audio(eos + 0.1, loud=True),  # late answer to a fragment
        Received(eos + 0.2, "interrupted"),
        Received(eos + 0.3, "input_text", text="what is the capital of France", finished=True),
        Received(eos + 0.8, "output_text", text="Paris."),
        _audio(eos + 0.9, loud=True),
        Received(eos + 1.0, "turn_complete"),
    ]
    r = analyse_turn(p, events)
    assert r.v2v_ms is not None and abs(r.v2v_ms - 900) < 1e-6
    assert r.reply_text == "Paris." and r.completed


def test_a_turn_that_never_completed_stops_where_the_benchmark_stopped_waiting() -> None:
    p = _played(_clip("jfk", ClipKind.TRANSCRIPT, 1.0, text="ask not", keywords=()), start=0.0)
    eos = p.speech_end
    assert eos is not None
    p.waited_until = eos + 5.0
    events = [
        Received(eos + 0.3, "input_text", text="ask not", finished=True),
        Received(eos + 0.31, "interrupted"),
        Received(eos + 0.32, "turn_complete"),
        Received(eos + 6.0, "input_text", text="ever tried", finished=True),  # the next clip's words
        _audio(eos + 6.5, loud=True),  # ...and the answer to them
        Received(eos + 6.6, "turn_complete"),
    ]
    r = analyse_turn(p, events)
    assert r.input_transcript == "ask not" and r.wer == 0.0 and not r.completed
    assert r.v2v_ms is None and r.reply_audio_s == 0


def test_playback_gaps_count_only_the_stalls_a_listener_would_hear() -> None:
    from openlive.bench.analysis import playback_gaps_s

    assert playback_gaps_s([]) is None
    burst = [_audio(1.0, loud=True) for _ in range(5)]  # 0.5 s of audio at once: no stall
    assert playback_gaps_s(burst) == 0.0
    # 0.1 s chunks at 1.0, 1.05 (queued), then 1.5: playback ran dry at 1.2 and waited 0.3 s.
    late = [_audio(1.0, loud=True), _audio(1.05, loud=True), _audio(1.5, loud=True)]
    gaps = playback_gaps_s(late)
    assert gaps is not None and abs(gaps - 0.3) < 1e-9
