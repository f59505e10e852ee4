"""What the synthesizers share: cutting text into speakable pieces, and streaming them out of an executor.

Latency comes from the first piece: the listener hears nothing until it is synthesised, so long
sentences are cut at clause punctuation, while short clauses stay together (a cut costs a little
prosody: each piece is spoken as if complete).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, Future

from openlive.backends.audio import chunk_pcm
from openlive.stages.speech import OUTPUT_SAMPLE_RATE

# Sentence ends: Latin punctuation followed by whitespace, CJK full stops anywhere, and line breaks.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[.!?…][\"')\]])\s+|(?<=[。！？])|\n+")
# Clause ends inside a long sentence.
_CLAUSE_END = re.compile(r"(?<=[,;:、，；：—])\s*")

LONG_SENTENCE_CHARS = 80  # Latin text; about 4-5 s of speech
# One CJK character is one or two morae (~0.15 s); Kokoro is also ~5x slower than Piper, so Japanese is
# cut sooner to keep the first piece short.
LONG_SENTENCE_CHARS_CJK = 24
MIN_CLAUSE_CHARS = 12  # shorter clauses are merged with the next: tiny pieces sound chopped
MIN_CLAUSE_CHARS_CJK = 6
CHUNK_MS = 100  # upper bound on one yielded PCM chunk


def _is_cjk(text: str) -> bool:
    return any("\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in text)


def split_segments(text: str) -> list[str]:
    """Sentences, with long ones cut at clause punctuation into pieces of a useful size."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        cjk = _is_cjk(sentence)
        limit = LONG_SENTENCE_CHARS_CJK if cjk else LONG_SENTENCE_CHARS
        min_clause = MIN_CLAUSE_CHARS_CJK if cjk else MIN_CLAUSE_CHARS
        if len(sentence) <= limit:
            pieces.append(sentence)
            continue
        current = ""
        for clause in _CLAUSE_END.split(sentence):
            current = current + clause if cjk or not current else f"{current} {clause}"
            if len(current) >= min_clause:
                pieces.append(current.strip())
                current = ""
        if current.strip():
            if pieces and len(current.strip()) < min_clause:
                pieces[-1] = pieces[-1] + ("" if cjk else " ") + current.strip()
            else:
                pieces.append(current.strip())
    return pieces


async def stream_segments(
    executor: Executor, render: Callable[[str], bytes], segments: list[str]
) -> AsyncIterator[bytes]:
    """Render ``segments`` one by one in ``executor`` and yield their PCM in ≤100 ms chunks.

    The next segment is submitted before the current one is yielded, so synthesis runs ahead of a
    slow consumer by exactly one segment. When the consumer stops (cancellation, ``aclose``), the
    queued segment is cancelled: at most the segment already running is wasted.
    """
    pending: Future[bytes] | None = executor.submit(render, segments[0]) if segments else None
    index = 0
    try:
        while pending is not None:
            pcm = await asyncio.wrap_future(pending)
            index += 1
            pending = executor.submit(render, segments[index]) if index < len(segments) else None
            for chunk in chunk_pcm(pcm, OUTPUT_SAMPLE_RATE, CHUNK_MS):
                yield chunk
    finally:
        if pending is not None:
            pending.cancel()
