"""``LiveSession``: one open Live API connection, with Firebase AI Logic's method set in Python."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

from openlive.client.audio import INPUT_RATE, AudioData, pcm_mime, to_pcm16
from openlive.client.endpoint import Endpoint
from openlive.client.errors import LiveError
from openlive.client.transport import closed_error, open_connection
from openlive.client.wire import decode_frame, encode
from openlive.protocol.messages import (
    Blob,
    ClientContent,
    ClientMessage,
    Content,
    FunctionResponse,
    Part,
    RealtimeInput,
    ServerContent,
    ServerMessage,
    SessionResumptionConfig,
    SessionResumptionUpdate,
    Setup,
    ToolResponse,
)

if TYPE_CHECKING:
    from openlive.client.conversation import (
        AudioConversationController,
        EventCallback,
        FunctionCallingHandler,
        MessageCallback,
        TextCallback,
    )
    from openlive.client.sinks import AudioSink
    from openlive.client.sources import AudioSource

CLIENT_CLOSE_REASON = "Client closed session."  # what Firebase sends with its 1000


def _image_bytes(image: Any) -> tuple[bytes, str]:
    """JPEG (or PNG) bytes as they are; PIL images and HxWx3 arrays encoded to JPEG by Pillow."""
    if isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
        if data.startswith(b"\xff\xd8"):
            return data, "image/jpeg"
        if data.startswith(b"\x89PNG"):
            return data, "image/png"
        raise ValueError("video frames must be JPEG or PNG bytes (or pass mime_type=...)")
    try:
        from PIL import Image  # type: ignore[import-not-found, unused-ignore]  # optional dependency
    except ImportError:
        raise TypeError(
            "encoding images or arrays needs Pillow (pip install pillow); or pass JPEG bytes"
        ) from None
    if not isinstance(image, Image.Image):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=80)
    return buffer.getvalue(), "image/jpeg"


def _turns(content: str | Content | Part | Sequence[str | Part | Content]) -> list[Content]:
    if isinstance(content, str):
        return [Content(role="user", parts=[Part(text=content)])]
    if isinstance(content, Content):
        return [content]
    if isinstance(content, Part):
        return [Content(role="user", parts=[content])]
    items = list(content)
    if all(isinstance(i, Content) for i in items):
        return [i for i in items if isinstance(i, Content)]
    if any(isinstance(i, Content) for i in items):
        raise TypeError("send() takes either Content turns or parts/strings, not a mix")
    parts = [Part(text=i) if isinstance(i, str) else i for i in items if isinstance(i, str | Part)]
    return [Content(role="user", parts=parts)]


class LiveSession:
    """An open session. Not created directly: ``async with LiveModel(...).connect() as session``.

    ``receive()`` must have one consumer at a time (``start_audio_conversation`` is one).
    """

    def __init__(
        self,
        ws: ClientConnection,
        *,
        endpoint: Endpoint,
        setup: Setup,
        setup_timeout_s: float,
        session_id: str | None = None,
        pending: Sequence[ServerMessage] = (),
    ) -> None:
        self._ws = ws
        self._endpoint = endpoint
        self._setup = setup
        self._setup_timeout_s = setup_timeout_s
        self._pending = list(pending)
        self._closed_by_us = False
        self.session_id = session_id
        # The newest resumption handle the server gave (SessionResumptionUpdate), if any.
        self.resumption_handle: str | None = None

    @property
    def setup(self) -> Setup:
        return self._setup

    @property
    def closed(self) -> bool:
        return self._closed_by_us or self._ws.close_code is not None

    # ---------------------------------------------------------------------------------------------
    # Sending

    async def send_message(self, message: ClientMessage) -> None:
        """Send any client message (the typed escape hatch under all the ``send_*`` methods)."""
        try:
            await self._ws.send(encode(message))
        except ConnectionClosed as exc:
            raise closed_error(exc) from None

    async def send(
        self, content: str | Content | Part | Sequence[str | Part | Content], turn_complete: bool = True
    ) -> None:
        """Ordered client content (``clientContent``); interrupts any reply being generated."""
        await self.send_message(ClientContent(turns=_turns(content), turn_complete=turn_complete))

    async def send_text_realtime(self, text: str) -> None:
        await self.send_message(RealtimeInput(text=text))

    async def send_audio_realtime(self, audio: AudioData, sample_rate: int = INPUT_RATE) -> None:
        """PCM at ``sample_rate``: s16le bytes, or an int16/float numpy array (mono or frames×channels)."""
        pcm = to_pcm16(audio)
        await self.send_message(RealtimeInput(audio=Blob(mime_type=pcm_mime(sample_rate), data=pcm)))

    async def send_video_realtime(self, frame: Any, mime_type: str | None = None) -> None:
        """One video frame (the API takes ~1 frame per second): JPEG/PNG bytes, a PIL image or an array."""
        if mime_type is not None and isinstance(frame, bytes | bytearray | memoryview):
            data, mime = bytes(frame), mime_type
        else:
            data, mime = _image_bytes(frame)
        await self.send_message(RealtimeInput(video=Blob(mime_type=mime, data=data)))

    async def send_activity_start(self) -> None:
        """Manual turn-taking (automatic activity detection disabled): the user starts speaking."""
        await self.send_message(RealtimeInput(activity_start=True))

    async def send_activity_end(self) -> None:
        await self.send_message(RealtimeInput(activity_end=True))

    async def send_audio_stream_end(self) -> None:
        """The microphone paused (automatic VAD): lets the server flush audio it is holding."""
        await self.send_message(RealtimeInput(audio_stream_end=True))

    async def send_function_responses(self, responses: Sequence[FunctionResponse]) -> None:
        await self.send_message(ToolResponse(function_responses=list(responses)))

    # ---------------------------------------------------------------------------------------------
    # Receiving

    async def receive(self) -> AsyncIterator[ServerMessage]:
        """Every server message until the session ends.

        Ends quietly on a normal close (1000/1001 or our own ``close()``); any other close code raises
        ``LiveError(code, reason)``.
        """
        while True:
            # One message at a time from the current frame, so that a consumer that stops early
            # leaves the rest for the next receive().
            while self._pending:
                yield self._take()
            try:
                frame = await self._ws.recv()
            except ConnectionClosedOK:
                return
            except ConnectionClosed as exc:
                if self._closed_by_us:
                    return
                raise closed_error(exc) from None
            self._pending.extend(decode_frame(frame))

    async def receive_turn(self) -> AsyncIterator[ServerMessage]:
        """Server messages up to the next ``turnComplete`` (or the end of the session).

        The rest of the turnComplete's frame (its ``usageMetadata``) belongs to the turn and comes too.
        """
        async for message in self.receive():
            yield message
            if isinstance(message, ServerContent) and message.turn_complete:
                while self._pending:  # only ever holds what is left of the current frame
                    yield self._take()
                return

    def _take(self) -> ServerMessage:
        message = self._pending.pop(0)
        self._observe(message)
        return message

    def _observe(self, message: ServerMessage) -> None:
        if isinstance(message, SessionResumptionUpdate) and message.resumable and message.new_handle:
            self.resumption_handle = message.new_handle

    # ---------------------------------------------------------------------------------------------
    # Lifecycle

    async def close(self) -> None:
        self._closed_by_us = True
        await self._ws.close(1000, CLIENT_CLOSE_REASON)

    async def resume(self, handle: str | None = None) -> None:
        """Reconnect and continue the same conversation (needs a resumption handle from the server).

        Like Firebase's ``resumeSession``: close this connection, open a new one whose ``setup`` carries
        ``sessionResumption.handle``. The session object stays the same.
        """
        handle = handle or self.resumption_handle
        if not handle:
            raise LiveError(1008, "no session resumption handle: connect with session_resumption enabled")
        setup = replace(self._setup, session_resumption=SessionResumptionConfig(handle=handle))
        await self.close()
        ws, complete, pending = await open_connection(self._endpoint, setup, timeout_s=self._setup_timeout_s)
        self._ws, self._setup, self._pending = ws, setup, list(pending)
        self._closed_by_us = False
        self.session_id = complete.session_id

    async def start_audio_conversation(
        self,
        function_calling_handler: FunctionCallingHandler | None = None,
        source: AudioSource | None = None,
        sink: AudioSink | None = None,
        *,
        on_input_transcription: TextCallback | None = None,
        on_output_transcription: TextCallback | None = None,
        on_turn_complete: EventCallback | None = None,
        on_interrupted: EventCallback | None = None,
        on_message: MessageCallback | None = None,
    ) -> AudioConversationController:
        """Microphone (or ``source``) in, speaker (or ``sink``) out; see ``conversation.py``."""
        from openlive.client.conversation import start_audio_conversation

        return await start_audio_conversation(
            self,
            function_calling_handler=function_calling_handler,
            source=source,
            sink=sink,
            on_input_transcription=on_input_transcription,
            on_output_transcription=on_output_transcription,
            on_turn_complete=on_turn_complete,
            on_interrupted=on_interrupted,
            on_message=on_message,
        )
