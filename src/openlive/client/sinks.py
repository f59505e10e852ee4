"""Audio sinks for ``start_audio_conversation``: the speaker, a WAV file, a memory buffer.

A sink takes the reply audio as 16-bit mono PCM at its ``sample_rate`` (the conversation resamples
when the server's rate differs). ``flush()`` drops whatever has not been played yet: the client's half
of barge-in, called on ``interrupted`` so the user does not keep hearing an answer that was cancelled.
"""

from __future__ import annotations

import threading
import wave
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from openlive.client.audio import OUTPUT_RATE
from openlive.client.devices import DEVICE_HINT, import_sounddevice
from openlive.client.errors import AudioDeviceError


@runtime_checkable
class AudioSink(Protocol):
    sample_rate: int

    def write(self, pcm: bytes) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class BufferSink:
    """Keeps the audio in memory. ``pcm`` is what is still queued; ``flush()`` empties it.

    ``received`` counts every byte ever written and ``flushes`` every flush, so a test can tell
    audio that arrived and was dropped from audio that never arrived.
    """

    def __init__(self, sample_rate: int = OUTPUT_RATE) -> None:
        self.sample_rate = sample_rate
        self.pcm = bytearray()
        self.received = 0
        self.flushes = 0
        self.closed = False

    def write(self, pcm: bytes) -> None:
        self.pcm += pcm
        self.received += len(pcm)

    def flush(self) -> None:
        self.pcm.clear()
        self.flushes += 1

    def close(self) -> None:
        self.closed = True


class WavFileSink:
    """Writes the reply audio to a WAV file as it arrives.

    A file cannot un-hear audio, so ``flush()`` only counts interruptions; the file holds everything
    the server sent, including replies cut short by barge-in.
    """

    def __init__(self, path: str | Path, sample_rate: int = OUTPUT_RATE) -> None:
        self.sample_rate = sample_rate
        self.path = Path(path)
        self.flushes = 0
        # Kept open across writes (closed by close()), so no with-block here.
        self._wav: wave.Wave_write | None = wave.open(str(self.path), "wb")  # noqa: SIM115
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(sample_rate)

    def write(self, pcm: bytes) -> None:
        if self._wav is not None:
            self._wav.writeframes(pcm)

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()
            self._wav = None


class SpeakerSink:
    """The default output device, via ``sounddevice``: a byte queue drained by PortAudio's callback."""

    def __init__(self, sample_rate: int = OUTPUT_RATE, *, device: int | str | None = None) -> None:
        self.sample_rate = sample_rate
        self._buffer = bytearray()
        # PortAudio calls back on its own thread; the lock keeps write/flush and playback consistent.
        self._lock = threading.Lock()
        sd = import_sounddevice()
        try:
            self._stream: Any = sd.RawOutputStream(
                samplerate=sample_rate, channels=1, dtype="int16", device=device, callback=self._callback
            )
            self._stream.start()
        except Exception as exc:  # PortAudioError, ValueError: no device
            raise AudioDeviceError(f"cannot open the speaker: {exc} {DEVICE_HINT}") from exc

    def _callback(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        wanted = frames * 2
        with self._lock:
            chunk = bytes(self._buffer[:wanted])
            del self._buffer[:wanted]
        outdata[: len(chunk)] = chunk
        if len(chunk) < wanted:
            outdata[len(chunk) :] = bytes(wanted - len(chunk))

    @property
    def playing(self) -> bool:
        with self._lock:
            return bool(self._buffer)

    def write(self, pcm: bytes) -> None:
        with self._lock:
            self._buffer += pcm

    def flush(self) -> None:
        with self._lock:
            self._buffer.clear()

    def close(self) -> None:
        try:
            self._stream.stop()
            self._stream.close()
        except Exception:  # closing a dead device must not mask the real error
            pass
