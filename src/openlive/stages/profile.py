"""A profile: one complete stack of stages, selected by the model name in ``setup``.

It lives with the stage interfaces (not in the engine) so that the backends that build profiles depend
only on ``stages``; the engine, which runs sessions over a profile, imports it from here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openlive.stages.language_model import LanguageModel
from openlive.stages.search import PassageIndex, SearchProvider
from openlive.stages.speech import (
    Phonemizer,
    SpeechRecognizer,
    SpeechSynthesizer,
    TurnDetector,
    VoiceActivityDetector,
)
from openlive.stages.vision import FrameDescriber

log = logging.getLogger(__name__)


@dataclass(slots=True, kw_only=True)
class Profile:
    name: str
    description: str
    llm: LanguageModel
    tts: SpeechSynthesizer | None = None
    # Recognisers by language ("en", "ja", ...); the key "*" is the multilingual one used for detection.
    asr: dict[str, SpeechRecognizer] = field(default_factory=dict)
    vad: VoiceActivityDetector | None = None
    turn: TurnDetector | None = None
    # Pronunciations, for spelling the instruction's names and the client's customVocabulary in
    # transcripts where the recogniser split them into other words (engine/listen_terms.py); None: off.
    phonemizer: Phonemizer | None = None
    # Search grounding (googleSearch): the provider replies retrieve sources from; None: not offered.
    search: SearchProvider | None = None
    # Seeing: turns camera/screen frames and image parts into text for the model; None: frames are dropped.
    frames: FrameDescriber | None = None
    # The language model reads images itself (an OpenAI-compatible endpoint that accepts image_url
    # parts): the newest frame goes to it with the user's words, and ``frames`` is not used.
    llm_sees_images: bool = False
    # An instruction too long for the context: "auto" puts only its rules, persona and the sections
    # relevant to each turn in the prompt when the whole cannot fit, "always" does so for any
    # instruction, "never" refuses it at setup (1007). See engine/instruction_retrieval.py. The
    # server's profiles take the setting (default "auto"); a profile built in code opts in.
    instruction_retrieval: str = "never"
    # Makes an empty in-memory index a session retrieves those sections from (hybrid: BM25 and
    # embeddings); None: the engine's own word-overlap ranking.
    passage_index: Callable[[], PassageIndex] | None = None
    # AUDIO replies say a short acknowledgement ("Okay.") as soon as the model begins a function call
    # and nothing has been said yet, so the person hears the reply start while the call's arguments are
    # written (seconds on two cores) and the app runs it (engine/acknowledgement.py; a deviation from
    # Gemini, docs/compatibility.md). The server's profiles take the setting (default on).
    call_acknowledgement: bool = False
    input_token_limit: int = 4096
    output_token_limit: int = 1024
    # Prepended to the client's systemInstruction (e.g. who the assistant is), and, for AUDIO replies,
    # a style prompt that keeps answers speakable (short sentences, no markup).
    system_prompt: str = ""
    spoken_style_prompt: str = ""

    async def aclose(self) -> None:
        """Close every stage once (recognisers may appear under several languages); a stage that fails
        to close is logged and the others are still closed."""
        stages: list[Any] = [
            self.llm,
            self.tts,
            self.vad,
            self.turn,
            self.search,
            self.frames,
            *self.asr.values(),
        ]
        seen: set[int] = set()
        for stage in stages:
            if stage is None or id(stage) in seen:
                continue
            seen.add(id(stage))
            try:
                await stage.aclose()
            except Exception:
                log.exception("profile %s: closing %s failed", self.name, type(stage).__name__)
