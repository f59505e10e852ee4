"""encode_server_message: the reference's §4 server examples, byte for byte (compact camelCase JSON)."""

from __future__ import annotations

import json

import pytest

from openlive.protocol import (
    Blob,
    Content,
    FunctionCall,
    GoAway,
    ModalityTokenCount,
    Part,
    ServerContent,
    ServerMessage,
    SessionResumptionUpdate,
    SetupComplete,
    ToolCall,
    ToolCallCancellation,
    Transcription,
    UsageMetadata,
    VoiceActivity,
    encode_server_message,
)

PCM = bytes(range(256)) * 3  # contains bytes that differ between the base64 alphabets


def compact(reference: str) -> bytes:
    """A reference example, re-serialized compactly (key order kept)."""
    return json.dumps(json.loads(reference), separators=(",", ":")).encode()


SERVER_EXAMPLES: list[tuple[ServerMessage, UsageMetadata | None, str]] = [
    # §2
    (SetupComplete(), None, '{"setupComplete": {}}'),
    (SetupComplete(session_id="s-1"), None, '{"setupComplete": {"sessionId": "s-1"}}'),
    # §4.1
    (
        ServerContent(
            model_turn=Content(
                parts=[
                    Part(inline_data=Blob(mime_type="audio/pcm;rate=24000", data=b"\x00\x00\x97\x03\x22\x07"))
                ]
            )
        ),
        None,
        '{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", '
        '"data": "AACXAyIH"}}]}}}',
    ),
    (
        ServerContent(input_transcription=Transcription(text="hello there")),
        None,
        '{"serverContent": {"inputTranscription": {"text": "hello there"}}}',
    ),
    (
        ServerContent(output_transcription=Transcription(text="Hi! ")),
        None,
        '{"serverContent": {"outputTranscription": {"text": "Hi! "}}}',
    ),
    (ServerContent(interrupted=True), None, '{"serverContent": {"interrupted": true}}'),
    (ServerContent(generation_complete=True), None, '{"serverContent": {"generationComplete": true}}'),
    (
        ServerContent(turn_complete=True),
        UsageMetadata(
            prompt_token_count=100,
            response_token_count=20,
            total_token_count=120,
            prompt_tokens_details=[ModalityTokenCount(modality="AUDIO", token_count=100)],
            response_tokens_details=[ModalityTokenCount(modality="AUDIO", token_count=20)],
        ),
        """{"serverContent": {"turnComplete": true},
 "usageMetadata": {"promptTokenCount": 100, "responseTokenCount": 20, "totalTokenCount": 120,
   "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 100}],
   "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 20}]}}""",
    ),
    # §4.2
    (
        ToolCall(
            function_calls=[FunctionCall(id="call-1", name="turn_on_the_lights", args={"room": "kitchen"})]
        ),
        None,
        '{"toolCall": {"functionCalls": [{"id": "call-1", "name": "turn_on_the_lights", '
        '"args": {"room": "kitchen"}}]}}',
    ),
    (ToolCallCancellation(ids=["call-1"]), None, '{"toolCallCancellation": {"ids": ["call-1"]}}'),
    # §4.3
    (GoAway(time_left_s=50), None, '{"goAway": {"timeLeft": "50s"}}'),
    # §4.4
    (
        SessionResumptionUpdate(new_handle="handle-1", resumable=True),
        None,
        '{"sessionResumptionUpdate": {"newHandle": "handle-1", "resumable": true}}',
    ),
    # §4.6
    (
        VoiceActivity(type="ACTIVITY_START", audio_offset_s=1.2),
        None,
        '{"voiceActivity": {"type": "ACTIVITY_START", "audioOffset": "1.2s"}}',
    ),
]


@pytest.mark.parametrize(("message", "usage", "reference"), SERVER_EXAMPLES)
def test_reference_server_examples(
    message: ServerMessage, usage: UsageMetadata | None, reference: str
) -> None:
    assert encode_server_message(message, usage) == compact(reference)


