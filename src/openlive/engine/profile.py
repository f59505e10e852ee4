"""A profile: one complete stack of stages, selected by the model name in ``setup``."""

from __future__ import annotations

from dataclasses import dataclass, field

from openlive.stages import (
    LanguageModel,
    SpeechRecognizer,
    SpeechSynthesizer,
    TurnDetector,
    VoiceActivityDetector,
)


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
    input_token_limit: int = 4096
    output_token_limit: int = 1024
    # Prepended to the client's systemInstruction (e.g. who the assistant is), and, for AUDIO replies,
    # a style prompt that keeps answers speakable (short sentences, no markup).
    system_prompt: str = ""
    spoken_style_prompt: str = ""
