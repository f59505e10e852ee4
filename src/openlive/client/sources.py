"""Audio sources for ``start_audio_conversation``: the microphone, a WAV file, an array.

A source is any async iterable of audio chunks (s16le bytes or numpy arrays); its ``sample_rate``
attribute, when it has one, says their rate (16 kHz otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Any

from openlive.client.audio import INPUT_RATE, AudioData, read_wav, to_pcm16
from openlive.client.devices import DEVICE_HINT, import_sounddevice
from openlive.client.errors import AudioDeviceError

AudioSource = AsyncIterable[AudioData]

DEFAULT_CHUNK_MS = 40  # within the 20-100 ms the API recommends; small enough for barge-in


def source_rate(source: object) -> int:
    rate = getattr(source, "sample_rate", INPUT_RATE)
    return int(rate) if isinstance(rate, int | float) else INPUT_RATE


async def _paced_chunks(pcm: bytes, sample_rate: int, chunk_ms: int, realtime: bool) -> AsyncIterator[bytes]:
    step = max(2, int(sample_rate * chunk_ms / 1000) * 2)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, offset in enumerate(range(0, len(pcm), step)):
        if realtime:
            # An absolute schedule (not sleep(chunk) each time) so that send delays do not add up.
            delay = start + i * chunk_ms / 1000 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)  # let the receiver run between chunks
        yield pcm[offset : offset + step]


class ArraySource:
    """Audio already in memory (array or s16le bytes), cut into chunks, optionally paced in real time."""

    def __init__(
        self,
        audio: AudioData,
        sample_rate: int = INPUT_RATE,
        *,
        realtime: bool = False,
        chunk_ms: int = DEFAULT_CHUNK_MS,
        trailing_silence_s: float = 0.0,
    ) -> None:
        silence = bytes(2 * int(sample_rate * trailing_silence_s))
        self.pcm = to_pcm16(audio) + silence
        self.sample_rate = sample_rate
        self.realtime = realtime
        self.chunk_ms = chunk_ms

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _paced_chunks(self.pcm, self.sample_rate, self.chunk_ms, self.realtime)


class WavFileSource(ArraySource):
    """A WAV file played into the session as if spoken: by default paced in real time.

    ``trailing_silence_s`` of silence follows the speech, because servers find the end of a turn by
    hearing the user stop talking.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        realtime: bool = True,
        chunk_ms: int = DEFAULT_CHUNK_MS,
        trailing_silence_s: float = 1.0,
    ) -> None:
        pcm, rate = read_wav(path)
        super().__init__(
            pcm, rate, realtime=realtime, chunk_ms=chunk_ms, trailing_silence_s=trailing_silence_s
        )
        self.path = Path(path)


class MicrophoneSource:
    """The default input device, via ``sounddevice`` (PortAudio), as 16-bit mono chunks."""

    def __init__(
        self,
        sample_rate: int = INPUT_RATE,
        *,
        chunk_ms: int = DEFAULT_CHUNK_MS,
        device: int | str | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.chunk_ms = chunk_ms
        self.device = device
        self.muted = False  # while True, silence is sent instead (e.g. half-duplex without headphones)

    def check(self) -> None:
        """Raise ``AudioDeviceError`` now if the microphone cannot be opened (it opens when iterated)."""
        sd = import_sounddevice()
        try:
            sd.check_input_settings(
                device=self.device, channels=1, dtype="int16", samplerate=self.sample_rate
            )
        except Exception as exc:  # PortAudioError, ValueError
            raise AudioDeviceError(f"cannot open the microphone: {exc} {DEVICE_HINT}") from exc

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sd = import_sounddevice()
        loop = asyncio.get_running_loop()
        # Bounded: if the event loop stalls, old audio is dropped rather than piling up latency.
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=50)

        def put(data: bytes) -> None:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(data)

        def callback(indata: Any, frames: int, time: Any, status: Any) -> None:
            data = bytes(indata)
            loop.call_soon_threadsafe(put, bytes(len(data)) if self.muted else data)

        try:
            stream = sd.RawInputStream(
                samplerate=self.sample_rate,
                channels=1,
                dtype="int16",
                blocksize=int(self.sample_rate * self.chunk_ms / 1000),
                device=self.device,
                callback=callback,
            )
            stream.start()
        except Exception as exc:  # PortAudioError, ValueError: no device, bad rate
            raise AudioDeviceError(f"cannot open the microphone: {exc} {DEVICE_HINT}") from exc
        try:
            while True:
                yield await queue.get()
        finally:
            with contextlib.suppress(Exception):
                stream.stop()
                stream.close()
