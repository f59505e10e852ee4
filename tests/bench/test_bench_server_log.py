from datetime import datetime

from openlive.bench.server_log import parse_turn_timings, summarize_marks

LOG = """\
2026-11-24 23:40:10,000 INFO uvicorn.error: connection open
2026-11-24 23:40:19,052 INFO openlive.engine.session: session abc turn: speech_end +0 ms, \
turn_decided +207 ms, start +717 ms, first_token +1109 ms, first_audio +2170 ms
2026-11-24 23:40:24,837 INFO openlive.engine.session: session def turn: speech_end +0 ms, \
turn_decided +293 ms, start +1022 ms, first_token +1230 ms
2026-11-24 23:50:00,000 INFO openlive.engine.session: session ghi turn: start +0 ms, first_token +90 ms
"""


def test_parse_turn_lines_and_ignore_the_rest() -> None:
    timings = parse_turn_timings(LOG.splitlines())
    assert [t.session for t in timings] == ["abc", "def", "ghi"]
    assert timings[0].marks_ms == {
        "speech_end": 0.0,
        "turn_decided": 207.0,
        "start": 717.0,
        "first_token": 1109.0,
        "first_audio": 2170.0,
    }
    assert timings[0].at == datetime(2026, 11, 24, 23, 40, 19).timestamp() + 0.052


def test_summarize_marks_within_a_time_window() -> None:
    timings = parse_turn_timings(LOG.splitlines())
    since = datetime(2026, 11, 24, 23, 40).timestamp()
    until = datetime(2026, 11, 24, 23, 41).timestamp()
    summary = summarize_marks(timings, since, until)
    assert summary["turns"] == 2
    assert summary["turn_decided"]["p50"] == 250.0
    assert summary["first_audio"]["n"] == 1  # the second turn logged no first_audio
    assert list(summary)[:3] == ["turns", "speech_end", "turn_decided"]  # marks in the order logged
