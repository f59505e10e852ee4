"""The playground's capture worklet, run under Node with stand-in AudioWorklet globals (no browser).

It must turn 48 kHz (or 44.1 kHz) microphone audio into faithful 16 kHz Int16 in 40 ms chunks, and its
energy VAD must date the end of speech correctly: that date is where the page's latency clock starts.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr

WEB = Path(__file__).resolve().parents[2] / "src" / "openlive" / "web"
RUNNER = Path(__file__).with_name("run_worklet.mjs")

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def run_worklet(audio: np.ndarray[Any, Any], rate: int, tmp_path: Path) -> dict[str, Any]:
    raw = tmp_path / "in.f32"
    raw.write_bytes(audio.astype("<f4").tobytes())
    out = subprocess.run(
        ["node", str(RUNNER), str(WEB / "capture-worklet.js"), str(raw), str(rate)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def speech_like(rate: int, start_s: float, end_s: float, total_s: float) -> np.ndarray[Any, Any]:
    """Harmonic-rich 'voice' (150 Hz fundamental, formant-ish decay) between start and end, silence around."""
    t = np.arange(int(total_s * rate)) / rate
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 20))
    voice = 0.3 * voice / np.max(np.abs(voice))
    gate = (t >= start_s) & (t < end_s)
    return np.where(gate, voice, 0.0)


@pytest.mark.parametrize("rate", [48000, 44100])
def test_capture_resamples_to_16k_faithfully_in_40ms_chunks(rate: int, tmp_path: Path) -> None:
    audio = speech_like(rate, 0.2, 1.2, 1.5)
    result = run_worklet(audio, rate, tmp_path)
    got = np.frombuffer(base64.b64decode(result["pcm"]), dtype="<i2").astype(np.float64) / 32768
    assert result["chunkSamples"] == [640]
    reference = np.asarray(soxr.resample(audio, rate, 16000), dtype=np.float64)
    # Compare over the voiced part, allowing the filter's few-sample delay.
    best = -np.inf
    for lag in range(0, 6):
        seg = got[lag + 4000 : lag + 18000]
        ref = reference[4000 : 4000 + len(seg)]
        err = seg - ref
        best = max(best, 10 * np.log10(np.sum(ref**2) / np.sum(err**2)))
    assert abs(len(got) - len(reference)) <= 640  # only the unfinished last chunk may be missing
    assert best > 20, f"SNR {best:.1f} dB against soxr"


def test_vad_reports_speech_start_and_dates_the_end_of_speech(tmp_path: Path) -> None:
    audio = speech_like(48000, 0.5, 1.5, 2.5)
    result = run_worklet(audio, 48000, tmp_path)
    kinds = [e["type"] for e in result["events"]]
    assert kinds == ["speech-start", "speech-end"]
    start, end = result["events"]
    assert 0.5 < start["atS"] < 0.8  # after the minimum speech run, not on the first click
    # The event comes after the hangover; atS - agoS must be the true end of speech (1.5 s).
    assert 1.75 < end["atS"] < 1.95
    assert abs((end["atS"] - end["agoS"]) - 1.5) < 0.03


def test_vad_ignores_steady_background_noise_but_hears_speech_over_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    noise = 0.03 * rng.standard_normal(48000 * 3)  # about -35 dBFS after the low-pass: well above -45
    assert run_worklet(noise, 48000, tmp_path)["events"] == []
    noisy_speech = noise + speech_like(48000, 1.0, 2.0, 3.0)
    assert [e["type"] for e in run_worklet(noisy_speech, 48000, tmp_path)["events"]] == [
        "speech-start",
        "speech-end",
    ]
