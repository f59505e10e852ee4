"""``openlive bench --scenario app``: the flags, and what the command writes (the run itself faked)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from openlive.bench import scenario
from openlive.cli.main import build_parser


def test_the_scenario_flags_parse() -> None:
    args = build_parser().parse_args(["bench", "--scenario", "app", "--scenario-instruction-chars", "40000"])
    assert args.scenario == "app" and args.scenario_instruction_chars == 40_000
    assert build_parser().parse_args(["bench"]).scenario is None


def test_the_command_writes_the_report_and_prints_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[scenario.ScenarioConfig] = []

    def fake_run_scenario(cfg: scenario.ScenarioConfig) -> dict[str, Any]:
        seen.append(cfg)
        return {"date": "today", "instruction_chars": 40_000, "functions": [], "turns": [], "error": None}

    monkeypatch.setattr(scenario, "run_scenario", fake_run_scenario)
    args = build_parser().parse_args(
        ["bench", "--scenario", "app", "--scenario-instruction-chars", "40000", "--out", str(tmp_path)]
    )
    assert args._run(args) == 0
    (cfg,) = seen
    assert cfg.instruction_chars == 40_000 and cfg.out_dir == tmp_path and cfg.url is None
    assert json.loads((tmp_path / "scenario-app.json").read_text())["instruction_chars"] == 40_000
    assert (tmp_path / "scenario-app-events.jsonl").exists()
    assert "--scenario app" in capsys.readouterr().out
