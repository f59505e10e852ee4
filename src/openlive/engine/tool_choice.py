"""The client's ``toolConfig`` as the language-model stage's ``ToolChoice``.

Gemini's modes map onto the three every OpenAI-compatible engine knows: AUTO → ``auto``, ANY →
``required``, NONE → ``none``. VALIDATED ("a call or text, but a call only to an allowed function") has
no engine-side twin; it becomes ``auto`` over the allowed functions only, and a call to any other name
is not recognised as a call (the backends parse calls against the tools they offered). See
docs/compatibility.md.
"""

from __future__ import annotations

from typing import Literal

from openlive.protocol import JsonObject
from openlive.protocol.tool_config import FunctionCallingMode, function_calling_config
from openlive.stages.language_model import ToolChoice

_MODES: dict[FunctionCallingMode, Literal["auto", "required", "none"]] = {
    FunctionCallingMode.MODE_UNSPECIFIED: "auto",
    FunctionCallingMode.AUTO: "auto",
    FunctionCallingMode.VALIDATED: "auto",
    FunctionCallingMode.ANY: "required",
    FunctionCallingMode.NONE: "none",
}


def tool_choice(tool_config: JsonObject | None) -> ToolChoice:
    """The stage's tool choice for a setup's ``toolConfig`` (validated by the decoder at setup)."""
    config = function_calling_config(tool_config)
    return ToolChoice(mode=_MODES[config.mode], allowed_names=config.allowed_function_names)
