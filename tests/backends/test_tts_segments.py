"""Cutting text into speakable pieces and streaming them from an executor (no models)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from openlive.backends.tts_stream import CHUNK_MS, split_segments, stream_segments
from openlive.stages.speech import OUTPUT_SAMPLE_RATE


def test_sentences_are_split_and_short_ones_kept_whole() -> None:
    text = 'Hello there, how are you? I am "fine." Thanks!\nA new line. Pi is 3.14 today.'
    assert split_segments(text) == [
        "Hello there, how are you?",
        'I am "fine."',
        "Thanks!",
        "A new line.",
        "Pi is 3.14 today.",
    ]


def test_long_sentences_are_cut_at_clauses_without_losing_words() -> None:
    text = (
        "This is a rather long sentence that goes on, and on, because it has many clauses, "
        "and it never really seems to stop at all, does it?"
    )
    pieces = split_segments(text)
    assert len(pieces) >= 3
    assert " ".join(pieces) == text
    assert all(len(p) >= 12 for p in pieces)


def test_japanese_is_cut_at_full_stops_and_long_sentences_at_commas() -> None:
    text = (
        "こんにちは。今日はいい天気ですね！"
        "明日は雨が降るかもしれませんが、週末には晴れるそうなので、出かけたいです。"
    )
    pieces = split_segments(text)
    assert pieces[:2] == ["こんにちは。", "今日はいい天気ですね！"]
    assert "".join(pieces) == text
    assert len(pieces) >= 4


def test_empty_text_gives_no_segments() -> None:
    assert split_segments("  \n ") == []


class ScriptedRenderer:
    """Renders a segment as 250 ms of PCM; records what it was asked to render."""

    def __init__(self) -> None:
        self.rendered: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, segment: str) -> bytes:
        with self.lock:
            self.rendered.append(segment)
        return b"\x01\x00" * (OUTPUT_SAMPLE_RATE // 4)


async def test_stream_yields_small_chunks_of_every_segment_in_order() -> None:
    render = ScriptedRenderer()
    with ThreadPoolExecutor(max_workers=1) as pool:
        chunks = [c async for c in stream_segments(pool, render, ["a", "b", "c"])]
    assert render.rendered == ["a", "b", "c"]
    assert sum(len(c) for c in chunks) == 3 * OUTPUT_SAMPLE_RATE // 2
    assert max(len(c) for c in chunks) <= OUTPUT_SAMPLE_RATE * CHUNK_MS // 1000 * 2


async def test_stream_runs_at_most_one_segment_ahead_and_stops_when_the_consumer_does() -> None:
    render = ScriptedRenderer()
    segments = [f"s{i}" for i in range(6)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        stream = stream_segments(pool, render, segments)
        first = await anext(stream)
        assert first
        assert len(render.rendered) <= 2  # the first segment and the one queued behind it
        await stream.aclose()
        await asyncio.sleep(0.05)
    assert len(render.rendered) <= 2