@pytest.mark.parametrize(
    ("message", "usage", "expected"),
    [
        # a lone usageMetadata; zero counts are left out like proto3 JSON does
        (UsageMetadata(total_token_count=7), None, b'{"usageMetadata":{"totalTokenCount":7}}'),
        (UsageMetadata(), None, b'{"usageMetadata":{}}'),
        (
            UsageMetadata(
                cached_content_token_count=1, tool_use_prompt_token_count=2, thoughts_token_count=3
            ),
            None,
            b'{"usageMetadata":{"cachedContentTokenCount":1,"toolUsePromptTokenCount":2,"thoughtsTokenCount":3}}',
        ),
        # usage rides beside any message kind
        (
            GoAway(time_left_s=0),
            UsageMetadata(prompt_token_count=1),
            b'{"goAway":{"timeLeft":"0s"},"usageMetadata":{"promptTokenCount":1}}',
        ),
        # durations: a trailing "s", at most 3 decimals, never negative
        (GoAway(time_left_s=12.5), None, b'{"goAway":{"timeLeft":"12.5s"}}'),
        (GoAway(time_left_s=59.99949), None, b'{"goAway":{"timeLeft":"59.999s"}}'),
        (GoAway(time_left_s=0.0004), None, b'{"goAway":{"timeLeft":"0s"}}'),
        (GoAway(time_left_s=-3), None, b'{"goAway":{"timeLeft":"0s"}}'),
        (VoiceActivity(type="ACTIVITY_END"), None, b'{"voiceActivity":{"type":"ACTIVITY_END"}}'),
        (
            VoiceActivity(type="ACTIVITY_END", audio_offset_s=0.02),
            None,
            b'{"voiceActivity":{"type":"ACTIVITY_END","audioOffset":"0.02s"}}',
        ),
        # int64 as a string, as proto3 JSON writes it
        (
            SessionResumptionUpdate(new_handle="", resumable=False, last_consumed_client_message_index=12),
            None,
            b'{"sessionResumptionUpdate":{"newHandle":"","resumable":false,"lastConsumedClientMessageIndex":"12"}}',
        ),
        (SessionResumptionUpdate(), None, b'{"sessionResumptionUpdate":{"resumable":false}}'),
        # text is UTF-8, not \\u-escaped; thoughts carry their flag
        (
            ServerContent(
                model_turn=Content(
                    role="model", parts=[Part(text="こんにちは"), Part(text="plan", thought=True)]
                )
            ),
            None,
            '{"serverContent":{"modelTurn":{"role":"model","parts":[{"text":"こんにちは"},{"text":"plan","thought":true}]}}}'.encode(),
        ),
        (
            ServerContent(input_transcription=Transcription(text="", finished=True)),
            None,
            b'{"serverContent":{"inputTranscription":{"text":"","finished":true}}}',
        ),
        (
            ServerContent(
                turn_complete=True,
                turn_complete_reason="NEED_MORE_INPUT",
                waiting_for_input=True,
                grounding_metadata={
                    "webSearchQueries": ["q"],
                    "search_entry_point": {"rendered_content": "<b>"},
                },
            ),
            None,
            b'{"serverContent":{"turnComplete":true,"groundingMetadata":{"webSearchQueries":["q"],'
            b'"search_entry_point":{"rendered_content":"<b>"}},"turnCompleteReason":"NEED_MORE_INPUT","waitingForInput":true}}',
        ),
        # code execution parts pass through ``Part.other``
        (
            ServerContent(
                model_turn=Content(
                    parts=[Part(other={"executableCode": {"language": "PYTHON", "code": "1+1"}})]
                )
            ),
            None,
            b'{"serverContent":{"modelTurn":{"parts":[{"executableCode":{"language":"PYTHON","code":"1+1"}}]}}}',
        ),
        # args are user data: sent as they are
        (
            ToolCall(function_calls=[FunctionCall(name="f", args={"snake_key": [1, {"x_y": None}]})]),
            None,
            b'{"toolCall":{"functionCalls":[{"name":"f","args":{"snake_key":[1,{"x_y":null}]}}]}}',
        ),
        (ToolCall(), None, b'{"toolCall":{"functionCalls":[]}}'),
    ],
)
def test_server_encoding_details(
    message: ServerMessage, usage: UsageMetadata | None, expected: bytes
) -> None:
    assert encode_server_message(message, usage) == expected


def test_audio_is_standard_base64() -> None:
    encoded = encode_server_message(
        ServerContent(
            model_turn=Content(parts=[Part(inline_data=Blob(mime_type="audio/pcm;rate=24000", data=PCM))])
        )
    )
    data = json.loads(encoded)["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"]
    assert "+" in data and "/" in data and "-" not in data and "_" not in data
    assert encoded.isascii()


def test_a_usage_message_cannot_carry_usage() -> None:
    with pytest.raises(ValueError):
        encode_server_message(UsageMetadata(), UsageMetadata())


def test_not_a_server_message() -> None:
    with pytest.raises(TypeError):
        encode_server_message(Content())  # type: ignore[arg-type]


def test_non_finite_numbers_are_refused() -> None:
    with pytest.raises(ValueError):
        encode_server_message(GoAway(time_left_s=float("inf")))
    with pytest.raises(ValueError):
        encode_server_message(ToolCall(function_calls=[FunctionCall(name="f", args={"x": float("nan")})]))
