"""Client-side configuration, shaped like Firebase AI Logic's ``LiveGenerationConfig``.

Firebase keeps the transcription (and compression) switches inside the generation config and moves
them to the top level of ``setup`` when it connects (reference §8); we do the same, so code written
against the Firebase API maps one to one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openlive.protocol.messages import (
    AudioTranscriptionConfig,
    Content,
    ContextWindowCompression,
    GenerationConfig,
    Modality,
    Part,
    RealtimeInputConfig,
    SessionResumptionConfig,
    Setup,
    SpeechConfig,
    Tool,
)

TranscriptionOption = bool | AudioTranscriptionConfig | None


@dataclass(slots=True, kw_only=True)
class LiveGenerationConfig:
    response_modalities: Sequence[Modality | str] = (Modality.AUDIO,)
    speech_config: SpeechConfig | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_output_tokens: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    # True or a config enables; False/None leaves the field out of setup (the server's default: off).
    input_audio_transcription: TranscriptionOption = None
    output_audio_transcription: TranscriptionOption = None
    context_window_compression: ContextWindowCompression | None = None


def _transcription(option: TranscriptionOption) -> AudioTranscriptionConfig | None:
    if option is None or option is False:
        return None
    if option is True:
        return AudioTranscriptionConfig()
    return option


def _system_content(instruction: str | Content | None) -> Content | None:
    if instruction is None or isinstance(instruction, Content):
        return instruction
    # The genai SDKs send role "user" here; any role works with openlive and with Google.
    return Content(role="user", parts=[Part(text=instruction)])


def model_resource_name(model: str) -> str:
    """``gemini-x`` -> ``models/gemini-x``, as google-genai does; names that already have a prefix stay."""
    return model if "/" in model else f"models/{model}"


def build_setup(
    *,
    model: str,
    generation_config: LiveGenerationConfig,
    system_instruction: str | Content | None,
    tools: Sequence[Tool],
    tool_config: dict[str, object] | None = None,
    realtime_input_config: RealtimeInputConfig | None = None,
    session_resumption: SessionResumptionConfig | None = None,
) -> Setup:
    g = generation_config
    modalities = [Modality(str(m).upper()) for m in g.response_modalities]
    return Setup(
        model=model_resource_name(model),
        generation_config=GenerationConfig(
            response_modalities=modalities,
            temperature=g.temperature,
            top_p=g.top_p,
            top_k=g.top_k,
            max_output_tokens=g.max_output_tokens,
            presence_penalty=g.presence_penalty,
            frequency_penalty=g.frequency_penalty,
            speech_config=g.speech_config,
        ),
        system_instruction=_system_content(system_instruction),
        tools=list(tools),
        tool_config=dict(tool_config) if tool_config is not None else None,
        realtime_input_config=realtime_input_config or RealtimeInputConfig(),
        input_audio_transcription=_transcription(g.input_audio_transcription),
        output_audio_transcription=_transcription(g.output_audio_transcription),
        session_resumption=session_resumption,
        context_window_compression=g.context_window_compression,
    )


__all__ = [
    "AudioTranscriptionConfig",
    "LiveGenerationConfig",
    "SpeechConfig",
    "build_setup",
    "model_resource_name",
]
