"""Audio and event helpers for the real-time voice tests (test_voice_genai.py): speech from voices other
than the server's own, real-time microphone streaming through google-genai, and a recorder of what the
server sends, with arrival times.

Imported by name (the test directories are not packages).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
import wave
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soxr
from google.genai import live, types

RATE = 16000
MIME = f"audio/pcm;rate={RATE}"
CHUNK_MS = 20
CHUNK_BYTES = RATE * CHUNK_MS // 1000 * 2
REPLY_MIME = "audio/pcm;rate=24000"
REPLY_BYTES_PER_S = 24000 * 2
NOISE_WAV = Path("/usr/share/sounds/alsa/Noise.wav")
# A microphone-like level: synthetic voices come out near full scale.
SPEECH_GAIN = 0.5


def to_pcm16k(samples: np.ndarray, rate: int, gain: float = 1.0) -> bytes:
    """Mono int16 samples at ``rate`` → 16 kHz PCM16 bytes (soxr, as the server resamples)."""
    audio = samples.astype(np.float32) * gain
    if rate != RATE:
        audio = soxr.resample(audio, rate, RATE)
    pcm: bytes = np.clip(audio, -32768, 32767).astype(np.int16).tobytes()
    return pcm


def read_wav_mono(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2, f"{path}: not 16-bit PCM"
        channels, rate = wav.getnchannels(), wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return samples, rate


def espeak_pcm16k(text: str, workdir: Path, *, voice: str = "en-us", words_per_minute: int = 150) -> bytes:
    """``text`` spoken by Debian's espeak-ng, a formant synthesiser unlike the server's neural voices, so
    that the recogniser is not tested on its own side's speech."""
    path = workdir / f"espeak-{abs(hash(text)) % 10**8}.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(path), text],
        check=True,
        capture_output=True,
        timeout=60,
    )
    samples, rate = read_wav_mono(path)
    return to_pcm16k(samples, rate, SPEECH_GAIN)


def noise_pcm16k() -> bytes:
    """The ALSA test noise (48 kHz), at 16 kHz."""
    samples, rate = read_wav_mono(NOISE_WAV)
    return to_pcm16k(samples, rate)


def silence(seconds: float) -> bytes:
    return bytes(int(RATE * seconds) * 2)


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def speech_onset_s(pcm: bytes, threshold: float = 300.0) -> float:
    """Seconds into ``pcm`` (16 kHz) of the first 20 ms chunk louder than ``threshold`` RMS."""
    for i in range(0, len(pcm), CHUNK_BYTES):
        if rms(pcm[i : i + CHUNK_BYTES]) > threshold:
            return i / 2 / RATE
    raise AssertionError("no speech in the audio")


def without_trailing_silence(pcm: bytes, threshold: float = 300.0, keep_s: float = 0.04) -> bytes:
    """``pcm`` (16 kHz) up to ``keep_s`` after its last 20 ms chunk louder than ``threshold`` RMS: espeak-ng
    ends each clip with ~0.3 s of quiet, which would lengthen a pause put after it."""
    loud = [i for i in range(0, len(pcm), CHUNK_BYTES) if rms(pcm[i : i + CHUNK_BYTES]) > threshold]
    if not loud:
        raise AssertionError("no speech in the audio")
    return pcm[: min(len(pcm), loud[-1] + CHUNK_BYTES + int(keep_s * RATE) * 2)]


class Microphone:
    """Sends 16 kHz audio in 20 ms chunks at real-time pace, as a live microphone does: what was queued
    with ``say``, and silence in between (unless ``idle_silence`` is off), so that the server's automatic
    voice activity detection sees the pauses. Pacing follows the clock, not the sum of sleeps."""

    def __init__(self, session: live.AsyncSession, *, idle_silence: bool = True) -> None:
        self.session = session
        self.idle_silence = idle_silence
        self._pending = bytearray()
        self._onset_at = -1  # byte offset in _pending of the queued speech's onset, -1 when none waits
        self._drained = asyncio.Event()
        self._drained.set()
        self.onset_sent_at: float | None = None  # monotonic time the last queued speech onset was sent
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Microphone:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    def say(self, pcm: bytes) -> None:
        """Queues ``pcm`` after what is still queued; its speech onset time is recorded when sent."""
        self._onset_at = len(self._pending) + int(speech_onset_s(pcm) * RATE) * 2
        self.onset_sent_at = None
        self._pending += pcm
        self._drained.clear()

    async def drained(self) -> None:
        """Returns once everything queued has been sent."""
        await self._drained.wait()

    async def _run(self) -> None:
        start = time.monotonic()
        sent = 0
        while True:
            if self._pending:
                chunk = bytes(self._pending[:CHUNK_BYTES])
                del self._pending[:CHUNK_BYTES]
                onset_in_chunk = 0 <= self._onset_at < len(chunk)
                self._onset_at -= len(chunk) if self._onset_at >= 0 else 0
            elif self.idle_silence:
                chunk, onset_in_chunk = bytes(CHUNK_BYTES), False
            else:
                chunk, onset_in_chunk = b"", False
            if chunk:
                await self.session.send_realtime_input(audio=types.Blob(data=chunk, mime_type=MIME))
                if onset_in_chunk:
                    self.onset_sent_at = time.monotonic()
            if not self._pending:
                self._drained.set()
            sent += 1
            # Sleep to the next 20 ms tick of the wall clock, so that send time does not add up as drift.
            await asyncio.sleep(max(0.0, start + sent * CHUNK_MS / 1000 - time.monotonic()))


