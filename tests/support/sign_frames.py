"""Frames of a sign, rendered at test time: a white panel with a number and a word on a coloured wall.

Shared by the OCR backend's tests, its timing script and the end-to-end "what does the sign say" tests.
The font is Pillow's own (``ImageFont.load_default``), so rendering needs no system font.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFont

WORDS = ("HARBOUR", "MEADOW", "LANTERN", "GRANITE", "ORCHARD", "PELICAN", "VIOLET", "TIMBER")
# The wall behind the sign: a saturated mid blue, named "blue" by the scene summary.
WALL = (30, 70, 170)


def random_sign(rng: random.Random | None = None) -> tuple[str, str]:
    """A random 4-digit number (no leading zero) and a word."""
    rng = rng or random.Random()
    return str(rng.randint(1000, 9999)), rng.choice(WORDS)


def render_sign(
    number: str,
    word: str,
    *,
    size: tuple[int, int] = (1280, 720),
    fmt: str = "JPEG",
    wall: tuple[int, int, int] = WALL,
    text_height: float = 1 / 12,
) -> bytes:
    """An encoded frame (``fmt``: JPEG, PNG or WEBP) of the sign; its lines are ``text_height`` of the frame
    height tall, "EXIT <number>" over "<word>"."""
    width, height = size
    frame = Image.new("RGB", size, wall)
    draw = ImageDraw.Draw(frame)
    font_size = max(8, round(height * text_height))
    font = ImageFont.load_default(size=font_size)
    left, top = round(width * 0.2), round(height * 0.3)
    draw.rectangle((left, top, left + font_size * 10, top + round(font_size * 3.6)), fill=(245, 245, 245))
    draw.text((left + font_size // 2, top + font_size // 3), f"EXIT {number}", font=font, fill=(15, 15, 15))
    draw.text((left + font_size // 2, top + round(font_size * 1.7)), word, font=font, fill=(190, 20, 20))
    out = io.BytesIO()
    options = {"quality": 85} if fmt in ("JPEG", "WEBP") else {}
    frame.save(out, format=fmt, **options)
    return out.getvalue()
