"""One Live session per connection: the conversation state machine.

It consumes client messages (and, through the listener, the user's audio) and emits server messages
through the ``Outbox``. Models are reached only through the stage interfaces of the session's profile.

Turn lifecycle (reference §4.1, §5):
  user turn → [modelTurn parts (text or audio) + outputTranscription]* → generationComplete → turnComplete
  barge-in / new clientContent → generation cancelled → interrupted → turnComplete
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from openlive.engine.clauses import ClauseSplitter
from openlive.engine.history import content_to_messages, text_turn, tool_specs, trim_to_budget
from openlive.engine.language import base_language, guess_language, is_known_language_code
from openlive.engine.listener import (
    InterimTranscript,
    Listener,
    SpeechResumed,
    SpeechStarted,
    TurnDropped,
    TurnEnded,
)
from openlive.engine.outbox import Outbox
from openlive.engine.profile import Profile
from openlive.engine.resumption import ResumptionStore
from openlive.engine.speaker import Speaker
from openlive.engine.transcript import IncrementalTranscript
from openlive.protocol.errors import CloseCode, ProtocolError, invalid_argument
from openlive.protocol.media import parse_pcm_mime
from openlive.protocol.messages import (
    ActivityHandling,
    ClientContent,
    ClientMessage,
    Content,
    ContextUpdate,
    FunctionBehavior,
    FunctionCall,
    FunctionResponse,
    FunctionResponseScheduling,
    GoAway,
    Modality,
    ModalityTokenCount,
    Part,
    RealtimeInput,
    ServerContent,
    SessionResumptionUpdate,
    Setup,
    ToolCall,
    ToolCallCancellation,
    ToolResponse,
    Transcription,
    UsageMetadata,
)
from openlive.protocol.voices import DEFAULT_VOICE, canonical_voice
from openlive.stages.language_model import (
    ChatDone,
    ChatMessage,
    ChatRequest,
    PromptPrefiller,
    SamplingParams,
    TextDelta,
    ToolCallRequest,
)

log = logging.getLogger(__name__)

# Tool-call rounds within one model turn before the model is made to answer without tools.
MAX_TOOL_ROUNDS = 4


@dataclass(slots=True, kw_only=True)
class SessionLimits:
    session_time_limit_s: float = 15 * 60.0
    connection_time_limit_s: float = 10 * 60.0
    go_away_before_s: float = 60.0
    # How far audio may be sent ahead of real-time playback (bounds what a barge-in must flush).
    audio_lead_s: float = 1.0


@dataclass(slots=True)
class _Turn:
    """The reply being generated."""

    modality: Modality
    language: str
    input_modality: str = "TEXT"
    text_sent: list[str] = field(default_factory=list)
    speaker: Speaker | None = None
    pending_calls: dict[str, asyncio.Future[FunctionResponse]] = field(default_factory=dict)
    prompt_tokens: int = 0
    cached_tokens: int = 0
    response_tokens: int = 0
    tool_prompt_tokens: int = 0
    # The turn's first prompt, counted only if the turn is cancelled before the model reports its own
    # count (tokenizing it on every turn would delay every reply's first token).
    prompt: list[ChatMessage] = field(default_factory=list)
    recorded: bool = False
    # Monotonic marks of the turn's stages, logged when it ends (where the milliseconds go).
    marks: dict[str, float] = field(default_factory=dict)
    # A speculative turn answers the transcript of a pause before the pause has ended the user's turn:
    # the tentative user turn it added to the history. Nothing of it reaches the client until
    # ``released`` is set (at once for every other turn); if the user goes on instead, it is cancelled
    # without a trace and its tentative user turn leaves the history.
    tentative_user_turn: Content | None = None
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def mark(self, name: str, at: float | None = None) -> None:
        self.marks.setdefault(name, time.monotonic() if at is None else at)

    def timings(self) -> str:
        origin = self.marks.get("speech_end", self.marks.get("start", 0.0))
        ordered = sorted(self.marks.items(), key=lambda kv: kv[1])
        return ", ".join(f"{name} {1000 * (at - origin):+.0f} ms" for name, at in ordered)


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
    ) -> None:
        self.setup = setup
        self.profile = profile
        self.outbox = outbox
        self.session_id = session_id
        self.limits = limits
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
        self.history: list[Content] = list(history)  # a resumed session starts with its conversation
        # Set when the client asked for sessionResumption: a new handle after each completed turn.
        self._resumption = resumption
        self._resumption_handle: str | None = None
        self._pending_turns: list[Content] = []
        self._detected_language: str | None = None
        self._turn: _Turn | None = None
        self._generation: asyncio.Task[None] | None = None
        self._queued_audio_turns: list[tuple[str, str | None]] = []
        # NON_BLOCKING calls the client has not answered for good yet (ids): the conversation goes on
        # meanwhile, and their responses arrive between or during other turns.
        self._async_calls: set[str] = set()
        # A WHEN_IDLE function result is waiting for the reply in progress to end before it is answered.
        self._answer_results_when_idle = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: Listener | None = None
        self._input_transcript = IncrementalTranscript()
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Called by the server right after it has sent ``setupComplete``."""
        self._spawn(self._watch_time_limits(), "time-limits")
        # The session's own system instruction, tools and resumed history are new to the LLM: it reads
        # them now, while the person has not started speaking yet, instead of on the first turn's path.
        self._prefill_request(self._chat_request())
        await self._send_resumption_update()

    async def _send_resumption_update(self) -> None:
        """Between turns (nothing generating, no tool call open): the state a new connection could
        resume from, under a new handle (the store decides how long the session's older ones stay valid)."""
        if self._resumption is None or self._closed:
            return
        # Off the event loop: a store may write to disk. The list is copied here, on the loop.
        self._resumption_handle = await asyncio.to_thread(
            self._resumption.save, list(self.history), replaces=self._resumption_handle
        )
        await self.outbox.send(SessionResumptionUpdate(new_handle=self._resumption_handle, resumable=True))

    async def aclose(self) -> None:
        """The connection is gone: cancel everything in flight."""
        self._closed = True
        if self._generation is not None:
            self._generation.cancel()
        for task in list(self._tasks):
            task.cancel()
        tasks = [t for t in [self._generation, *self._tasks] if t is not None]
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        listener = self._listener
        if listener is not None:
            await listener.aclose()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or self._closed:
            return
        exc = task.exception()
        if exc is not None:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        if isinstance(exc, ProtocolError):
            code, reason = exc.code, exc.reason
        else:
            log.error("session %s failed", self.session_id, exc_info=exc)
            code, reason = CloseCode.INTERNAL, "Internal error encountered."
        closing = asyncio.ensure_future(self.outbox.close(code, reason))
        closing.add_done_callback(lambda _: None)

    # ------------------------------------------------------------------ input

    async def handle(self, message: ClientMessage) -> None:
        """Consume one client message; raises ``ProtocolError`` for input that ends the session."""
        if isinstance(message, Setup):
            raise invalid_argument("setup may only be sent once, as the first message")
        if isinstance(message, ClientContent):
            await self._on_client_content(message)
        elif isinstance(message, RealtimeInput):
            await self._on_realtime_input(message)
        elif isinstance(message, ToolResponse):
            await self._on_tool_response(message)
        elif isinstance(message, ContextUpdate):
            if message.system_instruction is not None:
                self.system_instruction = message.system_instruction.text()
            if message.tools is not None:
                self.tools = list(message.tools)

    async def _on_client_content(self, message: ClientContent) -> None:
        # "A message here will interrupt any current model generation."
        await self._interrupt()
        self._pending_turns.extend(message.turns)
        if message.turn_complete:
            turns, self._pending_turns = self._pending_turns, []
            self.history.extend(turns)
            user_text = " ".join(c.text() for c in turns if (c.role or "user") == "user")
            self._start_generation(self._reply_language(user_text), input_modality="TEXT")

    async def _on_realtime_input(self, message: RealtimeInput) -> None:
        blobs = [b for b in (message.audio, *message.media_chunks) if b is not None]
        for blob in blobs:
            if blob.mime_type.startswith("audio/"):
                self._feed_audio(blob.data, blob.mime_type)
            # Video frames and images: the embedded profile has no FrameDescriber yet (compatibility.md).
        if message.video is not None and not message.video.mime_type.startswith(("image/", "video/")):
            raise invalid_argument("video must be an image/* or video/* blob")
        if message.activity_start:
            self._ensure_listener().activity_start()
            if self._interrupts():
                await self._interrupt()
        if message.activity_end:
            self._ensure_listener().activity_end()
        if message.audio_stream_end and self._listener is not None:
            self._listener.audio_stream_end()
        if message.text is not None and message.text.strip():
            await self._interrupt()
            self.history.append(text_turn("user", message.text))
            self._start_generation(self._reply_language(message.text), input_modality="TEXT")

    def _interrupts(self) -> bool:
        handling = self.setup.realtime_input_config.activity_handling
        return handling is not ActivityHandling.NO_INTERRUPTION

    def _feed_audio(self, pcm: bytes, mime: str) -> None:
        rate = parse_pcm_mime(mime)
        if rate is None:
            raise invalid_argument(f"unsupported audio mime type {mime!r}; send audio/pcm;rate=N")
        if len(pcm) % 2:
            raise invalid_argument("16-bit PCM audio must have an even number of bytes")
        self._ensure_listener().feed(pcm, rate)

    def _ensure_listener(self) -> Listener:
        if self._listener is None:
            if not self.profile.asr:
                raise ProtocolError(CloseCode.INVALID_ARGUMENT, "this profile does not accept audio input")
            language = base_language(self.language_code) if self.language_code else None
            listener = Listener(
                vad=self.profile.vad,
                turn=self.profile.turn,
                recognizers=self.profile.asr,
                config=self.setup.realtime_input_config,
                language=language,
            )
            self._listener = listener
            self._spawn(self._consume_listener(listener), "listener-events")
        return self._listener

    def _note_playback(self, pcm: bytes) -> None:
        # What the client is about to play may come back through its microphone: the listener's echo
        # reference (see listen_echo). It starts now if need be: a client may open its microphone
        # while the reply plays, and the start of the reply must be known by then.
        if self._listener is None and self.profile.asr and self.profile.vad is not None:
            self._ensure_listener()
        if self._listener is not None:
            self._listener.note_playback(pcm)

    async def _consume_listener(self, listener: Listener) -> None:
        async for event in listener.events():
            if isinstance(event, SpeechStarted):
                await self._discard_speculation()
                if self._interrupts():
                    await self._interrupt()
            elif isinstance(event, InterimTranscript):
                await self._send_input_transcription(event.text, final=False)
                if event.at_pause:
                    await self._speculate(event.text)
                else:
                    self._prefill(event.text)
            elif isinstance(event, SpeechResumed):
                await self._discard_speculation()
            elif isinstance(event, TurnDropped):
                await self._discard_speculation()
                if self._input_transcript.pending:  # close what was shown of a turn that was not one
                    await self._send_input_transcription("", final=True)
            elif isinstance(event, TurnEnded):
                await self._send_input_transcription(event.text, final=True)
                if event.language:
                    self._detected_language = event.language
                if self._release_speculation(event.text):
                    self._mark_turn_end(event)
                    continue
                await self._discard_speculation()
                if not event.text.strip():
                    continue
                if self._replying():
                    if not self._interrupts():
                        self._queued_audio_turns.append((event.text, event.language))
                        continue
                    await self._interrupt()
                self.history.append(text_turn("user", event.text))
                self._start_generation(self._reply_language(event.text), input_modality="AUDIO")
                self._mark_turn_end(event)

    def _mark_turn_end(self, event: TurnEnded) -> None:
        if self._turn is not None and event.speech_end_wall:
            self._turn.mark("speech_end", event.speech_end_wall)
            self._turn.mark("turn_decided", event.decided_wall or None)

    # ------------------------------------------------------------------ speculative replies

    async def _speculate(self, text: str) -> None:
        """Start answering the transcript of a pause before the end-of-turn decision.

        The decision takes ~0.2 s into a pause when the end-of-turn model is sure, and up to the silence
        bound (1 s by default) when it is not; the language model, at ~10 tokens/s on two cores, is the
        slowest stage. Starting it here overlaps the two. If the pause ends the turn with this same text
        the reply is released as it stands; if the user goes on, it is dropped unseen (a few tokens of
        wasted work). Only when nothing else is being generated: a reply in progress is never disturbed.
        """
        if self._closed or not text.strip():
            return
        tentative = self._turn.tentative_user_turn if self._turn is not None else None
        if tentative is not None:
            if tentative.text() == text:
                return
            await self._discard_speculation()
        if self._replying():
            return
        log.debug("session %s speculates on %r", self.session_id, text[-40:])
        user_turn = text_turn("user", text)
        self.history.append(user_turn)
        self._start_generation(self._reply_language(text), input_modality="AUDIO", speculative=True)
        assert self._turn is not None
        self._turn.tentative_user_turn = user_turn

    def _release_speculation(self, text: str) -> bool:
        """The turn ended with ``text``: if a speculative reply answers exactly that, let it out."""
        turn, task = self._turn, self._generation
        if turn is None or turn.released.is_set() or task is None or task.done():
            return False
        tentative = turn.tentative_user_turn
        if tentative is None or tentative.text() != text or turn.language != self._reply_language(text):
            return False
        turn.mark("released")
        turn.tentative_user_turn = None
        turn.released.set()
        return True

    async def _discard_speculation(self) -> bool:
        """Cancel a speculative reply the client has not seen; True if there was one."""
        turn, task = self._turn, self._generation
        if turn is None or turn.released.is_set() or task is None:
            return False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        tentative = turn.tentative_user_turn
        self.history = [c for c in self.history if c is not tentative]
        self._turn = self._generation = None
        return True

    async def _send_input_transcription(self, text: str, *, final: bool) -> None:
        if self.setup.input_audio_transcription is None:
            return
        chunk = self._input_transcript.final(text) if final else self._input_transcript.interim(text)
        if chunk or final:
            await self.outbox.send(
                ServerContent(input_transcription=Transcription(text=chunk, finished=True if final else None))
            )

    def _reply_language(self, user_text: str) -> str:
        if self.language_code:
            return base_language(self.language_code)
        return guess_language(user_text) or self._detected_language or "en"

    # ------------------------------------------------------------------ tools

    async def _on_tool_response(self, message: ToolResponse) -> None:
        turn = self._turn
        answer_now = answer_when_idle = False
        for response in message.function_responses:
            future = turn.pending_calls.get(response.id or "") if turn else None
            if future is None and turn is not None and response.id is None and len(turn.pending_calls) == 1:
                future = next(iter(turn.pending_calls.values()))
            if future is not None and not future.done():
                future.set_result(response)
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
        if answer_now:  # INTERRUPT: the reply in progress stops, and the model speaks about the result
            await self._interrupt()
            self._answer_function_results()
        elif answer_when_idle:  # WHEN_IDLE: after the reply in progress, or at once (SILENT: never)
            if self._replying():
                self._answer_results_when_idle = True
            else:
                self._answer_function_results()

    def _answer_function_results(self) -> None:
        """A model turn about the function results now in the history (no new user words)."""
        self._start_generation(self._reply_language(""), input_modality="TEXT")

    # ------------------------------------------------------------------ output

    def _replying(self) -> bool:
        """A reply is being generated (speculative or not)."""
        return self._generation is not None and not self._generation.done()

    def _start_generation(self, language: str, *, input_modality: str, speculative: bool = False) -> None:
        self._turn = _Turn(modality=self.modality, language=language, input_modality=input_modality)
        self._turn.mark("start")
        if not speculative:
            self._turn.released.set()
        self._generation = asyncio.create_task(self._generate(self._turn), name="generation")
        self._generation.add_done_callback(self._generation_done)

    def _generation_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._closed:
            return
        exc = task.exception()
        if exc is not None:
            self._fail(exc)
        elif self._queued_audio_turns:
            text, language = self._queued_audio_turns.pop(0)
            self.history.append(text_turn("user", text))
            self._start_generation(language or self._reply_language(text), input_modality="AUDIO")
        elif self._answer_results_when_idle:
            self._answer_results_when_idle = False
            self._answer_function_results()

    async def _interrupt(self) -> None:
        if await self._discard_speculation():
            return  # the client never saw it: nothing to interrupt
        task, turn = self._generation, self._turn
        if task is None or task.done() or turn is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        heard = self._record_heard(turn)
        if turn.prompt_tokens == 0:
            # Cancelled before the model reported its counts: count what was prompted and what was sent,
            # so an interrupted turn is accounted for like any other.
            turn.prompt_tokens = sum(self.profile.llm.count_tokens(m.content) for m in turn.prompt)
            turn.response_tokens = max(turn.response_tokens, self.profile.llm.count_tokens(heard))
        await self.outbox.send(ServerContent(interrupted=True))
        if turn.pending_calls:
            await self.outbox.send(ToolCallCancellation(ids=list(turn.pending_calls)))
        await self.outbox.send(ServerContent(turn_complete=True), usage=self._usage(turn))
        await self._send_resumption_update()

    def _record_heard(self, turn: _Turn) -> str:
        """Keep in the history what the client was sent of the reply (returned): all of it when the turn
        ends, only what was already sent after a barge-in."""
        heard = turn.speaker.heard_text() if turn.speaker else "".join(turn.text_sent)
        if not turn.recorded:
            turn.recorded = True
            if heard.strip():
                self.history.append(text_turn("model", heard))
        return heard

    def _prefill(self, interim: str) -> None:
        """Let the LLM read the prompt this turn will probably send while the user is still speaking.

        The request is the one the turn would make if it ended with ``interim``; the history is left as
        it is. Skipped while a reply is being generated (that request needs the model).
        """
        if not interim.strip():
            return
        log.debug("session %s prefills %r", self.session_id, interim[-40:])
        self._prefill_request(self._chat_request([*self.history, text_turn("user", interim)]))

    def _prefill_request(self, request: ChatRequest) -> None:
        """Hand ``request``'s prompt to an LLM that can read it ahead; not while a reply is generated."""
        llm = self.profile.llm
        if isinstance(llm, PromptPrefiller) and not self._replying():
            llm.prefill(request)

    def _chat_request(self, history: Sequence[Content] | None = None) -> ChatRequest:
        """The request for ``history`` (by default the session's own)."""
        # Fixed text first, the client's instruction last: the fixed prefix then stays in the LLM's KV
        # cache across turns and sessions, which is what keeps the first token fast.
        style = self.profile.spoken_style_prompt if self.modality is Modality.AUDIO else ""
        system_parts = [p for p in (self.profile.system_prompt, style, self.system_instruction) if p]
        system = ChatMessage(role="system", content="\n\n".join(system_parts)) if system_parts else None
        turns: list[ChatMessage] = []
        for content in self.history if history is None else history:
            turns.extend(content_to_messages(content))
        gc = self.setup.generation_config
        max_tokens = gc.max_output_tokens or self.profile.output_token_limit
        budget = self.profile.input_token_limit - max_tokens
        messages = trim_to_budget(system, turns, budget, self.profile.llm.count_tokens)
        return ChatRequest(
            messages=messages,
            tools=tool_specs(self.tools),
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

    async def _generate(self, turn: _Turn) -> None:
        rounds = 0
        try:
            while True:
                # A new speaker for each round: the one before a tool call finished with its words.
                if turn.modality is Modality.AUDIO and turn.speaker is None:
                    assert self.profile.tts is not None
                    turn.speaker = Speaker(
                        self.profile.tts,
                        self.outbox,
                        voice=self.voice,
                        language=turn.language,
                        transcribe=self.setup.output_audio_transcription is not None,
                        lead_s=self.limits.audio_lead_s,
                        on_audio=self._note_playback,
                        gate=turn.released,
                    )
                calls = await self._stream_llm(turn, turn.speaker, tools_allowed=rounds < MAX_TOOL_ROUNDS)
                if not calls:
                    break
                rounds += 1
                if not await self._call_tools(turn, calls):
                    break  # NON_BLOCKING calls only: the turn ends, their results are answered later
            await self._finish_speaking(turn)
            await turn.released.wait()
            log.info("session %s turn: %s", self.session_id, turn.timings())
            self._record_heard(turn)
            await self.outbox.send(ServerContent(generation_complete=True))
            await self.outbox.send(ServerContent(turn_complete=True), usage=self._usage(turn))
            await self._send_resumption_update()
        except asyncio.CancelledError:
            if turn.speaker is not None:
                await turn.speaker.cancel()
            raise

    async def _finish_speaking(self, turn: _Turn) -> None:
        """Wait until the turn's speaker has sent all it was given (nothing without one)."""
        if turn.speaker is not None:
            await turn.speaker.finish()
            if turn.speaker.first_audio_at is not None:
                turn.mark("first_audio", turn.speaker.first_audio_at)

    async def _stream_llm(
        self, turn: _Turn, speaker: Speaker | None, *, tools_allowed: bool
    ) -> list[ToolCallRequest]:
        splitter = ClauseSplitter()
        calls: list[ToolCallRequest] = []
        request = self._chat_request()
        if not turn.prompt:
            turn.prompt = list(request.messages)
        if not tools_allowed:
            # A small model can call the same tool again and again; after MAX_TOOL_ROUNDS it must answer.
            request.tools = []
        async for event in self.profile.llm.stream(request):
            if isinstance(event, TextDelta):
                turn.mark("first_token")
                if speaker is None:
                    await turn.released.wait()
                    turn.text_sent.append(event.text)
                    await self.outbox.send(ServerContent(model_turn=Content(parts=[Part(text=event.text)])))
                else:
                    for clause in splitter.push(event.text):
                        turn.mark("first_clause")
                        speaker.say(clause)
            elif isinstance(event, ToolCallRequest):
                calls.append(event)
            elif isinstance(event, ChatDone):
                if turn.prompt_tokens == 0:
                    turn.prompt_tokens = event.prompt_tokens
                    turn.cached_tokens = event.cached_prompt_tokens
                else:  # follow-up calls after tool responses
                    turn.tool_prompt_tokens += event.prompt_tokens
                turn.response_tokens += event.completion_tokens
        if speaker is not None and (rest := splitter.flush()):
            speaker.say(rest)
        return calls

    async def _call_tools(self, turn: _Turn, calls: list[ToolCallRequest]) -> bool:
        """Send a ``toolCall``; wait for the responses to its BLOCKING calls (True) if it has any.

        With only NON_BLOCKING calls, returns False at once: the model turn (what was said and the
        calls) is recorded and ends; the results are answered when they come (``_on_tool_response``).
        """
        await turn.released.wait()
        await self._finish_speaking(turn)
        spoken = turn.speaker.heard_text() if turn.speaker else "".join(turn.text_sent)
        turn.speaker = None
        parts = [Part(text=spoken)] if spoken.strip() else []
        loop = asyncio.get_running_loop()
        function_calls = [FunctionCall(id=c.id, name=c.name, args=c.args) for c in calls]
        parts += [Part(function_call=fc) for fc in function_calls]
        self.history.append(Content(role="model", parts=parts))
        non_blocking = self._non_blocking_functions()
        for call in calls:
            if call.name in non_blocking:
                self._async_calls.add(call.id)
            else:
                turn.pending_calls[call.id] = loop.create_future()
        await self.outbox.send(ToolCall(function_calls=function_calls))
        if not turn.pending_calls:
            turn.recorded = True
            return False
        responses = await asyncio.gather(*turn.pending_calls.values())
        turn.pending_calls.clear()
        self.history.append(Content(role="user", parts=[Part(function_response=r) for r in responses]))
        turn.text_sent.clear()
        return True

    def _non_blocking_functions(self) -> set[str]:
        return {
            d.name
            for tool in self.tools
            for d in tool.function_declarations
            if d.behavior is FunctionBehavior.NON_BLOCKING
        }

    def _usage(self, turn: _Turn) -> UsageMetadata:
        out_modality = "AUDIO" if turn.modality is Modality.AUDIO else "TEXT"
        total = turn.prompt_tokens + turn.tool_prompt_tokens + turn.response_tokens
        return UsageMetadata(
            prompt_token_count=turn.prompt_tokens,
            cached_content_token_count=turn.cached_tokens,
            response_token_count=turn.response_tokens,
            tool_use_prompt_token_count=turn.tool_prompt_tokens,
            total_token_count=total,
            prompt_tokens_details=[
                ModalityTokenCount(modality=turn.input_modality, token_count=turn.prompt_tokens)
            ],
            response_tokens_details=[
                ModalityTokenCount(modality=out_modality, token_count=turn.response_tokens)
            ],
        )

    # ------------------------------------------------------------------ limits

    async def _watch_time_limits(self) -> None:
        limit = min(self.limits.connection_time_limit_s, self.limits.session_time_limit_s)
        warn_at = max(0.0, limit - self.limits.go_away_before_s)
        await asyncio.sleep(warn_at)
        await self.outbox.send(GoAway(time_left_s=limit - warn_at))
        await asyncio.sleep(limit - warn_at)
        await self.outbox.close(CloseCode.NORMAL, "Connection time limit reached.")
