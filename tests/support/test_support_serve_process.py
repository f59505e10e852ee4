"""ServeProcess's own behaviour that the integration tests rely on, without loading any model: the
command line it builds, the failure message (with the server's log) when serve dies while starting, and
that teardown stops the process group."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from serve_process import ServeProcess


def test_the_command_line_with_and_without_tls(tmp_path: Path) -> None:
    tls = ServeProcess(tmp_path, "k1", extra_args=["--log-level", "debug"])
    assert tls.tls_port not in (0, tls.port)
    assert tls.command()[1:] == [
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(tls.port),
        "--tls-port",
        str(tls.tls_port),
        "--tls-cert",
        str(tmp_path / "certs" / "cert.pem"),
        "--tls-key",
        str(tmp_path / "certs" / "key.pem"),
        "--api-key",
        "k1",
        "--drain-timeout",
        "5",
        "--log-level",
        "debug",
    ]
    assert tls.wss_url == f"wss://127.0.0.1:{tls.tls_port}"

    plain = ServeProcess(tmp_path, "k2", tls=False)
    assert plain.command()[6:] == ["--tls-port", "0", "--api-key", "k2", "--drain-timeout", "5"]
    assert plain.ws_url == f"ws://127.0.0.1:{plain.port}"
    with pytest.raises(AssertionError, match="without a TLS port"):
        _ = plain.https_url


def test_a_server_that_exits_while_starting_fails_with_its_log(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path, "k", tls=False, extra_args=["--no-such-option"], health_timeout_s=60)
    assert server.log_tail() == "(no openlive serve log)"
    with pytest.raises(RuntimeError, match="openlive serve exited with 2") as info, server:
        pytest.fail("the block must not run")
    assert "---- openlive serve log (tail) ----" in str(info.value)
    assert "--no-such-option" in str(info.value)  # argparse's complaint, read back from the log
    assert server.process is not None and server.process.returncode == 2


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path, "k", tls=False)
    # A stand-in leader that ignores nothing: stop() must end it and the sleeper it spawned.
    server.process = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], start_new_session=True)
    server.stop()
    assert server.process.returncode is not None
    # The killed sleeper is reparented and reaped by init a moment later; until then pgrep still lists it.
    deadline = time.monotonic() + 5
    while (left := _group_members(server.process.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == [], left
    server.stop()  # twice is harmless


def _group_members(group: int) -> list[str]:
    found = subprocess.run(["pgrep", "-g", str(group)], capture_output=True, text=True)
    return found.stdout.split()
