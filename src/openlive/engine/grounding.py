"""Search grounding: the sources a reply is given, and the ``groundingMetadata`` that says what it used.

With ``googleSearch`` (or the older ``googleSearchRetrieval``) in ``setup.tools``, a reply retrieves
passages for the user's words before it asks the model — a small model answers sooner and more reliably
from sources in its prompt than by calling a search tool and waiting a whole extra generation — and
tells the model to use them. The passages reach the prompt only; the history keeps the conversation.
The reply then carries ``serverContent.groundingMetadata`` shaped as Gemini's: the query, the chunks
(``web`` for web results, ``retrievedContext`` for local documents) and ``groundingSupports`` linking the
reply's sentences to the chunks they draw on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from openlive.engine.history import before_last_user_words
from openlive.protocol.messages import Tool
from openlive.stages.language_model import ChatMessage
from openlive.stages.search import Passage

SOURCES_INSTRUCTION = (
    "Sources found for the person's question (use them if they answer it; do not mention them otherwise):"
)
# A reply sentence draws on a chunk when they share this many content words.
MIN_SHARED_WORDS = 2
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE = re.compile(r"[^.!?。！？]+[.!?。！？]*")
_COMMON_LIST = """the a an of is are was in on at to and or for it this that with as by be"""
_COMMON = frozenset(_COMMON_LIST.split())


def wants_grounding(tools: Sequence[Tool]) -> bool:
    return any(t.google_search or "googleSearchRetrieval" in t.other for t in tools)


def with_sources(messages: list[ChatMessage], passages: Sequence[Passage]) -> list[ChatMessage]:
    """``messages`` with the passages put before the user's last words (the question comes last, where
    a small model attends to it best); the instruction's cached prefix is left as it was."""
    lines = [SOURCES_INSTRUCTION]
    lines += [f"[{i}] {p.title}: {p.text}" for i, p in enumerate(passages, 1)]
    return before_last_user_words(messages, "\n".join(lines), "The person asks: ")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _COMMON and len(w) > 1}


def grounding_metadata(query: str, passages: Sequence[Passage], reply: str) -> dict[str, Any]:
    """Gemini's ``groundingMetadata`` for a reply ``reply`` grounded in ``passages`` found for ``query``."""
    chunks: list[dict[str, Any]] = []
    for p in passages:
        if p.kind == "web":
            chunks.append({"web": {"uri": p.uri, "title": p.title}})
        else:
            chunks.append({"retrievedContext": {"uri": p.uri, "title": p.title, "text": p.text}})
    supports: list[dict[str, Any]] = []
    chunk_words = [_words(f"{p.title} {p.text}") for p in passages]
    # Offsets are in UTF-8 bytes, as Gemini's segments are.
    for match in _SENTENCE.finditer(reply):
        sentence = match.group().strip()
        start = len(reply[: match.start()].encode("utf-8"))
        end = len(reply[: match.end()].encode("utf-8"))
        if not sentence:
            continue
        words = _words(sentence)
        used = [i for i, cw in enumerate(chunk_words) if len(words & cw) >= MIN_SHARED_WORDS]
        if used:
            supports.append(
                {
                    "segment": {"startIndex": start, "endIndex": end, "text": sentence},
                    "groundingChunkIndices": used,
                }
            )
    return {"webSearchQueries": [query], "groundingChunks": chunks, "groundingSupports": supports}
