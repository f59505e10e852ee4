"""The speaking side of a reply: clauses → TTS → paced 24 kHz audio messages (+ output transcription).

Audio is sent at most ``lead_s`` ahead of real-time playback. That bounds what the client has buffered,
so a barge-in silences the reply quickly and the history keeps only roughly what the user heard, which
is what Gemini promises ("only the information already sent to the client is retained").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import numpy as np

from openlive.engine.clauses import speakable
from openlive.engine.outbox import Outbox
from openlive.engine.tasks import TaskOwner, cancel_and_wait
from openlive.protocol.messages import Blob, Content, Part, ServerContent, Transcription
from openlive.stages.speech import OUTPUT_SAMPLE_RATE, SpeechSynthesizer

OUTPUT_MIME = f"audio/pcm;rate={OUTPUT_SAMPLE_RATE}"
BYTES_PER_SECOND = OUTPUT_SAMPLE_RATE * 2
# The synthesisers start each piece with 30-40 ms of near-silence (Piper and Kokoro, measured): cut from
# the reply's first audio, the listener hears the answer that much sooner. Below -50 dBFS counts as
# silence; a few milliseconds before the first sound are kept, so its attack is not clipped.
_LEAD_SILENCE_LEVEL = int(32768 * 10 ** (-50 / 20))
_LEAD_KEEP_SAMPLES = OUTPUT_SAMPLE_RATE * 5 // 1000
# Rough speaking rate, used only to estimate how much of a half-sent clause was heard.
_SECONDS_PER_CHAR = {"ja": 0.15, "zh": 0.2, "default": 0.065}
# The next piece is cut early (``ClauseSplitter.push(hurry=True)``) once less speech than this is
# queued: time for the model to write a few more words (~0.1 s a token on two cores) and for them to be
# synthesised before the listener hears a silence inside the reply.
RUNNING_LOW_S = 1.0
# Languages written without spaces between words: their pieces join with nothing, and a half-heard piece
# is cut at any character (Chinese and Thai are spoken by espeak-ng since issue 13).
_NO_SPACES = frozenset({"ja", "zh", "th", "lo", "km", "my", "bo"})


def word_separator(language: str) -> str:
    return "" if language in _NO_SPACES else " "


def trim_leading_silence(pcm: bytes) -> bytes:
    """``pcm`` (16-bit) from a few ms before its first sound; unchanged if it has no sound at all."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= _LEAD_SILENCE_LEVEL)
    if loud.size == 0:
        return pcm
    return pcm[max(0, int(loud[0]) - _LEAD_KEEP_SAMPLES) * 2 :]


async def _ready(pcm: bytes) -> AsyncIterator[bytes]:
    yield pcm


