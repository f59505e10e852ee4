"""TTS speed measured in-process: the server's English synthesizer (Piper) called directly.

Measured in the benchmark process, after the server's phases, so the number is the synthesizer's own
speed on this machine and not a share of a busy CPU. One warm-up sentence is not counted.
"""

from __future__ import annotations

import time
from typing import Any

SENTENCES = (
    "The capital of France is Paris.",
    "There are seven days in a week.",
    "Jupiter is the largest planet in our solar system, more than eleven times wider than Earth.",
    "Water freezes at zero degrees Celsius.",
)
OUTPUT_RATE = 24_000


def measure_piper() -> dict[str, Any]:
    """``rtf`` = synthesis seconds per second of audio (lower is faster); ``x_realtime`` = its inverse."""
    from openlive.backends.tts_piper import PiperSynthesizer
    from openlive.backends.voices import PIPER_EN_VOICE, VoiceChoice

    synth = PiperSynthesizer()
    choice = VoiceChoice(PIPER_EN_VOICE, 1.0)
    try:
        synth.render("Warming up.", choice)
        wall = 0.0
        audio_s = 0.0
        first_sentence_ms = None
        for sentence in SENTENCES:
            start = time.perf_counter()
            pcm = synth.render(sentence, choice)
            elapsed = time.perf_counter() - start
            first_sentence_ms = first_sentence_ms if first_sentence_ms is not None else elapsed * 1000.0
            wall += elapsed
            audio_s += len(pcm) / 2 / OUTPUT_RATE
    finally:
        synth.close()
    return {
        "engine": "piper en_US-joe-medium (1 thread, in-process)",
        "method": "in-process render() of fixed sentences; rtf = synthesis wall s / audio s",
        "sentences": len(SENTENCES),
        "audio_s": audio_s,
        "synthesis_s": wall,
        "rtf": wall / audio_s if audio_s else None,
        "x_realtime": audio_s / wall if wall else None,
        "first_sentence_ms": first_sentence_ms,
    }