async def send_pcm(session: live.AsyncSession, pcm: bytes) -> None:
    """Sends ``pcm`` once, in 20 ms chunks at real-time pace, and nothing after it."""
    async with Microphone(session, idle_silence=False) as mic:
        mic.say(pcm)
        await mic.drained()


@dataclass
class Received:
    at: float  # monotonic arrival time
    message: types.LiveServerMessage


@dataclass
class Recorder:
    """Reads every server message in the background (``receive()`` ends at each turnComplete, so it is
    called again), keeping arrival times; ``error`` is what ended the connection (an ``APIError`` with the
    close code, for the SDK)."""

    session: live.AsyncSession
    messages: list[Received] = field(default_factory=list)
    error: BaseException | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Recorder:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    async def _run(self) -> None:
        try:
            while True:
                async for message in self.session.receive():
                    self.messages.append(Received(time.monotonic(), message))
                    self._changed.set()
        except Exception as exc:  # the connection ended: keep why, for the tests to assert on
            self.error = exc
            self._changed.set()

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Waits until ``condition()`` holds (checked on every message) or the connection ends or
        ``timeout`` passes; whether it holds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not condition() and self.error is None:
                    self._changed.clear()
                    await self._changed.wait()
        return condition()

    async def wait_turns(self, count: int, timeout: float) -> bool:
        return await self.wait_for(lambda: len(self.turns()) >= count, timeout)

    def contents(self) -> list[tuple[float, types.LiveServerContent]]:
        return [(r.at, r.message.server_content) for r in self.messages if r.message.server_content]

    def turns(self) -> list[list[Received]]:
        """The complete turns so far: the messages up to and including each turnComplete."""
        turns: list[list[Received]] = []
        current: list[Received] = []
        for received in self.messages:
            current.append(received)
            content = received.message.server_content
            if content is not None and content.turn_complete:
                turns.append(current)
                current = []
        return turns

    def explain(self) -> str:
        """A compact timeline of what arrived, for failure messages."""
        if not self.messages:
            return f"(nothing received; error={self.error!r})"
        t0 = self.messages[0].at
        return "\n".join(f"{r.at - t0:7.2f}s {describe(r.message)}" for r in self.messages) + (
            f"\nerror={self.error!r}"
        )


def describe(message: types.LiveServerMessage) -> str:
    """One line for a server message, with audio shortened to its size."""
    content = message.server_content
    if content is None:
        return message.model_dump_json(exclude_none=True)[:200]
    bits: list[str] = []
    parts = (content.model_turn.parts or []) if content.model_turn else []
    for part in parts:
        if part.inline_data is not None:
            bits.append(f"audio[{part.inline_data.mime_type} {len(part.inline_data.data or b'')}B]")
        elif part.text is not None:
            bits.append(f"text={part.text!r}")
    for name in ("input_transcription", "output_transcription"):
        transcription = getattr(content, name)
        if transcription is not None:
            bits.append(f"{name}={transcription.text!r}{' finished' if transcription.finished else ''}")
    for flag in ("interrupted", "generation_complete", "turn_complete"):
        if getattr(content, flag):
            bits.append(flag)
    if message.usage_metadata is not None:
        bits.append(f"usage(prompt={message.usage_metadata.prompt_token_count})")
    return " ".join(bits)


def turn_audio(turn: list[Received]) -> list[types.Blob]:
    return [
        part.inline_data
        for r in turn
        if r.message.server_content and r.message.server_content.model_turn
        for part in r.message.server_content.model_turn.parts or []
        if part.inline_data is not None
    ]


def turn_text(turn: list[Received]) -> str:
    return "".join(
        part.text
        for r in turn
        if r.message.server_content and r.message.server_content.model_turn
        for part in r.message.server_content.model_turn.parts or []
        if part.text is not None and not part.thought
    )


def transcription(messages: list[Received], name: str) -> str:
    """The concatenated ``input_transcription`` or ``output_transcription`` texts."""
    texts = []
    for r in messages:
        content = r.message.server_content
        value = getattr(content, name) if content is not None else None
        if value is not None and value.text:
            texts.append(value.text)
    return "".join(texts)


async def one_spoken_turn(
    connection: AbstractAsyncContextManager[live.AsyncSession], speech: bytes, timeout_s: float
) -> tuple[Recorder, bool]:
    """Say ``speech`` into a new session (``connection``: a live ``connect(...)``) and record until its
    first turn completes or ``timeout_s`` passes; returns the recording and whether the turn completed."""
    async with connection as session, Recorder(session) as rec, Microphone(session) as mic:
        mic.say(speech)
        finished = await rec.wait_turns(1, timeout_s)
    return rec, finished
