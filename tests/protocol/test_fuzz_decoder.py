"""The decoder fuzzes itself: hypothesis generates client messages from the message model, in both
casings, mutates them and their frames, and checks that each one decodes or is refused with the typed
protocol error (1007, 1008 or 1009), never anything else.

The example counts are bounded so that the file takes a few seconds in ``make test``; the wire campaign
(tests/fuzz/wire_campaign.py) is the long run against a real server. ``database=None``: nothing is
written into the working tree.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openlive.protocol import (
    ClientContent,
    ContextUpdate,
    ProtocolError,
    RealtimeInput,
    Setup,
    ToolResponse,
    decode_client_message,
    encode_client_message,
)
from openlive.protocol.errors import MAX_REASON_BYTES
from openlive.protocol.limits import MAX_JSON_DEPTH, MAX_NUMBER_DIGITS

FUZZ = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ALLOWED_CODES = {1007, 1008, 1009}
CLIENT_TYPES = (Setup, ClientContent, RealtimeInput, ToolResponse, ContextUpdate)

# Keys whose values are user data: their keys are never recased by a client, nor here.
USER_DATA = {"args", "response", "parameters", "parametersJsonSchema", "labels", "toolConfig"}

# --------------------------------------------------------------------------------------------------
# Valid messages, built from the message model


def fields(required: dict[str, Any] | None = None, **optional: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required or {}, optional=optional)


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12)
texts = st.text(max_size=40)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(texts, json_values, max_size=4)
int32s = st.integers(-(2**31), 2**31 - 1)
# proto3 JSON lets an int64 arrive as a decimal string
int32_json = int32s | int32s.map(str)
b64 = st.binary(max_size=48).flatmap(
    lambda raw: st.sampled_from(
        [base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")]
    )
)
mimes = st.sampled_from(
    ["audio/pcm;rate=16000", "audio/pcm", "audio/L16;rate=8000", "image/jpeg", "audio/wav"]
)
blob = fields({"data": b64}, mimeType=mimes)


def enum(*values: str) -> st.SearchStrategy[str]:
    return st.sampled_from(values).flatmap(lambda v: st.sampled_from([v, v.lower()]))


schema = st.recursive(
    fields(type=enum("STRING", "INTEGER", "NUMBER", "BOOLEAN"), description=texts),
    lambda inner: (
        fields(type=st.just("OBJECT"), properties=st.dictionaries(names, inner, max_size=3))
        | fields(type=st.just("ARRAY"), items=inner)
        | fields(anyOf=st.lists(inner, min_size=1, max_size=2))
    ),
    max_leaves=6,
)
function_call = fields({"name": names}, id=names, args=json_objects)
function_response = fields(
    id=names,
    name=names,
    response=json_objects,
    scheduling=enum("SILENT", "WHEN_IDLE", "INTERRUPT"),
    willContinue=st.booleans(),
)
part = st.one_of(
    fields({"text": texts}, thought=st.booleans()),
    fields({"inlineData": blob}),
    fields({"functionCall": function_call}),
    fields({"functionResponse": function_response}),
    fields({"executableCode": fields(code=texts, language=st.just("PYTHON"))}),
)
content = fields(role=st.sampled_from(["user", "model"]), parts=st.lists(part, max_size=3))
declaration = fields(
    {"name": names},
    description=texts,
    parameters=schema,
    behavior=enum("BLOCKING", "NON_BLOCKING"),
)
tool = fields(
    functionDeclarations=st.lists(declaration, max_size=3),
    googleSearch=st.just({}),
    codeExecution=st.just({}),
)
generation_config = fields(
    responseModalities=st.sampled_from([["AUDIO"], ["TEXT"], ["audio"], []]),
    temperature=st.floats(0, 2),
    topP=st.floats(0, 1),
    topK=int32_json,
    maxOutputTokens=int32_json,
    seed=int32_json,
    candidateCount=st.integers(1, 4),
    presencePenalty=st.floats(-2, 2),
    frequencyPenalty=st.floats(-2, 2),
    mediaResolution=st.just("MEDIA_RESOLUTION_LOW"),
    speechConfig=fields(
        voiceConfig=fields(prebuiltVoiceConfig=fields(voiceName=st.sampled_from(["Puck", "Kore", "Nobody"]))),
        languageCode=st.sampled_from(["en-US", "ja-JP"]),
    )
    | st.sampled_from(["Puck", "Kore"]),
    thinkingConfig=fields(thinkingBudget=int32s, includeThoughts=st.booleans()),
    enableAffectiveDialog=st.booleans(),
)
realtime_input_config = fields(
    automaticActivityDetection=fields(
        disabled=st.booleans(),
        startOfSpeechSensitivity=enum("START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW"),
        endOfSpeechSensitivity=enum("END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"),
        prefixPaddingMs=int32_json,
        silenceDurationMs=int32_json,
    ),
    activityHandling=enum("START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION"),
    turnCoverage=enum("TURN_INCLUDES_ONLY_ACTIVITY", "TURN_INCLUDES_ALL_INPUT"),
)
setup = fields(
    {"model": st.sampled_from(["models/gemini-2.0-flash-live-001", "gemini-live-2.5-flash-preview", "x"])},
    generationConfig=generation_config,
    systemInstruction=content | texts,
    tools=st.lists(tool, max_size=2),
    toolConfig=fields(functionCallingConfig=fields(mode=st.just("AUTO"))),
    realtimeInputConfig=realtime_input_config,
    inputAudioTranscription=fields(languageCodes=st.lists(st.just("en-US"), max_size=2)),
    outputAudioTranscription=st.just({}),
    sessionResumption=fields(handle=names, transparent=st.booleans()),
    contextWindowCompression=fields(
        triggerTokens=st.integers(0, 2**40), slidingWindow=fields(targetTokens=st.integers(0, 2**40))
    ),
    proactivity=fields(proactiveAudio=st.booleans()),
    historyConfig=fields(initialHistoryInClientContent=st.booleans()),
    labels=st.dictionaries(names, names, max_size=3),
)
client_content = fields(turns=st.lists(content, max_size=3), turnComplete=st.booleans())
realtime_input = fields(
    audio=blob,
    video=blob,
    text=texts,
    activityStart=st.just({}),
    activityEnd=st.just({}),
    audioStreamEnd=st.booleans(),
    mediaChunks=st.lists(blob, max_size=2),
)
tool_response = fields(functionResponses=st.lists(function_response, max_size=3))
context_update = fields(systemInstruction=content, tools=fields(tools=st.lists(tool, max_size=2)))

messages = st.one_of(
    setup.map(lambda v: {"setup": v}),
    client_content.map(lambda v: {"clientContent": v}),
    realtime_input.map(lambda v: {"realtimeInput": v}),
    tool_response.map(lambda v: {"toolResponse": v}),
    context_update.map(lambda v: {"contextUpdate": v}),
)

_HUMP = re.compile(r"(?<!^)(?=[A-Z])")


def recase(value: Any, draw: Any) -> Any:
    """``value`` with each field name in camelCase or snake_case, drawn key by key (user data as sent)."""
    if isinstance(value, list):
        return [recase(v, draw) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = _HUMP.sub("_", key).lower() if draw(st.booleans()) else key
        out[name] = item if key in USER_DATA else recase(item, draw)
    return out


# --------------------------------------------------------------------------------------------------
# Mutations, of the message and of its frame


def slots(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in ``value``: each place a mutation can hit, leaves included."""
    found: list[tuple[Any, Any]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append((value, key))
        found.extend(slots(item))
    return found


def deep(depth: int) -> Any:
    value: Any = {}
    for i in range(depth):
        value = [value] if i % 2 else {"anyOf": value}
    return value


hostile = st.one_of(
    json_values,
    st.sampled_from(["", "AUDIO", "TEXT", "NaN", "-0", "1e999", "\ud800", "a\udc00b", "é" * 300]),
    # an integer as a string of n digits: int64's 19, one past our limit, one past Python's int() limit
    st.sampled_from([19, 20, MAX_NUMBER_DIGITS + 1, 4301, 6000]).map(lambda n: "9" * n),
    st.integers(2**31, 2**70) | st.integers(-(2**70), -(2**31) - 1),
    st.floats(allow_nan=False),
    st.integers(1, 3 * MAX_JSON_DEPTH).map(deep),
    st.sampled_from(["AAE$", "AAAAA", "AA==AA==", "@@", "AAé="]),  # broken base64
    st.text(min_size=200, max_size=2000),
    st.sampled_from([{}, [], [{}], {"": None}]),
)


# What a number field may be sent instead of a number.
hostile_numbers = st.one_of(
    st.sampled_from([19, 20, MAX_NUMBER_DIGITS + 1, 4301, 6000]).map(lambda n: "9" * n),
    st.sampled_from([2**31, -(2**31) - 1, 2**63, 2**70, 1e300, -1e300, 0.5, -1, "12a", " 7 ", "", True]),
)


def is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.lstrip("-").isdigit()
    )


