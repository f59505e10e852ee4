"""Wire JSON → typed messages: client messages (for the server) and server messages (for our client).

Both accept lowerCamelCase and snake_case at every level, both base64 alphabets, text or binary frames,
and ignore unknown fields. Every malformed input raises ``ProtocolError`` with close code 1007.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openlive.protocol._fields import Fields, fail, load_object, show
from openlive.protocol.limits import (
    INT32_RANGE,
    MAX_FUNCTION_DECLARATIONS,
    MAX_FUNCTION_RESPONSES,
    MAX_LABELS,
    MAX_LANGUAGE_CODES,
    MAX_MEDIA_CHUNKS,
    MAX_MODALITIES,
    MAX_NAME_CHARS,
    MAX_PARTS,
    MAX_SCHEMA_DEPTH,
    MAX_TEXT_CHARS,
    MAX_TOOLS,
    MAX_TURNS,
    MAX_VOCABULARY,
)
from openlive.protocol.media import parse_duration
from openlive.protocol.messages import (
    ActivityHandling,
    AudioTranscriptionConfig,
    AutomaticActivityDetection,
    Blob,
    ClientContent,
    ClientMessage,
    Content,
    ContextUpdate,
    ContextWindowCompression,
    EndSensitivity,
    FunctionBehavior,
    FunctionCall,
    FunctionDeclaration,
    FunctionResponse,
    FunctionResponseScheduling,
    GenerationConfig,
    GoAway,
    Modality,
    ModalityTokenCount,
    Part,
    RealtimeInput,
    RealtimeInputConfig,
    ServerContent,
    ServerMessage,
    SessionResumptionConfig,
    SessionResumptionUpdate,
    Setup,
    SetupComplete,
    SpeechConfig,
    StartSensitivity,
    ThinkingConfig,
    Tool,
    ToolCall,
    ToolCallCancellation,
    ToolResponse,
    Transcription,
    TranslationConfig,
    TurnCoverage,
    UsageMetadata,
    VoiceActivity,
    VoiceActivityDetectionSignal,
)
from openlive.protocol.tool_config import function_calling_config

# --------------------------------------------------------------------------------------------------
# Content (both directions)

_PART_FIELDS = frozenset({"text", "thought", "inlineData", "functionCall", "functionResponse"})
_SCHEDULINGS = frozenset(s.value for s in FunctionResponseScheduling)


def _blob(o: Fields) -> Blob:
    return Blob(mime_type=o.string("mimeType") or "", data=o.data_bytes("data") or b"")


def _function_call(o: Fields) -> FunctionCall:
    return FunctionCall(id=o.string("id"), name=o.required_string("name"), args=o.struct("args") or {})


def _function_response(o: Fields) -> FunctionResponse:
    response = o.struct("response") or {}
    scheduling = o.enum("scheduling", FunctionResponseScheduling)
    if scheduling is None:
        # The docs' JS example puts it inside ``response``; there it is user data, so only a known
        # value counts and the response is left as it was sent.
        inner = response.get("scheduling")
        if isinstance(inner, str) and inner.upper() in _SCHEDULINGS:
            scheduling = FunctionResponseScheduling(inner.upper())
    return FunctionResponse(
        id=o.string("id"),
        name=o.string("name"),
        response=response,
        scheduling=scheduling,
        will_continue=o.boolean("willContinue"),
    )


def _part(o: Fields) -> Part:
    inline_data = o.object("inlineData")
    function_call = o.object("functionCall")
    function_response = o.object("functionResponse")
    return Part(
        text=o.string("text", limit=MAX_TEXT_CHARS),
        thought=o.boolean("thought"),
        inline_data=None if inline_data is None else _blob(inline_data),
        function_call=None if function_call is None else _function_call(function_call),
        function_response=None if function_response is None else _function_response(function_response),
        other=o.rest(_PART_FIELDS) or None,
    )


def _content(o: Fields) -> Content:
    return Content(role=o.string("role"), parts=[_part(p) for p in o.objects("parts", MAX_PARTS)])


def _instruction(o: Fields, name: str) -> Content | None:
    """A system instruction: a ``Content`` object, or (as some clients send it) a plain string."""
    value = o.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) > MAX_TEXT_CHARS:
            o.fail(name, f"longer than {MAX_TEXT_CHARS} characters")
        return Content(parts=[Part(text=value)])
    return _content(Fields.of(value, o.at(name)))


# --------------------------------------------------------------------------------------------------
# Setup

_TOOL_FIELDS = frozenset({"functionDeclarations", "googleSearch", "codeExecution"})
_MODALITIES = frozenset(m.value for m in Modality)


def _modalities(o: Fields) -> list[Modality]:
    modalities: list[Modality] = []
    for i, value in enumerate(o.array("responseModalities", MAX_MODALITIES) or ()):
        path = f"{o.at('responseModalities')}[{i}]"
        if not isinstance(value, str):
            fail(path, "expected a modality name")
        name = value.upper()
        if name == "MODALITY_UNSPECIFIED":
            continue
        if name not in _MODALITIES:
            fail(path, f"unsupported modality {show(value)}")
        if Modality(name) not in modalities:
            modalities.append(Modality(name))
    if len(modalities) > 1:
        o.fail("responseModalities", "TEXT and AUDIO cannot both be set")
    return modalities


def _speech_config(o: Fields) -> SpeechConfig | None:
    value = o.get("speechConfig")
    if value is None:
        return None
    if isinstance(value, str):  # the Python SDK's shorthand: just a voice name
        if len(value) > MAX_NAME_CHARS:
            o.fail("speechConfig", f"longer than {MAX_NAME_CHARS} characters")
        return SpeechConfig(voice_name=value)
    speech = Fields.of(value, o.at("speechConfig"))
    voice_name = None
    if (voice := speech.object("voiceConfig")) and (prebuilt := voice.object("prebuiltVoiceConfig")):
        voice_name = prebuilt.string("voiceName")
    return SpeechConfig(voice_name=voice_name, language_code=speech.string("languageCode"))


def _generation_config(o: Fields | None) -> GenerationConfig:
    if o is None:
        return GenerationConfig()
    thinking = o.object("thinkingConfig")
    translation = o.object("translationConfig")
    return GenerationConfig(
        response_modalities=_modalities(o),
        temperature=o.number("temperature"),
        top_p=o.number("topP"),
        top_k=o.integer("topK", INT32_RANGE),
        max_output_tokens=o.integer("maxOutputTokens", INT32_RANGE),
        candidate_count=o.integer("candidateCount", INT32_RANGE),
        presence_penalty=o.number("presencePenalty"),
        frequency_penalty=o.number("frequencyPenalty"),
        seed=o.integer("seed", INT32_RANGE),
        media_resolution=o.string("mediaResolution"),
        speech_config=_speech_config(o),
        thinking_config=None
        if thinking is None
        else ThinkingConfig(
            thinking_budget=thinking.integer("thinkingBudget", INT32_RANGE),
            include_thoughts=thinking.boolean("includeThoughts"),
            thinking_level=thinking.string("thinkingLevel"),
        ),
        enable_affective_dialog=o.boolean("enableAffectiveDialog"),
        translation_config=None
        if translation is None
        else TranslationConfig(
            target_language_code=translation.string("targetLanguageCode"),
            echo_target_language=translation.boolean("echoTargetLanguage"),
        ),
    )


def _function_declaration(o: Fields) -> FunctionDeclaration:
    return FunctionDeclaration(
        name=o.required_string("name"),
        description=o.string("description", limit=MAX_TEXT_CHARS),
        parameters=o.struct("parameters", max_depth=MAX_SCHEMA_DEPTH),
        parameters_json_schema=o.struct("parametersJsonSchema", max_depth=MAX_SCHEMA_DEPTH),
        behavior=o.enum("behavior", FunctionBehavior),
    )


def _tool(o: Fields) -> Tool:
    declarations = o.objects("functionDeclarations", MAX_FUNCTION_DECLARATIONS)
    return Tool(
        function_declarations=[_function_declaration(d) for d in declarations],
        google_search=o.marker("googleSearch"),
        code_execution=o.marker("codeExecution"),
        other=o.rest(_TOOL_FIELDS),
    )


def _tools(o: Fields) -> list[Tool]:
    """``tools``: at most MAX_TOOLS, and MAX_FUNCTION_DECLARATIONS declarations in all."""
    tools = [_tool(t) for t in o.objects("tools", MAX_TOOLS)]
    if sum(len(t.function_declarations) for t in tools) > MAX_FUNCTION_DECLARATIONS:
        o.fail("tools", f"more than {MAX_FUNCTION_DECLARATIONS} function declarations in all")
    return tools


def _realtime_input_config(o: Fields | None) -> RealtimeInputConfig:
    if o is None:
        return RealtimeInputConfig()
    aad = o.object("automaticActivityDetection")
    detection = AutomaticActivityDetection()
    if aad is not None:
        detection = AutomaticActivityDetection(
            disabled=bool(aad.boolean("disabled")),
            start_of_speech_sensitivity=aad.enum("startOfSpeechSensitivity", StartSensitivity)
            or StartSensitivity.UNSPECIFIED,
            end_of_speech_sensitivity=aad.enum("endOfSpeechSensitivity", EndSensitivity)
            or EndSensitivity.UNSPECIFIED,
            prefix_padding_ms=aad.integer("prefixPaddingMs", INT32_RANGE),
            silence_duration_ms=aad.integer("silenceDurationMs", INT32_RANGE),
        )
    return RealtimeInputConfig(
        automatic_activity_detection=detection,
        activity_handling=o.enum("activityHandling", ActivityHandling) or ActivityHandling.UNSPECIFIED,
        turn_coverage=o.enum("turnCoverage", TurnCoverage) or TurnCoverage.UNSPECIFIED,
    )


def _transcription_config(o: Fields | None) -> AudioTranscriptionConfig | None:
    if o is None:
        return None
    # adaptationPhrases is the deprecated name of customVocabulary: both are read, in that order.
    vocabulary = (o.strings("customVocabulary", MAX_VOCABULARY) or []) + (
        o.strings("adaptationPhrases", MAX_VOCABULARY) or []
    )
    return AudioTranscriptionConfig(
        language_codes=o.strings("languageCodes", MAX_LANGUAGE_CODES) or [],
        custom_vocabulary=list(dict.fromkeys(vocabulary)),
    )


def _session_resumption(o: Fields | None) -> SessionResumptionConfig | None:
    if o is None:
        return None
    # proto3: an empty handle is no handle.
    return SessionResumptionConfig(handle=o.string("handle") or None, transparent=o.boolean("transparent"))


def _context_window_compression(o: Fields | None) -> ContextWindowCompression | None:
    if o is None:
        return None
    window = o.object("slidingWindow")
    # 0 is proto3's "unset": the server's defaults apply (reference §2).
    return ContextWindowCompression(
        trigger_tokens=o.integer("triggerTokens") or None,
        sliding_window_target_tokens=(window.integer("targetTokens") or None) if window else None,
    )


def _labels(o: Fields) -> dict[str, str] | None:
    labels = o.struct("labels")
    if labels is not None:
        if len(labels) > MAX_LABELS:
            o.fail("labels", f"more than {MAX_LABELS} entries")
        for key, value in labels.items():
            if not isinstance(value, str):
                fail(f"{o.at('labels')}.{key}", "expected a string")
            if len(value) > MAX_NAME_CHARS:
                fail(f"{o.at('labels')}.{key}", f"longer than {MAX_NAME_CHARS} characters")
    return labels


def _setup(o: Fields) -> Setup:
    proactivity = o.object("proactivity")
    history = o.object("historyConfig")
    tool_config = o.struct("toolConfig")
    # Kept verbatim, but read once here so that a bad functionCallingConfig is refused at setup.
    function_calling_config(tool_config)
    return Setup(
        model=o.required_string("model", allow_empty=False),
        generation_config=_generation_config(o.object("generationConfig")),
        system_instruction=_instruction(o, "systemInstruction"),
        tools=_tools(o),
        tool_config=tool_config,
        realtime_input_config=_realtime_input_config(o.object("realtimeInputConfig")),
        input_audio_transcription=_transcription_config(o.object("inputAudioTranscription")),
        output_audio_transcription=_transcription_config(o.object("outputAudioTranscription")),
        session_resumption=_session_resumption(o.object("sessionResumption")),
        context_window_compression=_context_window_compression(o.object("contextWindowCompression")),
        proactive_audio=None if proactivity is None else proactivity.boolean("proactiveAudio"),
        initial_history_in_client_content=None
        if history is None
        else history.boolean("initialHistoryInClientContent"),
        labels=_labels(o),
        explicit_vad_signal=o.boolean("explicitVadSignal"),
    )


# --------------------------------------------------------------------------------------------------
# The other client messages


def _client_content(o: Fields) -> ClientContent:
    return ClientContent(
        turns=[_content(t) for t in o.objects("turns", MAX_TURNS)],
        turn_complete=bool(o.boolean("turnComplete")),
    )


def _realtime_input(o: Fields) -> RealtimeInput:
    audio = o.object("audio")
    video = o.object("video")
    return RealtimeInput(
        audio=None if audio is None else _blob(audio),
        video=None if video is None else _blob(video),
        text=o.string("text", limit=MAX_TEXT_CHARS),
        activity_start=o.marker("activityStart"),
        activity_end=o.marker("activityEnd"),
        audio_stream_end=bool(o.boolean("audioStreamEnd")),
        media_chunks=[_blob(b) for b in o.objects("mediaChunks", MAX_MEDIA_CHUNKS)],
    )


def _tool_response(o: Fields) -> ToolResponse:
    responses = o.objects("functionResponses", MAX_FUNCTION_RESPONSES)
    return ToolResponse(function_responses=[_function_response(r) for r in responses])


def _context_update(o: Fields) -> ContextUpdate:
    tools: list[Tool] | None = None
    wrapper = o.get("tools")
    if isinstance(wrapper, list):  # tolerated: the list without its wrapper object
        tools = _tools(o)
    elif wrapper is not None:
        # ``{"tools": {}}`` is how proto3 JSON writes an empty list: clear the tools.
        tools = _tools(Fields.of(wrapper, o.at("tools")))
    return ContextUpdate(system_instruction=_instruction(o, "systemInstruction"), tools=tools)


_CLIENT_DECODERS: dict[str, Callable[[Fields], ClientMessage]] = {
    "setup": _setup,
    "clientContent": _client_content,
    "realtimeInput": _realtime_input,
    "toolResponse": _tool_response,
    "contextUpdate": _context_update,
}


def decode_client_message(frame: str | bytes) -> ClientMessage:
    """Decode one client→server message (a text frame, or a binary frame holding UTF-8 JSON).

    Raises ``ProtocolError`` (1007) for invalid JSON, a non-object, no or several message types, a
    wrong JSON type, bad base64, an unknown enum value, a missing ``setup.model``, or both modalities.
    """
    # load_object has checked the nesting (MAX_JSON_DEPTH), so nothing below can recurse too deeply.
    root = Fields(load_object(frame), "")
    found = [(kind, value) for kind in _CLIENT_DECODERS if (value := root.get(kind)) is not None]
    if not found:
        fail("", "no known message type (setup, clientContent, realtimeInput, toolResponse...)")
    if len(found) > 1:
        fail("", f"more than one message type ({found[0][0]}, {found[1][0]})")
    kind, value = found[0]
    return _CLIENT_DECODERS[kind](Fields.of(value, kind))


# --------------------------------------------------------------------------------------------------
# Server messages (for our client)


def _duration(o: Fields, name: str) -> float | None:
    value = o.get(name)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    seconds = parse_duration(value) if isinstance(value, str) else None
    if seconds is None:
        o.fail(name, "expected a duration such as '1.5s'")
    return seconds


def _transcription(o: Fields | None) -> Transcription | None:
    if o is None:
        return None
    return Transcription(text=o.string("text", limit=MAX_TEXT_CHARS) or "", finished=o.boolean("finished"))


def _server_content(o: Fields) -> ServerContent:
    model_turn = o.object("modelTurn")
    return ServerContent(
        model_turn=None if model_turn is None else _content(model_turn),
        turn_complete=o.boolean("turnComplete"),
        generation_complete=o.boolean("generationComplete"),
        interrupted=o.boolean("interrupted"),
        input_transcription=_transcription(o.object("inputTranscription")),
        output_transcription=_transcription(o.object("outputTranscription")),
        grounding_metadata=o.struct("groundingMetadata"),
        turn_complete_reason=o.string("turnCompleteReason"),
        waiting_for_input=o.boolean("waitingForInput"),
    )


def _token_counts(o: Fields, name: str) -> list[ModalityTokenCount]:
    return [
        ModalityTokenCount(modality=d.string("modality") or "", token_count=d.integer("tokenCount") or 0)
        for d in o.objects(name)
    ]


def _usage_metadata(o: Fields) -> UsageMetadata:
    # Vertex names the response counts ``candidates...`` (reference §4.5).
    details = "responseTokensDetails" if o.get("responseTokensDetails") else "candidatesTokensDetails"
    return UsageMetadata(
        prompt_token_count=o.integer("promptTokenCount") or 0,
        cached_content_token_count=o.integer("cachedContentTokenCount") or 0,
        response_token_count=o.integer("responseTokenCount") or o.integer("candidatesTokenCount") or 0,
        tool_use_prompt_token_count=o.integer("toolUsePromptTokenCount") or 0,
        thoughts_token_count=o.integer("thoughtsTokenCount") or 0,
        total_token_count=o.integer("totalTokenCount") or 0,
        prompt_tokens_details=_token_counts(o, "promptTokensDetails"),
        cache_tokens_details=_token_counts(o, "cacheTokensDetails"),
        response_tokens_details=_token_counts(o, details),
        tool_use_prompt_tokens_details=_token_counts(o, "toolUsePromptTokensDetails"),
    )


def _session_resumption_update(o: Fields) -> SessionResumptionUpdate:
    return SessionResumptionUpdate(
        new_handle=o.string("newHandle"),
        resumable=bool(o.boolean("resumable")),
        last_consumed_client_message_index=o.integer("lastConsumedClientMessageIndex"),
    )


def _voice_activity(o: Fields) -> VoiceActivity:
    return VoiceActivity(
        type=o.string("type") or o.string("voiceActivityType") or "",
        audio_offset_s=_duration(o, "audioOffset"),
    )


def _ids(o: Fields) -> ToolCallCancellation:
    return ToolCallCancellation(ids=o.strings("ids") or [])


_SERVER_DECODERS: dict[str, Callable[[Fields], ServerMessage]] = {
    "setupComplete": lambda o: SetupComplete(session_id=o.string("sessionId")),
    "serverContent": _server_content,
    "toolCall": lambda o: ToolCall(function_calls=[_function_call(c) for c in o.objects("functionCalls")]),
    "toolCallCancellation": _ids,
    "goAway": lambda o: GoAway(time_left_s=_duration(o, "timeLeft") or 0.0),
    "sessionResumptionUpdate": _session_resumption_update,
    "voiceActivity": _voice_activity,
    "voiceActivityDetectionSignal": lambda o: VoiceActivityDetectionSignal(
        vad_signal_type=o.string("vadSignalType") or ""
    ),
    "usageMetadata": _usage_metadata,  # last: it rides beside the message it accounts for
}


def decode_server_message(frame: str | bytes) -> list[ServerMessage]:
    """Decode one server→client message into the message it carries, then its ``UsageMetadata`` if any.

    Kinds this codec does not know (e.g. ``urlContextMetadata`` alone) are skipped, so a message
    holding only those decodes to ``[]``. Raises ``ProtocolError`` (1007) on malformed input.
    """
    root = Fields(load_object(frame), "")
    messages: list[ServerMessage] = []
    for kind, decoder in _SERVER_DECODERS.items():
        value: Any = root.get(kind)
        if value is not None:
            messages.append(decoder(Fields.of(value, kind)))
    return messages
