"""Latency of the speech backends, one stage at a time (not a test; run it by hand).

    PYTHONPATH=src:tests/backends .venv/bin/python tests/backends/speech_bench.py [--threads 1,2]

Prints one JSON object per measurement. The figures depend on what else runs on the machine: on the
2-core target, run it while nothing else does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import numpy as np
from speech_samples import alsa_sample, collect, model_cache, tts_pcm_to_16k

from openlive.backends.asr_whisper import WhisperRecognizer, load_recognizers
from openlive.backends.tts_kokoro import KokoroJaSynthesizer, kokoro_model_path
from openlive.backends.tts_piper import PiperSynthesizer, joe_voice_paths, load_piper_voice
from openlive.backends.turn_smart import SmartTurnDetector
from openlive.backends.vad_silero import FRAME_SAMPLES, SileroVad
from openlive.stages.speech import OUTPUT_SAMPLE_RATE

EN_TEXT = "Sure, I can help with that. The weather today will be sunny, with a light breeze in the afternoon."
JA_TEXT = "はい、お手伝いします。今日は一日中晴れて、午後は少し風が吹くでしょう。"
UTTERANCE = "Could you tell me the weather for tomorrow morning?"


def emit(**fields: object) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def bench_vad() -> None:
    audio = np.tile(alsa_sample("Front_Center"), 8)
    frames = [audio[i : i + FRAME_SAMPLES] for i in range(0, audio.size - FRAME_SAMPLES, FRAME_SAMPLES)]
    stream = SileroVad().new_stream()
    for frame in frames[:20]:
        stream.process(frame)
    started = time.perf_counter()
    for frame in frames:
        stream.process(frame)
    per_frame = (time.perf_counter() - started) / len(frames)
    emit(
        stage="vad",
        frames=len(frames),
        us_per_frame=round(per_frame * 1e6, 1),
        rtf=round(per_frame / 0.032, 4),
    )


async def bench_turn(audio: np.ndarray) -> None:
    turn = SmartTurnDetector()
    await turn.end_of_turn_probability(audio)
    times = []
    for _ in range(15):
        started = time.perf_counter()
        await turn.end_of_turn_probability(audio)
        times.append(time.perf_counter() - started)
    emit(
        stage="smart_turn",
        ms_median=round(statistics.median(times) * 1e3, 1),
        ms_max=round(max(times) * 1e3, 1),
    )


async def bench_asr(name: str, recognizer: WhisperRecognizer, speech: np.ndarray, threads: int) -> None:
    """A 3 s utterance fed in 100 ms steps with a partial after each; then finish two ways."""
    utterance = np.concatenate((speech, np.zeros(max(0, 48000 - speech.size), dtype=np.float32)))[:48000]
    await recognizer.transcribe(utterance[:16000], "en")  # warm up
    partial_times = []
    stream = recognizer.new_stream("en")
    for start in range(0, utterance.size, 1600):
        stream.feed(utterance[start : start + 1600])
        started = time.perf_counter()
        result = await stream.partial()
        if result is not None:
            partial_times.append(time.perf_counter() - started)
    stream.feed(np.zeros(4800, dtype=np.float32))  # the silence that ended the turn
    started = time.perf_counter()
    reused = await stream.finish()
    finish_reuse = time.perf_counter() - started
    # Worst case: the last 0.4 s of speech arrived after the last partial.
    cut = speech.size - 6400
    stream = recognizer.new_stream("en")
    stream.feed(speech[:cut])
    await stream.partial()
    stream.feed(speech[cut:])
    started = time.perf_counter()
    await stream.finish()
    finish_decode = time.perf_counter() - started
    started = time.perf_counter()
    await recognizer.transcribe(utterance, None)
    full_detect = time.perf_counter() - started
    emit(
        stage=f"asr_{name}",
        cpu_threads=threads,
        partials=len(partial_times),
        partial_ms_median=round(statistics.median(partial_times) * 1e3),
        partial_ms_max=round(max(partial_times) * 1e3),
        finish_reuse_ms=round(finish_reuse * 1e3, 2),
        finish_decode_ms=round(finish_decode * 1e3),
        transcribe_3s_detect_language_ms=round(full_detect * 1e3),
        text=reused.text,
    )


async def bench_tts(
    name: str, synth: PiperSynthesizer | KokoroJaSynthesizer, text: str, voice: str, lang: str, threads: int
) -> None:
    await collect(
        synth.synthesize("はい。" if lang == "ja" else "Yes.", voice=voice, language=lang)
    )  # warm up
    firsts, totals, seconds = [], [], 0.0
    for _ in range(3):
        started = time.perf_counter()
        stream = synth.synthesize(text, voice=voice, language=lang)
        first = await anext(stream)
        firsts.append(time.perf_counter() - started)
        pcm = first + await collect(stream)
        totals.append(time.perf_counter() - started)
        seconds = len(pcm) / 2 / OUTPUT_SAMPLE_RATE
    emit(
        stage=f"tts_{name}",
        threads=threads,
        first_chunk_ms_median=round(statistics.median(firsts) * 1e3),
        total_ms_median=round(statistics.median(totals) * 1e3),
        audio_s=round(seconds, 2),
        rtf=round(statistics.median(totals) / seconds, 3),
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", default="1,2", help="thread counts to try for ASR and TTS")
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]
    cache: Path = model_cache()
    bench_vad()
    piper = PiperSynthesizer(load_piper_voice(*joe_voice_paths(), threads=1))
    speech = tts_pcm_to_16k(await collect(piper.synthesize(UTTERANCE, voice="Puck", language="en")))
    await bench_turn(speech)
    for threads in thread_counts:
        recognizers = load_recognizers(cache, cpu_threads=threads)
        await bench_asr("tiny_en", recognizers["en"], speech, threads)
        await bench_asr("base", recognizers["*"], speech, threads)
    for threads in thread_counts:
        piper = PiperSynthesizer(load_piper_voice(*joe_voice_paths(), threads=threads))
        await bench_tts("piper_en", piper, EN_TEXT, "Puck", "en", threads)
        kokoro = KokoroJaSynthesizer(kokoro_model_path(cache), threads=threads)
        await bench_tts("kokoro_ja", kokoro, JA_TEXT, "Kore", "ja", threads)


if __name__ == "__main__":
    asyncio.run(main())