@st.composite
def mutated(draw: Any) -> Any:
    # Copies: strategies such as st.just({}) hand out the same object each time, and mutating it would
    # change what later examples draw.
    message = copy.deepcopy(recase(draw(messages), draw))
    hostile_value = lambda: copy.deepcopy(draw(hostile))  # noqa: E731
    for _ in range(draw(st.integers(0, 4))):
        places = slots(message)
        action = draw(st.sampled_from(["number", "replace", "replace", "delete", "add", "twin", "wrap"]))
        numbers = [(c, k) for c, k in places if is_number(c[k])]
        if action == "number" and numbers:
            node, key = draw(st.sampled_from(numbers))
            node[key] = draw(hostile_numbers)
            continue
        if action == "add" or not places:
            node = draw(st.sampled_from([c for c, _ in places if isinstance(c, dict)] or [message]))
            node[draw(st.sampled_from(["text", "model", "parts", "data", "x" * 300]) | texts)] = (
                hostile_value()
            )
            continue
        node, key = draw(st.sampled_from(places))
        if action == "delete":
            del node[key]
        elif action == "twin" and isinstance(key, str):  # the same field again in the other casing
            other = _HUMP.sub("_", key).lower()
            node[other if other != key else re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)] = node[
                key
            ]
        elif action == "wrap":
            node[key] = [node[key]]
        else:
            node[key] = hostile_value()
    return message


