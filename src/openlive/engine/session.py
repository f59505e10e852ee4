"""One Live session per connection: the shell around the turn-taking core.

Shape (as in h11 and websockets; docs/life-of-a-turn.md): **one inbox, one consumer**. Client messages
(from ``handle``), the listener's events, replies' progress and ends, and timers all become items on one
queue, and only the consumer task (``_consume``) changes session state: the history, the reply in flight,
the open function calls, the transcript. It never awaits between a check and the change it guards. The
decisions of turn-taking come from ``TurnCore`` (sans-I/O) as actions; this module performs them. Each
model turn is a ``Reply`` handle; every task belongs to the session's ``TaskOwner`` (or a reply's), and
``aclose()`` cancels and awaits them all.

Turn lifecycle (reference §4.1, §5):
  user turn → [modelTurn parts (text or audio) + outputTranscription]* → generationComplete → turnComplete
  barge-in / new clientContent → reply cut → interrupted → turnComplete
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from openlive.engine.acknowledgement import Acknowledgements
from openlive.engine.frames import NOTE_MAX_AGE_S, FrameWatcher
from openlive.engine.grounding import wants_grounding
from openlive.engine.history import (
    content_to_messages,
    merge_user_messages,
    text_turn,
    tool_specs,
    trim_to_budget,
    with_seen_note,
)
from openlive.engine.instruction_retrieval import InstructionRetrieval, fit_instruction
from openlive.engine.language import base_language, guess_language, is_known_language_code
from openlive.engine.listen_terms import TermSpeller, instruction_terms
from openlive.engine.listener import (
    InterimTranscript,
    Listener,
    ListenerEvent,
    SpeechResumed,
    SpeechStarted,
    TurnDropped,
    TurnEnded,
)
from openlive.engine.load import SessionLoad
from openlive.engine.outbox import Outbox
from openlive.engine.profile import Profile
from openlive.engine.reply import MAX_TOOL_ROUNDS, CallsMade, Reply, ReplyContext, ReplyEnd
from openlive.engine.resumption import ResumptionStore
from openlive.engine.tasks import TaskOwner
from openlive.engine.tool_choice import tool_choice
from openlive.engine.transcript import IncrementalTranscript
from openlive.engine.turn_core import (
    Action,
    AnswerResults,
    Discard,
    EndSession,
    Interjection,
    Interrupt,
    Release,
    ReplyEnded,
    ResultsArrived,
    Speculate,
    SpokenTurnEnded,
    StartReply,
    State,
    TimeUp,
    TurnCore,
    TypedTurn,
    UserPaused,
    Withdraw,
)
from openlive.engine.turn_core import (
    Closed as CoreClosed,
)
from openlive.engine.turn_core import (
    SpeechResumed as CoreSpeechResumed,
)
from openlive.engine.turn_core import (
    SpeechStarted as CoreSpeechStarted,
)
from openlive.engine.turn_core import (
    TurnDropped as CoreTurnDropped,
)
from openlive.protocol.errors import CloseCode, ProtocolError, invalid_argument
from openlive.protocol.handshake import SETUP_ONLY_ONCE
from openlive.protocol.media import parse_pcm_mime
from openlive.protocol.messages import (
    ActivityHandling,
    ClientContent,
    ClientMessage,
    Content,
    ContextUpdate,
    FunctionBehavior,
    FunctionResponseScheduling,
    GoAway,
    Modality,
    Part,
    RealtimeInput,
    ServerContent,
    SessionResumptionUpdate,
    Setup,
    ToolCallCancellation,
    ToolResponse,
    Transcription,
    VoiceActivity,
    VoiceActivityDetectionSignal,
)
from openlive.protocol.voices import DEFAULT_VOICE, canonical_voice
from openlive.stages.language_model import (
    ChatImage,
    ChatMessage,
    ChatRequest,
    PromptPrefiller,
    SamplingParams,
    ToolSpec,
)

log = logging.getLogger(__name__)

__all__ = ["MAX_TOOL_ROUNDS", "LiveSession", "SessionLimits"]

# Room a setup must leave for at least one short user turn besides its instruction, tools and the reply.
MIN_TURN_TOKENS = 64
# No tokenizer packs more characters than this into one token on real text (Qwen's: ~4 for English).
MAX_CHARS_PER_TOKEN = 8

UserTurn = tuple[Content, ...]  # what the core queues: one typed clientContent, or one spoken turn


@dataclass(slots=True, kw_only=True)
class SessionLimits:
    # As Gemini separates them: a session (15 min audio-only, 2 min once video was sent, unlimited with
    # contextWindowCompression) and a connection (10 min, with goAway before it ends; the session goes on
    # on a new connection through resumption).
    session_time_limit_s: float = 15 * 60.0
    session_time_limit_with_video_s: float = 2 * 60.0
    connection_time_limit_s: float = 10 * 60.0
    go_away_before_s: float = 60.0
    # How far audio may be sent ahead of real-time playback (bounds what a barge-in must flush).
    audio_lead_s: float = 1.0


# Inbox items besides client messages, listener events and the replies' own (CallsMade, ReplyEnd).
@dataclass(frozen=True, slots=True)
class _Begin:
    """``start()``: the session's first resumption handle."""


@dataclass(frozen=True, slots=True)
class _ListenerFailed:
    error: BaseException


@dataclass(frozen=True, slots=True)
class _GoAwayDue:
    time_left_s: float


@dataclass(frozen=True, slots=True)
class _TimeUp:
    reason: str


