"""Typed messages → wire JSON: server messages (for the server) and client messages (for our client).

Output is pure lowerCamelCase, compact, UTF-8, with standard base64 and no ``null``s: what every
official SDK parses (reference §1.2).
"""

from __future__ import annotations

import json
from typing import Any

from openlive.protocol.media import b64encode, format_duration
from openlive.protocol.messages import (
    ActivityHandling,
    AudioTranscriptionConfig,
    Blob,
    ClientContent,
    ClientMessage,
    Content,
    ContextUpdate,
    EndSensitivity,
    FunctionCall,
    FunctionResponse,
    GenerationConfig,
    GoAway,
    JsonObject,
    ModalityTokenCount,
    Part,
    RealtimeInput,
    RealtimeInputConfig,
    ServerContent,
    ServerMessage,
    SessionResumptionUpdate,
    Setup,
    SetupComplete,
    StartSensitivity,
    Tool,
    ToolCall,
    ToolCallCancellation,
    ToolResponse,
    Transcription,
    TurnCoverage,
    UsageMetadata,
    VoiceActivity,
    VoiceActivityDetectionSignal,
)


def _dumps(message: JsonObject) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _compact(**fields: Any) -> JsonObject:
    """The fields that are not None, under their (already camelCase) names."""
    return {name: value for name, value in fields.items() if value is not None}


# --------------------------------------------------------------------------------------------------
# Content (both directions)


def _blob(blob: Blob) -> JsonObject:
    return {"mimeType": blob.mime_type, "data": b64encode(blob.data)}


def _function_call(call: FunctionCall) -> JsonObject:
    return _compact(id=call.id, name=call.name, args=call.args)


def _function_response(response: FunctionResponse) -> JsonObject:
    return _compact(
        id=response.id,
        name=response.name,
        response=response.response,
        scheduling=None if response.scheduling is None else response.scheduling.value,
        willContinue=response.will_continue,
    )


def _part(part: Part) -> JsonObject:
    out = _compact(
        text=part.text,
        thought=part.thought,
        inlineData=None if part.inline_data is None else _blob(part.inline_data),
        functionCall=None if part.function_call is None else _function_call(part.function_call),
        functionResponse=None
        if part.function_response is None
        else _function_response(part.function_response),
    )
    for name, value in (part.other or {}).items():
        out.setdefault(name, value)
    return out


def _content(content: Content) -> JsonObject:
    return _compact(role=content.role, parts=[_part(p) for p in content.parts])


# --------------------------------------------------------------------------------------------------
# Server → client


def _transcription(transcription: Transcription | None) -> JsonObject | None:
    if transcription is None:
        return None
    return _compact(text=transcription.text, finished=transcription.finished)


def _server_content(content: ServerContent) -> JsonObject:
    return _compact(
        modelTurn=None if content.model_turn is None else _content(content.model_turn),
        turnComplete=content.turn_complete,
        generationComplete=content.generation_complete,
        interrupted=content.interrupted,
        inputTranscription=_transcription(content.input_transcription),
        outputTranscription=_transcription(content.output_transcription),
        groundingMetadata=content.grounding_metadata,
        turnCompleteReason=content.turn_complete_reason,
        waitingForInput=content.waiting_for_input,
    )


def _token_counts(details: list[ModalityTokenCount]) -> list[JsonObject] | None:
    return [{"modality": d.modality, "tokenCount": d.token_count} for d in details] or None


def _usage_metadata(usage: UsageMetadata) -> JsonObject:
    # proto3 JSON leaves zero counts and empty lists out, as the real service does.
    return _compact(
        promptTokenCount=usage.prompt_token_count or None,
        cachedContentTokenCount=usage.cached_content_token_count or None,
        responseTokenCount=usage.response_token_count or None,
        toolUsePromptTokenCount=usage.tool_use_prompt_token_count or None,
        thoughtsTokenCount=usage.thoughts_token_count or None,
        totalTokenCount=usage.total_token_count or None,
        promptTokensDetails=_token_counts(usage.prompt_tokens_details),
        cacheTokensDetails=_token_counts(usage.cache_tokens_details),
        responseTokensDetails=_token_counts(usage.response_tokens_details),
        toolUsePromptTokensDetails=_token_counts(usage.tool_use_prompt_tokens_details),
    )


