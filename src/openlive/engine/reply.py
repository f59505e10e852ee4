"""One model turn, as a handle: its LLM stream(s), its speech, its function-call round trips.

The session (the only owner of session state) starts a ``Reply`` and later either lets it end or cuts
it with ``interrupt()``, which is safe to call any number of times. A reply never changes the history: it
reads the session's request through ``ReplyContext.request`` and reports what must be recorded (the model
turn that carries its function calls) as events on the session's inbox. A speculative reply keeps its
tentative user turn on itself (``tentative``), never in the history, and sends nothing until released.

Reply lifecycle (see docs/life-of-a-turn.md):
  started ─► [LLM stream ─► clauses ─► speaker]* with function calls between rounds ─► content done
  (the session then sends generationComplete + turnComplete and records what was said)
  interrupt(): the task is cancelled wherever it is, its speakers with it; what was sent stays sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from openlive.engine.acknowledgement import Acknowledgements, acknowledgement
from openlive.engine.clauses import ClauseSplitter
from openlive.engine.grounding import grounding_metadata, with_sources
from openlive.engine.history import with_seen_note
from openlive.engine.outbox import Outbox
from openlive.engine.profile import Profile
from openlive.engine.speaker import Speaker
from openlive.engine.tasks import TaskOwner
from openlive.protocol.messages import (
    Content,
    FunctionCall,
    FunctionResponse,
    Modality,
    ModalityTokenCount,
    Part,
    ServerContent,
    ToolCall,
    UsageMetadata,
)
from openlive.stages.language_model import (
    CallStarted,
    ChatDone,
    ChatEvent,
    ChatImage,
    ChatMessage,
    ChatRequest,
    TextDelta,
    ToolCallRequest,
)
from openlive.stages.search import Passage, SearchProvider

log = logging.getLogger(__name__)

# Tool-call rounds within one model turn before the model is made to answer without tools.
MAX_TOOL_ROUNDS = 4
# The longest a reply waits for its sources (a local index answers in milliseconds).
SEARCH_TIMEOUT_S = 1.5


@dataclass(frozen=True, slots=True)
class CallsMade:
    """Inbox event: a reply is about to send a ``toolCall``; ``content`` (what was said before it and
    the calls) belongs in the history now, and ``non_blocking`` are the ids of NON_BLOCKING calls."""

    reply: Reply
    content: Content
    non_blocking: frozenset[str]


@dataclass(slots=True, kw_only=True)
class ReplyContext:
    """What a reply needs from its session (read-only, plus the inbox)."""

    profile: Profile
    outbox: Outbox
    modality: Modality
    voice: str
    transcribe: bool
    audio_lead_s: float
    clock: Callable[[], float]
    on_audio: Callable[[bytes], None]
    # The session's chat request for its history followed by ``extra`` turns (a tentative user turn).
    request: Callable[[Sequence[Content]], ChatRequest]
    non_blocking_functions: Callable[[], set[str]]
    post: Callable[[object], None]
    # Say a short acknowledgement when the reply opens with a function call (engine/acknowledgement.py);
    # None: none.
    acknowledgements: Acknowledgements | None = None
    # Search grounding (googleSearch in setup): the provider the reply retrieves sources from, or None.
    search: SearchProvider | None = None
    # Seeing: what the session's newest frame shows, for the turn starting now ("" when nothing).
    look: Callable[[], Awaitable[str]] | None = None
    # A model that reads images: the newest frame, sent with the user's words (None: none, or not such
    # a model).
    shown: Callable[[], ChatImage | None] | None = None


@dataclass(slots=True)
class TurnCounts:
    prompt_tokens: int = 0
    cached_tokens: int = 0
    response_tokens: int = 0
    tool_prompt_tokens: int = 0


class Reply:
    def __init__(
        self,
        reply_id: int,
        ctx: ReplyContext,
        *,
        language: str,
        spoken_text: str = "",
        query: str = "",
        tentative: Content | None = None,
    ) -> None:
        self.id = reply_id
        self._ctx = ctx
        self.language = language
        # The user's words this reply answers that were spoken (their tokens are the prompt's AUDIO part).
        self.spoken_text = spoken_text
        # What the user asked (searched for sources when grounding is on), and what was found.
        self.query = query
        self.passages: list[Passage] = []
        # What the user showed (the newest frame's note). The reply puts it in its prompts until the
        # session has recorded it in the history (``note_recorded``, set by the session).
        self.seen_note = ""
        self.note_recorded = False
        # A speculative reply's user turn (not in the history until the session releases the reply).
        self.tentative = tentative
        # The gate of everything the client is sent: opens at release, or later when the reply is held
        # (``speak_at``: a reply to a statement waits out a short pause; see turn_policy.REPLY_GAP_MS).
        self.audible = asyncio.Event()
        if tentative is None:
            self.audible.set()
        # Something of it was (or is being) handed to the outbox: it can no longer be withdrawn unseen.
        self.seen = False
        # When this reply asked the language model and has had nothing back yet (the session's clock),
        # else None: the lag a replica's metrics report (``LiveSession.load``).
        self.llm_asked_at: float | None = None
        # Set by the session when it cut or dropped the reply; its end then needs nothing more.
        self.cut = False
        self.pending_calls: dict[str, asyncio.Future[FunctionResponse]] = {}
        self.counts = TurnCounts()
        # The model's last round wrote tool-call markup that could not be read as a call.
        self.malformed_call = False
        # The first prompt, counted only if the reply is cut before the model reports its own count.
        self.prompt: list[ChatMessage] = []
        self.marks: dict[str, float] = {}
        self._text_sent: list[str] = []
        # The model has written words in this reply (then a call it begins needs no acknowledgement).
        self._worded = False
        self._speaker: Speaker | None = None
        self._owner = TaskOwner(f"reply-{reply_id}")
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------------------------ control

    def start(self, owner: TaskOwner, on_done: Callable[[Reply, asyncio.Task[None]], None]) -> None:
        self._task = owner.spawn(self._run(), f"reply-{self.id}")
        self._task.add_done_callback(lambda task: on_done(self, task))
        self.mark("start")

    def release(self, speak_at: float = 0.0) -> None:
        """The turn this reply answers has ended; the client may be sent it from ``speak_at`` on (the
        session's clock; 0: at once)."""
        self.mark("released")
        self.tentative = None
        self.hold(speak_at)

    def hold(self, speak_at: float) -> None:
        """Send the client nothing of this reply before ``speak_at`` (the session's clock). Until then it
        is unseen, so a user who goes on speaking withdraws it without a trace."""
        delay = speak_at - self._ctx.clock()
        if delay <= 0 or self.seen:
            self.audible.set()
            return
        self.audible.clear()
        self.mark("held")
        self._owner.spawn(self._open_after(delay), f"reply-{self.id}-hold")

    async def _open_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.mark("audible")
        self.audible.set()

    def interrupt(self) -> None:
        """Stop generating and speaking (idempotent; a finished reply is left as it is)."""
        self.cut = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def wait(self) -> None:
        """Until the reply's task has ended (however it ended); never raises its failure."""
        if self._task is not None:
            await asyncio.wait([self._task])

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # ------------------------------------------------------------------------------------ results

    def heard_text(self) -> str:
        """What the client was sent of the reply since its last function call, as text."""
        return self._speaker.heard_text() if self._speaker else "".join(self._text_sent)

    def open_call_ids(self) -> list[str]:
        # A cut cancels the futures still waiting: cancelled means never answered.
        return [cid for cid, fut in self.pending_calls.items() if not fut.done() or fut.cancelled()]

    def usage(self) -> UsageMetadata:
        c = self.counts
        out = "AUDIO" if self._ctx.modality is Modality.AUDIO else "TEXT"
        prompt = self._prompt_details()
        return UsageMetadata(
            prompt_token_count=c.prompt_tokens,
            cached_content_token_count=c.cached_tokens,
            response_token_count=c.response_tokens,
            tool_use_prompt_token_count=c.tool_prompt_tokens,
            total_token_count=c.prompt_tokens + c.tool_prompt_tokens + c.response_tokens,
            prompt_tokens_details=prompt,
            cache_tokens_details=_cache_details(prompt, c.cached_tokens),
            response_tokens_details=[ModalityTokenCount(modality=out, token_count=c.response_tokens)],
            # Function responses are JSON text; Gemini counts them per modality as well.
            tool_use_prompt_tokens_details=[
                ModalityTokenCount(modality="TEXT", token_count=c.tool_prompt_tokens)
            ]
            if c.tool_prompt_tokens
            else [],
        )

    def _tool_result_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """The tokens of the function responses at the end of a follow-up request (the round's new
        input): Gemini's ``toolUsePromptTokenCount``. The rest of that prompt is the turn's prompt again,
        read from the KV cache, and is not counted twice."""
        llm = self._ctx.profile.llm
        total = 0
        for message in reversed(messages):
            if message.role != "tool":
                break
            total += llm.count_tokens(message.content)
        return total

    def turn_complete_reason(self) -> str | None:
        """``turnCompleteReason`` for the reply's ``turnComplete``: ``MALFORMED_FUNCTION_CALL`` when the
        model's last round tried to call a function in markup that could not be read (the call was
        dropped, so the turn ended without it); None (not sent) otherwise."""
        return "MALFORMED_FUNCTION_CALL" if self.malformed_call else None

    def _prompt_details(self) -> list[ModalityTokenCount]:
        """The prompt by modality: the spoken user words are AUDIO (what Gemini counts as the audio
        input), the instruction, declarations, history and typed words TEXT."""
        prompt = self.counts.prompt_tokens
        audio = min(prompt, self._ctx.profile.llm.count_tokens(self.spoken_text)) if self.spoken_text else 0
        details = [ModalityTokenCount(modality="TEXT", token_count=prompt - audio)]
        if audio:
            details.append(ModalityTokenCount(modality="AUDIO", token_count=audio))
        return details

    def count_if_cut(self, heard: str) -> None:
        """Cut before the model reported its counts: count what was prompted and what was sent."""
        if self.counts.prompt_tokens == 0:
            llm = self._ctx.profile.llm
            self.counts.prompt_tokens = sum(llm.count_tokens(m.content) for m in self.prompt)
            self.counts.response_tokens = max(self.counts.response_tokens, llm.count_tokens(heard))

    def mark(self, name: str, at: float | None = None) -> None:
        self.marks.setdefault(name, self._ctx.clock() if at is None else at)

    def timings(self) -> str:
        origin = self.marks.get("speech_end", self.marks.get("start", 0.0))
        ordered = sorted(self.marks.items(), key=lambda kv: kv[1])
        return ", ".join(f"{name} {1000 * (at - origin):+.0f} ms" for name, at in ordered)

    # ------------------------------------------------------------------------------------ the work

    async def _run(self) -> None:
        try:
            await self._retrieve()
            rounds = 0
            while True:
                calls = await self._stream_llm(tools_allowed=rounds < MAX_TOOL_ROUNDS)
                await self._finish_speaking()
                if not calls:
                    break
                rounds += 1
                if not await self._call_tools(calls):
                    break  # NON_BLOCKING calls only: the turn ends, their results are answered later
            await self.audible.wait()
            if self.passages:
                metadata = grounding_metadata(self.query, self.passages, self.heard_text())
                await self._ctx.outbox.send(ServerContent(grounding_metadata=metadata))
        finally:
            # Whatever ended the reply (its end, a cut, a failure), its speakers end with it.
            await self._owner.aclose()

    async def _retrieve(self) -> None:
        """What the user shows and sources for the user's words, before the model is asked (both bounded:
        a slow or failing describer or provider delays the reply a little, never stops it)."""
        if self._ctx.look is not None and self.query.strip():
            self.seen_note = await self._ctx.look()
            if self.seen_note:
                self.mark("seen")
        search = self._ctx.search
        if search is None or not self.query.strip():
            return
        try:
            async with asyncio.timeout(SEARCH_TIMEOUT_S):
                self.passages = await search.search(self.query)
        except Exception:  # TimeoutError too: grounding is best effort, the reply is not
            log.warning("search for %r failed; answering without sources", self.query[:60], exc_info=True)
        self.mark("sources")

    def _new_speaker(self) -> Speaker | None:
        ctx = self._ctx
        if ctx.modality is not Modality.AUDIO:
            return None
        assert ctx.profile.tts is not None

        def on_audio(pcm: bytes) -> None:
            self.seen = True  # before the chunk is handed to the outbox
            ctx.on_audio(pcm)

        speaker = Speaker(
            ctx.profile.tts,
            ctx.outbox,
            voice=ctx.voice,
            language=self.language,
            transcribe=ctx.transcribe,
            lead_s=ctx.audio_lead_s,
            clock=ctx.clock,
            on_audio=on_audio,
            gate=self.audible,
        )
        speaker.start(self._owner)
        return speaker

    async def _stream_llm(self, *, tools_allowed: bool) -> list[ToolCallRequest]:
        # A new speaker for each round: the one before a function call has finished with its words.
        self._speaker = speaker = self._new_speaker()
        splitter = ClauseSplitter()
        calls: list[ToolCallRequest] = []
        request = self._ctx.request([self.tentative] if self.tentative is not None else [])
        if self.seen_note and not self.note_recorded:
            request.messages = with_seen_note(request.messages, self.seen_note)
        if self.passages:
            request.messages = with_sources(request.messages, self.passages)
        if self._ctx.shown is not None and self.query.strip() and (image := self._ctx.shown()) is not None:
            request.messages = with_image(request.messages, image)
        if not self.prompt:
            self.prompt = list(request.messages)
        if not tools_allowed:
            # A small model can call the same tool again and again; after MAX_TOOL_ROUNDS it must answer.
            request.tools = []
        async for event in self._waited_for(self._ctx.profile.llm.stream(request)):
            if isinstance(event, TextDelta):
                self.mark("first_token")
                self._worded = self._worded or bool(event.text.strip())
                if speaker is None:
                    await self.audible.wait()
                    self.seen = True
                    self._text_sent.append(event.text)
                    await self._ctx.outbox.send(
                        ServerContent(model_turn=Content(parts=[Part(text=event.text)]))
                    )
                else:
                    hurry = speaker.running_low()  # cut the next piece early, or there is a silence
                    clauses = splitter.push(event.text, hurry=hurry)
                    for clause in clauses:
                        self.mark("first_clause")
                        speaker.say(clause)
                    if not clauses and (tentative := splitter.tentative()) is not None:
                        speaker.draft(tentative)  # the first piece, synthesised a token sooner
            elif isinstance(event, CallStarted):
                self.mark("call_started")
                if speaker is not None:
                    self._acknowledge(speaker)
            elif isinstance(event, ToolCallRequest):
                calls.append(event)
            elif isinstance(event, ChatDone):
                if self.counts.prompt_tokens == 0:
                    self.counts.prompt_tokens = event.prompt_tokens
                    self.counts.cached_tokens = event.cached_prompt_tokens
                else:  # a follow-up after function responses: what it adds is the responses it reads
                    self.counts.tool_prompt_tokens += self._tool_result_tokens(request.messages)
                self.counts.response_tokens += event.completion_tokens
                # The round that ends the reply decides: a bad call followed by a good one went on.
                self.malformed_call = event.malformed_tool_calls > 0 and not calls
        if speaker is not None and (rest := splitter.flush()):
            speaker.say(rest)
        return calls

    def _acknowledge(self, speaker: Speaker) -> None:
        """Say an acknowledgement for a call the reply opens with, once (see engine/acknowledgement.py)."""
        acknowledgements = self._ctx.acknowledgements
        if acknowledgements is None or self._worded:
            return
        if (phrase := acknowledgement(self.language, self.id)) is not None:
            self._worded = True
            self.mark("acknowledged")
            # Not the model's words: kept out of the history, whose prompt then stays the one the model
            # read and wrote (a word before the call there would make the next prompt read the call
            # and its result again, ~300 ms on 2 cores, and the model answers as if it had said it).
            audio = acknowledgements.audio(self._ctx.voice, self.language, phrase)
            speaker.say(phrase, recorded=False, audio=audio)

    async def _waited_for(self, events: AsyncIterator[ChatEvent]) -> AsyncIterator[ChatEvent]:
        """``events``, with ``llm_asked_at`` set until the first of them arrives."""
        self.llm_asked_at = self._ctx.clock()
        try:
            async for event in events:
                self.llm_asked_at = None
                yield event
        finally:
            self.llm_asked_at = None

    async def _finish_speaking(self) -> None:
        """Wait until this round's speaker has sent all it was given (nothing without one)."""
        speaker = self._speaker
        if speaker is not None:
            await speaker.finish()
            if speaker.first_audio_at is not None:
                self.mark("first_audio", speaker.first_audio_at)

    async def _call_tools(self, calls: list[ToolCallRequest]) -> bool:
        """Send a ``toolCall``; wait for the responses to its BLOCKING calls (True) if it has any.

        With only NON_BLOCKING calls, returns False at once: the model turn (what was said and the
        calls) is recorded and ends; their results are answered when they come.
        """
        await self.audible.wait()
        spoken = self.heard_text()
        # What was said before the call is recorded with it, not again at the end of the reply.
        self._speaker, self._text_sent = None, []
        function_calls = [FunctionCall(id=c.id, name=c.name, args=c.args) for c in calls]
        parts = [Part(text=spoken)] if spoken.strip() else []
        parts += [Part(function_call=fc) for fc in function_calls]
        non_blocking = self._ctx.non_blocking_functions()
        loop = asyncio.get_running_loop()
        for call in calls:
            if call.name not in non_blocking:
                self.pending_calls[call.id] = loop.create_future()
        # The session records the calls before the client can answer them (the inbox is in order).
        self._ctx.post(
            CallsMade(
                self,
                Content(role="model", parts=parts),
                frozenset(c.id for c in calls if c.name in non_blocking),
            )
        )
        self.seen = True
        await self._ctx.outbox.send(ToolCall(function_calls=function_calls))
        if not self.pending_calls:
            return False
        # The session sets each future (and records the response) as the client's answers arrive.
        await asyncio.gather(*self.pending_calls.values())
        self.pending_calls.clear()
        return True


@dataclass(frozen=True, slots=True)
class ReplyEnd:
    """Inbox event: a reply's task has ended (``error`` None and not ``cancelled``: all was sent)."""

    reply: Reply
    error: BaseException | None
    cancelled: bool


def _cache_details(prompt: list[ModalityTokenCount], cached: int) -> list[ModalityTokenCount]:
    """``cacheTokensDetails``: the cached prefix by modality. The prompt's TEXT part (instruction, tools,
    history) comes first and its AUDIO part (the spoken words of the turn) last, so the prefix is TEXT
    up to that part's size and AUDIO beyond it (the words were read ahead while the user spoke)."""
    if not cached:
        return []
    text = next((d.token_count for d in prompt if d.modality == "TEXT"), 0)
    details = [ModalityTokenCount(modality="TEXT", token_count=min(cached, text))]
    if cached > text:
        details.append(ModalityTokenCount(modality="AUDIO", token_count=cached - text))
    return details


def with_image(messages: list[ChatMessage], image: ChatImage) -> list[ChatMessage]:
    """The image on the last user message (what the user shows with their words)."""
    out = list(messages)
    for i in range(len(out) - 1, -1, -1):
        if out[i].role == "user":
            out[i] = replace(out[i], images=[*out[i].images, image])
            break
    return out
