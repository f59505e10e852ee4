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
from openlive.protocol.limits import (
    INT64_RANGE,
    MAX_JSON_DEPTH,
    MAX_KEY_CHARS,
    MAX_LIST_ITEMS,
    MAX_NAME_CHARS,
    MAX_NUMBER_DIGITS,
)
from openlive.protocol.media import b64decode_any
from openlive.protocol.messages import JsonObject

E = TypeVar("E", bound=StrEnum)

_CAMEL_HUMP = re.compile(r"(?<!^)(?=[A-Z])")
_SNAKE_JOINT = re.compile(r"(?<=[a-z0-9])_([a-z0-9])")
_INTEGER = re.compile(r"-?[0-9]+")
# Names longer than this are converted without the cache: a client picks the keys it sends, and a cache
# of its 1,024 longest keys (up to the key limit each) is memory it would control.
_CACHED_NAME_CHARS = 64

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


def _snake(name: str) -> str:
    return _CAMEL_HUMP.sub("_", name).lower()


def _camel(name: str) -> str:
    return _SNAKE_JOINT.sub(lambda m: m.group(1).upper(), name)


_snake_cached = lru_cache(maxsize=1024)(_snake)
_camel_cached = lru_cache(maxsize=1024)(_camel)


def snake(name: str) -> str:
    """``mimeType`` → ``mime_type``."""
    return _snake_cached(name) if len(name) <= _CACHED_NAME_CHARS else _snake(name)


def camel(name: str) -> str:
    """``mime_type`` → ``mimeType``; camelCase names come back unchanged."""
    return _camel_cached(name) if len(name) <= _CACHED_NAME_CHARS else _camel(name)


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
    # A path with no dot left to cut at (``[0][0][0]...`` in deep lists): keep its tail, so the reason
    # still ends with the problem and the limit.
    while len(detail.encode()) > _DETAIL_BYTES and len(path) > 1:
        path = path[max(1, len(detail.encode()) - _DETAIL_BYTES) :]
        detail = f"...{path}: {problem}"
    raise invalid_argument(detail)


