"""ServeProcess: a real ``openlive serve`` subprocess for the integration tests, started as a user starts it.

The installed entry point, 127.0.0.1 only, free ports, one API key and, with ``tls=True``, a development
certificate from ``openlive cert``. Its output goes to a log file whose tail the tests attach to their
failure messages. Use it as a context manager (``with ServeProcess(...) as server: yield server``), so
that the process group is stopped even when the server never became healthy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from owned_process import OwnedProcess, free_port, log_tail, stop_group

OPENLIVE = Path(sys.executable).with_name("openlive")
# Loading the embedded models (LLM, ASR, TTS) on two shared CPU cores can take minutes when cold.
DEFAULT_HEALTH_TIMEOUT_S = 300.0
STOP_GRACE_S = 20.0


def serve_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the server runs in: never the model hub; OpenMP threads that sleep when idle, so
    that the test process and the server share two cores without spinning (unless the caller chose)."""
    env = dict(os.environ)
    env["HF_HUB_OFFLINE"] = "1"
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.update(extra or {})
    return env


@dataclass
class ServeProcess(OwnedProcess):
    """``openlive serve`` on a plain port and, with ``tls``, a TLS port, with one configured API key."""

    workdir: Path
    api_key: str
    tls: bool = True
    health_timeout_s: float = DEFAULT_HEALTH_TIMEOUT_S
    log_name: str = "serve.log"
    log_lines: int = 40  # how much of the log ``log_tail`` shows by default
    extra_args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    tls_port: int = 0  # chosen in __post_init__ when ``tls``; 0 tells serve to open no TLS listener
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if self.tls and not self.tls_port:
            self.tls_port = free_port()

    # ---------------------------------------------------------------------------------------------

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def https_url(self) -> str:
        # The development certificate names localhost and 127.0.0.1; 127.0.0.1 avoids IPv6 surprises.
        return f"https://127.0.0.1:{self._tls_port()}"

    @property
    def wss_url(self) -> str:
        return f"wss://127.0.0.1:{self._tls_port()}"

    @property
    def cert_dir(self) -> Path:
        return self.workdir / "certs"

    @property
    def cert(self) -> Path:
        return self.cert_dir / "cert.pem"

    @property
    def log_path(self) -> Path:
        return self.workdir / self.log_name

    def _tls_port(self) -> int:
        assert self.tls, "this server was started without a TLS port"
        return self.tls_port

    # ---------------------------------------------------------------------------------------------

    def command(self) -> list[str]:
        command = [str(OPENLIVE), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.tls:
            command += ["--tls-port", str(self.tls_port), "--tls-cert", str(self.cert)]
            command += ["--tls-key", str(self.cert_dir / "key.pem")]
        else:
            command += ["--tls-port", "0"]
        # A drain shorter than STOP_GRACE_S: a test that stops the server mid-reply gets a clean exit.
        return [*command, "--api-key", self.api_key, "--drain-timeout", "5", *self.extra_args]

    def start(self) -> None:
        """Starts the server and waits until /healthz answers 200 (the models are loaded)."""
        env = serve_env(self.env)
        if self.tls:
            subprocess.run(
                [str(OPENLIVE), "cert", str(self.cert_dir)],
                check=True,
                capture_output=True,
                timeout=60,
                env=env,
            )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group: teardown stops any worker it spawned
            )
        self.wait_healthy(self.health_timeout_s)

    def wait_healthy(self, timeout_s: float) -> None:
        assert self.process is not None, "start() first"
        deadline = time.monotonic() + timeout_s
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"openlive serve exited with {self.process.returncode}\n{self.log_tail()}")
            try:
                r = httpx.get(f"{self.http_url}/healthz", timeout=5)
                if r.status_code == 200:
                    return
                last_error = f"HTTP {r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as exc:
                last_error = repr(exc)
            time.sleep(1)
        raise RuntimeError(
            f"openlive serve not healthy after {timeout_s:.0f} s ({last_error})\n{self.log_tail()}"
        )

    def stop(self) -> None:
        stop_group(self.process, grace_s=STOP_GRACE_S)

    def log_tail(self, lines: int | None = None) -> str:
        return log_tail(self.log_path, "openlive serve", lines or self.log_lines)
