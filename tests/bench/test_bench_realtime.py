"""Whether reply audio kept up with real time, per concurrency level (``runner.audio_realtime``), and
how the table says it."""

from __future__ import annotations

from openlive.bench.analysis import TurnResult
from openlive.bench.clips import ClipSet
from openlive.bench.report import build_report, format_table
from openlive.bench.runner import audio_realtime
from openlive.bench.server import ServerUnderTest


def turn(audio_s: float, gaps_ms: float | None) -> TurnResult:
    return TurnResult(
        clip="q",
        kind="question",
        source="espeak",
        v2v_ms=700.0,
        asr_final_ms=None,
        first_text_ms=None,
        first_audio_ms=None,
        input_transcript="",
        reply_text="",
        reply_audio_s=audio_s,
        playback_gaps_ms=gaps_ms,
        correct=None,
        wer=None,
        early_reply=False,
        completed=True,
    )


def test_audio_that_never_stalls_kept_up() -> None:
    realtime = audio_realtime([turn(3.0, 0.0), turn(2.0, 40.0), turn(0.0, None)])
    assert realtime["turns"] == 2 and realtime["stalled_turns"] == 0 and realtime["kept_up"] is True
    assert realtime["reply_audio_s"] == 5.0 and 0.99 < realtime["x_realtime"] <= 1.0


def test_a_turn_that_stalls_means_the_audio_fell_behind() -> None:
    realtime = audio_realtime([turn(3.0, 0.0), turn(3.0, 1000.0)])
    assert realtime["stalled_turns"] == 1 and realtime["kept_up"] is False
    assert realtime["x_realtime"] == 6.0 / 7.0
    assert audio_realtime([])["kept_up"] is None


def test_the_table_says_whether_audio_kept_up() -> None:
    level = {"sessions": 3, "v2v_ms": {}, "stages_ms": {}, "errors": []}
    level["audio_realtime"] = audio_realtime([turn(3.0, 0.0), turn(3.0, 1000.0)])
    report = build_report(
        cfg_mode="full",
        server=ServerUnderTest("ws://x", None),
        clips=ClipSet(),
        results={"latency": {"3": level}},
        started=0.0,
    )
    assert "reply audio fell behind real time: 0.86× real time, 1/2 turns stalled" in format_table(report)
