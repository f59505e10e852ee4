from pathlib import Path

import pytest

from openlive.cli import UserError
from openlive.cli.bench import llm_env, output_paths
from openlive.cli.main import build_parser, main


def test_out_may_be_a_directory_or_a_json_file() -> None:
    assert output_paths(Path("bench-out")) == (Path("bench-out/bench.json"), Path("bench-out/bench.png"))
    assert output_paths(Path("r/run1.json")) == (Path("r/run1.json"), Path("r/run1.png"))


def test_bench_is_a_registered_subcommand_with_its_flags() -> None:
    args = build_parser().parse_args(
        ["bench", "--quick", "--url", "ws://127.0.0.1:9", "--concurrency", "1,4"]
    )
    assert args.quick and args.url == "ws://127.0.0.1:9" and args.concurrency == "1,4"
    assert args.out == Path("bench-out") and args.barge_trials == 3 and args.rounds == 3


def test_rounds_below_one_are_a_user_error() -> None:
    args = build_parser().parse_args(["bench", "--rounds", "0"])
    with pytest.raises(UserError, match="--rounds"):
        args._run(args)


def test_a_bad_concurrency_list_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--concurrency", "one,two"]) == 2
    assert "--concurrency" in capsys.readouterr().err
    args = build_parser().parse_args(["bench", "--concurrency", "0"])
    with pytest.raises(UserError):
        args._run(args)


def test_text_sessions_and_a_remote_llm_are_flags() -> None:
    args = build_parser().parse_args(
        ["bench", "--text-sessions", "50", "--llm-url", "http://127.0.0.1:8000/v1", "--llm-model", "qwen"]
    )
    assert args.text_sessions == 50
    assert llm_env(args) == {"OPENLIVE_LLM_URL": "http://127.0.0.1:8000/v1", "OPENLIVE_LLM_MODEL": "qwen"}
    assert llm_env(build_parser().parse_args(["bench"])) == {}
    args = build_parser().parse_args(["bench", "--text-sessions", "0"])
    with pytest.raises(UserError, match="--text-sessions"):
        args._run(args)
