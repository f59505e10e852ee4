"""``start_audio_conversation``: Firebase AI Logic's hands-free voice loop, for Python.

Three concurrent jobs on one session: the source's audio goes up as ``realtimeInput.audio``; the
server's messages come down into the sink (flushed on ``interrupted``) and the transcript callbacks;
tool calls go to the handler, each in its own task so a slow tool never stalls playback, and its
result goes back as ``toolResponse``. ``toolCallCancellation`` cancels the matching tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from openlive.client.audio import OUTPUT_RATE, rate_from_mime, resample_pcm16, to_pcm16
from openlive.client.errors import LiveError
from openlive.client.sinks import AudioSink
from openlive.client.sources import AudioSource, source_rate
from openlive.client.types import audio_of
from openlive.protocol.messages import (
    FunctionCall,
    FunctionResponse,
    ServerContent,
    ServerMessage,
    ToolCall,
    ToolCallCancellation,
)

if TYPE_CHECKING:
    from openlive.client.session import LiveSession

log = logging.getLogger(__name__)

HandlerResult = FunctionResponse | dict[str, Any]
FunctionCallingHandler = Callable[[FunctionCall], HandlerResult | Awaitable[HandlerResult]]
TextCallback = Callable[[str], Awaitable[None] | None]
MessageCallback = Callable[[ServerMessage], Awaitable[None] | None]
EventCallback = Callable[[], Awaitable[None] | None]


async def _call(callback: Callable[..., Awaitable[None] | None] | None, *args: Any) -> None:
    if callback is None:
        return
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:  # a broken UI callback must not end the conversation
        log.exception("conversation callback failed")


class AudioConversationController:
    """A running audio conversation. ``await stop()`` ends it (the session stays open)."""

    def __init__(
        self,
        session: LiveSession,
        *,
        source: AudioSource,
        sink: AudioSink,
        function_calling_handler: FunctionCallingHandler | None,
        on_input_transcription: TextCallback | None,
        on_output_transcription: TextCallback | None,
        on_turn_complete: EventCallback | None,
        on_interrupted: EventCallback | None,
        on_message: MessageCallback | None,
    ) -> None:
        self.session = session
        self.source = source
        self.sink = sink
        self._handler = function_calling_handler
        self._on_input = on_input_transcription
        self._on_output = on_output_transcription
        self._on_turn_complete = on_turn_complete
        self._on_interrupted = on_interrupted
        self._on_message = on_message
        self._tool_tasks: dict[str, asyncio.Task[None]] = {}
        self._turn_event = asyncio.Event()
        self.turns_completed = 0
        self.interruptions = 0
        self.error: BaseException | None = None
        self._sender = asyncio.create_task(self._send_loop(), name="openlive-conversation-send")
        self._receiver = asyncio.create_task(self._receive_loop(), name="openlive-conversation-receive")

    # ---------------------------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        rate = source_rate(self.source)
        try:
            async for chunk in self.source:
                pcm = to_pcm16(chunk)
                if pcm:
                    await self.session.send_audio_realtime(pcm, sample_rate=rate)
            # The source ran dry (a file ended): let an automatic-VAD server flush what it holds.
            await self.session.send_audio_stream_end()
        except LiveError:
            pass  # the session ended; the receive loop reports why
        except Exception as exc:  # e.g. the microphone failed: end the conversation, report via wait()
            self.error = exc
            self._receiver.cancel()

    async def _receive_loop(self) -> None:
        try:
            async for message in self.session.receive():
                await self._dispatch(message)
        except LiveError as exc:
            self.error = exc
        finally:
            self._turn_event.set()  # wake anyone waiting on a turn: there will be none

    async def _dispatch(self, message: ServerMessage) -> None:
        await _call(self._on_message, message)
        if isinstance(message, ServerContent):
            if message.interrupted:
                self.sink.flush()
                self.interruptions += 1
                await _call(self._on_interrupted)
            for pcm, mime in audio_of(message):
                self.sink.write(resample_pcm16(pcm, rate_from_mime(mime, OUTPUT_RATE), self.sink.sample_rate))
            if message.input_transcription is not None and message.input_transcription.text:
                await _call(self._on_input, message.input_transcription.text)
            if message.output_transcription is not None and message.output_transcription.text:
                await _call(self._on_output, message.output_transcription.text)
            if message.turn_complete:
                self.turns_completed += 1
                self._turn_event.set()
                await _call(self._on_turn_complete)
        elif isinstance(message, ToolCall):
            for call in message.function_calls:
                key = call.id or f"{call.name}-{id(call)}"
                self._tool_tasks[key] = asyncio.create_task(self._run_tool(key, call))
        elif isinstance(message, ToolCallCancellation):
            for call_id in message.ids:
                task = self._tool_tasks.pop(call_id, None)
                if task is not None:
                    task.cancel()

    async def _run_tool(self, key: str, call: FunctionCall) -> None:
        try:
            if self._handler is None:
                result: HandlerResult = {"error": f"no function calling handler for {call.name}"}
            else:
                outcome = self._handler(call)
                result = await outcome if inspect.isawaitable(outcome) else outcome
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the model hears about the failure instead of waiting forever
            log.exception("function calling handler failed for %s", call.name)
            result = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            self._tool_tasks.pop(key, None)
        if isinstance(result, dict):
            result = FunctionResponse(id=call.id, name=call.name, response=result)
        elif result.id is None:
            result.id = call.id
        await self.session.send_function_responses([result])

    # ---------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return not self._receiver.done()

    async def wait_for_turns(self, count: int, timeout: float | None = None) -> bool:
        """Wait until ``count`` turns have completed in all; False if the session ended or time ran out."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.turns_completed < count and self.running:
                    self._turn_event.clear()
                    await self._turn_event.wait()
        return self.turns_completed >= count

    async def wait_for_turn(self, timeout: float | None = None) -> bool:
        """Wait for the next ``turnComplete``."""
        return await self.wait_for_turns(self.turns_completed + 1, timeout)

    async def wait(self) -> None:
        """Wait until the session ends; raises the LiveError that ended it, if any."""
        await asyncio.shield(self._receiver)
        if self.error is not None:
            raise self.error

    async def stop(self) -> None:
        tasks = [self._sender, self._receiver, *self._tool_tasks.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tool_tasks.clear()
        self.sink.close()


async def start_audio_conversation(
    session: LiveSession,
    *,
    function_calling_handler: FunctionCallingHandler | None = None,
    source: AudioSource | None = None,
    sink: AudioSink | None = None,
    on_input_transcription: TextCallback | None = None,
    on_output_transcription: TextCallback | None = None,
    on_turn_complete: EventCallback | None = None,
    on_interrupted: EventCallback | None = None,
    on_message: MessageCallback | None = None,
) -> AudioConversationController:
    """Start talking: ``source`` defaults to the microphone, ``sink`` to the speaker (``sounddevice``).

    Device errors (no ``sounddevice``, no PortAudio, no device) raise ``AudioDeviceError`` here rather
    than later in a background task.
    """
    if sink is None:
        from openlive.client.sinks import SpeakerSink

        sink = SpeakerSink()
    if source is None:
        from openlive.client.devices import import_sounddevice
        from openlive.client.sources import MicrophoneSource

        import_sounddevice()  # fail now, with the clear message, not inside the send task
        source = MicrophoneSource()
    return AudioConversationController(
        session,
        source=source,
        sink=sink,
        function_calling_handler=function_calling_handler,
        on_input_transcription=on_input_transcription,
        on_output_transcription=on_output_transcription,
        on_turn_complete=on_turn_complete,
        on_interrupted=on_interrupted,
        on_message=on_message,
    )
