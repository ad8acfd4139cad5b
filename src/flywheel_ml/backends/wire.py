"""The wire format of store calls over REST: JSON that round-trips the stores' value types.

Plain JSON loses what the store contracts rely on: a tuple comes back a list, a datetime a
string, NaN is not JSON, and a dict keyed by tuples (a metric batch) cannot be written at all.
So values are encoded with small tagged objects, each a one-key dict whose key starts with ``$``:

====================  ===================================================
``{"$t": [...]}``     tuple
``{"$fs": [...]}``    frozenset
``{"$m": [[k, v]]}``  dict with a key that is not a string (or starts with ``$``)
``{"$dt": "..."}``    timezone-aware datetime (ISO 8601)
``{"$b": "..."}``     bytes (base64)
``{"$f": "nan"}``     a float JSON cannot hold (nan, inf, -inf)
``{"$nd": [...]}``    numpy array: dtype, shape, base64 of its C-order bytes
``{"$dc": name, "f"}``  a frozen dataclass of Flywheel's entity modules, by name
====================  ===================================================

Decoding never imports or calls anything a payload names: a dataclass is looked up by name in
:data:`ENTITY_CLASSES`, an allow-list built from Flywheel's own entity modules, and constructed
from its declared fields only (its ``__post_init__`` checks run as for any other caller). There is
no pickle anywhere on this path.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any

import orjson

from flywheel_ml.errors import InvalidInputError

_ENTITY_MODULES = (
    "flywheel_ml.core.events",
    "flywheel_ml.plan.entities",
    "flywheel_ml.data.entities",
    "flywheel_ml.label.entities",
    "flywheel_ml.track.entities",
    "flywheel_ml.track.query",
    "flywheel_ml.tune.entities",
    "flywheel_ml.registry.entities",
    "flywheel_ml.serve.entities",
    "flywheel_ml.serve.store",
    "flywheel_ml.monitor.entities",
)
_ARRAY_DTYPES = frozenset({"int64", "int32", "float64", "float32", "bool", "uint8", "int8"})
_MAX_DEPTH = 64


@cache
def entity_classes() -> Mapping[str, type[Any]]:
    """Every dataclass defined in Flywheel's entity modules, by ``module:QualName``."""
    found: dict[str, type[Any]] = {}
    for module_name in _ENTITY_MODULES:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and dataclasses.is_dataclass(value)
                and value.__module__ == module_name
            ):
                found[f"{module_name}:{value.__qualname__}"] = value
    return found


