"""Small wire-level helpers for media: base64 in either alphabet, PCM MIME types, Duration strings."""

from __future__ import annotations

import base64
import binascii
import math
import re

# URL-safe -> standard alphabet, and the whitespace some encoders wrap lines with.
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_WHITESPACE = b" \t\r\n"

# Sample rates outside this range are not a PCM stream anyone sends; refusing them keeps an absurd
# ``rate=`` from reaching a resampler.
MIN_PCM_RATE = 1_000
MAX_PCM_RATE = 384_000
_MAX_RATE_DIGITS = 9  # room for leading zeros; 384000 has six digits
DEFAULT_PCM_RATE = 16_000  # Firebase sends a bare ``audio/pcm`` at 16 kHz (reference §3.2).
_PCM_TYPES = frozenset({"audio/pcm", "audio/l16"})

_DURATION = re.compile(r"(-?\d+(?:\.\d+)?)s")


def b64decode_any(s: str) -> bytes:
    """Decode base64 in the standard (``+/``) or URL-safe (``-_``) alphabet, padded or not.

    Raises ``ValueError`` (``binascii.Error`` is one) for anything else.
    """
    try:
        raw = s.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("base64 holds a non-ASCII character") from None
    raw = raw.translate(_URLSAFE_TO_STANDARD, _WHITESPACE).rstrip(b"=")
    raw += b"=" * (-len(raw) % 4)
    return binascii.a2b_base64(raw, strict_mode=True)


def b64encode(data: bytes) -> str:
    """Standard base64 with padding: what every SDK decodes (reference §1.2)."""
    return base64.b64encode(data).decode("ascii")


def parse_pcm_mime(mime: str) -> int | None:
    """The sample rate of a raw 16-bit PCM MIME type, or None when ``mime`` is not one.

    ``audio/pcm;rate=24000`` → 24000; ``audio/pcm`` (no rate, as Firebase sends) → 16000; ``audio/L16``
    is accepted too. Case and spaces do not matter. Other audio (``audio/wav``, ``audio/ogg``...), a rate
    that is not a plain integer, or one outside 1–384 kHz → None.
    """
    media_type, *params = mime.split(";")
    if media_type.strip().lower() not in _PCM_TYPES:
        return None
    rate = DEFAULT_PCM_RATE
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() != "rate":
            continue
        value = value.strip().strip('"')
        # The length is checked before int(): a rate of thousands of digits is not a rate, and int()
        # refuses more than 4,300 digits with a ValueError.
        if not (value.isascii() and value.isdigit()) or len(value) > _MAX_RATE_DIGITS:
            return None
        rate = int(value)
    return rate if MIN_PCM_RATE <= rate <= MAX_PCM_RATE else None


def format_duration(seconds: float) -> str:
    """A ``google.protobuf.Duration`` JSON string: ``50s``, ``12.5s``, ``0.02s`` (at most 3 decimals).

    Firebase requires the trailing ``s`` (reference §4.3). Negative values are clamped to ``0s``.
    """
    if not math.isfinite(seconds):
        raise ValueError(f"duration must be finite, got {seconds!r}")
    text = f"{max(0.0, seconds):.3f}".rstrip("0").rstrip(".")
    return f"{text}s"


def parse_duration(text: str) -> float | None:
    """Seconds from a Duration string such as ``50s`` or ``1.250s``; None if it is not one."""
    match = _DURATION.fullmatch(text.strip())
    return float(match.group(1)) if match else None
