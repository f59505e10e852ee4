"""parse_pcm_mime, b64decode_any and the Duration helpers."""

from __future__ import annotations

import base64

import pytest

from openlive.protocol import b64decode_any, format_duration, parse_duration, parse_pcm_mime


@pytest.mark.parametrize(
    ("mime", "rate"),
    [
        ("audio/pcm;rate=16000", 16000),
        ("audio/pcm;rate=24000", 24000),
        ("audio/pcm;rate=8000", 8000),
        ("audio/pcm;rate=44100", 44100),
        ("audio/pcm", 16000),  # Firebase's startAudioConversation sends no rate
        ("audio/pcm;", 16000),
        ("audio/pcm; rate=48000", 48000),
        (" Audio/PCM ; RATE = 22050 ", 22050),
        ("AUDIO/PCM;RATE=16000", 16000),
        ('audio/pcm;rate="32000"', 32000),
        ("audio/l16;rate=16000", 16000),
        ("audio/L16; rate=8000; channels=1", 8000),
        ("audio/l16", 16000),
        ("audio/pcm;channels=1;rate=12000", 12000),
        # not raw PCM
        ("audio/wav", None),
        ("audio/ogg;codecs=opus", None),
        ("audio/mpeg", None),
        ("audio/x-aac", None),
        ("audio/webm;rate=16000", None),
        ("image/jpeg", None),
        ("", None),
        ("pcm", None),
        # a rate that is not a plain integer in a sane range
        ("audio/pcm;rate=", None),
        ("audio/pcm;rate=abc", None),
        ("audio/pcm;rate=16000.0", None),
        ("audio/pcm;rate=-16000", None),
        ("audio/pcm;rate=0", None),
        ("audio/pcm;rate=999", None),
        ("audio/pcm;rate=999999999", None),
        ("audio/pcm;rate=١٦٠٠٠", None),  # non-ASCII digits
    ],
)
def test_parse_pcm_mime(mime: str, rate: int | None) -> None:
    assert parse_pcm_mime(mime) == rate


@pytest.mark.parametrize(
    "data", [b"", b"\x00", b"\xff\xfe", b"\xfb\xff\xbf", bytes(range(256)), b"hello world!!"]
)
def test_b64decode_any_both_alphabets_with_and_without_padding(data: bytes) -> None:
    standard = base64.b64encode(data).decode()
    urlsafe = base64.urlsafe_b64encode(data).decode()
    for text in (standard, urlsafe, standard.rstrip("="), urlsafe.rstrip("=")):
        assert b64decode_any(text) == data


def test_b64decode_any_tolerates_line_breaks() -> None:
    data = bytes(range(200))
    assert b64decode_any(base64.encodebytes(data).decode()) == data


@pytest.mark.parametrize("text", ["A", "AAAAA", "AA==AA==", "AA$A", "AAé=", "=AAA", "A=AA", "ab cd!"])
def test_b64decode_any_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        b64decode_any(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(50, "50s"), (50.0, "50s"), (12.5, "12.5s"), (1.2, "1.2s"), (0.02, "0.02s"), (0.001, "0.001s"),
     (0.0004, "0s"), (0, "0s"), (-1, "0s"), (59.9996, "60s"), (3600.25, "3600.25s")],
)  # fmt: skip
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_format_duration_refuses_non_finite(bad: float) -> None:
    with pytest.raises(ValueError):
        format_duration(bad)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("50s", 50.0), ("12.5s", 12.5), ("0.020s", 0.02), (" 3s ", 3.0), ("-1.5s", -1.5), ("50", None),
     ("s", None), ("1m", None), ("1.s", None), ("", None)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds
