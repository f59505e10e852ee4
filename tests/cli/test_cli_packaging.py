"""Packaging for the roles a deployment has: `pip install openlive` (the client SDK and CLI) stays light,
the server and its models are the [server] extra, and a server command without that extra says how to get
it. The client checks run in a fresh interpreter in which every module of the server stack is made
unimportable, as on a machine where only the base package is installed."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from openlive.cli.main import SERVER_STACK

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

# What must never come with a plain `pip install openlive`: compiled model runtimes and the web server.
HEAVY = {
    "llama-cpp-python",
    "faster-whisper",
    "ctranslate2",
    "piper-tts",
    "onnxruntime",
    "torch",
    "starlette",
    "uvicorn",
    "redis",
}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match is not None, requirement
    return match.group(0).lower().replace("_", "-")


def _project() -> dict[str, object]:
    with PYPROJECT.open("rb") as fh:
        project = tomllib.load(fh)["project"]
    assert isinstance(project, dict)
    return project


def test_the_base_install_is_light_and_the_model_stack_is_the_server_extra() -> None:
    project = _project()
    base = {_name(r) for r in project["dependencies"]}  # type: ignore[attr-defined]
    assert not base & HEAVY, f"heavy packages in the base install: {sorted(base & HEAVY)}"
    assert len(base) <= 8, f"the base install grew: {sorted(base)}"
    extras = project["optional-dependencies"]
    assert isinstance(extras, dict)
    server = {_name(r) for r in extras["server"]}
    model_stack = {"llama-cpp-python", "faster-whisper", "piper-tts", "onnxruntime", "starlette", "uvicorn"}
    assert model_stack <= server


# Makes every module of the server stack unimportable in this interpreter, then runs the given code.
_BLOCK = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # `import name` now raises ModuleNotFoundError
{code}
"""


def _run_without_server_stack(code: str) -> subprocess.CompletedProcess[str]:
    script = _BLOCK.format(blocked=sorted(SERVER_STACK), code=code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_client_sdk_and_the_cli_work_without_the_server_stack() -> None:
    result = _run_without_server_stack(
        "import openlive.client\n"
        "from openlive.client import LiveModel, LiveGenerationConfig\n"
        "from openlive.cli.main import build_parser, main\n"
        "names = set(build_parser()._subparsers._group_actions[0].choices)\n"
        "print(sorted(names))\n"
        "sys.exit(main(['models', '--help']))\n"
    )
    assert result.returncode == 0, result.stderr
    for command in ("talk", "say", "models", "serve"):
        assert f"'{command}'" in result.stdout


def test_a_server_command_without_the_server_stack_says_how_to_install_it() -> None:
    result = _run_without_server_stack(
        "from openlive.cli.main import main\nsys.exit(main(['serve', '--port', '0', '--tls-port', '0']))\n"
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "pip install 'openlive[server]'" in result.stderr
    assert "Traceback" not in result.stderr
