"""Every client-controlled size has a limit (protocol/limits.py): at the limit a message decodes, one past
it is refused with 1007 and a reason naming the field and the limit."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from openlive.protocol import (
    CloseCode,
    ProtocolError,
    decode_client_message,
    load_json_object,
    parse_pcm_mime,
)
from openlive.protocol import _fields as fields_module
from openlive.protocol.errors import MAX_REASON_BYTES
from openlive.protocol.limits import (
    MAX_FUNCTION_DECLARATIONS,
    MAX_FUNCTION_RESPONSES,
    MAX_JSON_DEPTH,
    MAX_KEY_CHARS,
    MAX_LABELS,
    MAX_LANGUAGE_CODES,
    MAX_LIST_ITEMS,
    MAX_MEDIA_CHUNKS,
    MAX_NAME_CHARS,
    MAX_NUMBER_DIGITS,
    MAX_PARTS,
    MAX_SCHEMA_DEPTH,
    MAX_TEXT_CHARS,
    MAX_TOOLS,
    MAX_TURNS,
    MAX_VOCABULARY,
)


def setup(**fields: Any) -> str:
    return json.dumps({"setup": {"model": "models/m", **fields}})


def nested(depth: int) -> Any:
    """A JSON value that is ``depth`` levels of lists deep (``[[...]]``); 0 is a number."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def anyof_schema(levels: int) -> dict[str, Any]:
    """The issue's schema: ``anyOf`` nested ``levels`` times (two JSON levels each)."""
    schema: dict[str, Any] = {"type": "STRING"}
    for _ in range(levels):
        schema = {"anyOf": [schema]}
    return schema


def declaration(**fields: Any) -> str:
    return setup(tools=[{"functionDeclarations": [{"name": "f", **fields}]}])


def refused(frame: str | bytes) -> str:
    with pytest.raises(ProtocolError) as info:
        decode_client_message(frame)
    assert info.value.code == CloseCode.INVALID_ARGUMENT
    assert len(info.value.reason.encode()) <= MAX_REASON_BYTES
    return info.value.reason


def parts(n: int) -> str:
    return json.dumps({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "a"}] * n}]}})


