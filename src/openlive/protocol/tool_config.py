"""``setup.toolConfig``: how the model may call the declared functions (``functionCallingConfig``).

``Setup.tool_config`` keeps the object as the client sent it (it round-trips verbatim); this module reads
its ``functionCallingConfig`` into a typed value. The decoder calls it once at setup, so a bad mode or
name list is refused there with 1007, like any other bad enum; the engine reads it again when it builds
a request, which then cannot fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from openlive.protocol._fields import Fields
from openlive.protocol.limits import MAX_FUNCTION_DECLARATIONS
from openlive.protocol.messages import JsonObject


class FunctionCallingMode(StrEnum):
    """google-genai's ``FunctionCallingConfigMode``."""

    MODE_UNSPECIFIED = "MODE_UNSPECIFIED"
    AUTO = "AUTO"  # the model decides between a call and text
    ANY = "ANY"  # the model must call one of the (allowed) functions
    NONE = "NONE"  # as if no functions were declared
    VALIDATED = "VALIDATED"  # a call or text, but a call only to an (allowed) declared function


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionCallingConfig:
    mode: FunctionCallingMode = FunctionCallingMode.AUTO
    # None: every declared function. proto3 cannot tell an empty list from none, so [] is None too.
    allowed_function_names: tuple[str, ...] | None = None


def function_calling_config(tool_config: JsonObject | None) -> FunctionCallingConfig:
    """The typed ``functionCallingConfig`` of a setup's ``toolConfig`` (AUTO when absent).

    Raises ``ProtocolError`` 1007 for an unknown mode or a name list that is not a list of strings.
    """
    if tool_config is None:
        return FunctionCallingConfig()
    config = Fields.of(tool_config, "setup.toolConfig").object("functionCallingConfig")
    if config is None:
        return FunctionCallingConfig()
    mode = config.enum("mode", FunctionCallingMode)
    names = config.strings("allowedFunctionNames", MAX_FUNCTION_DECLARATIONS)
    return FunctionCallingConfig(
        mode=FunctionCallingMode.AUTO if mode in (None, FunctionCallingMode.MODE_UNSPECIFIED) else mode,
        allowed_function_names=tuple(names) if names else None,
    )