def _server_body(message: ServerMessage) -> tuple[str, JsonObject]:
    match message:
        case SetupComplete():
            return "setupComplete", _compact(sessionId=message.session_id)
        case ServerContent():
            return "serverContent", _server_content(message)
        case ToolCall():
            return "toolCall", {"functionCalls": [_function_call(c) for c in message.function_calls]}
        case ToolCallCancellation():
            return "toolCallCancellation", {"ids": list(message.ids)}
        case GoAway():
            return "goAway", {"timeLeft": format_duration(message.time_left_s)}
        case SessionResumptionUpdate():
            index = message.last_consumed_client_message_index
            return "sessionResumptionUpdate", _compact(
                newHandle=message.new_handle,
                resumable=message.resumable,
                # int64: a decimal string in proto3 JSON.
                lastConsumedClientMessageIndex=None if index is None else str(index),
            )
        case VoiceActivityDetectionSignal():
            return "voiceActivityDetectionSignal", {"vadSignalType": message.vad_signal_type}
        case VoiceActivity():
            offset = message.audio_offset_s
            return "voiceActivity", _compact(
                type=message.type, audioOffset=None if offset is None else format_duration(offset)
            )
        case UsageMetadata():
            return "usageMetadata", _usage_metadata(message)
    raise TypeError(f"not a server message: {type(message).__name__}")


def encode_server_message(message: ServerMessage, usage: UsageMetadata | None = None) -> bytes:
    """One server message (plus ``usageMetadata`` beside it) as compact camelCase UTF-8 JSON bytes, to
    be sent as a binary frame like Google does. A lone ``UsageMetadata`` is ``{"usageMetadata": ...}``.
    """
    key, body = _server_body(message)
    out: JsonObject = {key: body}
    if usage is not None:
        if isinstance(message, UsageMetadata):
            raise ValueError("a UsageMetadata message cannot carry a second usageMetadata")
        out["usageMetadata"] = _usage_metadata(usage)
    return _dumps(out).encode("utf-8")


# --------------------------------------------------------------------------------------------------
# Client → server


def _generation_config(config: GenerationConfig) -> JsonObject:
    speech = config.speech_config
    thinking = config.thinking_config
    return _compact(
        responseModalities=[m.value for m in config.response_modalities] or None,
        temperature=config.temperature,
        topP=config.top_p,
        topK=config.top_k,
        maxOutputTokens=config.max_output_tokens,
        candidateCount=config.candidate_count,
        presencePenalty=config.presence_penalty,
        frequencyPenalty=config.frequency_penalty,
        seed=config.seed,
        mediaResolution=config.media_resolution,
        speechConfig=None
        if speech is None
        else _compact(
            voiceConfig=None
            if speech.voice_name is None
            else {"prebuiltVoiceConfig": {"voiceName": speech.voice_name}},
            languageCode=speech.language_code,
        ),
        thinkingConfig=None
        if thinking is None
        else _compact(
            thinkingBudget=thinking.thinking_budget,
            includeThoughts=thinking.include_thoughts,
            thinkingLevel=thinking.thinking_level,
        ),
        enableAffectiveDialog=config.enable_affective_dialog,
        translationConfig=None
        if config.translation_config is None
        else _compact(
            targetLanguageCode=config.translation_config.target_language_code,
            echoTargetLanguage=config.translation_config.echo_target_language,
        ),
    )


def _tool(tool: Tool) -> JsonObject:
    out: JsonObject = {}
    if tool.function_declarations:
        out["functionDeclarations"] = [
            _compact(
                name=d.name,
                description=d.description,
                parameters=d.parameters,
                parametersJsonSchema=d.parameters_json_schema,
                behavior=None if d.behavior is None else d.behavior.value,
            )
            for d in tool.function_declarations
        ]
    if tool.google_search:
        out["googleSearch"] = {}
    if tool.code_execution:
        out["codeExecution"] = {}
    for name, value in tool.other.items():
        out.setdefault(name, value)
    return out


