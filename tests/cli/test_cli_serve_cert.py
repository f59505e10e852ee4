"""``openlive`` entry point, ``cert`` and ``serve`` (with a tiny model-free profile instead of the models)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
from pathlib import Path

import httpx
import pytest

from openlive.cli import main as cli_main
from openlive.cli import serve as serve_cmd
from openlive.engine import Engine, Profile
from openlive.settings import Settings


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_main.main(["--help"])
    out = capsys.readouterr().out
    assert "serve" in out and "cert" in out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_cert_command_writes_then_keeps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["cert", str(tmp_path / "certs")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "certs" / "cert.pem").is_file() and (tmp_path / "certs" / "key.pem").is_file()
    assert cli_main.main(["cert", str(tmp_path / "certs")]) == 0
    assert "kept the existing" in capsys.readouterr().out


def test_user_errors_are_one_line_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nope.pem")
    assert cli_main.main(["serve", "--tls-cert", missing, "--tls-key", missing]) == 2
    err = capsys.readouterr().err
    assert err.startswith("openlive serve: error: TLS certificate not found")
    assert "Traceback" not in err and err.count("\n") == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tiny_engine(settings: Settings) -> Engine:
    def load() -> Profile:
        return Profile(name=settings.profile, description="tiny", llm=None)  # type: ignore[arg-type]

    return Engine({settings.profile: ("tiny test profile", load)}, default_profile=settings.profile)


async def test_serve_listens_loads_prints_the_banner_and_stops_on_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main.main(["cert", str(tmp_path)]) == 0
    monkeypatch.setattr(serve_cmd, "build_engine", _tiny_engine)
    port, tls_port = _free_port(), _free_port()
    settings = Settings(
        port=port, tls_port=tls_port, tls_cert=tmp_path / "cert.pem", tls_key=tmp_path / "key.pem"
    )
    task = asyncio.create_task(serve_cmd.serve(settings))
    ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    async with httpx.AsyncClient(verify=ctx) as http:
        for _ in range(200):
            try:
                if (await http.get(f"https://127.0.0.1:{tls_port}/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
    await asyncio.sleep(0.1)
    os.kill(os.getpid(), signal.SIGTERM)  # handled by serve's own signal handler
    assert await asyncio.wait_for(task, 10) == 0
    captured = capsys.readouterr()
    assert "WARNING: no API key is configured" in captured.err
    assert f"wss://127.0.0.1:{tls_port}/ws/google.ai.generativelanguage" in captured.out
    assert f"export GOOGLE_GEMINI_BASE_URL=https://127.0.0.1:{tls_port}" in captured.out
    assert f"export SSL_CERT_FILE={(tmp_path / 'cert.pem').resolve()}" in captured.out
    assert f"ws://127.0.0.1:{port}/ws/" in captured.out


def test_settings_from_flags_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENLIVE_API_KEYS", "a, b")
    parser = cli_main.build_parser()
    args = parser.parse_args(["serve", "--port", "9000", "--host", "0.0.0.0"])
    settings = serve_cmd.load_settings(args)
    assert settings.api_keys == ["a", "b"] and settings.port == 9000 and settings.host == "0.0.0.0"
    args = parser.parse_args(["serve", "--api-key", "x", "--api-key", "y"])
    assert serve_cmd.load_settings(args).api_keys == ["x", "y"]


def test_serve_keeps_resumable_sessions_in_redis_when_given_its_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openlive.store import RedisResumptionStore, SqliteResumptionStore

    monkeypatch.setenv("OPENLIVE_CACHE_DIR", str(tmp_path))
    default = serve_cmd.build_engine(Settings.load())
    assert isinstance(default.resumption, SqliteResumptionStore)
    monkeypatch.setenv("OPENLIVE_RESUMPTION_URL", "redis://127.0.0.1:6390/2")  # connected on first use
    shared = serve_cmd.build_engine(Settings.load())
    assert isinstance(shared.resumption, RedisResumptionStore)
