import json
from pathlib import Path

import pytest

from openlive.bench.clips import Clip, ClipKind, ClipSet
from openlive.bench.report import (
    SCHEMA,
    TARGETS,
    build_report,
    format_markdown,
    format_table,
    verdicts,
    write_json,
)
from openlive.bench.server import ServerUnderTest


def _results() -> dict[str, object]:
    turn = {
        "clip": "capital_france",
        "v2v_ms": 640.0,
        "asr_final_ms": 310.0,
        "first_text_ms": 450.0,
        "first_audio_ms": 600.0,
    }
    stage = {"n": 1, "p50": 300.0, "p95": 300.0, "mean": 300.0, "min": 300.0, "max": 300.0}
    return {
        "latency": {
            "1": {
                "sessions": 1,
                "rounds": 3,
                "conversation_v2v_p50_ms": [712.4, 1028.0, 655.1],
                "v2v_ms": {"n": 7, "p50": 650.0, "p95": 1250.0},
                "stages_ms": {
                    "asr_final": stage,
                    "first_text": stage,
                    "first_audio": stage,
                    "first_audible": stage,
                },
                "answers_correct": 6,
                "answers_total": 7,
                "cpu_s_per_conversation_min": 61.5,
                "peak_rss_mib": 2100.0,
                "turns": [turn],
                "errors": [],
            },
            "2": {
                "sessions": 2,
                "v2v_ms": {"n": 14, "p50": 900.0, "p95": 1900.0},
                "stages_ms": {},
                "turns": [turn, turn],
                "errors": ["ConnectionClosed: 1011"],
            },
        },
        "asr": {"wer": 0.031, "clips": [{"clip": "jfk", "wer": 0.0, "reference": "x", "hypothesis": "x"}]},
        "barge_in": {
            "interrupted_ms": {"n": 3, "p50": 180.0},
            "audio_stop_ms": {"n": 3, "p50": 190.0},
            "trials": [{"valid": True, "interrupted_ms": 180.0, "audio_stop_ms": 190.0}],
        },
        "noise": {"clip": "alsa_noise", "started_turn": False, "input_transcript": "", "reply_events": 0},
        "tts": {"engine": "piper", "rtf": 0.03, "x_realtime": 33.3},
        "piper_questions": {"v2v_ms": {"n": 2, "p50": 1464.5}, "answers_correct": 2, "answers_total": 2},
    }


def test_verdicts_compare_each_target_with_its_measurement() -> None:
    v = verdicts(_results())
    assert set(v) == set(TARGETS)
    assert v["v2v_p50_ms"]["verdict"] == "pass" and v["v2v_p50_ms"]["value"] == 650.0
    assert v["v2v_p95_ms"]["verdict"] == "fail"
    assert v["barge_in_stop_ms"]["verdict"] == "pass"
    assert v["wer"]["verdict"] == "pass"
    assert v["noise_turns"] == {**TARGETS["noise_turns"], "value": 0, "verdict": "pass"}
    assert verdicts({})["v2v_p50_ms"]["verdict"] == "not measured"


def test_report_shape_round_trips_through_json(tmp_path: Path) -> None:
    clips = ClipSet(
        questions=[Clip("capital_france", bytes(3200), ClipKind.QUESTION, "What?", "espeak-ng", ("paris",))],
        missing={"jfk": "npm failed"},
    )
    report = build_report(
        cfg_mode="full",
        server=ServerUnderTest("ws://127.0.0.1:1", 42, 3.5),
        clips=clips,
        results=_results(),
        started=1_700_000_000.0,
    )
    path = tmp_path / "out" / "bench.json"
    write_json(report, path)
    loaded = json.loads(path.read_text())
    assert loaded["schema"] == SCHEMA and loaded["mode"] == "full"
    assert loaded["date"] == "2023-11-14T22:13:20+00:00"
    assert {"nproc", "cpu_model", "ram_gib"} <= set(loaded["machine"])
    assert loaded["server"] == {"url": "ws://127.0.0.1:1", "started_by_bench": True, "startup_s": 3.5}
    assert loaded["stage_timing_source"] == "client"
    assert loaded["clips"][0]["duration_s"] == 0.1
    assert loaded["missing_clips"] == {"jfk": "npm failed"}
    assert loaded["latency"]["1"]["v2v_ms"]["p50"] == 650.0
    assert loaded["targets"]["wer"]["value"] == 0.031


def test_table_shows_the_headline_numbers_and_errors() -> None:
    report = build_report(
        cfg_mode="full",
        server=ServerUnderTest("ws://x", None),
        clips=ClipSet(),
        results=_results(),
        started=0.0,
    )
    table = format_table(report)
    assert "650 ms" in table and "1250 ms" in table and "6/7" in table
    assert "3.1 %" in table
    assert "no turn (correct)" in table
    assert "ConnectionClosed: 1011" in table
    assert "fail" in table and "pass" in table


def test_chart_is_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from openlive.bench.chart import write_chart

    report = build_report(
        cfg_mode="full",
        server=ServerUnderTest("ws://x", None),
        clips=ClipSet(),
        results=_results(),
        started=0.0,
    )
    write_chart(report, tmp_path / "bench.png")
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    write_chart({"latency": {}}, tmp_path / "empty.png")  # nothing measured still draws
    assert (tmp_path / "empty.png").stat().st_size > 1000


def test_markdown_summary_has_one_row_per_concurrency_and_target() -> None:
    report = build_report(
        cfg_mode="full", server=ServerUnderTest("ws://x", 1), clips=ClipSet(), results=_results(), started=0.0
    )
    md = format_markdown(report)
    assert "| 1 | 650 ms | 1,250 ms | 300 ms |" in md
    assert "| 2 | 900 ms | 1,900 ms |" in md
    assert "| voice-to-voice p95, 1 session | ≤ 1200 | 1250 | fail |" in md
    assert "| jfk | 0.0 % | x |" in md
    assert "Piper-voiced questions (the server's own voice; comparison only): v2v p50 1,464 ms" in md
    assert "3 conversations pooled; their own v2v p50s were 712 ms / 1,028 ms / 655 ms." in md
    assert "onset → `interrupted` p50 180 ms" in md and "Noise.wav: no turn" in md and "RTF 0.030" in md