_Item = ClientMessage | ListenerEvent | CallsMade | ReplyEnd | _Begin | _ListenerFailed | _GoAwayDue | _TimeUp


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class LiveSession:
    def __init__(
        self,
        setup: Setup,
        profile: Profile,
        outbox: Outbox,
        *,
        session_id: str,
        limits: SessionLimits,
        resumption: ResumptionStore | None = None,
        history: Sequence[Content] = (),
        clock: Callable[[], float] | None = None,
        acknowledgements: Acknowledgements | None = None,
    ) -> None:
        """``acknowledgements``: the audio of call acknowledgements, shared with the profile's other
        sessions (the engine's); None: the session prepares its own."""
        self.setup = setup
        self.profile = profile
        self.outbox = outbox
        self.session_id = session_id
        self.limits = limits
        # By default the event loop's clock (time.monotonic in production), so that a test's virtual
        # time (looptime) is the session's time too.
        self._clock = clock or _loop_time
        gc = setup.generation_config
        modalities = set(gc.response_modalities) or {Modality.AUDIO}
        if len(modalities) > 1:
            raise invalid_argument("responseModalities may hold only one of TEXT or AUDIO")
        self.modality = modalities.pop()
        if self.modality is Modality.AUDIO and profile.tts is None:
            raise invalid_argument(f"the {profile.name} profile cannot produce AUDIO")
        speech = gc.speech_config
        voice = canonical_voice(speech.voice_name) if speech and speech.voice_name else DEFAULT_VOICE
        if voice is None:
            raise invalid_argument(f"unknown voice name {speech.voice_name if speech else ''!r}")
        self.voice = voice
        self.language_code = speech.language_code if speech else None
        if self.language_code is not None and not is_known_language_code(self.language_code):
            raise invalid_argument(f"unsupported language code {self.language_code!r}")
        self.system_instruction = setup.system_instruction.text() if setup.system_instruction else ""
        self.tools = list(setup.tools)
        # What a spoken reply says when it opens with a function call (engine/acknowledgement.py).
        self._acknowledgements: Acknowledgements | None = None
        if self.modality is Modality.AUDIO and profile.tts is not None and profile.call_acknowledgement:
            self._acknowledgements = acknowledgements or Acknowledgements(profile.tts)
        # Set by _check_prompt_fits when only the instruction's relevant sections go in the prompts.
        self._instructions: InstructionRetrieval | None = None
        self._check_prompt_fits()
        self.history: list[Content] = list(history)  # a resumed session starts with its conversation
        # Set when the client asked for sessionResumption: a new handle after each completed turn.
        self._resumption = resumption
        self._resumption_handle: str | None = None
        self._pending_turns: list[Content] = []  # clientContent turns before turnComplete
        self._detected_language: str | None = None
        self._core: TurnCore[UserTurn] = TurnCore(barge_in=self._interrupts())
        self._reply: Reply | None = None  # the reply in flight (speculative or released)
        self.last_reply: Reply | None = None  # the latest reply started, in flight or not (diagnostics)
        # NON_BLOCKING calls the client has not answered for good yet (ids): the conversation goes on
        # meanwhile, and their responses arrive between or during other turns.
        self._async_calls: set[str] = set()
        self._listener: Listener | None = None
        self._frames: FrameWatcher | None = None
        self._shown: tuple[ChatImage, float] | None = None  # the newest frame, for a model that sees
        # Client messages taken in (setup is message 0), for lastConsumedClientMessageIndex.
        self._consumed = 0
        self._started_at: float | None = None  # when start() ran, on the session's clock
        # The history's first turn the prompt still holds (contextWindowCompression's sliding window).
        self._window_start = 0
        self._video_seen = False  # video frames or images arrived: the shorter session limit applies
        self._end_reason = "Connection time limit reached."  # what closes the session when time is up
        self._input_transcript = IncrementalTranscript()
        # Spells the app's names in what the user is heard saying (engine/listen_terms.py); made with
        # the listener.
        self._speller: TermSpeller | None = None
        # Spoken user turns waiting in the core (by identity), to tell AUDIO prompt tokens from TEXT.
        self._spoken_turns: set[int] = set()
        self._inbox: asyncio.Queue[tuple[_Item, asyncio.Future[None] | None]] = asyncio.Queue()
        self._tasks = TaskOwner(f"session-{session_id}")
        self._consumer: asyncio.Task[None] | None = None
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Called by the server right after it has sent ``setupComplete``."""
        self._ensure_consumer()
        self._started_at = self._clock()
        self._tasks.spawn(self._watch_connection_limit(), "connection-limit")
        self._tasks.spawn(self._watch_session_limit(), "session-limit")
        if (retrieval := self._retrieval()) is not None:
            retrieval.start(self._tasks)  # its index is filled off the event loop
        if self._acknowledgements is not None and self.tools:
            # Synthesised now, so that saying one costs nothing while the model writes a call.
            language = self._input_language() or "en"
            self._tasks.spawn(self._acknowledgements.prepare(self.voice, language), "acknowledgements")
        # The session's own system instruction, tools and resumed history are new to the LLM: it reads
        # them now, while the person has not started speaking yet, instead of on the first turn's path.
        self._prefill_request(self._chat_request())
        await self._submit(_Begin())

    async def handle(self, message: ClientMessage) -> None:
        """Consume one client message; raises ``ProtocolError`` for input that ends the session.

        Returns once the consumer has taken the message in (so the reader applies backpressure and
        errors reach the caller), not when the reply it may start has ended.
        """
        if isinstance(message, Setup):  # the server's handshake refuses it first; a session never takes one
            raise invalid_argument(SETUP_ONLY_ONCE)
        if isinstance(message, RealtimeInput):
            self._check_realtime_input(message)
        await self._submit(message)

    async def aclose(self) -> None:
        """The connection is gone: cancel and await everything in flight; nothing is sent after."""
        self._closed = True
        self._core.handle(CoreClosed())
        if self._reply is not None:
            self._reply.interrupt()
        await self._tasks.aclose()  # the consumer, the timers, the listener's pump and every reply
        if self._listener is not None:
            await self._listener.aclose()
        while not self._inbox.empty():
            _, ack = self._inbox.get_nowait()
            if ack is not None and not ack.done():
                ack.cancel()

    def tasks_alive(self) -> list[asyncio.Task[object]]:
        """The session's tasks still running (tests check none is left after ``aclose``)."""
        return self._tasks.alive()

    # ------------------------------------------------------------------ the inbox

    def _ensure_consumer(self) -> None:
        if self._consumer is None and not self._closed:
            self._consumer = self._tasks.spawn(self._consume(), "inbox")

    async def _submit(self, item: _Item) -> None:
        """Put ``item`` on the inbox and wait until the consumer has handled it (raising its error)."""
        if self._closed:
            return
        self._ensure_consumer()
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait((item, ack))
        await ack

    def _post(self, item: _Item) -> None:
        """Put an internal event on the inbox (from other tasks and callbacks; never blocks)."""
        if not self._closed:
            self._inbox.put_nowait((item, None))

    async def _consume(self) -> None:
        while True:
            item, ack = await self._inbox.get()
            try:
                await self._dispatch(item)
            except asyncio.CancelledError:
                if ack is not None:
                    ack.cancel()
                raise
            except Exception as exc:
                if ack is not None:
                    if not ack.done():
                        ack.set_exception(exc)  # the caller (the connection) closes with its code
                else:
                    await self._fail(exc)
            else:
                if ack is not None and not ack.done():
                    ack.set_result(None)

    async def _dispatch(self, item: _Item) -> None:
        if isinstance(item, ClientContent | RealtimeInput | ToolResponse | ContextUpdate):
            self._consumed += 1
        if isinstance(item, ClientContent):
            await self._on_client_content(item)
        elif isinstance(item, RealtimeInput):
            await self._on_realtime_input(item)
        elif isinstance(item, ToolResponse):
            await self._on_tool_response(item)
        elif isinstance(item, ContextUpdate):
            if item.system_instruction is not None:
                self.system_instruction = item.system_instruction.text()
                if self._speller is not None:
                    self._speller.set_terms(self._spelled_terms())
            if item.tools is not None:
                self.tools = list(item.tools)
        elif isinstance(item, SpeechStarted | InterimTranscript | SpeechResumed | TurnEnded | TurnDropped):
            await self._on_listener_event(item)
        elif isinstance(item, CallsMade):
            if item.reply is self._reply and not item.reply.cut:
                self._record_seen(item.reply)
                self.history.append(item.content)
                self._async_calls |= item.non_blocking
        elif isinstance(item, ReplyEnd):
            await self._on_reply_end(item)
        elif isinstance(item, _Begin):
            await self._send_resumption_update()
        elif isinstance(item, _ListenerFailed):
            raise item.error
        elif isinstance(item, _GoAwayDue):
            await self.outbox.send(GoAway(time_left_s=item.time_left_s))
        elif isinstance(item, _TimeUp):
            self._end_reason = item.reason
            await self._perform(self._core.handle(TimeUp()))

    async def _fail(self, exc: BaseException) -> None:
        if isinstance(exc, ProtocolError):
            code, reason = exc.code, exc.reason
        else:
            log.error("session %s failed", self.session_id, exc_info=exc)
            code, reason = CloseCode.INTERNAL, "Internal error encountered."
        self._core.handle(CoreClosed())
        if self._reply is not None:
            self._reply.interrupt()
        await self.outbox.close(code, reason)

    # ------------------------------------------------------------------ performing the core's actions

    async def _perform(self, actions: list[Action[UserTurn]]) -> None:
        for action in actions:
            if isinstance(action, Speculate):
                log.debug("session %s speculates on %r", self.session_id, action.text[-40:])
                self._start_reply(
                    action.reply_id,
                    action.language,
                    action.text,
                    query=action.text,
                    tentative=text_turn("user", action.text),
                )
            elif isinstance(action, Release):
                reply = self._current(action.reply_id)
                assert reply.tentative is not None
                self.history.append(reply.tentative)
                self._spoken_turns.clear()  # the ended turn is the tentative one, already counted
                reply.release(action.speak_after)
                await self._send_not_resumable()
            elif isinstance(action, Discard | Withdraw):
                # Unseen by the client: cut without a trace (a discarded reply's tentative user turn
                # was never in the history; a withdrawn one's turns stay there, answered by the next).
                reply = self._current(action.reply_id)
                reply.interrupt()
                await reply.wait()
                self._reply = None
            elif isinstance(action, Interrupt):
                await self._interrupt(self._current(action.reply_id))
            elif isinstance(action, StartReply):
                turns = [content for turn in action.turns for content in turn]
                self.history.extend(turns)
                text = " ".join(c.text() for c in turns if (c.role or "user") == "user")
                spoken = " ".join(c.text() for c in turns if id(c) in self._spoken_turns)
                self._spoken_turns.clear()  # only turns still waiting could be in it
                language = self._reply_language(text, spoken=action.spoken)
                self._start_reply(action.reply_id, language, spoken, query=text, speak_at=action.speak_after)
                await self._send_not_resumable()
            elif isinstance(action, AnswerResults):
                # A model turn about the function results now in the history (no new user words).
                self._start_reply(action.reply_id, self._reply_language(""))
                await self._send_not_resumable()
            elif isinstance(action, EndSession):
                await self.outbox.close(CloseCode.NORMAL, self._end_reason)

    def _current(self, reply_id: int) -> Reply:
        reply = self._reply
        if reply is None or reply.id != reply_id:
            raise AssertionError(f"the core acted on reply {reply_id}, the session has {reply}")
        return reply

    def _start_reply(
        self,
        reply_id: int,
        language: str,
        spoken_text: str = "",
        *,
        query: str = "",
        tentative: Content | None = None,
        speak_at: float = 0.0,
    ) -> None:
        """Start a reply; a speculative one (``tentative``) sends nothing until released, any other
        nothing before ``speak_at`` (the session's clock; 0: at once)."""
        if self.modality is Modality.AUDIO and self.profile.asr and self.profile.vad is not None:
            # Its audio may come back through the client's microphone: the listener must exist to
            # keep the echo reference, even before the client sends audio (see _note_playback).
            self._ensure_listener()
        reply = Reply(
            reply_id,
            self._reply_context(),
            language=language,
            spoken_text=spoken_text,
            query=query,
            tentative=tentative,
        )
        self._reply = self.last_reply = reply
        reply.start(self._tasks, self._reply_task_done)
        if speak_at:
            reply.hold(speak_at)

    def _reply_task_done(self, reply: Reply, task: asyncio.Task[None]) -> None:
        error = None if task.cancelled() else task.exception()
        self._post(ReplyEnd(reply, error, task.cancelled()))

    def _reply_context(self) -> ReplyContext:
        return ReplyContext(
            profile=self.profile,
            outbox=self.outbox,
            modality=self.modality,
            voice=self.voice,
            transcribe=self.setup.output_audio_transcription is not None,
            audio_lead_s=self.limits.audio_lead_s,
            clock=self._clock,
            on_audio=self._note_playback,
            request=self._chat_request,
            search=self.profile.search if wants_grounding(self.tools) else None,
            look=self._frames.note if self._frames is not None else None,
            shown=self._shown_image if self.profile.llm_sees_images else None,
            non_blocking_functions=self._non_blocking_functions,
            post=self._post,  # type: ignore[arg-type]
            # Tools may come later (a context update): the phrases are then synthesised when said.
            acknowledgements=self._acknowledgements if self.tools else None,
        )

    async def _on_reply_end(self, end: ReplyEnd) -> None:
        reply = end.reply
        if reply is not self._reply or reply.cut:
            return  # cut or dropped by the session, which has dealt with it already
        if end.error is not None:
            if not isinstance(end.error, ProtocolError) or end.error.code == CloseCode.INTERNAL:
                # A server-side fault (the model or its engine failed): not the client's doing, so the
                # session stays resumable, with the user's turn and what was sent of the reply in it.
                self._reply = None
                self._record_heard(reply)
                with contextlib.suppress(Exception):
                    await self._send_resumption_update()
            raise end.error
        if end.cancelled:
            return  # only aclose() cancels a reply the session did not cut
        log.info("session %s turn: %s", self.session_id, reply.timings())
        self._record_heard(reply)
        await self.outbox.send(ServerContent(generation_complete=True))
        await self.outbox.send(
            ServerContent(turn_complete=True, turn_complete_reason=reply.turn_complete_reason()),
            usage=reply.usage(),
        )
        self._reply = None
        self._advance_window()
        await self._send_resumption_update()
        await self._perform(self._core.handle(ReplyEnded(reply.id)))

    async def _interrupt(self, reply: Reply) -> None:
        """Cut a reply the client has (or may have) seen: keep what was sent, then interrupted, the
        cancellation of its open calls, and turnComplete."""
        reply.interrupt()
        await reply.wait()
        self._reply = None
        heard = self._record_heard(reply)
        reply.count_if_cut(heard)
        await self.outbox.send(ServerContent(interrupted=True))
        if ids := reply.open_call_ids():
            await self.outbox.send(ToolCallCancellation(ids=ids))
        await self.outbox.send(ServerContent(turn_complete=True), usage=reply.usage())
        self._advance_window()
        await self._send_resumption_update()

    def _record_seen(self, reply: Reply) -> None:
        """Keep in the history, as text only, what the user showed with the reply's turn."""
        if reply.seen_note and not reply.note_recorded:
            reply.note_recorded = True
            self.history.append(text_turn("user", reply.seen_note))

    def _record_heard(self, reply: Reply) -> str:
        """Keep in the history what the client was sent of the reply (returned), after what the user
        showed with its turn."""
        self._record_seen(reply)
        heard = reply.heard_text()
        if heard.strip():
            self.history.append(text_turn("model", heard))
        return heard

    async def _send_resumption_update(self) -> None:
        """Between turns (nothing generating, no tool call open): the state a new connection could
        resume from, under a new handle (the store decides how long the session's older ones stay valid)."""
        if self._resumption is None or self._closed:
            return
        # Off the event loop: a store may write to disk. The list is copied here, on the loop.
        consumed = self._consumed
        self._resumption_handle = await asyncio.to_thread(
            self._resumption.save, list(self.history), replaces=self._resumption_handle
        )
        await self.outbox.send(
            SessionResumptionUpdate(
                new_handle=self._resumption_handle,
                resumable=True,
                last_consumed_client_message_index=self._index(consumed),
            )
        )

    async def _send_not_resumable(self) -> None:
        """A reply or its function calls are in flight: resuming now would lose part of them (Gemini
        then sends ``resumable: false`` and no handle)."""
        if self._resumption is not None and not self._closed:
            await self.outbox.send(
                SessionResumptionUpdate(
                    resumable=False, last_consumed_client_message_index=self._index(self._consumed)
                )
            )

    def _index(self, consumed: int) -> int | None:
        """``lastConsumedClientMessageIndex``: only with ``sessionResumption.transparent``."""
        config = self.setup.session_resumption
        return consumed if config is not None and config.transparent else None

    # ------------------------------------------------------------------ client input

    def _check_realtime_input(self, message: RealtimeInput) -> None:
        """Reject malformed realtime input before it is queued (it changes no state)."""
        for blob in (message.audio, *message.media_chunks):
            if blob is not None and blob.mime_type.startswith("audio/"):
                if parse_pcm_mime(blob.mime_type) is None:
                    raise invalid_argument(
                        f"unsupported audio mime type {blob.mime_type!r}; send audio/pcm;rate=N"
                    )
                if len(blob.data) % 2:
                    raise invalid_argument("16-bit PCM audio must have an even number of bytes")
        if message.video is not None and not message.video.mime_type.startswith(("image/", "video/")):
            raise invalid_argument("video must be an image/* or video/* blob")

    async def _on_client_content(self, message: ClientContent) -> None:
        self._pending_turns.extend(self._seen_in(content) for content in message.turns)
        if message.turn_complete:
            turns, self._pending_turns = tuple(self._pending_turns), []
            await self._perform(self._core.handle(TypedTurn(turns)))
        else:
            # "A message here will interrupt any current model generation", complete turn or not.
            await self._perform(self._core.handle(Interjection()))

    async def _on_realtime_input(self, message: RealtimeInput) -> None:
        for blob in (message.audio, *message.media_chunks):
            if blob is not None and blob.mime_type.startswith("audio/"):
                rate = parse_pcm_mime(blob.mime_type)
                assert rate is not None  # checked by handle()
                self._ensure_listener().feed(blob.data, rate)
            # Video frames and images: the embedded profile has no FrameDescriber yet (compatibility.md).
        frames = [b for b in (message.video, *message.media_chunks) if b is not None]
        frames = [b for b in frames if b.mime_type.startswith(("image/", "video/"))]
        if frames:
            self._video_seen = True
            # Only the newest counts; video/* (encoded streams, not frames) is not described.
            images = [b for b in frames if b.mime_type.startswith("image/")]
            if images:
                self._offer_frame(images[-1].data, images[-1].mime_type)
        if message.activity_start:
            self._ensure_listener().activity_start()
            await self._perform(self._core.handle(CoreSpeechStarted(reply_seen=self._reply_seen())))
        if message.activity_end:
            self._ensure_listener().activity_end()
        if message.audio_stream_end and self._listener is not None:
            self._listener.audio_stream_end()
        if message.text is not None and message.text.strip():
            await self._perform(self._core.handle(TypedTurn((text_turn("user", message.text),))))

    def _seen_in(self, content: Content) -> Content:
        """A turn's image parts go to the frame describer; the turn keeps its other parts (what the image
        shows reaches the history as the reply's note)."""
        images = [
            p
            for p in content.parts
            if p.inline_data is not None and p.inline_data.mime_type.startswith("image/")
        ]
        if not images or (self.profile.frames is None and not self.profile.llm_sees_images):
            return content
        for part in images:
            assert part.inline_data is not None
            self._offer_frame(part.inline_data.data, part.inline_data.mime_type, source="image")
        kept = [p for p in content.parts if p not in images]
        return Content(role=content.role, parts=kept or [Part(text="(an image)")])

    def _offer_frame(self, image: bytes, mime_type: str, *, source: str = "camera") -> None:
        """The newest frame or image: straight to a model that reads images, else to the describer."""
        if self.profile.llm_sees_images:
            self._shown = (ChatImage(mime_type=mime_type, data=image), self._clock())
            return
        watcher = self._frame_watcher()
        if watcher is not None:
            watcher.offer(image, mime_type, source=source)

    def _shown_image(self) -> ChatImage | None:
        """For a model that reads images: the newest frame, if recent enough to still be the view."""
        if self._shown is None or self._clock() - self._shown[1] > NOTE_MAX_AGE_S:
            return None
        return self._shown[0]

    def _frame_watcher(self) -> FrameWatcher | None:
        """The session's watcher of camera and screen frames, started with the first frame; None when the
        profile cannot see (frames are then dropped: compatibility.md)."""
        if self._frames is None and self.profile.frames is not None and not self._closed:
            self._frames = FrameWatcher(
                self.profile.frames, clock=self._clock, busy=lambda: self._reply is not None
            )
            self._tasks.spawn(self._frames.run(), "frames")
        return self._frames

    def _interrupts(self) -> bool:
        handling = self.setup.realtime_input_config.activity_handling
        return handling is not ActivityHandling.NO_INTERRUPTION

    def _ensure_listener(self) -> Listener:
        if self._listener is None:
            if not self.profile.asr:
                raise ProtocolError(CloseCode.INVALID_ARGUMENT, "this profile does not accept audio input")
            if self.profile.phonemizer is not None:
                self._speller = TermSpeller(self.profile.phonemizer, self._spelled_terms())
                # The terms' pronunciations, ready before the first transcript (~0.1 s for ~200 terms).
                self._tasks.spawn(self._speller.prepare(self._input_language()), "term-spelling")
            listener = Listener(
                vad=self.profile.vad,
                turn=self.profile.turn,
                recognizers=self.profile.asr,
                config=self.setup.realtime_input_config,
                language=self._input_language(),
                clock=self._clock,
                vocabulary=self._vocabulary(),
                speller=self._speller,
            )
            self._listener = listener
            self._tasks.spawn(self._pump_listener(listener), "listener-events")
        return self._listener

    def _language_line(self) -> str:
        """speechConfig.languageCode other than English: the model is told to answer in it (otherwise a
        small model answers in the language it was spoken to, and that code's voice reads it)."""
        if not self.language_code or self._translation_target():
            return ""
        language = base_language(self.language_code)
        return "" if language == "en" else f"Always reply in {language_name(language)}."

    def _translation_target(self) -> str | None:
        """translationConfig.targetLanguageCode (Live Translate): every reply is in that language."""
        config = self.setup.generation_config.translation_config
        return base_language(config.target_language_code) if config and config.target_language_code else None

    def _input_language(self) -> str | None:
        """The language to recognise: speechConfig's, else the one ``inputAudioTranscription.
        languageCodes`` names (several: detection decides, as without a hint)."""
        if self.language_code:
            return base_language(self.language_code)
        transcription = self.setup.input_audio_transcription
        codes = {base_language(c) for c in transcription.language_codes} if transcription else set()
        return codes.pop() if len(codes) == 1 else None

    async def _pump_listener(self, listener: Listener) -> None:
        """The listener's events onto the inbox (a stage failure too)."""
        try:
            async for event in listener.events():
                self._post(event)
        except Exception as exc:
            self._post(_ListenerFailed(exc))

    def _note_playback(self, pcm: bytes) -> None:
        # What the client is about to play may come back through its microphone: the listener's echo
        # reference (see listen_echo). Called by a reply's speaker; it reads the listener, never makes it.
        if self._listener is not None:
            self._listener.note_playback(pcm)

    async def _on_listener_event(self, event: ListenerEvent) -> None:
        core = self._core
        if isinstance(event, SpeechStarted):
            await self._signal_voice_activity(start=True, at_s=event.at_s)
            await self._perform(core.handle(CoreSpeechStarted(reply_seen=self._reply_seen())))
        elif isinstance(event, InterimTranscript):
            await self._send_input_transcription(event.text, final=False)
            if event.at_pause and event.text.strip():
                language = self._reply_language(event.text, spoken=True)
                await self._perform(core.handle(UserPaused(event.text, language)))
            elif core.state is State.IDLE:
                self._prefill(event.text)
        elif isinstance(event, SpeechResumed):
            await self._perform(core.handle(CoreSpeechResumed()))
        elif isinstance(event, TurnDropped):
            await self._signal_voice_activity(start=False, at_s=event.speech_end_s)
            await self._perform(core.handle(CoreTurnDropped()))
            if self._input_transcript.pending:  # close what was shown of a turn that was not one
                await self._send_input_transcription("", final=True)
        elif isinstance(event, TurnEnded):
            await self._signal_voice_activity(start=False, at_s=event.speech_end_s)
            await self._send_input_transcription(event.text, final=True)
            if event.language:
                self._detected_language = event.language
            turn: tuple[Content, ...] | None = (
                (text_turn("user", event.text),) if event.text.strip() else None
            )
            if turn is not None:
                self._spoken_turns.add(id(turn[0]))  # its tokens are the prompt's AUDIO part
            seen = self._reply_seen()
            before = self._reply
            # A reply this turn's end releases or starts is heard no sooner than the listener says.
            language = self._reply_language(event.text, spoken=True)
            ended = SpokenTurnEnded(event.text, language, turn, seen, speak_after=event.speak_after_wall)
            await self._perform(core.handle(ended))
            reply = self._reply
            answered = reply is not None and (reply is not before or "released" in reply.marks)
            if reply is not None and answered and event.speech_end_wall:
                reply.mark("speech_end", event.speech_end_wall)
                reply.mark("turn_decided", event.decided_wall or None)

    async def _signal_voice_activity(self, *, start: bool, at_s: float) -> None:
        """With ``explicitVadSignal``, the start and end of speech as the server's VAD saw them."""
        if not self.setup.explicit_vad_signal:
            return
        kind = "SOS" if start else "EOS"
        await self.outbox.send(VoiceActivityDetectionSignal(vad_signal_type=f"VAD_SIGNAL_TYPE_{kind}"))
        activity = "ACTIVITY_START" if start else "ACTIVITY_END"
        await self.outbox.send(VoiceActivity(type=activity, audio_offset_s=at_s))

    def _reply_seen(self) -> bool:
        return self._reply.seen if self._reply is not None else False

    async def _send_input_transcription(self, text: str, *, final: bool) -> None:
        if self.setup.input_audio_transcription is None:
            return
        chunk = self._input_transcript.final(text) if final else self._input_transcript.interim(text)
        if chunk or final:
            await self.outbox.send(
                ServerContent(input_transcription=Transcription(text=chunk, finished=True if final else None))
            )

    def _reply_language(self, user_text: str, *, spoken: bool = False) -> str:
        """The language to answer in: Live Translate's target, else speechConfig.languageCode, else for
        spoken words the language recognised in the speech, else a guess from the text."""
        if target := self._translation_target():
            return target
        if self.language_code:
            return base_language(self.language_code)
        if spoken and self._detected_language:
            return self._detected_language
        return guess_language(user_text) or self._detected_language or "en"

    # ------------------------------------------------------------------ tools

    async def _on_tool_response(self, message: ToolResponse) -> None:
        reply = self._reply
        answered: list[Part] = []
        answer_now = answer_when_idle = False
        for response in message.function_responses:
            future = reply.pending_calls.get(response.id or "") if reply is not None else None
            if future is None and reply is not None and response.id is None:
                open_ids = reply.open_call_ids()
                if len(open_ids) == 1:
                    future = reply.pending_calls[open_ids[0]]
            if future is not None and not future.done():
                future.set_result(response)
                answered.append(Part(function_response=response))
                continue
            # A NON_BLOCKING call's result, or a late answer (after a barge-in): context from now on.
            self.history.append(Content(role="user", parts=[Part(function_response=response)]))
            if response.id not in self._async_calls:
                continue
            if not response.will_continue:  # willContinue: more results for this call will follow
                self._async_calls.discard(response.id)
            scheduling = response.scheduling or FunctionResponseScheduling.WHEN_IDLE
            answer_now |= scheduling is FunctionResponseScheduling.INTERRUPT
            answer_when_idle |= scheduling in (
                FunctionResponseScheduling.WHEN_IDLE,
                FunctionResponseScheduling.SCHEDULING_UNSPECIFIED,
            )
        if answered:
            # Recorded in the same step as the futures are set: the reply's next request includes them.
            self.history.append(Content(role="user", parts=answered))
        if answer_now:  # INTERRUPT: the reply in progress stops, and the model speaks about the result
            await self._perform(self._core.handle(ResultsArrived(interrupt=True)))
        elif answer_when_idle:  # WHEN_IDLE: after the reply in progress, or at once (SILENT: never)
            await self._perform(self._core.handle(ResultsArrived(interrupt=False)))

    def _vocabulary(self) -> list[str]:
        """``inputAudioTranscription.customVocabulary``: the terms the client expects to be said."""
        transcription = self.setup.input_audio_transcription
        return list(transcription.custom_vocabulary) if transcription is not None else []

    def _spelled_terms(self) -> list[str]:
        return [*self._vocabulary(), *instruction_terms(self.system_instruction)]

    def _non_blocking_functions(self) -> set[str]:
        return {
            d.name
            for tool in self.tools
            for d in tool.function_declarations
            if d.behavior is FunctionBehavior.NON_BLOCKING
        }

    # ------------------------------------------------------------------ prompts

    def _prefill(self, interim: str) -> None:
        """Let the LLM read the prompt this turn will probably send while the user is still speaking.

        The request is the one the turn would make if it ended with ``interim``; the history is left as
        it is. Only while no reply is in flight (that request needs the model).
        """
        if not interim.strip():
            return
        log.debug("session %s prefills %r", self.session_id, interim[-40:])
        request = self._chat_request([text_turn("user", interim)])
        if self._frames is not None and (note := self._frames.peek_note()):
            # What the camera shows goes in as the reply will put it (Reply._stream_llm), so the prompt
            # read ahead, note included, is reused when the turn ends.
            request.messages = with_seen_note(request.messages, note)
        self._prefill_request(request)

    def load(self) -> SessionLoad:
        """How far behind the session is now (read by the server's metrics at scrape time)."""
        reply, listener = self._reply, self._listener
        asked = reply.llm_asked_at if reply is not None else None
        return SessionLoad(
            inbox_depth=self._inbox.qsize(),
            audio_queued_s=listener.queued_audio_s if listener is not None else 0.0,
            llm_wait_s=None if asked is None else max(0.0, self._clock() - asked),
        )

    def _prefill_request(self, request: ChatRequest) -> None:
        """Hand ``request``'s prompt to an LLM that can read it ahead; not while a reply is generated."""
        llm = self.profile.llm
        if isinstance(llm, PromptPrefiller) and self._core.state is State.IDLE:
            llm.prefill(request)

    def _max_output_tokens(self) -> int:
        # maxOutputTokens is honoured up to the profile's output limit, and never beyond half the context:
        # a larger value would leave no room for the history (compatibility.md).
        limit = min(self.profile.output_token_limit, self.profile.input_token_limit // 2)
        requested = self.setup.generation_config.max_output_tokens
        return min(requested or limit, limit)

    def _system_text(self, instruction: str | None = None) -> str:
        # Fixed text first, the client's instruction last: the fixed prefix then stays in the LLM's KV
        # cache across turns and sessions, which is what keeps the first token fast.
        if instruction is None:  # the session's: only its rules and persona when it is retrieved
            retrieval = self._retrieval()
            instruction = retrieval.kept_text if retrieval is not None else self.system_instruction
        style = self.profile.spoken_style_prompt if self.modality is Modality.AUDIO else ""
        target = self._translation_target()
        persona = interpreter_prompt(target) if target else self.profile.system_prompt
        return "\n\n".join(p for p in (persona, style, instruction, self._language_line()) if p)

    def _retrieval(self) -> InstructionRetrieval | None:
        """The instruction's retrieval, while the instruction is the one it was built for (a
        contextUpdate's new instruction goes whole)."""
        retrieval = self._instructions
        current = retrieval is not None and retrieval.instruction == self.system_instruction
        return retrieval if current else None

    def _chat_request(self, extra: Sequence[Content] = (), *, with_history: bool = True) -> ChatRequest:
        """The request for the session's history in its window (see ``_advance_window``), followed by
        ``extra`` turns (a tentative user turn); ``with_history=False``: the instruction and tools only."""
        system_text = self._system_text()
        system = ChatMessage(role="system", content=system_text) if system_text else None
        turns: list[ChatMessage] = []
        history = self.history[self._window_start :] if with_history else []
        for content in [*history, *extra]:
            turns.extend(content_to_messages(content))
        gc = self.setup.generation_config
        count = self.profile.llm.count_tokens
        max_tokens = self._max_output_tokens()
        tools = tool_specs(self.tools)
        budget = self._prompt_budget(tools)
        # The window keeps the prompt under the trigger (and so the budget) between turns; this cut is
        # only a safety net for a turn that alone overflows it.
        messages = trim_to_budget(system, merge_user_messages(turns), budget, count)
        if (retrieval := self._retrieval()) is not None:  # the budget kept room for these
            messages = retrieval.with_relevant_sections(messages)
        return ChatRequest(
            messages=messages,
            tools=tools,
            tool_choice=tool_choice(self.setup.tool_config),
            sampling=SamplingParams(
                temperature=gc.temperature,
                top_p=gc.top_p,
                top_k=gc.top_k,
                max_tokens=max_tokens,
                seed=gc.seed,
                presence_penalty=gc.presence_penalty,
                frequency_penalty=gc.frequency_penalty,
            ),
        )

    def _advance_window(self) -> None:
        """Between turns: once the prompt passes the trigger, move the window's start past the oldest
        turns until it holds at most the target. The history itself keeps everything (resumption)."""
        count = self.profile.llm.count_tokens
        trigger, target = self._compression_window(self._prompt_budget(tool_specs(self.tools)))

        def cost(content: Content) -> int:
            return sum(count(m.content) + 8 for m in content_to_messages(content))

        window = self.history[self._window_start :]
        system = self._system_text()
        fixed = count(system) + 8 if system else 0
        total = fixed + sum(cost(c) for c in window)
        if total <= trigger:
            return
        start = 0
        while total > target and start < len(window) - 1:
            total -= cost(window[start])
            start += 1
            # Cut only before a user's words, so a function call keeps its result.
            while start < len(window) - 1 and not _opens_a_user_turn(window[start]):
                total -= cost(window[start])
                start += 1
        self._window_start += start
        log.info(
            "session %s: context window moved past %d turns (%d tokens left)", self.session_id, start, total
        )

    def _prompt_budget(self, tools: list[ToolSpec]) -> int:
        """Prompt tokens the context holds for the instruction and the conversation: what is left after
        the reply's room and the tool declarations (the template renders them into the system turn)."""
        count = self.profile.llm.count_tokens
        return (
            self.profile.input_token_limit
            - self._max_output_tokens()
            - (count(_tools_json(tools)) if tools else 0)
            - (retrieval.reserve_tokens if (retrieval := self._retrieval()) is not None else 0)
        )

    def _compression_window(self, budget: int) -> tuple[int, int]:
        """(trigger, target) in prompt tokens: past the trigger the oldest turns go until the prompt
        holds at most the target. ``contextWindowCompression`` sets them as Gemini defines it (the
        target defaults to half the trigger), never beyond what the context holds; without it the
        history is kept up to the budget, then trimmed to three quarters of it, in one large step."""
        cwc = self.setup.context_window_compression
        if cwc is None:
            return budget, budget * 3 // 4
        trigger = min(cwc.trigger_tokens or budget, budget)
        target = min(cwc.sliding_window_target_tokens or trigger // 2, trigger)
        return trigger, target

    def _check_prompt_fits(self) -> None:
        """Refuse at setup (1007, with the numbers) an instruction and tools that leave no room for a
        conversation in this profile's context, rather than fail on the first turn."""
        specs = tool_specs(self.tools)
        tools = _tools_json(specs) if specs else ""
        texts = [self._system_text()] + ([tools] if tools else [])
        reply = self._max_output_tokens()
        holds = self.profile.input_token_limit - reply - MIN_TURN_TOKENS
        chars = sum(len(t) for t in texts)
        if chars > MAX_CHARS_PER_TOKEN * holds:
            # Far too long to fit whatever the tokenizer says: refused without tokenizing it on the
            # event loop (a huge instruction would hold every session up for a noticeable moment).
            needed = chars // 4
        else:
            needed = sum(self.profile.llm.count_tokens(t) for t in texts)
        # Whole, through retrieval (only the sections each turn needs), or refused with 1007 and the
        # numbers (short enough for a close frame's 123 bytes; compatibility.md explains them).
        self._instructions = fit_instruction(
            mode=self.profile.instruction_retrieval,
            session_id=self.session_id,
            instruction=self.system_instruction,
            needed=needed,
            holds=holds,
            fixed_text=[self._system_text(""), tools],
            count_tokens=self.profile.llm.count_tokens,
            index_factory=self.profile.passage_index,
        )

    # ------------------------------------------------------------------ limits

    async def _watch_connection_limit(self) -> None:
        """``goAway`` ``go_away_before_s`` before the connection's limit, then the end of the connection
        (the session itself can go on on a new connection, through resumption)."""
        limit = self.limits.connection_time_limit_s
        warn_at = max(0.0, limit - self.limits.go_away_before_s)
        await asyncio.sleep(warn_at)
        self._post(_GoAwayDue(limit - warn_at))
        await asyncio.sleep(limit - warn_at)
        self._post(_TimeUp("Connection time limit reached."))

    async def _watch_session_limit(self) -> None:
        """The session's own limit: none with contextWindowCompression, the shorter one once video was
        sent. Checked every second (the video limit can start to apply at any time)."""
        if self.setup.context_window_compression is not None:
            return
        started = self._started_at if self._started_at is not None else self._clock()
        while True:
            limit = (
                min(self.limits.session_time_limit_s, self.limits.session_time_limit_with_video_s)
                if self._video_seen
                else self.limits.session_time_limit_s
            )
            left = started + limit - self._clock()
            if left <= 0:
                self._post(_TimeUp("Session time limit reached."))
                return
            await asyncio.sleep(min(left, 1.0))


def _tools_json(tools: list[ToolSpec]) -> str:
    """The declarations as the prompt carries them (what their token cost is counted on)."""
    return json.dumps([dataclasses.asdict(t) for t in tools])


def _opens_a_user_turn(content: Content) -> bool:
    """The user's own words (not a function result, which also has the user role)."""
    return (content.role or "user") == "user" and any(p.text for p in content.parts)


# Names for the interpreter prompt (a small model follows "into Spanish" better than "into es").
_LANGUAGE_NAMES = {
    "ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fr": "French", "hi": "Hindi",
    "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish",
    "pt": "Portuguese", "ru": "Russian", "sv": "Swedish", "th": "Thai", "tr": "Turkish", "uk": "Ukrainian",
    "vi": "Vietnamese", "zh": "Chinese",
}  # fmt: skip


def language_name(code: str) -> str:
    return _LANGUAGE_NAMES.get(code, f"the language whose code is {code}")


def interpreter_prompt(target: str) -> str:
    """The persona of a Live Translate session: an interpreter into ``target``, nothing else."""
    language = language_name(target)
    return (
        f"You are a live interpreter. Translate everything the person says into {language}, keeping its "
        f"meaning and tone. Reply with the {language} translation only: no comments, no answers, no "
        "quotation marks."
    )