def _realtime_input_config(config: RealtimeInputConfig) -> JsonObject | None:
    """Only what differs from the defaults; None when nothing does."""
    aad = config.automatic_activity_detection
    detection = _compact(
        disabled=aad.disabled or None,
        startOfSpeechSensitivity=None
        if aad.start_of_speech_sensitivity is StartSensitivity.UNSPECIFIED
        else aad.start_of_speech_sensitivity.value,
        endOfSpeechSensitivity=None
        if aad.end_of_speech_sensitivity is EndSensitivity.UNSPECIFIED
        else aad.end_of_speech_sensitivity.value,
        prefixPaddingMs=aad.prefix_padding_ms,
        silenceDurationMs=aad.silence_duration_ms,
    )
    out = _compact(
        automaticActivityDetection=detection or None,
        activityHandling=None
        if config.activity_handling is ActivityHandling.UNSPECIFIED
        else config.activity_handling.value,
        turnCoverage=None if config.turn_coverage is TurnCoverage.UNSPECIFIED else config.turn_coverage.value,
    )
    return out or None


def _transcription_config(config: AudioTranscriptionConfig | None) -> JsonObject | None:
    if config is None:
        return None
    return _compact(
        languageCodes=list(config.language_codes) or None,
        customVocabulary=list(config.custom_vocabulary) or None,
    )


def _setup(setup: Setup) -> JsonObject:
    resumption = setup.session_resumption
    compression = setup.context_window_compression
    return _compact(
        model=setup.model,
        generationConfig=_generation_config(setup.generation_config) or None,
        systemInstruction=None if setup.system_instruction is None else _content(setup.system_instruction),
        tools=[_tool(t) for t in setup.tools] or None,
        toolConfig=setup.tool_config,
        realtimeInputConfig=_realtime_input_config(setup.realtime_input_config),
        inputAudioTranscription=_transcription_config(setup.input_audio_transcription),
        outputAudioTranscription=_transcription_config(setup.output_audio_transcription),
        sessionResumption=None
        if resumption is None
        else _compact(handle=resumption.handle, transparent=resumption.transparent),
        contextWindowCompression=None
        if compression is None
        else _compact(
            triggerTokens=compression.trigger_tokens,
            slidingWindow=_compact(targetTokens=compression.sliding_window_target_tokens),
        ),
        proactivity=None if setup.proactive_audio is None else {"proactiveAudio": setup.proactive_audio},
        historyConfig=None
        if setup.initial_history_in_client_content is None
        else {"initialHistoryInClientContent": setup.initial_history_in_client_content},
        labels=setup.labels,
    )


def _realtime_input(message: RealtimeInput) -> JsonObject:
    return _compact(
        audio=None if message.audio is None else _blob(message.audio),
        video=None if message.video is None else _blob(message.video),
        text=message.text,
        activityStart={} if message.activity_start else None,
        activityEnd={} if message.activity_end else None,
        audioStreamEnd=True if message.audio_stream_end else None,
        mediaChunks=[_blob(b) for b in message.media_chunks] or None,
    )


def _client_body(message: ClientMessage) -> tuple[str, JsonObject]:
    match message:
        case Setup():
            return "setup", _setup(message)
        case ClientContent():
            return "clientContent", {
                "turns": [_content(t) for t in message.turns],
                "turnComplete": message.turn_complete,
            }
        case RealtimeInput():
            return "realtimeInput", _realtime_input(message)
        case ToolResponse():
            return "toolResponse", {
                "functionResponses": [_function_response(r) for r in message.function_responses]
            }
        case ContextUpdate():
            return "contextUpdate", _compact(
                systemInstruction=None
                if message.system_instruction is None
                else _content(message.system_instruction),
                # The wrapper object tells "clear the tools" ([]) from "no change" (absent).
                tools=None if message.tools is None else {"tools": [_tool(t) for t in message.tools]},
            )
    raise TypeError(f"not a client message: {type(message).__name__}")


def encode_client_message(message: ClientMessage) -> str:
    """One client message as compact, pure camelCase JSON text (standard base64), for a text frame."""
    key, body = _client_body(message)
    return _dumps({key: body})
