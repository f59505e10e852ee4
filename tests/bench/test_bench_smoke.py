"""End to end: ``openlive bench --quick`` against a real ``openlive serve`` with the embedded models.

It asserts that the benchmark ran and measured something, never how fast: speed targets are checked by
reading the benchmark's report, not by a timed unit test.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.models


@pytest.mark.timeout(600)
def test_quick_bench_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.run(
        [sys.executable, "-m", "openlive.cli.main", "bench", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=580,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "bench.json").read_text())
    assert (out / "bench.png").read_bytes()[:4] == b"\x89PNG"
    assert report["mode"] == "quick" and report["server"]["started_by_bench"]
    (turn,) = report["latency"]["1"]["turns"]
    assert turn["v2v_ms"] is not None and turn["v2v_ms"] > 0, turn
    assert turn["correct"], turn  # "What is the capital of France?" → Paris
    assert report["latency"]["1"]["peak_rss_mib"] > 100
    assert report["asr"]["clips"][0]["wer"] is not None
    assert "voice-to-voice" in proc.stdout
