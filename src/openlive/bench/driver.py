"""A real Live API client for the benchmark: one WebSocket session with a simulated microphone.

The microphone streams 20 ms chunks of 16 kHz PCM in real time for the whole session, like a browser or
phone would: the clip being "spoken", and digital silence in between. Every chunk's send time and every
server message's arrival time are logged (``time.monotonic``); the metrics are computed afterwards from
these logs (``openlive.bench.analysis``), so the I/O here stays simple and the arithmetic is testable.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from websockets.asyncio.client import ClientConnection, connect

from openlive.bench.audio import BYTES_PER_SAMPLE, INPUT_RATE, first_sound_offset
from openlive.bench.clips import Clip
from openlive.protocol import (
    AudioTranscriptionConfig,
    Blob,
    Content,
    GenerationConfig,
    Modality,
    Part,
    RealtimeInput,
    ServerContent,
    Setup,
    SetupComplete,
    Tool,
    decode_server_message,
    encode_client_message,
    parse_pcm_mime,
)

CHUNK_MS = 20
CHUNK_BYTES = INPUT_RATE * CHUNK_MS // 1000 * BYTES_PER_SAMPLE
LIVE_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
DEFAULT_MODEL = "models/gemini-2.5-flash-native-audio-preview-09-2025"
SHORT_ANSWERS = "You are a voice assistant. Answer in one short sentence."
LONG_ANSWERS = "You are a storyteller. Tell long, detailed stories of at least ten sentences."


@dataclass(slots=True)
class Received:
    """One server event as the client saw it. ``kind``: audio | input_text | output_text | interrupted |
    generation_complete | turn_complete | tool_call (a function call, ``text`` its JSON; logged by the
    scenario bench, which answers it) | other."""

    t: float
    kind: str
    text: str = ""
    finished: bool | None = None
    audio_bytes: int = 0
    rate: int = 24_000
    # Sample index of the first non-silent frame in this audio chunk; None when the chunk is silent.
    sound_at: int | None = None

    @property
    def audio_s(self) -> float:
        return self.audio_bytes / BYTES_PER_SAMPLE / self.rate

    @property
    def audible(self) -> bool:
        return self.kind == "audio" and self.sound_at is not None


@dataclass(slots=True)
class Playback:
    """One clip played into the microphone: when each of its chunks left the client."""

    clip: Clip
    chunk_times: list[float] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # When the benchmark stopped waiting for this clip's reply (turn ended, timed out, or went quiet):
    # later events belong to whatever was said next.
    waited_until: float | None = None

    def time_of_sample(self, index: int) -> float | None:
        """When the chunk holding sample ``index`` of the clip was sent."""
        chunk = index * BYTES_PER_SAMPLE // CHUNK_BYTES
        return self.chunk_times[chunk] if 0 <= chunk < len(self.chunk_times) else None

    @property
    def started(self) -> float | None:
        return self.chunk_times[0] if self.chunk_times else None

    @property
    def speech_onset(self) -> float | None:
        span = self.clip.span
        return None if span is None else self.time_of_sample(span.onset)

    @property
    def speech_end(self) -> float | None:
        span = self.clip.span
        return None if span is None else self.time_of_sample(span.end - 1)


def server_events(frame: str | bytes, now: float) -> list[Received]:
    """The bench's view of one server frame (several events when a message packs several fields)."""
    out: list[Received] = []
    for message in decode_server_message(frame):
        if not isinstance(message, ServerContent):
            continue
        if message.model_turn is not None:
            for part in message.model_turn.parts:
                if part.inline_data is not None and part.inline_data.mime_type.startswith("audio/"):
                    rate = parse_pcm_mime(part.inline_data.mime_type) or 24_000
                    data = part.inline_data.data
                    out.append(
                        Received(
                            now,
                            "audio",
                            audio_bytes=len(data),
                            rate=rate,
                            sound_at=first_sound_offset(data, rate),
                        )
                    )
                elif part.text and not part.thought:
                    out.append(Received(now, "output_text", text=part.text))
        if message.input_transcription is not None:
            t = message.input_transcription
            out.append(Received(now, "input_text", text=t.text, finished=t.finished))
        if message.output_transcription is not None:
            t = message.output_transcription
            out.append(Received(now, "output_text", text=t.text, finished=t.finished))
        if message.interrupted:
            out.append(Received(now, "interrupted"))
        if message.generation_complete:
            out.append(Received(now, "generation_complete"))
        if message.turn_complete:
            out.append(Received(now, "turn_complete"))
    return out


