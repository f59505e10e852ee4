"""decode_client_message on the reference's exact messages (live-api-protocol.md §2, §3) and variants."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from openlive.protocol import (
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
    Modality,
    Part,
    RealtimeInput,
    RealtimeInputConfig,
    SessionResumptionConfig,
    Setup,
    SpeechConfig,
    StartSensitivity,
    ThinkingConfig,
    Tool,
    ToolResponse,
    TranslationConfig,
    TurnCoverage,
    decode_client_message,
)

# §2, canonical example (camelCase), verbatim.
CANONICAL_SETUP = """{"setup": {
  "model": "models/gemini-2.5-flash-native-audio-preview-09-2025",
  "generationConfig": {
    "responseModalities": ["AUDIO"], "temperature": 0.7, "mediaResolution": "MEDIA_RESOLUTION_LOW",
    "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}, "languageCode": "en-US"},
    "thinkingConfig": {"thinkingBudget": 0, "includeThoughts": false},
    "enableAffectiveDialog": true},
  "systemInstruction": {"role": "user", "parts": [{"text": "You are a helpful assistant."}]},
  "tools": [{"googleSearch": {}}, {"codeExecution": {}},
            {"functionDeclarations": [{"name": "turn_on_the_lights", "description": "Turn on lights",
              "parameters": {"type": "OBJECT", "properties": {"room": {"type": "STRING"}}},
              "behavior": "NON_BLOCKING"}]}],
  "realtimeInputConfig": {"automaticActivityDetection": {"disabled": false,
      "startOfSpeechSensitivity": "START_SENSITIVITY_LOW", "endOfSpeechSensitivity": "END_SENSITIVITY_LOW",
      "prefixPaddingMs": 20, "silenceDurationMs": 100},
    "activityHandling": "START_OF_ACTIVITY_INTERRUPTS", "turnCoverage": "TURN_INCLUDES_ONLY_ACTIVITY"},
  "inputAudioTranscription": {}, "outputAudioTranscription": {},
  "sessionResumption": {"handle": "<previous newHandle>"},
  "contextWindowCompression": {"triggerTokens": 25600, "slidingWindow": {"targetTokens": 12800}},
  "proactivity": {"proactiveAudio": true}}}"""

# §2, the same config as google-genai 3.6.1 really sends it (mixed case), verbatim.
GENAI_MIXED_SETUP = """{"setup": {"model": "models/gemini-2.5-flash-native-audio-preview-09-2025",
 "generationConfig": {"responseModalities": ["AUDIO"], "temperature": 0.7, "mediaResolution": "MEDIA_RESOLUTION_LOW",
   "speechConfig": {"voice_config": {"prebuilt_voice_config": {"voice_name": "Kore"}}, "language_code": "en-US"},
   "thinkingConfig": {"include_thoughts": false, "thinking_budget": 0}, "enableAffectiveDialog": true},
 "systemInstruction": {"parts": [{"text": "You are a helpful assistant."}], "role": "user"},
 "tools": [{"googleSearch": {}}, {"codeExecution": {}}, {"functionDeclarations": [{"description": "Turn on lights",
   "name": "turn_on_the_lights", "parameters": {"properties": {"room": {"type": "STRING"}}, "type": "OBJECT"},
   "behavior": "NON_BLOCKING"}]}],
 "sessionResumption": {}, "inputAudioTranscription": {}, "outputAudioTranscription": {},
 "realtimeInputConfig": {"automatic_activity_detection": {"disabled": false,
   "start_of_speech_sensitivity": "START_SENSITIVITY_LOW", "end_of_speech_sensitivity": "END_SENSITIVITY_LOW",
   "prefix_padding_ms": 20, "silence_duration_ms": 100},
   "activity_handling": "START_OF_ACTIVITY_INTERRUPTS", "turn_coverage": "TURN_INCLUDES_ONLY_ACTIVITY"},
 "contextWindowCompression": {"trigger_tokens": 25600, "sliding_window": {"target_tokens": 12800}},
 "proactivity": {"proactive_audio": true}}}"""  # noqa: E501 (verbatim from the reference)

EXPECTED_SETUP = Setup(
    model="models/gemini-2.5-flash-native-audio-preview-09-2025",
    generation_config=GenerationConfig(
        response_modalities=[Modality.AUDIO],
        temperature=0.7,
        media_resolution="MEDIA_RESOLUTION_LOW",
        speech_config=SpeechConfig(voice_name="Kore", language_code="en-US"),
        thinking_config=ThinkingConfig(thinking_budget=0, include_thoughts=False),
        enable_affective_dialog=True,
    ),
    system_instruction=Content(role="user", parts=[Part(text="You are a helpful assistant.")]),
    tools=[
        Tool(google_search=True),
        Tool(code_execution=True),
        Tool(
            function_declarations=[
                FunctionDeclaration(
                    name="turn_on_the_lights",
                    description="Turn on lights",
                    parameters={"type": "OBJECT", "properties": {"room": {"type": "STRING"}}},
                    behavior=FunctionBehavior.NON_BLOCKING,
                )
            ]
        ),
    ],
    realtime_input_config=RealtimeInputConfig(
        automatic_activity_detection=AutomaticActivityDetection(
            disabled=False,
            start_of_speech_sensitivity=StartSensitivity.LOW,
            end_of_speech_sensitivity=EndSensitivity.LOW,
            prefix_padding_ms=20,
            silence_duration_ms=100,
        ),
        activity_handling=ActivityHandling.START_OF_ACTIVITY_INTERRUPTS,
        turn_coverage=TurnCoverage.TURN_INCLUDES_ONLY_ACTIVITY,
    ),
    input_audio_transcription=AudioTranscriptionConfig(),
    output_audio_transcription=AudioTranscriptionConfig(),
    session_resumption=SessionResumptionConfig(handle="<previous newHandle>"),
    context_window_compression=ContextWindowCompression(
        trigger_tokens=25600, sliding_window_target_tokens=12800
    ),
    proactive_audio=True,
)


def test_canonical_setup() -> None:
    assert decode_client_message(CANONICAL_SETUP) == EXPECTED_SETUP


def test_genai_mixed_case_setup() -> None:
    expected = replace(EXPECTED_SETUP, session_resumption=SessionResumptionConfig())
    assert decode_client_message(GENAI_MIXED_SETUP) == expected


def test_binary_frame_is_utf8_json() -> None:
    assert decode_client_message(CANONICAL_SETUP.encode()) == EXPECTED_SETUP
    assert decode_client_message(bytearray(CANONICAL_SETUP.encode())) == EXPECTED_SETUP  # type: ignore[arg-type]


def test_fully_snake_case_setup() -> None:
    frame = {
        "setup": {
            "model": "m",
            "generation_config": {
                "response_modalities": ["TEXT"],
                "max_output_tokens": 256,
                "top_p": 0.9,
                "top_k": 40,
                "candidate_count": 1,
                "presence_penalty": 0.5,
                "frequency_penalty": -0.5,
                "seed": 7,
                "media_resolution": "MEDIA_RESOLUTION_HIGH",
                "thinking_config": {"thinking_level": "minimal"},
                "enable_affective_dialog": False,
            },
            "system_instruction": {"parts": [{"text": "Be brief."}]},
            "tool_config": {"function_calling_config": {"mode": "ANY"}},
            "input_audio_transcription": {"language_codes": ["en-US", "ja-JP"]},
            "session_resumption": {"handle": "h-1", "transparent": True},
            "context_window_compression": {"trigger_tokens": "1000"},
            "history_config": {"initial_history_in_client_content": True},
            "labels": {"team_name": "voice"},
        }
    }
    assert decode_client_message(json.dumps(frame)) == Setup(
        model="m",
        generation_config=GenerationConfig(
            response_modalities=[Modality.TEXT],
            max_output_tokens=256,
            top_p=0.9,
            top_k=40,
            candidate_count=1,
            presence_penalty=0.5,
            frequency_penalty=-0.5,
            seed=7,
            media_resolution="MEDIA_RESOLUTION_HIGH",
            thinking_config=ThinkingConfig(thinking_level="minimal"),
            enable_affective_dialog=False,
        ),
        system_instruction=Content(parts=[Part(text="Be brief.")]),
        # user data: recased nowhere
        tool_config={"function_calling_config": {"mode": "ANY"}},
        input_audio_transcription=AudioTranscriptionConfig(language_codes=["en-US", "ja-JP"]),
        session_resumption=SessionResumptionConfig(handle="h-1", transparent=True),
        context_window_compression=ContextWindowCompression(trigger_tokens=1000),
        initial_history_in_client_content=True,
        labels={"team_name": "voice"},
    )


@pytest.mark.parametrize(
    ("setup_fields", "expected"),
    [
        ({}, Setup(model="m")),
        # a plain-string system instruction is accepted
        (
            {"systemInstruction": "Speak French."},
            Setup(model="m", system_instruction=Content(parts=[Part(text="Speak French.")])),
        ),
        # Firebase sends role "system"
        (
            {"systemInstruction": {"role": "system", "parts": [{"text": "x"}]}},
            Setup(model="m", system_instruction=Content(role="system", parts=[Part(text="x")])),
        ),
        # the Python SDK's speech_config shorthand (a bare voice name)
        (
            {"generationConfig": {"speechConfig": "Puck"}},
            Setup(
                model="m", generation_config=GenerationConfig(speech_config=SpeechConfig(voice_name="Puck"))
            ),
        ),
        # enum names are matched case-insensitively; MODALITY_UNSPECIFIED and repeats fold away
        (
            {"generationConfig": {"responseModalities": ["audio", "AUDIO", "MODALITY_UNSPECIFIED"]}},
            Setup(model="m", generation_config=GenerationConfig(response_modalities=[Modality.AUDIO])),
        ),
        ({"generationConfig": {"responseModalities": []}}, Setup(model="m")),
        # int64 fields may come as strings (proto3 JSON); integral floats are integers
        (
            {"generationConfig": {"maxOutputTokens": "100", "topK": 40.0, "temperature": 1}},
            Setup(
                model="m",
                generation_config=GenerationConfig(max_output_tokens=100, top_k=40, temperature=1.0),
            ),
        ),
        # VAD off, manual activity
        (
            {
                "realtimeInputConfig": {
                    "automaticActivityDetection": {"disabled": True},
                    "activityHandling": "NO_INTERRUPTION",
                }
            },
            Setup(
                model="m",
                realtime_input_config=RealtimeInputConfig(
                    automatic_activity_detection=AutomaticActivityDetection(disabled=True),
                    activity_handling=ActivityHandling.NO_INTERRUPTION,
                ),
            ),
        ),
        (
            {"realtimeInputConfig": {"turnCoverage": "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO"}},
            Setup(
                model="m",
                realtime_input_config=RealtimeInputConfig(
                    turn_coverage=TurnCoverage.TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO
                ),
            ),
        ),
        # compression with the server's defaults (0 is proto3's "unset")
        (
            {"contextWindowCompression": {}},
            Setup(model="m", context_window_compression=ContextWindowCompression()),
        ),
        (
            {"contextWindowCompression": {"slidingWindow": {"targetTokens": 0}, "triggerTokens": 0}},
            Setup(model="m", context_window_compression=ContextWindowCompression()),
        ),
        # an empty resumption handle is no handle
        (
            {"sessionResumption": {"handle": ""}},
            Setup(model="m", session_resumption=SessionResumptionConfig()),
        ),
        ({"proactivity": {}}, Setup(model="m")),
        # null is absent
        ({"generationConfig": None, "tools": None, "systemInstruction": None}, Setup(model="m")),
        ({"explicitVadSignal": True}, Setup(model="m", explicit_vad_signal=True)),
        (
            {
                "generationConfig": {
                    "translationConfig": {"targetLanguageCode": "fr", "echoTargetLanguage": True}
                }
            },
            Setup(
                model="m",
                generation_config=GenerationConfig(
                    translation_config=TranslationConfig(target_language_code="fr", echo_target_language=True)
                ),
            ),
        ),
        # unknown fields at any level are ignored
        (
            {
                "avatarConfig": {"x": 1},
                "generationConfig": {"futureField": [1]},
                "realtimeInputConfig": {"interimTranscriptTimestampEnabled": True},
            },
            Setup(model="m"),
        ),
    ],
)
def test_setup_variants(setup_fields: dict[str, Any], expected: Setup) -> None:
    assert decode_client_message(json.dumps({"setup": {"model": "m", **setup_fields}})) == expected


def test_custom_vocabulary_and_its_deprecated_name_are_read_together() -> None:
    frame = json.dumps(
        {
            "setup": {
                "model": "models/m",
                "inputAudioTranscription": {
                    "customVocabulary": ["Zolbrecht", "openlive"],
                    "adaptation_phrases": ["openlive", "Kwazimir"],
                },
            }
        }
    )
    message = decode_client_message(frame)
    assert isinstance(message, Setup) and message.input_audio_transcription is not None
    assert message.input_audio_transcription.custom_vocabulary == ["Zolbrecht", "openlive", "Kwazimir"]


def test_tools_keep_user_data_verbatim_and_other_tool_kinds() -> None:
    schema = {
        "type": "object",
        "properties": {"room_name": {"type": "string"}, "brightnessLevel": {"type": "integer"}},
    }
    frame = {
        "setup": {
            "model": "m",
            "tools": [
                {
                    "function_declarations": [
                        {
                            "name": "set_light",
                            "parameters": {
                                "type": "OBJECT",
                                "properties": {"room_name": {"type": "STRING"}},
                                "required": ["room_name"],
                            },
                            "behavior": "blocking",
                        },
                        {"name": "g", "parameters_json_schema": schema},
                    ]
                },
                {"url_context": {}},
                {"google_maps": {"enable_widget": True}},
                {
                    "mcp_servers": [
                        {"name": "x", "streamable_http_transport": {"headers": {"x_api_key": "k"}}}
                    ]
                },
                {"google_search": {"time_range_filter": {"start_time": "2020"}}},
            ],
        }
    }
    setup = decode_client_message(json.dumps(frame))
    assert isinstance(setup, Setup)
    assert setup.tools == [
        Tool(
            function_declarations=[
                FunctionDeclaration(
                    name="set_light",
                    parameters={
                        "type": "OBJECT",
                        "properties": {"room_name": {"type": "STRING"}},
                        "required": ["room_name"],
                    },
                    behavior=FunctionBehavior.BLOCKING,
                ),
                FunctionDeclaration(name="g", parameters_json_schema=schema),
            ]
        ),
        Tool(other={"urlContext": {}}),
        Tool(other={"googleMaps": {"enableWidget": True}}),
        Tool(
            other={"mcpServers": [{"name": "x", "streamableHttpTransport": {"headers": {"x_api_key": "k"}}}]}
        ),
        Tool(google_search=True),
    ]


# --------------------------------------------------------------------------------------------------
# §3: the other client messages, verbatim from the reference, then what the SDKs vary.

REFERENCE_CLIENT_MESSAGES: list[tuple[str, ClientMessage]] = [
    (
        """{"clientContent": {"turns": [{"role": "user", "parts": [{"text": "What is the capital of France?"}]},
                             {"role": "model", "parts": [{"text": "Paris"}]}],
                   "turnComplete": true}}""",  # noqa: E501 (verbatim from the reference)
        ClientContent(
            turns=[
                Content(role="user", parts=[Part(text="What is the capital of France?")]),
                Content(role="model", parts=[Part(text="Paris")]),
            ],
            turn_complete=True,
        ),
    ),
    (
        '{"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "AAH+/w=="}}}',
        RealtimeInput(audio=Blob(mime_type="audio/pcm;rate=16000", data=b"\x00\x01\xfe\xff")),
    ),
    (
        '{"realtimeInput": {"video": {"mimeType": "image/jpeg", "data": "/9j/4GZha2VqcGVn"}}}',
        RealtimeInput(video=Blob(mime_type="image/jpeg", data=b"\xff\xd8\xff\xe0fakejpeg")),
    ),
    ('{"realtimeInput": {"text": "hello"}}', RealtimeInput(text="hello")),
    ('{"realtimeInput": {"activityStart": {}}}', RealtimeInput(activity_start=True)),
    ('{"realtimeInput": {"activityEnd": {}}}', RealtimeInput(activity_end=True)),
    ('{"realtimeInput": {"audioStreamEnd": true}}', RealtimeInput(audio_stream_end=True)),
    (
        '{"realtimeInput": {"mediaChunks": [{"mimeType": "audio/pcm", "data": "AAE="}]}}',
        RealtimeInput(media_chunks=[Blob(mime_type="audio/pcm", data=b"\x00\x01")]),
    ),
    (
        """{"toolResponse": {"functionResponses": [
  {"id": "call-1", "name": "turn_on_the_lights", "response": {"result": "ok"},
   "scheduling": "WHEN_IDLE", "willContinue": false}]}}""",
        ToolResponse(
            function_responses=[
                FunctionResponse(
                    id="call-1",
                    name="turn_on_the_lights",
                    response={"result": "ok"},
                    scheduling=FunctionResponseScheduling.WHEN_IDLE,
                    will_continue=False,
                )
            ]
        ),
    ),
    (
        """{"contextUpdate": {"systemInstruction": {"parts": [{"text": "Be terse."}]},
            "tools": {"tools": [{"googleSearch": {}}]}}}""",
        ContextUpdate(
            system_instruction=Content(parts=[Part(text="Be terse.")]), tools=[Tool(google_search=True)]
        ),
    ),
]


@pytest.mark.parametrize(("frame", "expected"), REFERENCE_CLIENT_MESSAGES)
def test_reference_client_messages(frame: str, expected: ClientMessage) -> None:
    assert decode_client_message(frame) == expected


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        # google-genai's snake top-level keys, and the deprecated session.send()'s full snake case
        (
            '{"client_content": {"turns": [{"parts": [{"text": "hi"}], "role": "user"}], '
            '"turn_complete": true}}',
            ClientContent(turns=[Content(role="user", parts=[Part(text="hi")])], turn_complete=True),
        ),
        ('{"client_content": {"turn_complete": true}}', ClientContent(turn_complete=True)),
        ('{"clientContent": {}}', ClientContent()),
        (
            '{"realtime_input": {"media_chunks": [{"data": "AAE=", "mime_type": "audio/pcm"}, '
            '{"data": "AAI", "mime_type": "audio/pcm"}]}}',
            RealtimeInput(
                media_chunks=[
                    Blob(mime_type="audio/pcm", data=b"\x00\x01"),
                    Blob(mime_type="audio/pcm", data=b"\x00\x02"),
                ]
            ),
        ),
        (
            '{"realtime_input": {"activity_start": {}, "audio_stream_end": false}}',
            RealtimeInput(activity_start=True),
        ),
        ('{"realtimeInput": {"activityStart": true}}', RealtimeInput(activity_start=True)),
        ('{"realtimeInput": {}}', RealtimeInput()),
        # a blob with no MIME type or data decodes to empty values (the engine judges them)
        ('{"realtimeInput": {"audio": {}}}', RealtimeInput(audio=Blob(mime_type="", data=b""))),
        # scheduling inside ``response``, as the docs' JS example puts it; the response stays as sent
        (
            '{"toolResponse": {"functionResponses": [{"id": "c", "name": "f", "response": {"result": "ok", '
            '"scheduling": "INTERRUPT"}}]}}',
            ToolResponse(
                function_responses=[
                    FunctionResponse(
                        id="c",
                        name="f",
                        response={"result": "ok", "scheduling": "INTERRUPT"},
                        scheduling=FunctionResponseScheduling.INTERRUPT,
                    )
                ]
            ),
        ),
        # ...but an unknown value in there is just user data
        (
            '{"toolResponse": {"functionResponses": [{"id": "c", "response": {"scheduling": "weekly"}}]}}',
            ToolResponse(function_responses=[FunctionResponse(id="c", response={"scheduling": "weekly"})]),
        ),
        # the top-level one wins
        (
            '{"tool_response": {"function_responses": [{"id": "c", "scheduling": "SILENT", '
            '"will_continue": true, "response": {"scheduling": "INTERRUPT"}}]}}',
            ToolResponse(
                function_responses=[
                    FunctionResponse(
                        id="c",
                        response={"scheduling": "INTERRUPT"},
                        scheduling=FunctionResponseScheduling.SILENT,
                        will_continue=True,
                    )
                ]
            ),
        ),
        (
            '{"toolResponse": {"functionResponses": [{"id": "c"}]}}',
            ToolResponse(function_responses=[FunctionResponse(id="c")]),
        ),
        # contextUpdate: the wrapper tells "clear" from "no change"
        ('{"contextUpdate": {"tools": {"tools": []}}}', ContextUpdate(tools=[])),
        ('{"contextUpdate": {"tools": {}}}', ContextUpdate(tools=[])),
        (
            '{"contextUpdate": {"systemInstruction": "plain"}}',
            ContextUpdate(system_instruction=Content(parts=[Part(text="plain")])),
        ),
        (
            '{"context_update": {"tools": [{"code_execution": {}}]}}',
            ContextUpdate(tools=[Tool(code_execution=True)]),
        ),
        ('{"contextUpdate": {}}', ContextUpdate()),
        # a surrogate pair escaped in JSON is fine (and so is a literal "\\ud" in text)
        ('{"realtimeInput": {"text": "\\ud83d\\ude00 \\\\ud800"}}', RealtimeInput(text="\U0001f600 \\ud800")),
        # unknown top-level fields beside the message are ignored
        ('{"realtimeInput": {"text": "x"}, "extra": 1, "setup": null}', RealtimeInput(text="x")),
    ],
)
def test_client_message_variants(frame: str, expected: ClientMessage) -> None:
    assert decode_client_message(frame) == expected


def test_parts_of_every_kind_and_user_data_verbatim() -> None:
    frame = {
        "client_content": {
            "turns": [
                {
                    "role": "model",
                    "parts": [
                        {"text": "thinking...", "thought": True, "thought_signature": "c2ln"},
                        {
                            "function_call": {
                                "id": "c1",
                                "name": "set_light",
                                "args": {"room_name": "kitchen", "levelPct": 5},
                            }
                        },
                        {"executable_code": {"language": "PYTHON", "code": "print(1)"}},
                        {"code_execution_result": {"outcome": "OUTCOME_OK", "output": "1\n"}},
                        {"file_data": {"file_uri": "gs://b/f.pdf", "mime_type": "application/pdf"}},
                        {
                            "inline_data": {"mime_type": "image/png", "data": "iVBORw"},
                            "video_metadata": {"start_offset": "1s"},
                        },
                        {"text": "x", "part_metadata": {"my_key": {"inner_key": 1}}},
                    ],
                },
                {
                    "role": "user",
                    "parts": [
                        {
                            "function_response": {
                                "id": "c1",
                                "name": "set_light",
                                "response": {"output": {"new_state": "on"}, "error_code": None},
                            }
                        }
                    ],
                },
            ],
            "turn_complete": False,
        }
    }
    assert decode_client_message(json.dumps(frame)) == ClientContent(
        turns=[
            Content(
                role="model",
                parts=[
                    Part(text="thinking...", thought=True, other={"thoughtSignature": "c2ln"}),
                    Part(
                        function_call=FunctionCall(
                            id="c1", name="set_light", args={"room_name": "kitchen", "levelPct": 5}
                        )
                    ),
                    Part(other={"executableCode": {"language": "PYTHON", "code": "print(1)"}}),
                    Part(other={"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1\n"}}),
                    Part(other={"fileData": {"fileUri": "gs://b/f.pdf", "mimeType": "application/pdf"}}),
                    Part(
                        inline_data=Blob(mime_type="image/png", data=b"\x89PNG"),
                        other={"videoMetadata": {"startOffset": "1s"}},
                    ),
                    Part(text="x", other={"partMetadata": {"my_key": {"inner_key": 1}}}),
                ],
            ),
            Content(
                role="user",
                parts=[
                    Part(
                        function_response=FunctionResponse(
                            id="c1",
                            name="set_light",
                            response={"output": {"new_state": "on"}, "error_code": None},
                        )
                    )
                ],
            ),
        ],
        turn_complete=False,
    )


@pytest.mark.parametrize(
    "data",
    [
        "/+8=",  # standard, padded
        "/+8",  # standard, unpadded
        "_-8=",  # URL-safe, padded (what google-genai sends)
        "_-8",  # URL-safe, unpadded
        "/+8=\n",  # a trailing newline (MIME-style encoders)
    ],
)
def test_both_base64_alphabets(data: str) -> None:
    frame = json.dumps({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": data}}})
    message = decode_client_message(frame)
    assert isinstance(message, RealtimeInput)
    assert message.audio == Blob(mime_type="audio/pcm;rate=16000", data=b"\xff\xef")


def test_the_reference_url_safe_jpeg() -> None:
    """§1.2: Python sends ``"_9j_4GZha2VqcGVn"`` for a JPEG."""
    message = decode_client_message(
        '{"realtime_input": {"video": {"data": "_9j_4GZha2VqcGVn", "mime_type": "image/jpeg"}}}'
    )
    assert message == RealtimeInput(video=Blob(mime_type="image/jpeg", data=b"\xff\xd8\xff\xe0fakejpeg"))