class _Draft:
    """Text that may be the next clause, synthesised ahead while the worker is idle (``Speaker.draft``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _drafted(draft: str, text: str) -> bool:
    """Whether a clause ``text`` may be sent as the audio of ``draft``: the same words, or with a comma,
    colon, semicolon or full stop after them (the next token was that mark; a pause after the piece
    follows anyway). A question or exclamation mark changes the intonation, so it is synthesised again."""
    return text == draft or (text[:-1] == draft and text[-1:] in ",;:.")


class _Clause:
    __slots__ = ("audio", "bytes_sent", "bytes_synthesized", "done", "recorded", "text")

    def __init__(self, text: str, *, recorded: bool = True, audio: bytes | None = None) -> None:
        self.text = text
        self.recorded = recorded
        self.audio = audio  # synthesised ahead: sent as it is
        self.bytes_sent = 0
        self.bytes_synthesized = 0
        self.done = False

    def heard_text(self, language: str) -> str:
        if self.bytes_sent == 0:
            return ""
        if self.done and self.bytes_sent >= self.bytes_synthesized:
            return self.text
        per_char = _SECONDS_PER_CHAR.get(language, _SECONDS_PER_CHAR["default"])
        expected = max(self.bytes_synthesized, int(len(self.text) * per_char * BYTES_PER_SECOND))
        fraction = min(1.0, self.bytes_sent / max(1, expected))
        cut = int(len(self.text) * fraction)
        if language not in _NO_SPACES:  # cut at a word boundary
            space = self.text.rfind(" ", 0, cut + 1)
            cut = space if space > 0 else cut
        return self.text[:cut].strip()


class Speaker:
    def __init__(
        self,
        tts: SpeechSynthesizer,
        outbox: Outbox,
        *,
        voice: str,
        language: str,
        transcribe: bool,
        lead_s: float = 1.0,
        chunk_ms: int = 100,
        clock: Callable[[], float] = time.monotonic,
        on_audio: Callable[[bytes], None] | None = None,
        gate: asyncio.Event | None = None,
    ) -> None:
        self._tts = tts
        # Audio is synthesised ahead but sent only once the gate is open (a speculative reply).
        self._gate = gate
        self._on_audio = on_audio  # told each chunk as it is sent (the listener's echo reference)
        self._outbox = outbox
        self.voice = voice
        self.language = language
        self._transcribe = transcribe
        self._lead_s = lead_s
        self._chunk_bytes = OUTPUT_SAMPLE_RATE * 2 * chunk_ms // 1000
        self._clock = clock
        self._queue: asyncio.Queue[_Clause | _Draft | None] = asyncio.Queue()
        self._clauses: list[_Clause] = []
        self._play_start: float | None = None
        self._seconds_sent = 0.0
        self.first_audio_at: float | None = None
        self.audio_bytes_sent = 0
        self._worker: asyncio.Task[None] | None = None
        self._drafting: str | None = None  # the last text given to draft()

    def start(self, owner: TaskOwner) -> None:
        """Start synthesising (the worker belongs to ``owner``, which cancels it at the latest)."""
        if self._worker is None:
            self._worker = owner.spawn(self._run(), "speaker")

    def say(self, text: str, *, recorded: bool = True, audio: bytes | None = None) -> None:
        """Queue ``text`` to be spoken. ``recorded=False``: the server's words, not the model's (a call's
        acknowledgement): sent and transcribed, but not part of ``heard_text`` (the history).
        ``audio``: ``text`` synthesised ahead, in this speaker's voice (sent instead of synthesising)."""
        # Kept as spoken: the history records what was heard, never the markup that was dropped.
        clause = _Clause(speakable(text), recorded=recorded, audio=audio)
        self._clauses.append(clause)
        self._queue.put_nowait(clause)

    def draft(self, text: str) -> None:
        """Start synthesising ``text``, which the next ``say`` may well be (the reply's first piece before
        its last word is known to be complete, see ``ClauseSplitter.tentative``). A ``say`` of that text
        sends the audio synthesised ahead; any other clause drops it. A draft that something else was
        queued after is skipped, so only the newest is synthesised, and only while nothing else is."""
        text = speakable(text)
        if text and text != self._drafting:
            self._drafting = text
            self._queue.put_nowait(_Draft(text))

    async def finish(self) -> None:
        """Wait until every clause given so far has been synthesised and sent (raises its failure)."""
        self._queue.put_nowait(None)
        if self._worker is None:
            raise RuntimeError("Speaker.finish() before start()")
        await asyncio.wait([self._worker])  # not `await worker`: a cancellation of ours stays ours
        if self._worker.cancelled():
            raise asyncio.CancelledError()
        if (exc := self._worker.exception()) is not None:
            raise exc

    async def cancel(self) -> None:
        # The sentinel also ends the worker should the cancellation be swallowed by an await inside it.
        self._queue.put_nowait(None)
        if self._worker is not None:
            await cancel_and_wait(self._worker)

    def queued_s(self) -> float:
        """Seconds of this reply's speech not heard yet: sent ahead of playback, synthesised and not
        sent, and an estimate from their length for the clauses not synthesised yet."""
        queued = 0.0
        if self._play_start is not None:
            queued = max(0.0, self._play_start + self._seconds_sent - self._clock())
        per_char = _SECONDS_PER_CHAR.get(self.language, _SECONDS_PER_CHAR["default"])
        for clause in self._clauses:
            if clause.done:
                continue
            if clause.bytes_synthesized:
                queued += (clause.bytes_synthesized - clause.bytes_sent) / BYTES_PER_SECOND
            else:
                queued += len(clause.text) * per_char
        return queued

    def running_low(self) -> bool:
        """Whether the speech queued is about to run out (see ``RUNNING_LOW_S``)."""
        return self.queued_s() < RUNNING_LOW_S

    def heard_text(self) -> str:
        """What the client has been sent of the reply, as text (for the history after a barge-in)."""
        return word_separator(self.language).join(
            t for t in (c.heard_text(self.language) for c in self._clauses if c.recorded) if t
        )

    async def _run(self) -> None:
        started = False
        drafted: tuple[str, bytes] | None = None  # the last draft and its audio, until the next clause
        while (clause := await self._queue.get()) is not None:
            if isinstance(clause, _Draft):
                if self._queue.empty():  # else superseded (a newer draft, or the clause itself)
                    synthesis = self._tts.synthesize(clause.text, voice=self.voice, language=self.language)
                    drafted = (clause.text, b"".join([chunk async for chunk in synthesis]))
                continue
            text = speakable(clause.text)
            draft, drafted = drafted, None
            if not text:
                clause.done = True
                continue
            transcript_sent = False
            if clause.audio is not None:
                audio = _ready(clause.audio)
            elif draft is not None and _drafted(draft[0], text):
                audio = _ready(draft[1])
            else:
                audio = self._tts.synthesize(text, voice=self.voice, language=self.language)
            async for pcm in audio:
                if not started:
                    started = True
                    pcm = trim_leading_silence(pcm)  # the reply's first sound, as soon as it can be
                clause.bytes_synthesized += len(pcm)
                for i in range(0, len(pcm), self._chunk_bytes):
                    await self._send_audio(pcm[i : i + self._chunk_bytes])
                    clause.bytes_sent += len(pcm[i : i + self._chunk_bytes])
                    if self._transcribe and not transcript_sent:
                        # The transcription follows the first audio it belongs to.
                        transcript_sent = True
                        sep = word_separator(self.language)
                        await self._outbox.send(
                            ServerContent(output_transcription=Transcription(text=text + sep))
                        )
            clause.done = True

    async def _send_audio(self, chunk: bytes) -> None:
        if self._gate is not None:
            await self._gate.wait()
        now = self._clock()
        if self._play_start is None:
            self._play_start = now
            self.first_audio_at = now
        else:
            ahead = self._play_start + self._seconds_sent - now
            if ahead > self._lead_s:
                await asyncio.sleep(ahead - self._lead_s)
            elif ahead < 0:
                # Playback ran dry (synthesis was slower than real time): restart the clock.
                self._play_start = now - self._seconds_sent
        if self._on_audio is not None:
            self._on_audio(chunk)
        await self._outbox.send(
            ServerContent(
                model_turn=Content(parts=[Part(inline_data=Blob(mime_type=OUTPUT_MIME, data=chunk))])
            )
        )
        self._seconds_sent += len(chunk) / BYTES_PER_SECOND
        self.audio_bytes_sent += len(chunk)