def show(value: Any) -> str:
    """A short rendering of a bad value for an error reason."""
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _parse_int(text: str) -> int:
    # Checked before ``int()``: beyond 4,300 digits it raises ValueError, and long ones cost quadratic time.
    if len(text) > MAX_NUMBER_DIGITS:
        fail("", f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        fail("", f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return float(text)


def load_object(frame: str | bytes | bytearray | memoryview) -> JsonObject:
    """Parse one WebSocket message (text or UTF-8 binary) that must hold a JSON object, and check the
    limits every value shares: nesting depth, key length, digits in a number, valid Unicode."""
    if isinstance(frame, str):
        text = frame
    else:
        try:
            text = bytes(frame).decode("utf-8")
        except UnicodeDecodeError:
            fail("", "message is not valid UTF-8")
    try:
        value = json.loads(
            text, parse_constant=_reject_constant, parse_int=_parse_int, parse_float=_parse_float
        )
    except RecursionError:
        too_deep("", MAX_JSON_DEPTH)
    except ValueError:
        fail("", "message is not valid JSON")
    if not isinstance(value, dict):
        fail("", "message is not a JSON object")
    # A "\ud800" escape without its pair parses, but the string could then never be encoded again.
    check_value(value, "", MAX_JSON_DEPTH, surrogates="\\ud" in text or "\\uD" in text)
    return value


def too_deep(path: str, limit: int) -> NoReturn:
    fail(path, f"nested deeper than {limit} levels")


def _unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


# Levels below the checked value that error paths name; deeper nodes are reported by their ancestor at
# this level, so a reason stays short and still names the field the client sent.
_PATH_LEVELS = 4


def check_value(value: Any, path: str, max_depth: int, *, surrogates: bool = False) -> None:
    """Check a parsed JSON value without recursion: at most ``max_depth`` levels of arrays and objects,
    no key over ``MAX_KEY_CHARS``, and (with ``surrogates``) no unpaired UTF-16 surrogate in any string.
    """
    stack: list[tuple[Any, int, str]] = [(value, 1, path)]
    while stack:
        node, depth, where = stack.pop()
        if depth > max_depth:
            too_deep(where, max_depth)
        if isinstance(node, dict):
            for key, item in node.items():
                if len(key) > MAX_KEY_CHARS:
                    fail(where, f"a key is longer than {MAX_KEY_CHARS} characters")
                if surrogates and _unencodable(key):
                    fail(where, "a key holds an unpaired UTF-16 surrogate")
                if isinstance(item, dict | list):
                    inner = _join(where, show_key(key)) if depth < _PATH_LEVELS else where
                    stack.append((item, depth + 1, inner))
                elif surrogates and isinstance(item, str) and _unencodable(item):
                    fail(_join(where, show_key(key)), "unpaired UTF-16 surrogate")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, dict | list):
                    stack.append((item, depth + 1, _join(where, i) if depth < _PATH_LEVELS else where))
                elif surrogates and isinstance(item, str) and _unencodable(item):
                    fail(_join(where, i), "unpaired UTF-16 surrogate")


def show_key(key: str) -> str:
    """A key as it may appear in an error path: short, and valid text."""
    key = key.encode("utf-8", errors="replace").decode("utf-8")
    return key if len(key) <= 24 else key[:21] + "..."


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

    def string(self, name: str, *, limit: int | None = MAX_NAME_CHARS) -> str | None:
        """A string of at most ``limit`` characters (None: only the frame limit applies)."""
        value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(name, "expected a string")
        if limit is not None and len(value) > limit:
            self.fail(name, f"longer than {limit} characters")
        return value

    def required_string(
        self, name: str, *, allow_empty: bool = True, limit: int | None = MAX_NAME_CHARS
    ) -> str:
        value = self.string(name, limit=limit)
        if value is None or (not allow_empty and not value):
            self.fail(name, "required")
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.get(name)
        if value is not None and not isinstance(value, bool):
            self.fail(name, "expected a boolean")
        return value

    def integer(self, name: str, bounds: tuple[int, int] = INT64_RANGE) -> int | None:
        """An integer: a JSON number with no fraction, or (proto3 JSON's int64 form) a decimal string,
        within ``bounds`` (the field's proto type: int32 or int64)."""
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, str) and len(value) > MAX_NUMBER_DIGITS:
            self.fail(name, f"more than {MAX_NUMBER_DIGITS} digits")
        if isinstance(value, bool) or not (
            isinstance(value, int)
            or (isinstance(value, float) and value.is_integer())
            or (isinstance(value, str) and _INTEGER.fullmatch(value.strip()))
        ):
            self.fail(name, "expected an integer")
        number = int(value)
        if not bounds[0] <= number <= bounds[1]:
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
        if len(value) > MAX_NAME_CHARS:
            self.fail(name, f"longer than {MAX_NAME_CHARS} characters")
        try:
            return kind(value.upper())
        except ValueError:
            self.fail(name, f"unknown value {show(value)}")

    def data_bytes(self, name: str) -> bytes | None:
        """Bytes sent as base64 (either alphabet, padded or not)."""
        value = self.string(name, limit=None)  # bounded by the frame limit only
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

    def struct(self, name: str, *, max_depth: int | None = None) -> JsonObject | None:
        """A JSON object kept verbatim (user data: never recased), at most ``max_depth`` levels deep
        when given (the message as a whole is already within ``MAX_JSON_DEPTH``)."""
        value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(name, "expected an object")
        if max_depth is not None:
            check_value(value, self.at(name), max_depth)
        return value

    def array(self, name: str, limit: int = MAX_LIST_ITEMS) -> list[Any] | None:
        """A list of at most ``limit`` items."""
        value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, list):
            self.fail(name, "expected a list")
        if len(value) > limit:
            self.fail(name, f"more than {limit} items")
        return value

    def objects(self, name: str, limit: int = MAX_LIST_ITEMS) -> list[Fields]:
        """A list of at most ``limit`` objects; [] when absent."""
        items = self.array(name, limit) or ()
        return [Fields.of(item, f"{self.at(name)}[{i}]") for i, item in enumerate(items)]

    def strings(self, name: str, limit: int = MAX_LIST_ITEMS) -> list[str] | None:
        """A list of at most ``limit`` short strings."""
        items = self.array(name, limit)
        if items is None:
            return None
        for i, item in enumerate(items):
            if not isinstance(item, str):
                fail(f"{self.at(name)}[{i}]", "expected a string")
            if len(item) > MAX_NAME_CHARS:
                fail(f"{self.at(name)}[{i}]", f"longer than {MAX_NAME_CHARS} characters")
        return list(items)
