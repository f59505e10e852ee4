"""Speech in every language the neural voices do not cover, with Debian's espeak-ng.

espeak-ng is a formant synthesiser: robotic, but it has voices for 76 of the languages Whisper
recognises that Piper and Kokoro do not speak (the table is ``backends/languages.py``). It runs as
Debian's ``espeak-ng`` binary, once per piece of text, with the WAV on stdout. A Python binding would
not save that: the one on PyPI, ``espeakng`` 1.0.5, runs the same binary in a subprocess too. A process
per piece costs little: a 2-3 s sentence renders in 8-12 ms in all, process start and resampling
included (measured in es, de, zh, ar). The text goes in on stdin, so nothing in it can be read as an
option. espeak-ng renders 22.05 kHz; each piece is resampled to the wire's 24 kHz with soxr, like
Piper's.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from openlive.backends.audio import float_to_pcm16, resample
from openlive.backends.languages import WHISPER_LANGUAGES
from openlive.backends.tts_stream import split_segments, stream_segments
from openlive.backends.voices import GEMINI_VOICE_INFO, canonical_voice, resolve_voice
from openlive.stages.speech import OUTPUT_SAMPLE_RATE

log = logging.getLogger(__name__)

# espeak-ng's own default is 175 words per minute: intelligible to a listener used to it, too fast for
# one who is not (and Whisper base mishears it more). The Gemini voice's rate scales this.
BASE_WORDS_PER_MINUTE = 150
# Female Gemini voices take espeak-ng's "f2" variant, so a voice's gender carries over as in Japanese.
_FEMALE_VARIANT = "+f2"
_FEMALE = {v.name for v in GEMINI_VOICE_INFO if v.gender == "female"}
# Peak level of each piece: espeak-ng's output level varies by voice; Piper's pieces peak at 0.85 too.
_PEAK = 0.85
# One piece is a sentence or a clause; far below this. A hung process must not hold the worker forever.
_TIMEOUT_S = 30.0


class EspeakError(RuntimeError):
    pass


def parse_wav(data: bytes) -> tuple[np.ndarray, int]:
    """16-bit mono PCM samples and the rate from espeak-ng's ``--stdout`` WAV. Its header's sizes are
    placeholders (it writes before it knows the length), so the data chunk is taken to the end."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise EspeakError("espeak-ng did not write a WAV file")
    pos, rate, bits, channels = 12, 0, 0, 0
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if chunk == b"fmt ":
            channels = int.from_bytes(data[pos + 10 : pos + 12], "little")
            rate = int.from_bytes(data[pos + 12 : pos + 16], "little")
            bits = int.from_bytes(data[pos + 22 : pos + 24], "little")
        elif chunk == b"data":
            if (channels, bits) != (1, 16) or rate <= 0:
                raise EspeakError(f"unexpected WAV format: {channels} channels, {bits} bits, {rate} Hz")
            body = data[pos + 8 :]
            body = body[: len(body) // 2 * 2]
            return np.frombuffer(body, dtype="<i2").astype(np.float32) / 32768.0, rate
        pos += 8 + size + (size & 1)
    raise EspeakError("espeak-ng's WAV has no data chunk")


def installed_voices(binary: str) -> set[str]:
    """The voice names this espeak-ng has (``--voices``: language codes in the second column)."""
    listing = subprocess.run(
        [binary, "--voices"], capture_output=True, check=True, timeout=_TIMEOUT_S, text=True
    ).stdout
    return {line.split()[1] for line in listing.splitlines()[1:] if len(line.split()) > 1}


def espeak_voices(binary: str = "espeak-ng") -> tuple[str, dict[str, str]]:
    """The espeak-ng binary's path and its voice for each language of ``backends.languages`` it has
    one for; FileNotFoundError when it is not installed."""
    path = shutil.which(binary)
    if path is None:
        raise FileNotFoundError(f"{binary} is not installed (scripts/install-system-packages.sh installs it)")
    have = installed_voices(path)
    voices = {
        lang: voice for lang, (_, voice) in WHISPER_LANGUAGES.items() if voice is not None and voice in have
    }
    return path, voices


class EspeakSynthesizer:
    """SpeechSynthesizer for the languages of ``backends.languages`` that espeak-ng speaks (all of them
    by default, less ``exclude``: those a neural voice speaks). One worker thread, shared by all sessions."""

    def __init__(self, *, binary: str = "espeak-ng", exclude: Iterable[str] = ()) -> None:
        self._binary, voices = espeak_voices(binary)
        skip = set(exclude)
        self._voices = {lang: voice for lang, voice in voices.items() if lang not in skip}
        missing = sorted(lang for lang, (_, v) in WHISPER_LANGUAGES.items() if v and lang not in voices)
        if missing:
            log.warning("espeak-ng has no voice for %s; those replies use the English voice", missing)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts-espeak")

    def voices(self) -> list[str]:
        return sorted(f"espeak-ng:{voice}" for voice in set(self._voices.values()))

    def languages(self) -> list[str]:
        return list(self._voices)

    def command(self, language: str, voice: str) -> list[str]:
        """The espeak-ng command line for a language and a Gemini voice name (text comes on stdin)."""
        espeak_voice = self._voices[language]
        name = canonical_voice(voice)
        # The rate of the voice's style: the table keys it by (name, "en"); the rate is the same in both.
        rate = resolve_voice(name, "en").speed
        variant = _FEMALE_VARIANT if name in _FEMALE else ""
        wpm = round(BASE_WORDS_PER_MINUTE * rate)
        # -b 1: the input is UTF-8. --stdout: a WAV on stdout rather than the sound card.
        return [self._binary, "-b", "1", "-v", espeak_voice + variant, "-s", str(wpm), "--stdout"]

    def render(self, text: str, command: list[str]) -> bytes:
        """One piece of text → 24 kHz PCM16 (synchronous; runs in the executor)."""
        done = subprocess.run(command, input=text.encode(), capture_output=True, timeout=_TIMEOUT_S)
        if done.returncode != 0:
            raise EspeakError(f"espeak-ng failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
        samples, rate = parse_wav(done.stdout)
        if samples.size == 0:
            return b""
        peak = float(np.max(np.abs(samples)))
        if peak > 0:
            samples = samples * (_PEAK / peak)
        return float_to_pcm16(resample(samples, rate, OUTPUT_SAMPLE_RATE))

    async def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]:
        """``voice`` is a Gemini voice name; ``language`` one of ``languages()`` (ISO 639-1)."""
        if language not in self._voices:
            raise ValueError(f"espeak-ng does not speak {language!r} here")
        command = self.command(language, voice)
        segments = split_segments(text)
        async for chunk in stream_segments(self._executor, lambda s: self.render(s, command), segments):
            yield chunk

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        # close() may wait for the piece in progress (one espeak-ng process): not on the event loop.
        await asyncio.to_thread(self.close)
