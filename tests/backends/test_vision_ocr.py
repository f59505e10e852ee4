"""The embedded FrameDescriber: decoding, the scene summary, change detection, the worker, and real OCR.

Tests marked ``models`` run rapidocr's packaged PP-OCRv6 models on signs rendered at test time; the
others give the describer a scripted reader and need no model.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import socket
import threading
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sign_frames import WALL, random_sign, render_sign

from openlive.backends import vision_ocr
from openlive.backends.vision_ocr import (
    MAX_SIDE,
    OcrFrameDescriber,
    Rgb,
    SceneSummary,
    change_thumbnail,
    colour_names,
    decode_frame,
    description_text,
    join_lines,
    summarize_scene,
    view_changed,
)
from openlive.stages import FrameDescriberBusy, FrameDescription


def solid(rgb: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> Image.Image:
    return Image.new("RGB", size, rgb)


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


class CountingReader:
    """A TextReader that answers from a script (or a real reader) and records each call and the nice value
    of the thread it ran on."""

    def __init__(self, lines: list[str] | None = None, inner: Any = None) -> None:
        self.lines = lines or []
        self.inner = inner
        self.calls = 0
        self.niceness: list[int] = []
        self.threads: list[str] = []

    def __call__(self, rgb: Rgb) -> list[str]:
        self.calls += 1
        self.niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        self.threads.append(threading.current_thread().name)
        return self.inner(rgb) if self.inner is not None else list(self.lines)


# --- the scene summary, without OCR ---


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        (WALL, "blue"),
        ((200, 30, 30), "red"),
        ((240, 140, 20), "orange"),
        ((230, 220, 40), "yellow"),
        ((40, 170, 60), "green"),
        ((140, 50, 200), "purple"),
        ((245, 245, 245), "white"),
        ((128, 128, 128), "gray"),
        ((10, 10, 10), "black"),
        ((110, 65, 20), "brown"),
        ((15, 25, 90), "dark blue"),
    ],
)
def test_a_solid_colour_is_named(rgb: tuple[int, int, int], name: str) -> None:
    assert summarize_scene(solid(rgb)).colours == (name,)
    assert colour_names(np.array([rgb], dtype=np.uint8)) == [name]


def test_dominant_colours_come_largest_first_and_small_patches_are_left_out() -> None:
    frame = solid((30, 70, 170), (100, 100))
    frame.paste((245, 245, 245), (0, 0, 100, 30))  # 30 % white
    frame.paste((200, 30, 30), (0, 30, 5, 100))  # 3.5 % red: too small to name
    summary = summarize_scene(frame)
    assert summary.colours == ("blue", "white")
    assert summary.text().startswith("mostly blue and white; ")


@pytest.mark.parametrize(
    ("rgb", "brightness"), [((5, 5, 5), "dark"), ((90, 90, 90), "dim"), ((230, 230, 230), "bright")]
)
def test_brightness(rgb: tuple[int, int, int], brightness: str) -> None:
    assert summarize_scene(solid(rgb)).brightness == brightness


def test_description_text_quotes_the_lines_and_says_when_there_are_none() -> None:
    scene = SceneSummary(colours=("blue", "white", "red"), brightness="bright")
    assert description_text(["EXIT 42", "Harbour"], scene) == (
        'text reading "EXIT 42 / Harbour"; mostly blue, white and red; bright'
    )
    assert description_text([], scene) == "no readable text; mostly blue, white and red; bright"


def test_a_long_text_is_cut_to_what_a_prompt_can_hold() -> None:
    joined = join_lines(["word " * 200])
    assert len(joined) == vision_ocr.MAX_TEXT_CHARS and joined.endswith("…")


# --- change detection ---


def test_view_changed_by_a_different_sign_but_not_by_reencoding() -> None:
    first = decode_frame(render_sign("4271", "HARBOUR"), "image/jpeg")
    recompressed = decode_frame(encode(first, "JPEG", quality=40), "image/jpeg")
    one_digit = decode_frame(render_sign("4272", "HARBOUR"), "image/jpeg")
    assert view_changed(None, change_thumbnail(first))
    assert not view_changed(change_thumbnail(first), change_thumbnail(first))
    assert not view_changed(change_thumbnail(first), change_thumbnail(recompressed))
    assert view_changed(change_thumbnail(first), change_thumbnail(one_digit))


# --- decoding ---


@pytest.mark.parametrize(
    ("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")]
)
def test_decodes_jpeg_png_and_webp(fmt: str, mime: str) -> None:
    frame = decode_frame(render_sign("1234", "MEADOW", size=(320, 240), fmt=fmt), mime)
    assert frame.mode == "RGB" and frame.size == (320, 240)


def test_large_frames_are_downscaled() -> None:
    frame = decode_frame(encode(solid(WALL, (1920, 1080)), "PNG"), "image/png")
    assert frame.size == (MAX_SIDE, 720)


def test_transparency_is_laid_over_white() -> None:
    frame = decode_frame(encode(Image.new("RGBA", (8, 8), (0, 0, 0, 0)), "PNG"), "image/png")
    assert frame.getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("data", "mime", "message"),
    [
        (b"\xff\xd8\xff\xe0 definitely not a jpeg", "image/jpeg", "not a decodable image/jpeg"),
        (render_sign("1234", "MEADOW", size=(320, 240))[:600], "image/jpeg", "not a decodable"),
        (b"", "image/png", "empty"),
        (encode(solid(WALL), "GIF"), "image/png", "GIF, not JPEG, PNG or WebP"),
        (encode(solid(WALL), "PNG"), "image/gif", "must be JPEG, PNG or WebP"),
    ],
)
def test_a_bad_frame_raises_a_clear_value_error(data: bytes, mime: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_frame(data, mime)


def test_a_frame_claiming_too_many_pixels_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vision_ocr, "MAX_FRAME_PIXELS", 100)
    with pytest.raises(ValueError, match="too large"):
        decode_frame(encode(solid(WALL, (20, 20)), "PNG"), "image/png")


# --- the describer, with a scripted reader ---


async def test_an_unchanged_frame_returns_the_previous_description_without_reading_again() -> None:
    reader = CountingReader(["EXIT 4271", "HARBOUR"])
    describer = OcrFrameDescriber(reader)
    try:
        stream = describer.new_stream()
        frame = render_sign("4271", "HARBOUR")
        first = await stream.describe(frame, "image/jpeg")
        assert first == FrameDescription(
            text='text reading "EXIT 4271 / HARBOUR"; mostly blue and white; dim',
            ocr_text="EXIT 4271 / HARBOUR",
            changed=True,
        )
        again = await stream.describe(frame, "image/jpeg")
        assert again == FrameDescription(text=first.text, ocr_text=first.ocr_text, changed=False)
        assert reader.calls == 1
        reader.lines = ["EXIT 9999", "MEADOW"]
        other = await stream.describe(render_sign("9999", "MEADOW"), "image/jpeg")
        assert other.changed and other.ocr_text == "EXIT 9999 / MEADOW" and reader.calls == 2
        # Each stream keeps its own previous frame: a new session's first frame is always read.
        assert (await describer.new_stream().describe(frame, "image/jpeg")).changed
    finally:
        await describer.aclose()


async def test_a_corrupt_frame_raises_value_error_and_is_not_read() -> None:
    reader = CountingReader()
    describer = OcrFrameDescriber(reader)
    try:
        with pytest.raises(ValueError, match="not a decodable"):
            await describer.new_stream().describe(b"\x89PNG\r\n\x1a\n broken", "image/png")
        assert reader.calls == 0
    finally:
        await describer.aclose()


async def test_frames_are_read_on_one_worker_thread_at_a_lower_priority() -> None:
    reader = CountingReader(["A"])
    describer = OcrFrameDescriber(reader, niceness=7)
    try:
        before = os.getpriority(os.PRIO_PROCESS, 0)
        for number in ("1111", "2222"):
            await describer.new_stream().describe(
                render_sign(number, "MEADOW", size=(320, 240)), "image/jpeg"
            )
        assert reader.niceness == [before + 7] * 2
        assert len(set(reader.threads)) == 1 and reader.threads[0] != threading.current_thread().name
        # Only the worker thread was lowered, not the process (the event loop, ASR, the LLM, TTS).
        assert os.getpriority(os.PRIO_PROCESS, 0) == before
    finally:
        await describer.aclose()


async def test_frames_beyond_the_waiting_limit_are_refused_not_queued() -> None:
    release = threading.Event()
    started = threading.Event()

    def slow_reader(rgb: Rgb) -> list[str]:
        started.set()
        release.wait(10)
        return ["SLOW"]

    describer = OcrFrameDescriber(slow_reader, max_waiting=2)
    try:
        frame = render_sign("1234", "MEADOW", size=(320, 240))
        first = asyncio.create_task(describer.new_stream().describe(frame, "image/jpeg"))
        second = asyncio.create_task(describer.new_stream().describe(frame, "image/jpeg"))
        await asyncio.to_thread(started.wait, 10)
        with pytest.raises(FrameDescriberBusy):
            await describer.new_stream().describe(frame, "image/jpeg")
        release.set()
        assert [d.ocr_text for d in await asyncio.gather(first, second)] == ["SLOW", "SLOW"]
    finally:
        release.set()
        await describer.aclose()


# --- real OCR (rapidocr's packaged models) ---


@pytest.fixture(scope="module")
def real_reader() -> vision_ocr.RapidOcrReader:
    return vision_ocr.RapidOcrReader()


@pytest.mark.models
def test_the_models_load_from_the_wheel_without_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    # rapidocr downloads any model it is not given a path to; a connection attempt here fails the test.
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a network connection was attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    reader = vision_ocr.RapidOcrReader()
    assert reader(np.asarray(decode_frame(render_sign("5150", "LANTERN"), "image/jpeg"))) == [
        "EXIT 5150",
        "LANTERN",
    ]


@pytest.mark.models
@pytest.mark.parametrize(
    ("fmt", "mime", "size"),
    [
        ("JPEG", "image/jpeg", (1280, 720)),
        ("PNG", "image/png", (640, 480)),
        ("WEBP", "image/webp", (1280, 720)),
    ],
)
async def test_the_sign_is_read(
    real_reader: vision_ocr.RapidOcrReader, fmt: str, mime: str, size: tuple[int, int]
) -> None:
    number, word = random_sign(random.Random())
    reader = CountingReader(inner=real_reader)
    describer = OcrFrameDescriber(reader)
    try:
        stream = describer.new_stream()
        frame = render_sign(number, word, size=size, fmt=fmt)
        seen = await stream.describe(frame, mime)
        assert seen.changed and number in seen.ocr_text and word in seen.ocr_text, seen
        assert seen.text.startswith(f'text reading "EXIT {number} / {word}"; mostly blue'), seen
        again = await stream.describe(frame, mime)
        assert not again.changed and again.text == seen.text and reader.calls == 1
        other_number, other_word = (
            str(int(number) % 9000 + 1000),
            "ORCHARD" if word != "ORCHARD" else "TIMBER",
        )
        other = await stream.describe(render_sign(other_number, other_word, size=size, fmt=fmt), mime)
        assert other.changed and other.ocr_text == f"EXIT {other_number} / {other_word}" and reader.calls == 2
    finally:
        await describer.aclose()


@pytest.mark.models
def test_a_frame_without_text_reads_nothing(real_reader: vision_ocr.RapidOcrReader) -> None:
    assert real_reader(np.asarray(solid((40, 170, 60), (640, 480)))) == []


@pytest.mark.models
async def test_the_embedded_profile_loads_the_ocr_describer() -> None:
    from openlive.backends.embedded import load_frame_describer

    describer = load_frame_describer()
    assert isinstance(describer, OcrFrameDescriber)
    try:
        seen = await describer.new_stream().describe(
            render_sign("3141", "PELICAN", size=(640, 480), fmt="PNG"), "image/png"
        )
        assert seen.ocr_text == "EXIT 3141 / PELICAN"
    finally:
        await describer.aclose()