# (case id, a frame built for a size n, the largest n allowed, what the reason must contain)
LIMITS: list[tuple[str, Callable[[int], str], int, str]] = [
    (
        "json depth, in user data",
        lambda n: json.dumps(
            {"toolResponse": {"functionResponses": [{"id": "c", "response": {"x": nested(n)}}]}}
        ),
        # the message, toolResponse, the list, the response, its object: 5 levels before the value's own
        MAX_JSON_DEPTH - 5,
        f"nested deeper than {MAX_JSON_DEPTH} levels",
    ),
    (
        "schema depth",
        lambda n: declaration(parameters={"type": "OBJECT", "x": nested(n - 1)}),
        MAX_SCHEMA_DEPTH,
        f"parameters.x[0][0]: nested deeper than {MAX_SCHEMA_DEPTH} levels",
    ),
    (
        "json schema depth",
        lambda n: declaration(parametersJsonSchema={"x": nested(n - 1)}),
        MAX_SCHEMA_DEPTH,
        f"nested deeper than {MAX_SCHEMA_DEPTH} levels",
    ),
    (
        "digits of an integer string",
        lambda n: setup(generationConfig={"topK": "0" * (n - 1) + "7"}),
        MAX_NUMBER_DIGITS,
        f"topK: more than {MAX_NUMBER_DIGITS} digits",
    ),
    (
        "digits of a number literal",
        lambda n: (
            '{"toolResponse": {"functionResponses": [{"id": "c", "response": {"n": 1%s}}]}}' % ("0" * (n - 1))
        ),
        MAX_NUMBER_DIGITS,
        f"a number has more than {MAX_NUMBER_DIGITS} digits",
    ),
    (
        "digits of a fraction literal",
        lambda n: setup(generationConfig={"temperature": 0.5}).replace("0.5", "0." + "5" * (n - 2)),
        MAX_NUMBER_DIGITS,
        f"more than {MAX_NUMBER_DIGITS} digits",
    ),
    (
        "key length",
        lambda n: json.dumps({"realtimeInput": {"k" * n: 1}}),
        MAX_KEY_CHARS,
        "realtimeInput: a key is longer",
    ),
    (
        "model length",
        lambda n: json.dumps({"setup": {"model": "m" * n}}),
        MAX_NAME_CHARS,
        "setup.model: longer than 256",
    ),
    (
        "mime type length",
        lambda n: json.dumps({"realtimeInput": {"audio": {"mimeType": "a" * n, "data": ""}}}),
        MAX_NAME_CHARS,
        "audio.mimeType: longer than 256 characters",
    ),
    (
        "function name length",
        lambda n: declaration(name="f" * n),
        MAX_NAME_CHARS,
        "name: longer than 256 characters",
    ),
    (
        "realtime text length",
        lambda n: json.dumps({"realtimeInput": {"text": "a" * n}}),
        MAX_TEXT_CHARS,
        f"realtimeInput.text: longer than {MAX_TEXT_CHARS} characters",
    ),
    (
        "part text length",
        lambda n: json.dumps({"clientContent": {"turns": [{"parts": [{"text": "é" * n}]}]}}),
        MAX_TEXT_CHARS,
        f"parts[0].text: longer than {MAX_TEXT_CHARS} characters",
    ),
    (
        "system instruction as a string",
        lambda n: setup(systemInstruction="a" * n),
        MAX_TEXT_CHARS,
        f"systemInstruction: longer than {MAX_TEXT_CHARS}",
    ),
    (
        "function description length",
        lambda n: declaration(description="d" * n),
        MAX_TEXT_CHARS,
        f"description: longer than {MAX_TEXT_CHARS}",
    ),
    (
        "voice name as a string",
        lambda n: setup(generationConfig={"speechConfig": "v" * n}),
        MAX_NAME_CHARS,
        "speechConfig: longer than 256 characters",
    ),
    ("parts", parts, MAX_PARTS, f"parts: more than {MAX_PARTS} items"),
    (
        "turns",
        lambda n: json.dumps({"clientContent": {"turns": [{"role": "user"}] * n}}),
        MAX_TURNS,
        f"turns: more than {MAX_TURNS} items",
    ),
    ("tools", lambda n: setup(tools=[{}] * n), MAX_TOOLS, f"setup.tools: more than {MAX_TOOLS} items"),
    (
        "declarations in one tool",
        lambda n: setup(tools=[{"functionDeclarations": [{"name": f"f{i}"} for i in range(n)]}]),
        MAX_FUNCTION_DECLARATIONS,
        f"functionDeclarations: more than {MAX_FUNCTION_DECLARATIONS} items",
    ),
    (
        "declarations in all tools",
        lambda n: setup(
            tools=[
                {"functionDeclarations": [{"name": "a"}] * (n - n // 2)},
                {"functionDeclarations": [{"name": "b"}] * (n // 2)},
            ]
        ),
        MAX_FUNCTION_DECLARATIONS,
        f"more than {MAX_FUNCTION_DECLARATIONS} function declarations in all",
    ),
    (
        "function responses",
        lambda n: json.dumps({"toolResponse": {"functionResponses": [{"id": "c"}] * n}}),
        MAX_FUNCTION_RESPONSES,
        f"functionResponses: more than {MAX_FUNCTION_RESPONSES} items",
    ),
    (
        "media chunks",
        lambda n: json.dumps({"realtimeInput": {"mediaChunks": [{"mimeType": "audio/pcm", "data": ""}] * n}}),
        MAX_MEDIA_CHUNKS,
        f"mediaChunks: more than {MAX_MEDIA_CHUNKS} items",
    ),
    (
        "language codes",
        lambda n: setup(inputAudioTranscription={"languageCodes": ["en"] * n}),
        MAX_LANGUAGE_CODES,
        f"languageCodes: more than {MAX_LANGUAGE_CODES} items",
    ),
    (
        "language code length",
        lambda n: setup(inputAudioTranscription={"languageCodes": ["e" * n]}),
        MAX_NAME_CHARS,
        "languageCodes[0]: longer than 256",
    ),
    (
        "custom vocabulary",
        lambda n: setup(inputAudioTranscription={"customVocabulary": [f"w{i}" for i in range(n)]}),
        MAX_VOCABULARY,
        f"customVocabulary: more than {MAX_VOCABULARY} items",
    ),
    (
        "labels",
        lambda n: setup(labels={f"k{i}": "v" for i in range(n)}),
        MAX_LABELS,
        f"labels: more than {MAX_LABELS}",
    ),
    (
        "label value length",
        lambda n: setup(labels={"k": "v" * n}),
        MAX_NAME_CHARS,
        "labels.k: longer than 256",
    ),
]


@pytest.mark.parametrize(("build", "limit", "needle"), [c[1:] for c in LIMITS], ids=[c[0] for c in LIMITS])
def test_limit_holds_at_the_limit_and_refuses_one_past(
    build: Callable[[int], str], limit: int, needle: str
) -> None:
    decode_client_message(build(limit))
    reason = refused(build(limit + 1))
    assert needle in reason, reason


def test_enum_names_longer_than_a_name_are_refused_before_lookup() -> None:
    frame = lambda name: setup(realtimeInputConfig={"activityHandling": name})  # noqa: E731
    assert "activityHandling: unknown value" in refused(frame("X" * MAX_NAME_CHARS))
    assert f"activityHandling: longer than {MAX_NAME_CHARS} characters" in refused(
        frame("X" * (MAX_NAME_CHARS + 1))
    )


def test_schema_depth_counts_from_the_schema_object() -> None:
    # MAX_SCHEMA_DEPTH levels: {"x": [[...]]} with the schema object as the first.
    decode_client_message(declaration(parameters={"x": nested(MAX_SCHEMA_DEPTH - 1)}))
    reason = refused(declaration(parameters={"x": nested(MAX_SCHEMA_DEPTH)}))
    assert f"nested deeper than {MAX_SCHEMA_DEPTH} levels" in reason


def test_a_list_without_a_limit_of_its_own_has_the_general_one() -> None:
    frame = setup(generationConfig={"responseModalities": []}, outputAudioTranscription={"languageCodes": []})
    decode_client_message(frame)
    many = json.dumps(
        {"clientContent": {"turns": [{"parts": [{"text": "a"}]}]}, "x": [0] * (MAX_LIST_ITEMS + 1)}
    )
    decode_client_message(many)  # unknown fields are not read, so their lists are bounded by the frame only
    reason = refused(setup(generationConfig={"responseModalities": ["AUDIO"] * (MAX_LIST_ITEMS + 1)}))
    assert "responseModalities: more than" in reason


# --------------------------------------------------------------------------------------------------
# The inputs issue 10 reports as closing with 1011: each is now a 1007 naming the field


def test_integer_of_4301_digits_is_refused_by_its_field() -> None:
    for field in ("topK", "seed", "maxOutputTokens"):
        reason = refused(setup(generationConfig={field: "9" * 4301}))
        assert f"{field}: more than {MAX_NUMBER_DIGITS} digits" in reason
    reason = refused(
        setup(realtimeInputConfig={"automaticActivityDetection": {"prefixPaddingMs": "1" * 5000}})
    )
    assert "prefixPaddingMs: more than" in reason


def test_integer_literal_of_5000_digits_is_refused() -> None:
    reason = refused('{"setup": {"model": "m", "generationConfig": {"topK": 1%s}}}' % ("0" * 5000))
    assert f"a number has more than {MAX_NUMBER_DIGITS} digits" in reason


def test_int32_fields_refuse_values_beyond_int32() -> None:
    assert "seed: integer out of range" in refused(setup(generationConfig={"seed": 2**31}))
    decoded = decode_client_message(setup(generationConfig={"seed": -(2**31)}))
    assert decoded.generation_config.seed == -(2**31)  # type: ignore[union-attr]
    # token counts are int64 in the proto
    decode_client_message(setup(contextWindowCompression={"triggerTokens": str(2**40)}))


def test_anyof_330_levels_deep_is_refused_before_any_conversion() -> None:
    reason = refused(declaration(parameters=anyof_schema(330)))
    assert "nested deeper than" in reason


def test_anyof_at_the_schema_limit_decodes() -> None:
    # Each anyOf level is two JSON levels (the object and its list), and the innermost schema one more.
    decode_client_message(declaration(parameters=anyof_schema((MAX_SCHEMA_DEPTH - 1) // 2)))


def test_pcm_rate_of_5000_digits_is_not_a_pcm_rate() -> None:
    assert parse_pcm_mime("audio/pcm;rate=" + "1" * 5000) is None
    assert parse_pcm_mime("audio/pcm;rate=" + "0" * 3 + "16000") == 16000


def test_long_client_keys_do_not_fill_the_name_cache() -> None:
    # The camel/snake caches keep only short names: a client chooses its keys, and 1,024 cached keys of
    # MAX_KEY_CHARS each would be memory it controls.
    fields_module._camel_cached.cache_clear()
    frame = json.dumps(
        {"clientContent": {"turns": [{"parts": [{f"{'k' * 200}_{i}": 1 for i in range(50)}]}]}}
    )
    decode_client_message(frame)
    assert fields_module._camel_cached.cache_info().currsize < 10


def test_load_json_object_applies_the_message_limits_to_any_client_json() -> None:
    # For REST bodies (POST /v1alpha/auth_tokens): the same limits, the same typed error.
    assert load_json_object(b'{"uses": 1}') == {"uses": 1}
    for body in (b"[" * 100_000, b'{"a": 1' + b"0" * 5000 + b"}", b'{"a": ' * 100 + b"1" + b"}" * 100):
        with pytest.raises(ProtocolError) as info:
            load_json_object(body)
        assert info.value.code == CloseCode.INVALID_ARGUMENT
