"""Pronunciations from Debian's espeak-ng, for spelling an app's terms in transcripts.

One ``espeak-ng --ipa`` process per call, the words one to a line on stdin (a line is a clause to
espeak-ng, so each comes back on its own line). Piper carries espeak-ng in-process too, but its
binding holds one global voice that Piper's synthesis thread sets while it works, so sharing it would
need Piper's thread; a process costs ~10 ms and runs only for words not seen before (the cache).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence

from openlive.backends.tts_espeak import espeak_voices

log = logging.getLogger(__name__)

# Words (with their language) whose pronunciation is kept: a session's vocabulary is a few thousand.
CACHE_WORDS = 50_000
_TIMEOUT_S = 5.0
# What espeak-ng is given of a word: letters, digits, apostrophes and inner hyphens. Other marks
# (a full stop, a colon) would end its clause and split the line's output.
_UNSAYABLE = re.compile(r"[^\w'’ -]+")


class EspeakPhonemizer:
    """``stages.speech.Phonemizer`` over the espeak-ng binary, for the languages it has a voice for."""

    def __init__(self, *, binary: str = "espeak-ng") -> None:
        self._binary, self._voices = espeak_voices(binary)
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        self.runs = 0  # espeak-ng processes started (for tests)

    async def phonemes(self, words: Sequence[str], language: str) -> list[str] | None:
        voice = self._voices.get(language)
        if voice is None:
            return None
        said = [" ".join(_UNSAYABLE.sub(" ", w).split()) for w in words]
        missing = [w for w in dict.fromkeys(said) if w and (language, w) not in self._cache]
        if missing:
            found = await self._run(voice, missing)
            for word, sounds in zip(missing, found, strict=True):
                self._cache[(language, word)] = sounds
            while len(self._cache) > CACHE_WORDS:
                self._cache.popitem(last=False)
        out = []
        for w in said:
            key = (language, w)
            if w and key in self._cache:
                self._cache.move_to_end(key)
                out.append(self._cache[key])
            else:
                out.append("")
        return out

    async def _run(self, voice: str, words: list[str]) -> list[str]:
        lines = await self._espeak(voice, "\n".join(words) + "\n")
        if len(lines) != len(words):
            # espeak-ng joined or split a line after all: one process per word (rare, and cached after).
            log.debug("espeak-ng gave %d lines for %d words; asking word by word", len(lines), len(words))
            lines = [" ".join(await self._espeak(voice, w + "\n")) for w in words]
        return lines

    async def _espeak(self, voice: str, text: str) -> list[str]:
        self.runs += 1
        process = await asyncio.create_subprocess_exec(
            self._binary,
            "-q",
            "-b",
            "1",
            "--ipa",
            "-v",
            voice,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            async with asyncio.timeout(_TIMEOUT_S):
                out, _ = await process.communicate(text.encode())
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
        if process.returncode != 0:
            raise RuntimeError(f"espeak-ng failed ({process.returncode})")
        return [line.strip() for line in out.decode(errors="replace").splitlines()]


__all__ = ["EspeakPhonemizer"]
