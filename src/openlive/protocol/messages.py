"""Typed Live API messages, in both directions.

These dataclasses are the contract between the wire (``protocol.decode`` / ``protocol.encode``) and
everything above it (engine, server, client). Field names are snake_case Python; the codecs map them
to and from the camelCase (and snake_case) JSON the clients send. Bytes are real bytes here: base64 is
purely a wire concern.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

JsonObject = dict[str, Any]


class Modality(StrEnum):
    TEXT = "TEXT"
    AUDIO = "AUDIO"


class StartSensitivity(StrEnum):
    UNSPECIFIED = "START_SENSITIVITY_UNSPECIFIED"
    HIGH = "START_SENSITIVITY_HIGH"
    LOW = "START_SENSITIVITY_LOW"


class EndSensitivity(StrEnum):
    UNSPECIFIED = "END_SENSITIVITY_UNSPECIFIED"
    HIGH = "END_SENSITIVITY_HIGH"
    LOW = "END_SENSITIVITY_LOW"


class ActivityHandling(StrEnum):
    UNSPECIFIED = "ACTIVITY_HANDLING_UNSPECIFIED"
    START_OF_ACTIVITY_INTERRUPTS = "START_OF_ACTIVITY_INTERRUPTS"
    NO_INTERRUPTION = "NO_INTERRUPTION"


class TurnCoverage(StrEnum):
    UNSPECIFIED = "TURN_COVERAGE_UNSPECIFIED"
    TURN_INCLUDES_ONLY_ACTIVITY = "TURN_INCLUDES_ONLY_ACTIVITY"
    TURN_INCLUDES_ALL_INPUT = "TURN_INCLUDES_ALL_INPUT"
    TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO = "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO"


class FunctionBehavior(StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    BLOCKING = "BLOCKING"
    NON_BLOCKING = "NON_BLOCKING"


class FunctionResponseScheduling(StrEnum):
    SCHEDULING_UNSPECIFIED = "SCHEDULING_UNSPECIFIED"
    SILENT = "SILENT"
    WHEN_IDLE = "WHEN_IDLE"
    INTERRUPT = "INTERRUPT"


# --------------------------------------------------------------------------------------------------
# Content


@dataclass(slots=True, kw_only=True)
class Blob:
    """Inline media: ``inlineData`` in a part, or ``audio``/``video``/``mediaChunks`` in realtime input."""

    mime_type: str
    data: bytes


@dataclass(slots=True, kw_only=True)
class FunctionCall:
    id: str | None = None
    name: str
    args: JsonObject = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class FunctionResponse:
    id: str | None = None
    name: str | None = None
    response: JsonObject = field(default_factory=dict)
    # Accepted at the top level of the response or (as the docs' JS example does) inside ``response``.
    scheduling: FunctionResponseScheduling | None = None
    will_continue: bool | None = None


@dataclass(slots=True, kw_only=True)
class Part:
    text: str | None = None
    thought: bool | None = None
    inline_data: Blob | None = None
    function_call: FunctionCall | None = None
    function_response: FunctionResponse | None = None
    # executableCode / codeExecutionResult / fileData and the like are kept verbatim (camelCase JSON).
    other: JsonObject | None = None


@dataclass(slots=True, kw_only=True)
class Content:
    role: str | None = None
    parts: list[Part] = field(default_factory=list)

    def text(self) -> str:
        """The concatenated text of the non-thought text parts."""
        return "".join(p.text for p in self.parts if p.text is not None and not p.thought)


# --------------------------------------------------------------------------------------------------
# Setup


@dataclass(slots=True, kw_only=True)
class SpeechConfig:
    voice_name: str | None = None
    language_code: str | None = None


@dataclass(slots=True, kw_only=True)
class ThinkingConfig:
    thinking_budget: int | None = None
    include_thoughts: bool | None = None
    thinking_level: str | None = None


@dataclass(slots=True, kw_only=True)
class TranslationConfig:
    """Live Translate: what the user says is answered by its translation into ``target_language_code``."""

    target_language_code: str | None = None
    echo_target_language: bool | None = None


@dataclass(slots=True, kw_only=True)
class GenerationConfig:
    response_modalities: list[Modality] = field(default_factory=list)
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_output_tokens: int | None = None
    candidate_count: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    media_resolution: str | None = None
    speech_config: SpeechConfig | None = None
    thinking_config: ThinkingConfig | None = None
    enable_affective_dialog: bool | None = None
    translation_config: TranslationConfig | None = None


@dataclass(slots=True, kw_only=True)
class AutomaticActivityDetection:
    disabled: bool = False
    start_of_speech_sensitivity: StartSensitivity = StartSensitivity.UNSPECIFIED
    end_of_speech_sensitivity: EndSensitivity = EndSensitivity.UNSPECIFIED
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None


@dataclass(slots=True, kw_only=True)
class RealtimeInputConfig:
    automatic_activity_detection: AutomaticActivityDetection = field(
        default_factory=AutomaticActivityDetection
    )
    activity_handling: ActivityHandling = ActivityHandling.UNSPECIFIED
    turn_coverage: TurnCoverage = TurnCoverage.UNSPECIFIED


@dataclass(slots=True, kw_only=True)
class FunctionDeclaration:
    name: str
    description: str | None = None
    # An OpenAPI-subset schema (``type: OBJECT``...) as sent; property names are user data, never recased.
    parameters: JsonObject | None = None
    parameters_json_schema: JsonObject | None = None
    behavior: FunctionBehavior | None = None


@dataclass(slots=True, kw_only=True)
class Tool:
    function_declarations: list[FunctionDeclaration] = field(default_factory=list)
    google_search: bool = False
    code_execution: bool = False
    # Any other tool kind (urlContext, googleMaps, ...) by its camelCase name, kept verbatim.
    other: JsonObject = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class AudioTranscriptionConfig:
    language_codes: list[str] = field(default_factory=list)
    # ``customVocabulary`` (and the deprecated ``adaptationPhrases``): terms the recogniser should expect.
    custom_vocabulary: list[str] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class SessionResumptionConfig:
    handle: str | None = None
    transparent: bool | None = None


@dataclass(slots=True, kw_only=True)
class ContextWindowCompression:
    trigger_tokens: int | None = None
    # None when no sliding window was asked for; 0 never reaches here (the codec maps it to None).
    sliding_window_target_tokens: int | None = None


@dataclass(slots=True, kw_only=True)
class Setup:
    model: str
    generation_config: GenerationConfig = field(default_factory=GenerationConfig)
    system_instruction: Content | None = None
    tools: list[Tool] = field(default_factory=list)
    tool_config: JsonObject | None = None
    realtime_input_config: RealtimeInputConfig = field(default_factory=RealtimeInputConfig)
    input_audio_transcription: AudioTranscriptionConfig | None = None
    output_audio_transcription: AudioTranscriptionConfig | None = None
    session_resumption: SessionResumptionConfig | None = None
    context_window_compression: ContextWindowCompression | None = None
    proactive_audio: bool | None = None
    # ``historyConfig.initialHistoryInClientContent``: gemini-3.1 seeds history through clientContent.
    initial_history_in_client_content: bool | None = None
    # User data (``labels``), kept verbatim.
    labels: dict[str, str] | None = None
    # ``explicitVadSignal`` (Vertex): the server reports the start and end of speech it detects as
    # ``voiceActivityDetectionSignal`` (and ``voiceActivity``) messages.
    explicit_vad_signal: bool | None = None


# --------------------------------------------------------------------------------------------------
# Client -> server


@dataclass(slots=True, kw_only=True)
class ClientContent:
    turns: list[Content] = field(default_factory=list)
    turn_complete: bool = False


@dataclass(slots=True, kw_only=True)
class RealtimeInput:
    """One realtime input. The SDKs send exactly one field per message, but several are legal."""

    audio: Blob | None = None
    video: Blob | None = None
    text: str | None = None
    activity_start: bool = False
    activity_end: bool = False
    audio_stream_end: bool = False
    # Deprecated; "all but the first will be ignored" per the docs, but the decoder keeps them all.
    media_chunks: list[Blob] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class ToolResponse:
    function_responses: list[FunctionResponse] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class ContextUpdate:
    system_instruction: Content | None = None
    # None = "no update"; [] = "clear the tools".
    tools: list[Tool] | None = None


ClientMessage = Setup | ClientContent | RealtimeInput | ToolResponse | ContextUpdate


# --------------------------------------------------------------------------------------------------
# Server -> client


@dataclass(slots=True, kw_only=True)
class SetupComplete:
    session_id: str | None = None


@dataclass(slots=True, kw_only=True)
class Transcription:
    text: str = ""
    finished: bool | None = None


@dataclass(slots=True, kw_only=True)
class ServerContent:
    model_turn: Content | None = None
    turn_complete: bool | None = None
    generation_complete: bool | None = None
    interrupted: bool | None = None
    input_transcription: Transcription | None = None
    output_transcription: Transcription | None = None
    grounding_metadata: JsonObject | None = None
    turn_complete_reason: str | None = None
    waiting_for_input: bool | None = None


@dataclass(slots=True, kw_only=True)
class ToolCall:
    function_calls: list[FunctionCall] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class ToolCallCancellation:
    ids: list[str] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class GoAway:
    time_left_s: float


@dataclass(slots=True, kw_only=True)
class SessionResumptionUpdate:
    new_handle: str | None = None
    resumable: bool = False
    last_consumed_client_message_index: int | None = None


@dataclass(slots=True, kw_only=True)
class ModalityTokenCount:
    modality: str
    token_count: int


@dataclass(slots=True, kw_only=True)
class UsageMetadata:
    """Sent alongside another server message (usually ``turnComplete``), or alone."""

    prompt_token_count: int = 0
    cached_content_token_count: int = 0
    response_token_count: int = 0
    tool_use_prompt_token_count: int = 0
    thoughts_token_count: int = 0
    total_token_count: int = 0
    prompt_tokens_details: list[ModalityTokenCount] = field(default_factory=list)
    cache_tokens_details: list[ModalityTokenCount] = field(default_factory=list)
    response_tokens_details: list[ModalityTokenCount] = field(default_factory=list)
    tool_use_prompt_tokens_details: list[ModalityTokenCount] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class VoiceActivity:
    type: str  # ACTIVITY_START | ACTIVITY_END
    audio_offset_s: float | None = None


@dataclass(slots=True, kw_only=True)
class VoiceActivityDetectionSignal:
    vad_signal_type: str  # VAD_SIGNAL_TYPE_SOS | VAD_SIGNAL_TYPE_EOS


ServerMessage = (
    SetupComplete
    | ServerContent
    | ToolCall
    | ToolCallCancellation
    | GoAway
    | SessionResumptionUpdate
    | UsageMetadata
    | VoiceActivity
    | VoiceActivityDetectionSignal
)