def encode(value: Any) -> Any:
    """``value`` as JSON-ready data (see the module docstring for the tags)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, Enum, datetime, bytes, bytearray, memoryview)):
        return _encode_scalar(value)
    if isinstance(value, (list, tuple, set, frozenset, Mapping)):
        return _encode_collection(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_entity(value)
    return _encode_array(value)


def _encode_collection(value: Any) -> Any:
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"$t": [encode(v) for v in value]}
    if isinstance(value, Mapping):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"$m": [[encode(k), encode(v)] for k, v in value.items()]}
    return {"$fs": [encode(v) for v in value]}


def _encode_scalar(value: Any) -> Any:
    if isinstance(value, Enum):
        return encode(value.value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInputError(
                f"naive datetime {value.isoformat()} cannot be sent",
                hint="give datetimes a timezone (Flywheel stores UTC)",
            )
        return {"$dt": value.isoformat()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, int):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else {"$f": repr(number)}


def _encode_entity(value: Any) -> Any:
    cls = type(value)
    name = f"{cls.__module__}:{cls.__qualname__}"
    if entity_classes().get(name) is not cls:
        raise TypeError(f"{name} is not a Flywheel entity and cannot be sent")
    fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return {"$dc": name, "f": fields}


def _encode_array(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return encode(value.item())
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        if array.dtype.name not in _ARRAY_DTYPES:
            raise TypeError(f"arrays of {array.dtype} cannot be sent")
        payload = base64.b64encode(array.tobytes()).decode("ascii")
        return {"$nd": [array.dtype.name, list(array.shape), payload]}
    raise TypeError(f"{type(value).__name__} values cannot be sent to the server")


def decode(data: Any, *, _depth: int = 0) -> Any:
    """The value :func:`encode` made ``data`` from.

    Raises:
        InvalidInputError: ``data`` is not a well-formed encoding (an unknown tag or entity, a
            field the entity does not declare, a malformed array, nesting deeper than 64).
    """
    if _depth > _MAX_DEPTH:
        raise InvalidInputError("the request nests values too deeply", hint="send flatter data")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    depth = _depth + 1
    if isinstance(data, list):
        return [decode(v, _depth=depth) for v in data]
    if not isinstance(data, dict):
        raise InvalidInputError(f"unexpected {type(data).__name__} in the request", hint="")
    if len(data) in (1, 2) and any(k.startswith("$") for k in data):
        return _decode_tagged(data, depth)
    return {k: decode(v, _depth=depth) for k, v in data.items()}


def _decode_tagged(data: dict[str, Any], depth: int) -> Any:
    tag = next(k for k in data if k.startswith("$"))
    decoder = _TAGS.get(tag)
    if decoder is None:
        raise InvalidInputError(f"unknown value tag {tag!r}", hint="upgrade the client")
    try:
        return decoder(data, depth)
    except InvalidInputError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidInputError(
            f"malformed value in the request: {exc}", hint="send values encoded by flywheel_ml"
        ) from exc


def _decode_datetime(data: dict[str, Any], _depth: int) -> datetime:
    moment = datetime.fromisoformat(data["$dt"])
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment


def _decode_float(data: dict[str, Any], _depth: int) -> float:
    if data["$f"] not in ("nan", "inf", "-inf"):
        raise ValueError("not a non-finite float")
    return float(data["$f"])


_TAGS: dict[str, Callable[[dict[str, Any], int], Any]] = {
    "$t": lambda d, n: tuple(decode(v, _depth=n) for v in d["$t"]),
    "$fs": lambda d, n: frozenset(decode(v, _depth=n) for v in d["$fs"]),
    "$m": lambda d, n: {decode(k, _depth=n): decode(v, _depth=n) for k, v in d["$m"]},
    "$dt": _decode_datetime,
    "$b": lambda d, _n: base64.b64decode(d["$b"], validate=True),
    "$f": _decode_float,
    "$nd": lambda d, _n: _decode_array(d["$nd"]),
    "$dc": lambda d, n: _decode_entity(d["$dc"], d.get("f"), n),
}


def _decode_array(parts: Any) -> Any:
    import numpy as np

    dtype, shape, payload = parts
    if dtype not in _ARRAY_DTYPES:
        raise ValueError(f"arrays of {dtype} are not accepted")
    raw = base64.b64decode(payload, validate=True)
    dims = tuple(int(n) for n in shape)
    return np.frombuffer(raw, dtype=dtype).reshape(dims).copy()


def _decode_entity(name: Any, fields: Any, depth: int) -> Any:
    cls = entity_classes().get(name) if isinstance(name, str) else None
    if cls is None:
        raise InvalidInputError(f"unknown entity {name!r}", hint="upgrade the client or server")
    if not isinstance(fields, dict):
        raise ValueError(f"{name} needs its fields")
    declared = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(fields) - declared)
    if unknown:
        raise InvalidInputError(
            f"{name} has no field {unknown[0]!r}", hint="upgrade the server to this client"
        )
    return cls(**{k: decode(v, _depth=depth) for k, v in fields.items()})


def dumps(value: Any) -> bytes:
    """``value`` encoded and serialised as JSON bytes."""
    return orjson.dumps(encode(value))


def loads(raw: bytes | str) -> Any:
    """The value :func:`dumps` wrote.

    Raises:
        InvalidInputError: the bytes are not JSON or not a well-formed encoding.
    """
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"the body is not JSON: {exc}", hint="send JSON") from exc
    return decode(data)
