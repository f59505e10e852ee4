"""``openlive`` entry point: argparse with one subcommand per module.

To add a command, write ``openlive/cli/<name>.py`` with ``add_parser(subparsers)`` (which registers the
subparser) and ``run(args) -> int | None``, and add ``<name>`` to :data:`COMMANDS`. Modules are imported
when the parser is built, so keep heavy imports (models, numpy, audio) inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from openlive.cli import UserError

# The top-level modules of the [server] extra (pyproject.toml): a command that needs one of them says how
# to install it instead of showing a traceback.
SERVER_STACK = frozenset(
    {
        "starlette",
        "uvicorn",
        "cryptography",
        "tqdm",
        "onnxruntime",
        "llama_cpp",
        "faster_whisper",
        "ctranslate2",
        "piper",
        "pydantic",
        "redis",
        "prometheus_client",
        "countryinfo",
    }
)

# Subcommand modules, in the order ``openlive --help`` lists them.
COMMANDS: tuple[str, ...] = ("serve", "cert", "assemble", "index", "talk", "say", "models", "bench")


def _load(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"openlive.cli.{name}")
    except ModuleNotFoundError as exc:
        # A command whose module is not (yet) part of this build is left out of the CLI; any other
        # import failure is a real bug and is raised.
        if exc.name == f"openlive.cli.{name}":
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openlive",
        description="A self-hosted server for the Gemini Live API wire protocol, with local models.",
    )
    from openlive import __version__

    parser.add_argument("--version", action="version", version=f"openlive {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = _load(name)
        if module is None:
            continue
        before = set(subparsers.choices)
        module.add_parser(subparsers)
        # Whatever subcommand(s) the module registered dispatch to its ``run``.
        for added in set(subparsers.choices) - before:
            subparsers.choices[added].set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        result = args._run(args)
    except UserError as exc:
        print(f"openlive {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        # `pip install openlive` is the client only; the server and its models are the [server] extra.
        top = (exc.name or "").partition(".")[0]
        if top not in SERVER_STACK:
            raise
        print(
            f"openlive {args.command}: error: this command needs openlive's server stack, which is not "
            f"installed (no module {exc.name!r}). Install it with: pip install 'openlive[server]'",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