def turn_end(events: Sequence[Received], speech_end: float) -> float | None:
    """When the reply to speech that ended at ``speech_end`` completed: the first ``turnComplete`` after
    reply output that was not itself interrupted. None while that has not happened.

    A server may split one long recording into several turns at its pauses and start answering an
    early part; those answers get interrupted or complete while the last part is still being
    recognised. So when the server marks finished input transcriptions (the session has seen one), the
    reply must also come after the first ``finished`` transcription received after ``speech_end``: the
    one that closes the segment holding the end of speech.
    """
    uses_finished = any(e.kind == "input_text" and e.finished for e in events)
    final_at: float | None = None
    if uses_finished:
        final = next((e for e in events if e.kind == "input_text" and e.finished and e.t > speech_end), None)
        if final is None:
            return None
        final_at = final.t
    replied = False
    for event in events:
        if event.t <= speech_end:
            continue
        if event.kind in ("audio", "output_text", "tool_call"):
            replied = True
        elif event.kind == "interrupted":
            replied = False  # that reply was abandoned; its turnComplete does not end this turn
        elif event.kind == "turn_complete" and replied and (final_at is None or event.t >= final_at):
            return event.t
    return None


class BenchSession:
    """``async with BenchSession(url, ...) as s: playback = await s.say(clip)``."""

    def __init__(
        self,
        ws_url: str,
        *,
        system_instruction: str = SHORT_ANSWERS,
        model: str = DEFAULT_MODEL,
        connect_timeout_s: float = 30.0,
        grounding: bool = False,
        camera_fps: float = 0.0,
        tools: Sequence[Tool] = (),
    ) -> None:
        # --grounding: googleSearch in setup (every turn searches the server's index);
        # --camera: frames of a sign sent at camera_fps alongside the microphone.
        self.grounding = grounding
        self.camera_fps = camera_fps
        self.tools = list(tools)  # the app's function declarations (the scenario bench)
        self.ws_url = ws_url.rstrip("/") + LIVE_PATH + "?key=openlive-bench"
        self.system_instruction = system_instruction
        self.model = model
        self.connect_timeout_s = connect_timeout_s
        self.events: list[Received] = []
        self.closed_reason: str | None = None
        self._ws: ClientConnection | None = None
        self._queue: deque[tuple[Playback, bytes]] = deque()
        self._tasks: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()
        self.started_at = 0.0
        self.ended_at = 0.0

    async def __aenter__(self) -> BenchSession:
        self._ws = await asyncio.wait_for(
            connect(self.ws_url, max_size=None, open_timeout=self.connect_timeout_s), self.connect_timeout_s
        )
        setup = Setup(
            model=self.model,
            generation_config=GenerationConfig(response_modalities=[Modality.AUDIO]),
            system_instruction=Content(role="user", parts=[Part(text=self.system_instruction)]),
            input_audio_transcription=AudioTranscriptionConfig(),
            output_audio_transcription=AudioTranscriptionConfig(),
            tools=[*self.tools, *([Tool(google_search=True)] if self.grounding else [])],
        )
        try:
            await self._ws.send(encode_client_message(setup))
            first = await asyncio.wait_for(self._ws.recv(), self.connect_timeout_s)
            if not any(isinstance(m, SetupComplete) for m in decode_server_message(first)):
                raise RuntimeError(f"expected setupComplete, got {first[:200]!r}")
        except BaseException:
            await self._ws.close()
            raise
        self.started_at = time.monotonic()
        self._tasks = [asyncio.create_task(self._receive()), asyncio.create_task(self._microphone())]
        if self.camera_fps > 0:
            self._tasks.append(asyncio.create_task(self._camera()))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.ended_at = time.monotonic()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 5.0)

    # -------------------------------------------------------------------- I/O loops

    async def _receive(self) -> None:
        assert self._ws is not None
        try:
            async for frame in self._ws:
                await self.on_frame(frame, time.monotonic())
                self._changed.set()
        except Exception as exc:  # the close reason is reported, not raised into the benchmark
            self.closed_reason = f"{type(exc).__name__}: {exc}"
        else:
            self.closed_reason = f"closed {self._ws.close_code} {self._ws.close_reason or ''}".strip()
        self._changed.set()

    async def on_frame(self, frame: str | bytes, now: float) -> None:
        """Log one server frame's events (a subclass may also answer it, e.g. a ``toolCall``)."""
        self.events.extend(server_events(frame, now))

    async def _camera(self) -> None:
        """Frames of a sign at ``camera_fps``, its number changing every few frames (a moving view)."""
        assert self._ws is not None
        frames = [sign_jpeg(f"GATE {n}") for n in range(1, 4)]
        tick = 0
        try:
            while True:
                frame = frames[(tick // 5) % len(frames)]
                await self._ws.send(
                    encode_client_message(RealtimeInput(video=Blob(mime_type="image/jpeg", data=frame)))
                )
                tick += 1
                await asyncio.sleep(1.0 / self.camera_fps)
        except Exception:  # the connection went away: the receiver reports why
            return

    async def _microphone(self) -> None:
        try:
            await self._stream_microphone()
        except Exception as exc:  # the connection went away: waiters see closed_reason and stop
            self.closed_reason = self.closed_reason or f"microphone: {type(exc).__name__}: {exc}"
            self._changed.set()

    async def _stream_microphone(self) -> None:
        """Real-time 20 ms chunks on an absolute schedule (no drift); silence when nothing is queued."""
        assert self._ws is not None
        loop = asyncio.get_running_loop()
        period = CHUNK_MS / 1000.0
        start = loop.time()
        silence = bytes(CHUNK_BYTES)
        tick = 0
        while True:
            tick += 1
            # A microphone delivers a chunk once it has been recorded: at the end of its 20 ms.
            delay = start + tick * period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            playback: Playback | None = None
            if self._queue:
                playback, rest = self._queue[0]
                chunk, rest = rest[:CHUNK_BYTES], rest[CHUNK_BYTES:]
                chunk = chunk.ljust(CHUNK_BYTES, b"\0")
                if rest:
                    self._queue[0] = (playback, rest)
                else:
                    self._queue.popleft()
            else:
                chunk = silence
            message = RealtimeInput(audio=Blob(mime_type=f"audio/pcm;rate={INPUT_RATE}", data=chunk))
            await self._ws.send(encode_client_message(message))
            if playback is not None:
                playback.chunk_times.append(time.monotonic())
                if not self._queue or self._queue[0][0] is not playback:
                    playback.done.set()
                    self._changed.set()

    # -------------------------------------------------------------------- actions

    async def finish_sending(self, playback: Playback) -> bool:
        """Wait until the whole clip has been sent (False if the connection ended first)."""
        return await self.wait_for(playback.done.is_set, playback.clip.duration_s + 30.0)

    def play(self, clip: Clip) -> Playback:
        """Queue a clip on the microphone; returns at once (``playback.done`` is set when it is sent)."""
        playback = Playback(clip)
        self._queue.append((playback, clip.pcm))
        return playback

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until ``predicate()`` holds (checked after each server event), at most ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if self.closed_reason is not None:
                return predicate()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.25))
        return True

    async def say(
        self, clip: Clip, *, turn_timeout_s: float = 30.0, quiet_timeout_s: float = 8.0
    ) -> Playback:
        """Speak ``clip`` and wait for the reply turn to finish (or time out, or go quiet)."""
        playback = self.play(clip)
        await self.finish_sending(playback)
        end = playback.speech_end or time.monotonic()
        await self.wait_for(lambda: self.turn_finished_after(end, quiet_timeout_s), turn_timeout_s)
        playback.waited_until = time.monotonic()
        return playback

    def turn_finished_after(self, t: float, quiet_timeout_s: float) -> bool:
        """The reply to speech that ended at ``t`` completed; or nothing arrived for ``quiet_timeout_s``."""
        if turn_end(self.events, t) is not None:
            return True
        last = max((e.t for e in self.events), default=t)
        return time.monotonic() - max(last, t) > quiet_timeout_s

    async def idle(self, seconds: float) -> None:
        """Let the microphone stream silence for a while (the user says nothing)."""
        await asyncio.sleep(seconds)


def sign_jpeg(text: str, size: tuple[int, int] = (640, 480)) -> bytes:
    """A JPEG of a sign (dark text on a light panel over a blue background), as a camera would send."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", size, (30, 60, 140))
    draw = ImageDraw.Draw(image)
    draw.rectangle((80, 150, size[0] - 80, size[1] - 150), fill=(235, 235, 225))
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.load_default(size=64)
    except TypeError:  # Pillow < 10.1 has no sized default font
        font = ImageFont.load_default()
    draw.text((size[0] // 2, size[1] // 2), text, fill=(20, 20, 20), font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
