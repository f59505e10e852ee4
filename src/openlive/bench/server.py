"""The server under test: a real ``openlive serve`` subprocess on a free loopback port, or a given URL."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx


class ServerStartError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def openlive_command() -> list[str]:
    """The ``openlive`` console script of this interpreter's environment, else ``python -m``."""
    script = Path(sys.executable).with_name("openlive")
    if script.is_file():
        return [str(script)]
    found = shutil.which("openlive")
    return [found] if found else [sys.executable, "-m", "openlive.cli.main"]


def http_url(ws_url: str) -> str:
    if ws_url.startswith("ws://"):
        return "http://" + ws_url[len("ws://") :]
    if ws_url.startswith("wss://"):
        return "https://" + ws_url[len("wss://") :]
    return ws_url


def wait_healthy(
    base_http: str, *, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> float:
    """Poll ``GET /healthz`` until 200 (the server answers 503 while its models load); returns seconds."""
    start = time.monotonic()
    with httpx.Client(timeout=2.0, verify=False) as client:
        while True:
            if process is not None and process.poll() is not None:
                raise ServerStartError(f"openlive serve exited with code {process.returncode}")
            try:
                if client.get(base_http.rstrip("/") + "/healthz").status_code == 200:
                    return time.monotonic() - start
            except httpx.HTTPError:
                pass
            if time.monotonic() - start > timeout_s:
                raise ServerStartError(f"{base_http}/healthz did not answer 200 within {timeout_s:.0f} s")
            time.sleep(0.25)


def remote_llm_env(llm_url: str | None, llm_model: str = "") -> dict[str, str]:
    """The environment that points a server this bench starts at an OpenAI-compatible LLM server."""
    if not llm_url:
        return {}
    env = {"OPENLIVE_LLM_URL": llm_url}
    if llm_model:
        env["OPENLIVE_LLM_MODEL"] = llm_model
    return env


@dataclass(slots=True)
class ServerUnderTest:
    ws_url: str
    pid: int | None  # known only for a server this benchmark started: CPU and memory need it
    startup_s: float | None = None
    log_path: Path | None = None


class LocalServer:
    """``with LocalServer(log) as server:`` starts ``openlive serve`` on 127.0.0.1 and stops it after."""

    def __init__(
        self, log_path: Path, *, startup_timeout_s: float = 300.0, extra_env: dict[str, str] | None = None
    ):
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        self.extra_env = extra_env or {}
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerUnderTest:
        port = free_port()
        env = dict(os.environ)
        # Settings read OPENLIVE_* from the environment, whatever flags the serve command offers.
        env.update({"OPENLIVE_HOST": "127.0.0.1", "OPENLIVE_PORT": str(port), "HF_HUB_OFFLINE": "1"})
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        for key in ("OPENLIVE_TLS_CERT", "OPENLIVE_TLS_KEY", "OPENLIVE_API_KEYS"):
            env.pop(key, None)
        env.update(self.extra_env)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        try:
            self._process = subprocess.Popen(
                [*openlive_command(), "serve"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        finally:
            log.close()
        url = f"ws://127.0.0.1:{port}"
        try:
            startup = wait_healthy(http_url(url), timeout_s=self.startup_timeout_s, process=self._process)
        except BaseException:
            self._stop()
            raise ServerStartError(self._failure_message()) from None
        return ServerUnderTest(url, self._process.pid, startup, self.log_path)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()

    def _failure_message(self) -> str:
        tail = ""
        with contextlib.suppress(OSError):
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:])
        code = self._process.returncode if self._process else None
        return f"openlive serve did not become healthy (exit code {code}); log {self.log_path}:\n{tail}"

    def _stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
