"""The client direction (our SDK): encode_client_message / decode_server_message, and round trips.

hypothesis is not installed, so the round-trip property is checked over a table of messages that
together set every field of every message type.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from openlive.protocol import (
    ActivityHandling,
    AudioTranscriptionConfig,
    AutomaticActivityDetection,
    Blob,
    ClientContent,
    ClientMessage,
    CloseCode,
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
    ProtocolError,
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
    TurnCoverage,
    UsageMetadata,
    VoiceActivity,
    VoiceActivityDetectionSignal,
    decode_client_message,
    decode_server_message,
    encode_client_message,
    encode_server_message,
)

BINARY = bytes(range(256))  # every byte value: both base64 alphabets' special characters appear

FULL_SETUP = Setup(
    model="models/gemini-2.5-flash-native-audio-preview-09-2025",
    generation_config=GenerationConfig(
        response_modalities=[Modality.TEXT],
        temperature=0.25,
        top_p=0.9,
        top_k=40,
        max_output_tokens=1024,
        candidate_count=1,
        presence_penalty=0.1,
        frequency_penalty=-0.1,
        seed=42,
        media_resolution="MEDIA_RESOLUTION_LOW",
        speech_config=SpeechConfig(voice_name="Kore", language_code="ja-JP"),
        thinking_config=ThinkingConfig(thinking_budget=-1, include_thoughts=True, thinking_level="LOW"),
        enable_affective_dialog=False,
    ),
    system_instruction=Content(role="user", parts=[Part(text="You are helpful.")]),
    tools=[
        Tool(
            function_declarations=[
                FunctionDeclaration(
                    name="get_weather",
                    description="Weather for a city",
                    parameters={"type": "OBJECT", "properties": {"city_name": {"type": "STRING"}}},
                    behavior=FunctionBehavior.NON_BLOCKING,
                ),
                FunctionDeclaration(
                    name="g", parameters_json_schema={"type": "object", "properties": {"a_b": {}}}
                ),
            ],
            google_search=True,
        ),
        Tool(code_execution=True, other={"urlContext": {}, "googleMaps": {"enableWidget": True}}),
    ],
    tool_config={"function_calling_config": {"mode": "ANY"}},
    realtime_input_config=RealtimeInputConfig(
        automatic_activity_detection=AutomaticActivityDetection(
            disabled=True,
            start_of_speech_sensitivity=StartSensitivity.HIGH,
            end_of_speech_sensitivity=EndSensitivity.LOW,
            prefix_padding_ms=300,
            silence_duration_ms=500,
        ),
        activity_handling=ActivityHandling.NO_INTERRUPTION,
        turn_coverage=TurnCoverage.TURN_INCLUDES_ALL_INPUT,
    ),
    input_audio_transcription=AudioTranscriptionConfig(language_codes=["en-US"]),
    output_audio_transcription=AudioTranscriptionConfig(),
    session_resumption=SessionResumptionConfig(handle="h-9", transparent=False),
    context_window_compression=ContextWindowCompression(
        trigger_tokens=30000, sliding_window_target_tokens=15000
    ),
    proactive_audio=False,
    initial_history_in_client_content=True,
    labels={"team_name": "a"},
)

CLIENT_MESSAGES: list[ClientMessage] = [
    Setup(model="m"),
    FULL_SETUP,
    Setup(
        model="m",
        generation_config=GenerationConfig(
            response_modalities=[Modality.AUDIO], speech_config=SpeechConfig(language_code="en-US")
        ),
    ),
    Setup(
        model="m",
        context_window_compression=ContextWindowCompression(),
        session_resumption=SessionResumptionConfig(),
    ),
    Setup(
        model="m",
        realtime_input_config=RealtimeInputConfig(
            automatic_activity_detection=AutomaticActivityDetection(prefix_padding_ms=0)
        ),
    ),
    ClientContent(),
    ClientContent(turn_complete=True),
    ClientContent(
        turns=[
            Content(
                role="user",
                parts=[
                    Part(text="What is this?"),
                    Part(inline_data=Blob(mime_type="image/jpeg", data=BINARY)),
                ],
            ),
            Content(
                role="model",
                parts=[
                    Part(text="hmm", thought=True, other={"thoughtSignature": "c2ln"}),
                    Part(
                        function_call=FunctionCall(
                            id="c1", name="look", args={"what_thing": [1, None, {"k_k": True}]}
                        )
                    ),
                    Part(other={"executableCode": {"language": "PYTHON", "code": "x"}}),
                ],
            ),
            Content(
                role="user",
                parts=[
                    Part(
                        function_response=FunctionResponse(
                            id="c1",
                            name="look",
                            response={"output": "a cat"},
                            scheduling=FunctionResponseScheduling.SILENT,
                            will_continue=True,
                        )
                    )
                ],
            ),
        ],
        turn_complete=False,
    ),
    RealtimeInput(audio=Blob(mime_type="audio/pcm;rate=16000", data=BINARY)),
    RealtimeInput(audio=Blob(mime_type="audio/pcm", data=b"")),
    RealtimeInput(video=Blob(mime_type="image/jpeg", data=BINARY)),
    RealtimeInput(text="hello ✓"),
    RealtimeInput(activity_start=True),
    RealtimeInput(activity_end=True),
    RealtimeInput(audio_stream_end=True),
    RealtimeInput(
        media_chunks=[
            Blob(mime_type="audio/pcm", data=b"\x01\x02"),
            Blob(mime_type="image/png", data=b"\x89"),
        ]
    ),
    RealtimeInput(),
    RealtimeInput(
        text="t", activity_start=True, activity_end=True, audio=Blob(mime_type="audio/pcm", data=b"\x00")
    ),
    ToolResponse(),
    ToolResponse(
        function_responses=[
            FunctionResponse(id="a", name="f", response={"result": {"snake_case": 1}}),
            FunctionResponse(id="b", scheduling=FunctionResponseScheduling.WHEN_IDLE, will_continue=False),
        ]
    ),
    ContextUpdate(),
    ContextUpdate(tools=[]),
    ContextUpdate(system_instruction=Content(parts=[Part(text="New rules.")])),
    ContextUpdate(
        system_instruction=Content(role="user", parts=[]), tools=[Tool(google_search=True), Tool()]
    ),
]


@pytest.mark.parametrize("message", CLIENT_MESSAGES)
def test_client_round_trip(message: ClientMessage) -> None:
    text = encode_client_message(message)
    assert isinstance(text, str)
    assert decode_client_message(text) == message
    assert decode_client_message(text.encode()) == message


USER_DATA_KEYS = {"args", "response", "parameters", "parametersJsonSchema", "labels", "toolConfig"}


def _keys_and_data(value: Any) -> tuple[set[str], list[str]]:
    """Every object key in ``value`` (except inside user data), and every ``data`` (base64) value."""
    keys: set[str] = set()
    data: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            keys.add(key)
            if key == "data":
                data.append(inner)
            elif key not in USER_DATA_KEYS:
                inner_keys, inner_data = _keys_and_data(inner)
                keys |= inner_keys
                data += inner_data
    elif isinstance(value, list):
        for inner in value:
            inner_keys, inner_data = _keys_and_data(inner)
            keys |= inner_keys
            data += inner_data
    return keys, data


@pytest.mark.parametrize("message", CLIENT_MESSAGES)
def test_client_encoding_is_compact_pure_camel_case_standard_base64(message: ClientMessage) -> None:
    text = encode_client_message(message)
    parsed = json.loads(text)
    assert text == json.dumps(parsed, separators=(",", ":"), ensure_ascii=False)
    keys, data = _keys_and_data(parsed)
    assert not [key for key in keys if "_" in key]
    assert all(re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", d) and len(d) % 4 == 0 for d in data)


def test_client_encoding_examples() -> None:
    assert (
        encode_client_message(RealtimeInput(activity_start=True)) == '{"realtimeInput":{"activityStart":{}}}'
    )
    assert (
        encode_client_message(RealtimeInput(audio_stream_end=True))
        == '{"realtimeInput":{"audioStreamEnd":true}}'
    )
    assert encode_client_message(
        RealtimeInput(audio=Blob(mime_type="audio/pcm;rate=16000", data=b"\xfb\xff"))
    ) == ('{"realtimeInput":{"audio":{"mimeType":"audio/pcm;rate=16000","data":"+/8="}}}')
    assert encode_client_message(ContextUpdate(tools=[])) == '{"contextUpdate":{"tools":{"tools":[]}}}'
    assert encode_client_message(Setup(model="models/x")) == '{"setup":{"model":"models/x"}}'
    assert (
        encode_client_message(
            Setup(model="m", context_window_compression=ContextWindowCompression(trigger_tokens=10))
        )
        == '{"setup":{"model":"m","contextWindowCompression":{"triggerTokens":10,"slidingWindow":{}}}}'
    )
    assert encode_client_message(
        ClientContent(turns=[Content(role="user", parts=[Part(text="hi")])], turn_complete=True)
    ) == ('{"clientContent":{"turns":[{"role":"user","parts":[{"text":"hi"}]}],"turnComplete":true}}')


def test_encode_client_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        encode_client_message(SetupComplete())  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# decode_server_message

SERVER_MESSAGES: list[tuple[ServerMessage, UsageMetadata | None]] = [
    (SetupComplete(), None),
    (SetupComplete(session_id="abc"), None),
    (
        ServerContent(
            model_turn=Content(parts=[Part(inline_data=Blob(mime_type="audio/pcm;rate=24000", data=BINARY))])
        ),
        None,
    ),
    (
        ServerContent(model_turn=Content(role="model", parts=[Part(text="a", thought=True), Part(text="b")])),
        None,
    ),
    (
        ServerContent(
            input_transcription=Transcription(text="hi", finished=True),
            output_transcription=Transcription(text="yo", finished=False),
        ),
        None,
    ),
    (
        ServerContent(
            turn_complete=True,
            generation_complete=True,
            interrupted=False,
            grounding_metadata={"web_search_queries": ["q"]},
            turn_complete_reason="NEED_MORE_INPUT",
            waiting_for_input=False,
        ),
        UsageMetadata(
            prompt_token_count=1,
            cached_content_token_count=2,
            response_token_count=3,
            tool_use_prompt_token_count=4,
            thoughts_token_count=5,
            total_token_count=15,
            prompt_tokens_details=[ModalityTokenCount(modality="TEXT", token_count=1)],
            cache_tokens_details=[ModalityTokenCount(modality="TEXT", token_count=2)],
            response_tokens_details=[ModalityTokenCount(modality="AUDIO", token_count=3)],
            tool_use_prompt_tokens_details=[ModalityTokenCount(modality="TEXT", token_count=4)],
        ),
    ),
    (ServerContent(), None),
    (
        ToolCall(function_calls=[FunctionCall(id="c", name="f", args={"a_b": 1}), FunctionCall(name="g")]),
        None,
    ),
    (ToolCallCancellation(ids=["c", "d"]), None),
    (ToolCallCancellation(), None),
    (GoAway(time_left_s=50.0), None),
    (GoAway(time_left_s=0.125), UsageMetadata(total_token_count=1)),
    (SessionResumptionUpdate(new_handle="h", resumable=True, last_consumed_client_message_index=3), None),
    (SessionResumptionUpdate(), None),
    (UsageMetadata(total_token_count=9), None),
    (VoiceActivity(type="ACTIVITY_START", audio_offset_s=1.2), None),
    (VoiceActivity(type="ACTIVITY_END"), None),
]


@pytest.mark.parametrize(("message", "usage"), SERVER_MESSAGES)
def test_server_round_trip(message: ServerMessage, usage: UsageMetadata | None) -> None:
    frame = encode_server_message(message, usage)
    expected = [message] if usage is None else [message, usage]
    assert decode_server_message(frame) == expected
    assert decode_server_message(frame.decode()) == expected


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        # snake_case is tolerated, as are Vertex's ``candidates`` counts and numeric durations
        (
            '{"server_content": {"model_turn": {"parts": [{"inline_data": {"mime_type": "audio/pcm", '
            '"data": "_-8"}}]}, "turn_complete": true}}',
            [
                ServerContent(
                    model_turn=Content(
                        parts=[Part(inline_data=Blob(mime_type="audio/pcm", data=b"\xff\xef"))]
                    ),
                    turn_complete=True,
                )
            ],
        ),
        (
            '{"usageMetadata": {"candidatesTokenCount": 5, '
            '"candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 5}]}}',
            [
                UsageMetadata(
                    response_token_count=5,
                    response_tokens_details=[ModalityTokenCount(modality="AUDIO", token_count=5)],
                )
            ],
        ),
        ('{"go_away": {"time_left": 30}}', [GoAway(time_left_s=30.0)]),
        ('{"goAway": {}}', [GoAway(time_left_s=0.0)]),
        (
            '{"session_resumption_update": {"new_handle": "x", "resumable": true, '
            '"last_consumed_client_message_index": 4}}',
            [SessionResumptionUpdate(new_handle="x", resumable=True, last_consumed_client_message_index=4)],
        ),
        (
            '{"voiceActivity": {"voiceActivityType": "ACTIVITY_END", "audioOffset": "2s"}}',
            [VoiceActivity(type="ACTIVITY_END", audio_offset_s=2.0)],
        ),
        (
            '{"voiceActivityDetectionSignal": {"vadSignalType": "VAD_SIGNAL_TYPE_SOS"}}',
            [VoiceActivityDetectionSignal(vad_signal_type="VAD_SIGNAL_TYPE_SOS")],
        ),
        # kinds this codec does not know are skipped; so are unknown fields
        ('{"urlContextMetadata": {}}', []),
        ("{}", []),
        (
            '{"serverContent": {"interactionStatus": "IDLE", "turnComplete": true}, "extra": 1}',
            [ServerContent(turn_complete=True)],
        ),
        # several kinds in one message all come back, usage last
        ('{"usageMetadata": {}, "setupComplete": {}}', [SetupComplete(), UsageMetadata()]),
    ],
)
def test_server_message_variants(frame: str, expected: list[ServerMessage]) -> None:
    assert decode_server_message(frame) == expected


@pytest.mark.parametrize(
    "frame",
    [
        b"\xff",
        "not json",
        "[]",
        '"x"',
        '{"setupComplete": []}',
        '{"serverContent": {"turnComplete": "yes"}}',
        '{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "@"}}]}}}',
        '{"toolCall": {"functionCalls": [{"args": {}}]}}',
        '{"toolCallCancellation": {"ids": [1]}}',
        '{"goAway": {"timeLeft": "soon"}}',
        '{"goAway": {"timeLeft": "5m"}}',
        '{"usageMetadata": {"totalTokenCount": "many"}}',
        '{"voiceActivity": {"audioOffset": true}}',
        '{"serverContent": {}, "server_content": {}}',
        '{"serverContent": {"modelTurn": {"parts": [{"x": ' + "[" * 800 + "]" * 800 + "}]}}}",
        "[" * 100_000,
    ],
)
def test_server_garbage_raises(frame: str | bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_server_message(frame)
    assert info.value.code == CloseCode.INVALID_ARGUMENT
