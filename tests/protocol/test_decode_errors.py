"""Every malformed client message closes with 1007 (INVALID_ARGUMENT) and a reason that fits a close frame."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openlive.protocol import CloseCode, ProtocolError, decode_client_message
from openlive.protocol.errors import MAX_REASON_BYTES

PREFIX = "Request contains an invalid argument: "


def setup(**fields: Any) -> str:
    return json.dumps({"setup": {"model": "models/m", **fields}})


def gen(**fields: Any) -> str:
    return setup(generationConfig=fields)


def rt(**fields: Any) -> str:
    return json.dumps({"realtimeInput": fields})


def audio(data: Any) -> str:
    return rt(audio={"mimeType": "audio/pcm;rate=16000", "data": data})


def aad(**fields: Any) -> str:
    return setup(realtimeInputConfig={"automaticActivityDetection": fields})


def fr(**fields: Any) -> str:
    return json.dumps({"toolResponse": {"functionResponses": [fields]}})


# (case id, frame, a piece the reason must contain)
ERROR_CASES: list[tuple[str, str | bytes, str]] = [
    # framing
    ("invalid utf-8", b'{"setup": {"model": "\xff"}}', "not valid UTF-8"),
    ("truncated utf-8", b"\xe3\x81", "not valid UTF-8"),
    ("not json", "hello", "not valid JSON"),
    ("truncated json", '{"setup": {"model": "m"}', "not valid JSON"),
    ("empty frame", "", "not valid JSON"),
    ("empty binary frame", b"", "not valid JSON"),
    ("NaN is not JSON", gen(temperature=0.5).replace("0.5", "NaN"), "not valid JSON"),
    ("Infinity is not JSON", gen(temperature=0.5).replace("0.5", "-Infinity"), "not valid JSON"),
    ("too deeply nested", "[" * 200_000, "nested deeper than 64 levels"),
    (
        "too deeply nested, closed",
        '{"setup": ' + "[" * 5000 + "]" * 5000 + "}",
        "nested deeper than 64 levels",
    ),
    (
        "deep user data in a part",
        '{"clientContent": {"turns": [{"parts": [{"x": ' + "[" * 800 + "]" * 800 + "}]}]}}",
        "nested deeper than 64 levels",
    ),
    ("unpaired surrogate", '{"realtimeInput": {"text": "a\\ud800b"}}', "unpaired UTF-16 surrogate"),
    ("unpaired low surrogate in a key", '{"realtimeInput": {"\\udc00": 1}}', "unpaired UTF-16 surrogate"),
    ("a list", "[]", "not a JSON object"),
    ("a number", "42", "not a JSON object"),
    ("a string", '"setup"', "not a JSON object"),
    ("null", "null", "not a JSON object"),
    # message type
    ("empty object", "{}", "no known message type"),
    ("unknown type", '{"fooBar": {}}', "no known message type"),
    ("null message", '{"setup": null}', "no known message type"),
    ("two types", '{"setup": {"model": "m"}, "realtimeInput": {}}', "more than one message type"),
    ("two types, snake", '{"client_content": {}, "tool_response": {}}', "more than one message type"),
    ("one type in both casings", '{"realtimeInput": {}, "realtime_input": {}}', "given twice"),
    ("message not an object", '{"setup": "models/m"}', "setup: expected an object"),
    ("message a list", '{"realtimeInput": []}', "realtimeInput: expected an object"),
    # setup.model
    ("missing model", '{"setup": {}}', "setup.model: required"),
    ("empty model", '{"setup": {"model": ""}}', "setup.model: required"),
    ("null model", '{"setup": {"model": null}}', "setup.model: required"),
    ("model not a string", '{"setup": {"model": 5}}', "setup.model: expected a string"),
    # generation config types
    ("generationConfig a list", setup(generationConfig=[]), "generationConfig: expected an object"),
    ("temperature a string", gen(temperature="0.7"), "temperature: expected a number"),
    ("temperature a bool", gen(temperature=True), "temperature: expected a number"),
    ("topP an object", gen(topP={}), "topP: expected a number"),
    ("topK fractional", gen(topK=1.5), "topK: expected an integer"),
    ("maxOutputTokens not digits", gen(maxOutputTokens="lots"), "maxOutputTokens: expected an integer"),
    ("maxOutputTokens beyond int64", gen(maxOutputTokens=2**63), "maxOutputTokens: integer out of range"),
    ("seed a huge float", gen(seed=1e30), "seed: integer out of range"),
    ("seed a bool", gen(seed=False), "seed: expected an integer"),
    ("enableAffectiveDialog a string", gen(enableAffectiveDialog="true"), "expected a boolean"),
    ("mediaResolution a number", gen(mediaResolution=1), "mediaResolution: expected a string"),
    (
        "thinkingBudget a string",
        gen(thinkingConfig={"thinkingBudget": "none"}),
        "thinkingBudget: expected an integer",
    ),
    ("speechConfig a number", gen(speechConfig=3), "speechConfig: expected an object"),
    (
        "voiceName a number",
        gen(speechConfig={"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": 1}}}),
        "voiceName",
    ),
    # response modalities
    ("responseModalities a string", gen(responseModalities="AUDIO"), "responseModalities: expected a list"),
    ("responseModalities unknown", gen(responseModalities=["VIDEO"]), "unsupported modality 'VIDEO'"),
    ("responseModalities IMAGE", gen(responseModalities=["IMAGE"]), "unsupported modality"),
    ("responseModalities a number", gen(responseModalities=[1]), "expected a modality name"),
    ("both modalities", gen(responseModalities=["TEXT", "AUDIO"]), "TEXT and AUDIO cannot both be set"),
    (
        "both modalities, snake",
        setup(generation_config={"response_modalities": ["AUDIO", "text"]}),
        "cannot both",
    ),
    # enums
    ("start sensitivity unknown", aad(startOfSpeechSensitivity="START_SENSITIVITY_MEDIUM"), "unknown value"),
    ("end sensitivity unknown", aad(end_of_speech_sensitivity="END_SENSITIVITY_MAX"), "unknown value"),
    ("start sensitivity wrong family", aad(startOfSpeechSensitivity="END_SENSITIVITY_LOW"), "unknown value"),
    ("sensitivity a number", aad(startOfSpeechSensitivity=1), "expected an enum name"),
    ("disabled a string", aad(disabled="yes"), "disabled: expected a boolean"),
    ("silenceDurationMs a string", aad(silenceDurationMs="long"), "silenceDurationMs: expected an integer"),
    (
        "activityHandling unknown",
        setup(realtimeInputConfig={"activityHandling": "SOMETIMES"}),
        "unknown value",
    ),
    ("turnCoverage unknown", setup(realtimeInputConfig={"turn_coverage": "ALL"}), "unknown value"),
    (
        "behavior unknown",
        setup(tools=[{"functionDeclarations": [{"name": "f", "behavior": "ASYNC"}]}]),
        "behavior: unknown value",
    ),
    ("scheduling unknown", fr(id="c", scheduling="LATER"), "scheduling: unknown value"),
    # other setup fields
    ("systemInstruction a number", setup(systemInstruction=5), "systemInstruction: expected an object"),
    (
        "systemInstruction parts not a list",
        setup(systemInstruction={"parts": {"text": "x"}}),
        "parts: expected a list",
    ),
    ("tools not a list", setup(tools={"googleSearch": {}}), "tools: expected a list"),
    ("tool not an object", setup(tools=["googleSearch"]), "tools[0]: expected an object"),
    ("functionDeclarations not a list", setup(tools=[{"functionDeclarations": {}}]), "expected a list"),
    (
        "function declaration without name",
        setup(tools=[{"functionDeclarations": [{"description": "d"}]}]),
        "name: required",
    ),
    (
        "parameters not an object",
        setup(tools=[{"functionDeclarations": [{"name": "f", "parameters": "x"}]}]),
        "parameters",
    ),
    ("googleSearch a string", setup(tools=[{"googleSearch": "yes"}]), "googleSearch: expected an object"),
    ("toolConfig a list", setup(toolConfig=[]), "toolConfig: expected an object"),
    (
        "transcription config true",
        setup(inputAudioTranscription=True),
        "inputAudioTranscription: expected an object",
    ),
    ("languageCodes not strings", setup(outputAudioTranscription={"languageCodes": [1]}), "languageCodes[0]"),
    ("resumption handle a number", setup(sessionResumption={"handle": 1}), "handle: expected a string"),
    ("triggerTokens a float", setup(contextWindowCompression={"triggerTokens": 0.5}), "triggerTokens"),
    (
        "targetTokens a string",
        setup(contextWindowCompression={"slidingWindow": {"targetTokens": "x"}}),
        "targetTokens",
    ),
    (
        "proactiveAudio a string",
        setup(proactivity={"proactiveAudio": "on"}),
        "proactiveAudio: expected a boolean",
    ),
    ("labels not strings", setup(labels={"team": 1}), "labels.team: expected a string"),
    ("field in both casings", gen(topP=0.5, top_p=0.6), "topP: given twice"),
    # clientContent
    (
        "turns not a list",
        '{"clientContent": {"turns": {"role": "user", "parts": []}}}',
        "turns: expected a list",
    ),
    ("turns a string", '{"client_content": {"turns": "hello"}}', "turns: expected a list"),
    ("turn not an object", '{"clientContent": {"turns": ["hello"]}}', "turns[0]: expected an object"),
    ("role a number", '{"clientContent": {"turns": [{"role": 1}]}}', "role: expected a string"),
    (
        "part not an object",
        '{"clientContent": {"turns": [{"parts": ["hi"]}]}}',
        "parts[0]: expected an object",
    ),
    ("text a number", '{"clientContent": {"turns": [{"parts": [{"text": 5}]}]}}', "text: expected a string"),
    (
        "thought a string",
        '{"clientContent": {"turns": [{"parts": [{"thought": "yes"}]}]}}',
        "thought: expected a boolean",
    ),
    (
        "turnComplete a string",
        '{"clientContent": {"turnComplete": "true"}}',
        "turnComplete: expected a boolean",
    ),
    (
        "inlineData data a number",
        '{"clientContent": {"turns": [{"parts": [{"inlineData": {"data": 1}}]}]}}',
        "data",
    ),
    (
        "inlineData broken base64",
        '{"clientContent": {"turns": [{"parts": [{"inline_data": {"data": "@@"}}]}]}}',
        "invalid base64",
    ),
    (
        "functionCall without name",
        '{"clientContent": {"turns": [{"parts": [{"functionCall": {"args": {}}}]}]}}',
        "name: required",
    ),
    (
        "functionCall args a list",
        '{"clientContent": {"turns": [{"parts": [{"functionCall": {"name": "f", "args": []}}]}]}}',
        "args",
    ),
    # realtimeInput
    ("data not a string", audio(12345), "audio.data: expected a string"),
    ("data a list", audio(["AAE="]), "audio.data: expected a string"),
    ("base64 with a bad character", audio("AAE$"), "audio.data: invalid base64"),
    ("base64 of impossible length", audio("AAAAA"), "invalid base64"),
    ("base64 padding in the middle", audio("AA==AA=="), "invalid base64"),
    ("base64 non-ASCII", audio("AAé="), "invalid base64"),
    ("mimeType a number", rt(audio={"mimeType": 16000, "data": ""}), "mimeType: expected a string"),
    ("audio a string", rt(audio="AAE="), "audio: expected an object"),
    ("video a list", rt(video=[]), "video: expected an object"),
    ("text a number", rt(text=1), "text: expected a string"),
    ("audioStreamEnd a string", rt(audioStreamEnd="true"), "audioStreamEnd: expected a boolean"),
    ("activityStart a string", rt(activityStart="now"), "activityStart: expected an object"),
    ("activityEnd a number", rt(activity_end=1), "activityEnd: expected an object"),
    ("mediaChunks not a list", rt(mediaChunks={"data": "AAE="}), "mediaChunks: expected a list"),
    (
        "mediaChunk bad base64",
        rt(media_chunks=[{"mime_type": "audio/pcm", "data": "!"}]),
        "mediaChunks[0].data",
    ),
    (
        "blob field in both casings",
        rt(audio={"mimeType": "a", "mime_type": "b", "data": ""}),
        "mimeType: given twice",
    ),
    # toolResponse
    (
        "functionResponses not a list",
        '{"toolResponse": {"functionResponses": {"id": "c"}}}',
        "expected a list",
    ),
    (
        "function response not an object",
        '{"toolResponse": {"functionResponses": ["ok"]}}',
        "expected an object",
    ),
    ("response not an object", fr(id="c", response="ok"), "response: expected an object"),
    ("willContinue a string", fr(id="c", will_continue="no"), "willContinue: expected a boolean"),
    ("id a number", fr(id=1), "id: expected a string"),
    # contextUpdate
    ("contextUpdate tools a string", '{"contextUpdate": {"tools": "none"}}', "tools: expected an object"),
    (
        "contextUpdate inner tools not a list",
        '{"contextUpdate": {"tools": {"tools": {}}}}',
        "tools: expected a list",
    ),
    (
        "contextUpdate instruction a list",
        '{"contextUpdate": {"systemInstruction": []}}',
        "expected an object",
    ),
]


@pytest.mark.parametrize(("frame", "needle"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_error_closes_with_1007(frame: str | bytes, needle: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_client_message(frame)
    error = info.value
    assert error.code == CloseCode.INVALID_ARGUMENT == 1007
    assert error.reason.startswith(PREFIX)
    assert len(error.reason.encode()) <= MAX_REASON_BYTES
    assert needle in error.reason, error.reason


def test_long_paths_are_shortened_from_the_left_to_fit() -> None:
    # "setup.realtimeInputConfig.automaticActivityDetection.startOfSpeechSensitivity: ..." is too long.
    with pytest.raises(ProtocolError) as info:
        decode_client_message(aad(startOfSpeechSensitivity=1))
    reason = info.value.reason
    assert len(reason.encode()) <= MAX_REASON_BYTES
    assert reason == PREFIX + "...automaticActivityDetection.startOfSpeechSensitivity: expected an enum name"


def test_bad_values_are_shown_short() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_client_message(aad(startOfSpeechSensitivity="X" * 200))
    assert len(info.value.reason.encode()) <= MAX_REASON_BYTES
    assert "unknown value 'XXXX" in info.value.reason
