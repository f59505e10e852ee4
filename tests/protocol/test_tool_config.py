"""``setup.toolConfig.functionCallingConfig``: read into a typed value, refused at setup when malformed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openlive.protocol import ProtocolError, Setup, decode_client_message
from openlive.protocol.tool_config import (
    FunctionCallingConfig,
    FunctionCallingMode,
    function_calling_config,
)


def setup_with(tool_config: Any) -> str:
    return json.dumps({"setup": {"model": "models/x", "toolConfig": tool_config}})


@pytest.mark.parametrize(
    ("tool_config", "expected"),
    [
        (None, FunctionCallingConfig()),
        ({}, FunctionCallingConfig()),
        ({"functionCallingConfig": {}}, FunctionCallingConfig()),
        ({"functionCallingConfig": {"mode": "MODE_UNSPECIFIED"}}, FunctionCallingConfig()),
        ({"functionCallingConfig": {"mode": "none"}}, FunctionCallingConfig(mode=FunctionCallingMode.NONE)),
        (
            {"function_calling_config": {"mode": "ANY", "allowed_function_names": ["a", "b"]}},
            FunctionCallingConfig(mode=FunctionCallingMode.ANY, allowed_function_names=("a", "b")),
        ),
        (
            {"functionCallingConfig": {"mode": "VALIDATED", "allowedFunctionNames": []}},
            FunctionCallingConfig(mode=FunctionCallingMode.VALIDATED),
        ),
    ],
)
def test_function_calling_config_is_read_in_either_casing(
    tool_config: Any, expected: FunctionCallingConfig
) -> None:
    assert function_calling_config(tool_config) == expected


def test_the_setup_keeps_tool_config_verbatim() -> None:
    raw = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["book_table"]}}
    message = decode_client_message(setup_with(raw))
    assert isinstance(message, Setup) and message.tool_config == raw


@pytest.mark.parametrize(
    ("tool_config", "reason"),
    [
        (
            {"functionCallingConfig": {"mode": "SOMETIMES"}},
            "setup.toolConfig.functionCallingConfig.mode: unknown",
        ),
        ({"functionCallingConfig": {"mode": 1}}, "mode: expected an enum name"),
        ({"functionCallingConfig": []}, "functionCallingConfig: expected an object"),
        ({"functionCallingConfig": {"allowedFunctionNames": "f"}}, "allowedFunctionNames: expected a list"),
        (
            {"functionCallingConfig": {"allowedFunctionNames": [1]}},
            "allowedFunctionNames[0]: expected a string",
        ),
    ],
)
def test_a_bad_function_calling_config_is_refused_at_setup_with_1007(tool_config: Any, reason: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_client_message(setup_with(tool_config))
    assert caught.value.code == 1007
    assert reason in caught.value.reason