@st.composite
def frames(draw: Any) -> str | bytes:
    message = draw(mutated())
    text = json.dumps(message, ensure_ascii=draw(st.booleans()))
    # Mostly whole frames: the decoder's field checks are what the mutations above aim at.
    kind = draw(
        st.sampled_from(["text"] * 5 + ["binary"] * 2 + ["truncated", "garbage", "invalid utf-8", "number"])
    )
    if kind == "binary":
        return text.encode("utf-8", errors="surrogatepass")
    if kind == "truncated":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    if kind == "garbage":
        return draw(st.binary(max_size=64))
    if kind == "invalid utf-8":
        raw = text.encode("utf-8", errors="surrogatepass")
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe3\x81"])) + raw[at:]
    if kind == "number":  # a long number literal somewhere a value goes
        return text.replace("{}", "1" + "0" * draw(st.integers(1, 2 * MAX_NUMBER_DIGITS)), 1)
    return text


def decode_or_refuse(frame: str | bytes) -> object | None:
    """The decoded message, or None when it was refused as it must be; anything else fails the test."""
    try:
        message = decode_client_message(frame)
    except ProtocolError as exc:
        assert exc.code in ALLOWED_CODES, exc
        assert exc.reason and len(exc.reason.encode()) <= MAX_REASON_BYTES, exc
        return None
    assert isinstance(message, CLIENT_TYPES)
    return message


# --------------------------------------------------------------------------------------------------
# The properties


@FUZZ
@given(st.data())
def test_valid_messages_in_either_casing_decode(data: st.DataObject) -> None:
    message = recase(data.draw(messages), data.draw)
    decoded = decode_client_message(json.dumps(message))
    assert isinstance(decoded, CLIENT_TYPES)


@FUZZ
@given(messages)
def test_a_decoded_message_encodes_and_decodes_to_itself(message: dict[str, Any]) -> None:
    decoded = decode_client_message(json.dumps(message))
    assert decode_client_message(encode_client_message(decoded)) == decoded


@settings(FUZZ, max_examples=1500)
@given(frames())
def test_mutated_frames_decode_or_are_refused_with_a_client_error(frame: str | bytes) -> None:
    decode_or_refuse(frame)


@FUZZ
@given(st.binary(max_size=256) | st.text(max_size=256))
def test_arbitrary_frames_decode_or_are_refused(frame: str | bytes) -> None:
    decode_or_refuse(frame)


# Every number field of the model, in a message that holds them all: a hostile number in any one of them
# is refused by that field's check (the mutations above reach each field only now and then).
NUMBER_FIELDS: list[tuple[str, ...]] = [
    ("setup", "generationConfig", "topK"),
    ("setup", "generationConfig", "maxOutputTokens"),
    ("setup", "generationConfig", "seed"),
    ("setup", "generationConfig", "candidateCount"),
    ("setup", "generationConfig", "temperature"),
    ("setup", "generationConfig", "topP"),
    ("setup", "generationConfig", "presencePenalty"),
    ("setup", "generationConfig", "frequencyPenalty"),
    ("setup", "generationConfig", "thinkingConfig", "thinkingBudget"),
    ("setup", "realtimeInputConfig", "automaticActivityDetection", "prefixPaddingMs"),
    ("setup", "realtimeInputConfig", "automaticActivityDetection", "silenceDurationMs"),
    ("setup", "contextWindowCompression", "triggerTokens"),
    ("setup", "contextWindowCompression", "slidingWindow", "targetTokens"),
]


def full_setup() -> dict[str, Any]:
    message: dict[str, Any] = {"setup": {"model": "m"}}
    for path in NUMBER_FIELDS:
        node = message
        for name in path[:-1]:
            node = node.setdefault(name, {})
        node[path[-1]] = 1
    return message


@FUZZ
@given(st.sampled_from(NUMBER_FIELDS), hostile_numbers, st.booleans())
def test_every_number_field_refuses_what_is_not_its_number(
    path: tuple[str, ...], value: Any, snake_case: bool
) -> None:
    message = full_setup()
    node = message
    for name in path[:-1]:
        node = node[name]
    node[path[-1]] = value
    if snake_case:
        message = recase(message, lambda _: True)
    decode_or_refuse(json.dumps(message))
