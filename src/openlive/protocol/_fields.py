"""Reading wire JSON field by field: either casing, typed getters, 1007 errors with a short path.

Clients mix lowerCamelCase and snake_case at every level (reference §1.2), so a field is looked up under
both spellings of its name instead of recasing the document: whatever is user data (function ``args``,
a function ``response``, schemas, labels...) is therefore never touched.
"""

from __future__ import annotations

import json
import math
import re
from enum import StrEnum
from functools import lru_cache
from typing import Any, NoReturn, TypeVar

from openlive.protocol.errors import MAX_REASON_BYTES, invalid_argument
from openlive.protocol.media import b64decode_any
from openlive.protocol.messages import JsonObject

E = TypeVar("E", bound=StrEnum)

_CAMEL_HUMP = re.compile(r"(?<!^)(?=[A-Z])")
_SNAKE_JOINT = re.compile(r"(?<=[a-z0-9])_([a-z0-9])")
_INTEGER = re.compile(r"-?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# Keys whose values are user data: kept verbatim when the rest of a structure is recased to camelCase.
VERBATIM_KEYS = frozenset(
    {
        "args",
        "response",
        "parameters",
        "parametersJsonSchema",
        "responseJsonSchema",
        "partMetadata",
        "labels",
        "headers",
        "toolConfig",
    }
)

# Room left for our detail after the fixed "Request contains an invalid argument: " prefix.
_DETAIL_BYTES = MAX_REASON_BYTES - len(invalid_argument("").reason.encode())


@lru_cache(maxsize=1024)
def snake(name: str) -> str:
    """``mimeType`` → ``mime_type``."""
    return _CAMEL_HUMP.sub("_", name).lower()


@lru_cache(maxsize=1024)
def camel(name: str) -> str:
    """``mime_type`` → ``mimeType``; camelCase names come back unchanged."""
    return _SNAKE_JOINT.sub(lambda m: m.group(1).upper(), name)


def camelize(key: str, value: Any) -> Any:
    """``value`` (found under the camelCase ``key``) with its object keys recased to camelCase, except
    inside user data (``VERBATIM_KEYS``)."""
    if key in VERBATIM_KEYS:
        return value
    if isinstance(value, dict):
        return {camel(k): camelize(camel(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [camelize(key, v) for v in value]
    return value


def fail(path: str, problem: str) -> NoReturn:
    """Raise 1007 with ``path: problem``, dropping leading path components until the reason fits."""
    detail = f"{path}: {problem}" if path else problem
    while len(detail.encode()) > _DETAIL_BYTES and "." in path:
        path = path.split(".", 1)[1]
        detail = f"...{path}: {problem}"
    raise invalid_argument(detail)


def show(value: Any) -> str:
    """A short rendering of a bad value for an error reason."""
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def load_object(frame: str | bytes | bytearray | memoryview) -> JsonObject:
    """Parse one WebSocket message (text or UTF-8 binary) that must hold a JSON object."""
    if isinstance(frame, str):
        text = frame
    else:
        try:
            text = bytes(frame).decode("utf-8")
        except UnicodeDecodeError:
            fail("", "message is not valid UTF-8")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        fail("", "message is not valid JSON")
    if not isinstance(value, dict):
        fail("", "message is not a JSON object")
    # A "\ud800" escape without its pair parses, but the string could then never be encoded again.
    if ("\\ud" in text or "\\uD" in text) and not _encodable(value):
        fail("", "message holds an unpaired UTF-16 surrogate")
    return value


def too_deep() -> NoReturn:
    """For a RecursionError met anywhere while reading a message."""
    fail("", "message is nested too deeply")


def _encodable(value: Any) -> bool:
    """Whether every string (and key) in ``value`` is valid Unicode text."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    return True


class Fields:
    """One JSON object being read. Every getter takes the camelCase field name, also finds its
    snake_case twin, treats ``null`` as absent, and raises 1007 on a wrong JSON type."""

    __slots__ = ("data", "path")

    def __init__(self, data: JsonObject, path: str) -> None:
        self.data = data
        self.path = path

    @classmethod
    def of(cls, value: Any, path: str) -> Fields:
        if not isinstance(value, dict):
            fail(path, "expected an object")
        return cls(value, path)

    def at(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, problem: str) -> NoReturn:
        fail(self.at(name), problem)

    def get(self, name: str) -> Any:
        """The raw value under ``name`` or its snake_case spelling; None if absent or null."""
        value = self.data.get(name)
        alias = snake(name)
        if alias != name and alias in self.data:
            if value is not None and self.data[alias] is not None:
                self.fail(name, f"given twice (also as {alias})")
            if value is None:
                value = self.data[alias]
        return value

    def rest(self, known: frozenset[str]) -> JsonObject:
        """The fields not in ``known`` (camelCase names), recased to camelCase, user data verbatim."""
        out: JsonObject = {}
        for key, value in self.data.items():
            name = camel(key)
            if name in known or value is None:
                continue
            if name in out:
                self.fail(name, "given twice")
            out[name] = camelize(name, value)
        return out

    # -- scalars ------------------------------------------------------------------------------------

    def string(self, name: str) -> str | None:
        value = self.get(name)
        if value is not None and not isinstance(value, str):
            self.fail(name, "expected a string")
        return value

    def required_string(self, name: str, *, allow_empty: bool = True) -> str:
        value = self.string(name)
        if value is None or (not allow_empty and not value):
            self.fail(name, "required")
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.get(name)
        if value is not None and not isinstance(value, bool):
            self.fail(name, "expected a boolean")
        return value

    def integer(self, name: str) -> int | None:
        """An integer: a JSON number with no fraction, or (proto3 JSON's int64 form) a decimal string."""
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not (
            isinstance(value, int)
            or (isinstance(value, float) and value.is_integer())
            or (isinstance(value, str) and _INTEGER.fullmatch(value.strip()))
        ):
            self.fail(name, "expected an integer")
        number = int(value)
        if not _INT64_MIN <= number <= _INT64_MAX:
            self.fail(name, "integer out of range")
        return number

    def number(self, name: str) -> float | None:
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.fail(name, "expected a number")
        return float(value)

    def enum(self, name: str, kind: type[E]) -> E | None:
        """A proto enum given by name (case does not matter); an unknown name is an error."""
        value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(name, "expected an enum name")
        try:
            return kind(value.upper())
        except ValueError:
            self.fail(name, f"unknown value {show(value)}")

    def data_bytes(self, name: str) -> bytes | None:
        """Bytes sent as base64 (either alphabet, padded or not)."""
        value = self.string(name)
        if value is None:
            return None
        try:
            return b64decode_any(value)
        except ValueError:
            self.fail(name, "invalid base64")

    def marker(self, name: str) -> bool:
        """An empty-message flag such as ``activityStart: {}`` or ``googleSearch: {}`` (``true`` too)."""
        value = self.get(name)
        if value is None or isinstance(value, bool):
            return bool(value)
        if isinstance(value, dict):
            return True
        self.fail(name, "expected an object")

    # -- containers ---------------------------------------------------------------------------------

    def object(self, name: str) -> Fields | None:
        value = self.get(name)
        return None if value is None else Fields.of(value, self.at(name))

    def struct(self, name: str) -> JsonObject | None:
        """A JSON object kept verbatim (user data: never recased)."""
        value = self.get(name)
        if value is not None and not isinstance(value, dict):
            self.fail(name, "expected an object")
        return value

    def array(self, name: str) -> list[Any] | None:
        value = self.get(name)
        if value is not None and not isinstance(value, list):
            self.fail(name, "expected a list")
        return value

    def objects(self, name: str) -> list[Fields]:
        """A list of objects; [] when absent."""
        return [Fields.of(item, f"{self.at(name)}[{i}]") for i, item in enumerate(self.array(name) or ())]

    def strings(self, name: str) -> list[str] | None:
        items = self.array(name)
        if items is None:
            return None
        for i, item in enumerate(items):
            if not isinstance(item, str):
                fail(f"{self.at(name)}[{i}]", "expected a string")
        return list(items)
