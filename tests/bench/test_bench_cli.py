from pathlib import Path

import pytest

from openlive.cli import UserError
from openlive.cli.bench import output_paths
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
