"""Against the real google-genai 3.6.1, offline.

* What the SDK really sends (captured from its own code paths) decodes to the expected messages.
* What ``encode_server_message`` produces is accepted by the SDK's own converter and its pydantic types
  (``extra='forbid'``, so a misspelt field fails), and flows through ``AsyncSession.receive()``.
* What ``encode_client_message`` produces validates against the SDK's client message types.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from google.genai import _live_converters, types

from openlive.protocol import (
    AudioTranscriptionConfig,
    Blob,
    ClientContent,
    ClientMessage,
    CloseCode,
    Content,
    ContextUpdate,
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
    ServerContent,
    ServerMessage,
    SessionResumptionConfig,
    SessionResumptionUpdate,
    Setup,
    SetupComplete,
    Tool,
    ToolCall,
    ToolCallCancellation,
    ToolResponse,
    Transcription,
    UsageMetadata,
    VoiceActivity,
    decode_client_message,
    encode_client_message,
    encode_server_message,
)

from .test_decode_client import GENAI_MIXED_SETUP
from .test_roundtrip import CLIENT_MESSAGES, SERVER_MESSAGES

RunSession = Callable[..., list[str]]
MODEL = "models/gemini-2.5-flash-native-audio-preview-09-2025"

# The §2 config, given to the SDK the way a user would.
REFERENCE_CONFIG = types.LiveConnectConfig(
    response_modalities=["AUDIO"],
    temperature=0.7,
    media_resolution="MEDIA_RESOLUTION_LOW",
    speech_config=types.SpeechConfig(
        voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Kore")),
        language_code="en-US",
    ),
    thinking_config=types.ThinkingConfig(thinking_budget=0, include_thoughts=False),
    enable_affective_dialog=True,
    system_instruction="You are a helpful assistant.",
    tools=[
        types.Tool(google_search=types.GoogleSearch()),
        types.Tool(code_execution=types.ToolCodeExecution()),
        types.Tool(
            function_declarations=[
                types.FunctionDeclaration(
                    name="turn_on_the_lights",
                    description="Turn on lights",
                    parameters=types.Schema(type="OBJECT", properties={"room": types.Schema(type="STRING")}),
                    behavior="NON_BLOCKING",
                )
            ]
        ),
    ],
    realtime_input_config=types.RealtimeInputConfig(
        automatic_activity_detection=types.AutomaticActivityDetection(
            disabled=False,
            start_of_speech_sensitivity="START_SENSITIVITY_LOW",
            end_of_speech_sensitivity="END_SENSITIVITY_LOW",
            prefix_padding_ms=20,
            silence_duration_ms=100,
        ),
        activity_handling="START_OF_ACTIVITY_INTERRUPTS",
        turn_coverage="TURN_INCLUDES_ONLY_ACTIVITY",
    ),
    input_audio_transcription=types.AudioTranscriptionConfig(),
    output_audio_transcription=types.AudioTranscriptionConfig(),
    session_resumption=types.SessionResumptionConfig(),
    context_window_compression=types.ContextWindowCompressionConfig(
        trigger_tokens=25600, sliding_window=types.SlidingWindow(target_tokens=12800)
    ),
    proactivity=types.ProactivityConfig(proactive_audio=True),
)


async def _nothing(session: Any) -> None:
    pass


def test_sdk_setup_is_the_reference_mixed_case_setup(sdk_session: RunSession) -> None:
    (frame,) = sdk_session(REFERENCE_CONFIG, _nothing)
    assert json.loads(frame) == json.loads(GENAI_MIXED_SETUP)
    assert decode_client_message(frame) == decode_client_message(GENAI_MIXED_SETUP)
    assert isinstance(decode_client_message(frame), Setup)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, Setup(model=MODEL)),
        (
            {"response_modalities": ["TEXT"]},
            Setup(model=MODEL, generation_config=GenerationConfig(response_modalities=[Modality.TEXT])),
        ),
        (
            {
                "system_instruction": "Be brief.",
                "tools": [{"url_context": {}}],
                "session_resumption": {"handle": "h-1"},
            },
            Setup(
                model=MODEL,
                system_instruction=Content(role="user", parts=[Part(text="Be brief.")]),
                tools=[Tool(other={"urlContext": {}})],
                session_resumption=SessionResumptionConfig(handle="h-1"),
            ),
        ),
        (
            {
                "tools": [
                    {
                        "function_declarations": [
                            {
                                "name": "f",
                                "parameters_json_schema": {
                                    "type": "object",
                                    "properties": {"a_b": {"type": "string"}},
                                },
                            }
                        ]
                    }
                ]
            },
            Setup(
                model=MODEL,
                tools=[
                    Tool(
                        function_declarations=[
                            FunctionDeclaration(
                                name="f",
                                parameters_json_schema={
                                    "type": "object",
                                    "properties": {"a_b": {"type": "string"}},
                                },
                            )
                        ]
                    )
                ],
            ),
        ),
        (
            {
                "input_audio_transcription": {
                    "language_codes": ["en-US"],
                    "custom_vocabulary": ["Kwazimir Zolbrecht", "openlive"],
                }
            },
            Setup(
                model=MODEL,
                input_audio_transcription=AudioTranscriptionConfig(
                    language_codes=["en-US"], custom_vocabulary=["Kwazimir Zolbrecht", "openlive"]
                ),
            ),
        ),
    ],
)
def test_sdk_setups(sdk_session: RunSession, config: Any, expected: Setup) -> None:
    (frame,) = sdk_session(config, _nothing)
    assert decode_client_message(frame) == expected


def test_sdk_setup_with_both_modalities_is_refused(sdk_session: RunSession) -> None:
    (frame,) = sdk_session({"response_modalities": ["TEXT", "AUDIO"]}, _nothing)
    with pytest.raises(ProtocolError) as info:
        decode_client_message(frame)
    assert info.value.code == CloseCode.INVALID_ARGUMENT


JPEG = b"\xff\xd8\xff\xe0fakejpeg"
PCM = bytes(range(256))


async def _send_all(session: Any) -> None:
    await session.send_client_content(
        turns=[
            types.Content(role="user", parts=[types.Part(text="What is the capital of France?")]),
            types.Content(role="model", parts=[types.Part(text="Paris")]),
        ],
        turn_complete=True,
    )
    await session.send_client_content(
        turns=types.Content(
            role="user", parts=[types.Part(inline_data=types.Blob(data=JPEG, mime_type="image/jpeg"))]
        ),
        turn_complete=False,
    )
    await session.send_client_content(
        turns=[
            types.Content(
                role="model",
                parts=[
                    types.Part(
                        function_call=types.FunctionCall(id="c0", name="f", args={"room_name": "kitchen"})
                    )
                ],
            ),
            types.Content(
                role="user",
                parts=[
                    types.Part(
                        function_response=types.FunctionResponse(
                            id="c0", name="f", response={"ok_flag": True}
                        )
                    )
                ],
            ),
        ]
    )
    await session.send_realtime_input(audio=types.Blob(data=PCM, mime_type="audio/pcm;rate=16000"))
    await session.send_realtime_input(video=types.Blob(data=JPEG, mime_type="image/jpeg"))
    await session.send_realtime_input(media=types.Blob(data=JPEG, mime_type="image/jpeg"))
    await session.send_realtime_input(text="hello")
    await session.send_realtime_input(activity_start=types.ActivityStart())
    await session.send_realtime_input(activity_end=types.ActivityEnd())
    await session.send_realtime_input(audio_stream_end=True)
    await session.send_tool_response(
        function_responses=[
            types.FunctionResponse(
                id="call-1",
                name="turn_on_the_lights",
                response={"result": "ok", "some_key": {"nested_key": 1}},
                scheduling="WHEN_IDLE",
                will_continue=False,
            )
        ]
    )
    await session.send_tool_response(
        function_responses={
            "id": "call-2",
            "name": "g",
            "response": {"result": "ok", "scheduling": "INTERRUPT"},
        }
    )
    await session.send_context_update(system_instruction="Be terse.", tools=[])
    await session.send_context_update(tools=[types.Tool(google_search=types.GoogleSearch())])
    # the deprecated session.send(): fully snake_case
    await session.send(input="old style", end_of_turn=True)
    await session.send(
        input=types.LiveClientRealtimeInput(
            media_chunks=[types.Blob(data=b"\x00\x01", mime_type="audio/pcm")]
        )
    )
    await session.send(input={"data": b"\x00\x01", "mime_type": "audio/pcm"})
    await session.send(input=types.FunctionResponse(id="call-3", name="h", response={"x": 1}))


SDK_EXPECTED: list[ClientMessage] = [
    ClientContent(
        turns=[
            Content(role="user", parts=[Part(text="What is the capital of France?")]),
            Content(role="model", parts=[Part(text="Paris")]),
        ],
        turn_complete=True,
    ),
    ClientContent(
        turns=[Content(role="user", parts=[Part(inline_data=Blob(mime_type="image/jpeg", data=JPEG))])]
    ),
    ClientContent(
        turns=[
            Content(
                role="model",
                parts=[Part(function_call=FunctionCall(id="c0", name="f", args={"room_name": "kitchen"}))],
            ),
            Content(
                role="user",
                parts=[
                    Part(function_response=FunctionResponse(id="c0", name="f", response={"ok_flag": True}))
                ],
            ),
        ],
        turn_complete=True,
    ),
    RealtimeInput(audio=Blob(mime_type="audio/pcm;rate=16000", data=PCM)),
    RealtimeInput(video=Blob(mime_type="image/jpeg", data=JPEG)),
    RealtimeInput(media_chunks=[Blob(mime_type="image/jpeg", data=JPEG)]),
    RealtimeInput(text="hello"),
    RealtimeInput(activity_start=True),
    RealtimeInput(activity_end=True),
    RealtimeInput(audio_stream_end=True),
    ToolResponse(
        function_responses=[
            FunctionResponse(
                id="call-1",
                name="turn_on_the_lights",
                response={"result": "ok", "some_key": {"nested_key": 1}},
                scheduling=FunctionResponseScheduling.WHEN_IDLE,
                will_continue=False,
            )
        ]
    ),
    ToolResponse(
        function_responses=[
            FunctionResponse(
                id="call-2",
                name="g",
                response={"result": "ok", "scheduling": "INTERRUPT"},
                scheduling=FunctionResponseScheduling.INTERRUPT,
            )
        ]
    ),
    ContextUpdate(system_instruction=Content(role="user", parts=[Part(text="Be terse.")]), tools=[]),
    ContextUpdate(tools=[Tool(google_search=True)]),
    ClientContent(turns=[Content(role="user", parts=[Part(text="old style")])], turn_complete=True),
    RealtimeInput(media_chunks=[Blob(mime_type="audio/pcm", data=b"\x00\x01")]),
    RealtimeInput(media_chunks=[Blob(mime_type="audio/pcm", data=b"\x00\x01")]),
    ToolResponse(function_responses=[FunctionResponse(id="call-3", name="h", response={"x": 1})]),
]


def test_everything_the_sdk_sends_decodes(sdk_session: RunSession) -> None:
    setup, *frames = sdk_session(None, _send_all)
    assert decode_client_message(setup) == Setup(model=MODEL)
    assert [decode_client_message(f) for f in frames] == SDK_EXPECTED


def test_the_sdk_really_sends_mixed_case_and_url_safe_base64(sdk_session: RunSession) -> None:
    """Guards the fixtures above: if a future SDK changes its casing, these tests still mean something."""
    _, *frames = sdk_session(None, _send_all)
    assert frames[0].startswith('{"client_content": ')
    assert frames[3].startswith('{"realtime_input": {"audio": {"data": ')
    assert '"mime_type"' in frames[3]
    audio_b64 = json.loads(frames[3])["realtime_input"]["audio"]["data"]
    assert "_" in audio_b64 or "-" in audio_b64
    assert '"will_continue"' in frames[10]


# --------------------------------------------------------------------------------------------------
# Server → SDK


def _sdk_parse(frame: bytes) -> types.LiveServerMessage:
    """What AsyncSession._receive does, but strict: pydantic forbids unknown fields here."""
    converted = _live_converters._LiveServerMessage_from_mldev(json.loads(frame))
    assert converted, "the SDK found no known message key"
    return types.LiveServerMessage.model_validate(converted)


@pytest.mark.parametrize(("message", "usage"), SERVER_MESSAGES)
def test_sdk_accepts_every_server_message(message: ServerMessage, usage: UsageMetadata | None) -> None:
    frame = encode_server_message(message, usage)
    parsed = _sdk_parse(frame)
    lenient = types.LiveServerMessage._from_response(
        response=_live_converters._LiveServerMessage_from_mldev(json.loads(frame)), kwargs={}
    )
    assert parsed == lenient  # nothing we send is dropped as an unknown field
    if usage is not None:
        assert parsed.usage_metadata is not None
        assert parsed.usage_metadata.total_token_count == (usage.total_token_count or None)


def test_sdk_reads_the_values() -> None:
    audio = _sdk_parse(
        encode_server_message(
            ServerContent(
                model_turn=Content(parts=[Part(inline_data=Blob(mime_type="audio/pcm;rate=24000", data=PCM))])
            )
        )
    )
    assert audio.data == PCM
    assert audio.server_content and audio.server_content.model_turn

    text = _sdk_parse(encode_server_message(ServerContent(model_turn=Content(parts=[Part(text="Bonjour")]))))
    assert text.text == "Bonjour"

    transcripts = _sdk_parse(
        encode_server_message(
            ServerContent(
                input_transcription=Transcription(text="hi", finished=True),
                output_transcription=Transcription(text="yo"),
            )
        )
    )
    assert transcripts.server_content is not None
    assert transcripts.server_content.input_transcription == types.Transcription(text="hi", finished=True)
    assert transcripts.server_content.output_transcription == types.Transcription(text="yo")

    call = _sdk_parse(
        encode_server_message(
            ToolCall(function_calls=[FunctionCall(id="c1", name="f", args={"room_name": "x"})])
        )
    )
    assert call.tool_call and call.tool_call.function_calls
    assert call.tool_call.function_calls[0] == types.FunctionCall(id="c1", name="f", args={"room_name": "x"})

    cancel = _sdk_parse(encode_server_message(ToolCallCancellation(ids=["c1"])))
    assert cancel.tool_call_cancellation == types.LiveServerToolCallCancellation(ids=["c1"])

    go_away = _sdk_parse(encode_server_message(GoAway(time_left_s=50)))
    assert go_away.go_away == types.LiveServerGoAway(time_left="50s")

    update = _sdk_parse(
        encode_server_message(
            SessionResumptionUpdate(new_handle="h", resumable=True, last_consumed_client_message_index=7)
        )
    )
    assert update.session_resumption_update == types.LiveServerSessionResumptionUpdate(
        new_handle="h", resumable=True, last_consumed_client_message_index=7
    )

    usage = _sdk_parse(
        encode_server_message(
            ServerContent(turn_complete=True),
            UsageMetadata(
                prompt_token_count=100,
                response_token_count=20,
                total_token_count=120,
                prompt_tokens_details=[ModalityTokenCount(modality="AUDIO", token_count=100)],
                cached_content_token_count=60,
                cache_tokens_details=[ModalityTokenCount(modality="TEXT", token_count=60)],
                tool_use_prompt_token_count=7,
                tool_use_prompt_tokens_details=[ModalityTokenCount(modality="TEXT", token_count=7)],
            ),
        )
    )
    assert usage.usage_metadata is not None
    assert usage.usage_metadata.prompt_token_count == 100
    assert usage.usage_metadata.response_token_count == 20
    assert usage.usage_metadata.prompt_tokens_details == [
        types.ModalityTokenCount(modality="AUDIO", token_count=100)
    ]
    assert usage.usage_metadata.cache_tokens_details == [
        types.ModalityTokenCount(modality="TEXT", token_count=60)
    ]
    assert usage.usage_metadata.tool_use_prompt_token_count == 7
    assert usage.usage_metadata.tool_use_prompt_tokens_details == [
        types.ModalityTokenCount(modality="TEXT", token_count=7)
    ]

    malformed = _sdk_parse(
        encode_server_message(
            ServerContent(turn_complete=True, turn_complete_reason="MALFORMED_FUNCTION_CALL")
        )
    )
    assert malformed.server_content is not None
    assert malformed.server_content.turn_complete_reason is types.TurnCompleteReason.MALFORMED_FUNCTION_CALL
    assert malformed.server_content.waiting_for_input is None

    vad = _sdk_parse(encode_server_message(VoiceActivity(type="ACTIVITY_START", audio_offset_s=1.2)))
    assert vad.voice_activity == types.VoiceActivity(
        voice_activity_type="ACTIVITY_START", audio_offset="1.2s"
    )


def test_a_whole_turn_through_the_sdk_receive_loop(sdk_session: RunSession) -> None:
    turn = [
        encode_server_message(ServerContent(input_transcription=Transcription(text="hello"))),
        encode_server_message(
            ServerContent(
                model_turn=Content(parts=[Part(inline_data=Blob(mime_type="audio/pcm;rate=24000", data=PCM))])
            )
        ),
        encode_server_message(ServerContent(output_transcription=Transcription(text="Hi!"))),
        encode_server_message(ServerContent(generation_complete=True)),
        encode_server_message(ServerContent(turn_complete=True), UsageMetadata(total_token_count=5)),
        encode_server_message(GoAway(time_left_s=12.5)),
    ]
    seen: list[types.LiveServerMessage] = []
    session_ids: list[str | None] = []

    async def script(session: Any) -> None:
        session_ids.append(session.session_id)
        async for message in session.receive():  # stops by itself at turnComplete
            seen.append(message)
        seen.append(await session._receive())

    sdk_session(
        None, script, incoming=turn, setup_reply=encode_server_message(SetupComplete(session_id="sess-1"))
    )
    assert session_ids == ["sess-1"]
    assert len(seen) == 6
    assert seen[0].server_content and seen[0].server_content.input_transcription
    assert seen[1].data == PCM
    assert seen[4].server_content and seen[4].server_content.turn_complete
    assert seen[4].usage_metadata and seen[4].usage_metadata.total_token_count == 5
    assert seen[5].go_away and seen[5].go_away.time_left == "12.5s"


# --------------------------------------------------------------------------------------------------
# Our client → the SDK's own client types


@pytest.mark.parametrize("message", CLIENT_MESSAGES)
def test_sdk_types_accept_our_client_encoding(message: ClientMessage) -> None:
    payload = json.loads(encode_client_message(message))
    setup = payload.get("setup")
    if setup is not None:
        # LiveClientSetup lacks these two (the SDK builds them from LiveConnectConfig): check them apart.
        if (ric := setup.pop("realtimeInputConfig", None)) is not None:
            types.RealtimeInputConfig.model_validate(ric)
        if (tool_config := setup.pop("toolConfig", None)) is not None:
            types.ToolConfig.model_validate(tool_config)
    parsed = types.LiveClientMessage.model_validate_json(json.dumps(payload))
    assert parsed.model_dump(exclude_none=True)  # something was understood
