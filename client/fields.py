"""Reading the server's camelCase JSON into frozen dataclasses. Pure: no I/O.

A result class lists its fields with ``wire(key, reader)``; ``FromJson.from_json`` reads each
field's key with its reader. A missing required key raises KeyError and a wrong type TypeError;
``Call.read`` turns both into a WirepostError that names the endpoint.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Self

JsonObject = Mapping[str, Any]
HeaderMap = Mapping[str, tuple[str, ...]]
Reader = Callable[[JsonObject, str], Any]


def obj(data: Any) -> JsonObject:
    if not isinstance(data, Mapping):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    return data


def array(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise TypeError(f"expected a JSON array, got {type(data).__name__}")
    return data


def text(data: JsonObject, key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} should be a string, got {value!r}")
    return value


def opt_text(data: JsonObject, key: str) -> str | None:
    return text(data, key) if data.get(key) is not None else None


def method(data: JsonObject, key: str) -> str:
    """An HTTP method; POST when absent (QStash's default)."""
    return opt_text(data, key) or "POST"


def _as_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{key} should be a number, got {value!r}")
    return int(value)


def number(data: JsonObject, key: str) -> int:
    return _as_int(key, data[key])


def opt_number(data: JsonObject, key: str) -> int | None:
    value = data.get(key)
    return None if value is None else _as_int(key, value)


def count(data: JsonObject, key: str) -> int:
    """A number that defaults to 0 when absent."""
    return opt_number(data, key) or 0


def flag(data: JsonObject, key: str) -> bool:
    return bool(data.get(key, False))


def millis(data: JsonObject, key: str) -> datetime:
    """A Unix-milliseconds timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(number(data, key) / 1000, tz=UTC)


def opt_millis(data: JsonObject, key: str) -> datetime | None:
    return millis(data, key) if data.get(key) else None


def opt_seconds_time(data: JsonObject, key: str) -> datetime | None:
    """A Unix-seconds timestamp (0 or absent: None)."""
    seconds = opt_number(data, key)
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None


def headers(data: JsonObject, key: str) -> HeaderMap:
    """``{"Name": ["v1", ...]}`` (single strings are tolerated) as name → tuple of values."""
    return {
        str(name): tuple(values) if isinstance(values, list) else (str(values),)
        for name, values in obj(data.get(key) or {}).items()
    }


def strings(data: JsonObject, key: str) -> Mapping[str, str]:
    return {str(k): str(v) for k, v in obj(data.get(key) or {}).items()}


def body(data: JsonObject, key: str) -> bytes:
    """A body from ``<key>`` (UTF-8 text) or ``<key>Base64``."""
    if data.get(key) is not None:
        return text(data, key).encode()
    if data.get(key + "Base64") is not None:
        return base64.b64decode(text(data, key + "Base64"))
    return b""


def base64_body(data: JsonObject, key: str) -> bytes:
    """A field that always holds base64 (log entries' bodies)."""
    return base64.b64decode(text(data, key)) if data.get(key) else b""


def labels(data: JsonObject, key: str) -> tuple[str, ...]:
    """``labels`` (all of them), else ``label`` (the first), else none."""
    many = data.get(key)
    if isinstance(many, list):
        return tuple(str(label) for label in many)
    one = opt_text(data, "label")
    return (one,) if one else ()


def wire(key: str, read: Reader = text, **options: Any) -> Any:
    """A dataclass field read from JSON key ``key`` by ``read``."""
    return dataclasses.field(metadata={"key": key, "read": read}, **options)


class FromJson:
    """``from_json`` for a dataclass whose fields are declared with ``wire``."""

    @classmethod
    def from_json(cls, data: Any) -> Self:
        d = obj(data)
        values = {
            fl.name: fl.metadata["read"](d, fl.metadata["key"])
            for fl in dataclasses.fields(cls)  # type: ignore[arg-type]
            if "read" in fl.metadata
        }
        return cls(**values)

    @classmethod
    def list_from_json(cls, data: Any) -> list[Self]:
        return [cls.from_json(item) for item in array(data)]


def whole(kind: type[FromJson]) -> Reader:
    """Reads the entire object as ``kind`` (the key is not used)."""
    return lambda data, _key: kind.from_json(data)


def each(kind: type[FromJson]) -> Reader:
    """Reads the array at the key as a tuple of ``kind``."""
    return lambda data, key: tuple(kind.from_json(item) for item in array(data[key]))
