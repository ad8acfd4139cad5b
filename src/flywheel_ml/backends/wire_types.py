"""Does a decoded value match a store method's parameter annotation? (the server's input check)

The team server decodes a store call's arguments (:mod:`flywheel_ml.backends.wire`) and checks
each against the Protocol's type hints before the store sees it, so a client that sends a string
where a number belongs gets a 422 naming the argument, not a failure deep in SQL. Entities are
checked field by field against their own annotations. This covers the types the store Protocols
use; an annotation it does not know (a TypeVar, say) accepts anything.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections import abc
from collections.abc import Callable
from functools import cache
from typing import Any

_MAX_DEPTH = 32


@cache
def entity_hints(cls: type[Any]) -> dict[str, Any]:
    """The resolved annotations of a dataclass's init fields."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def conforms(value: Any, hint: Any, *, _depth: int = 0) -> bool:
    """Whether ``value`` is of the type ``hint`` describes (deeply, for containers and
    Flywheel entities)."""
    if _depth > _MAX_DEPTH or hint is Any or hint is object:
        return True
    supertype = getattr(hint, "__supertype__", None)  # a NewType such as Digest
    if supertype is not None:
        return conforms(value, supertype, _depth=_depth)
    origin = typing.get_origin(hint)
    if origin is None:
        return _plain(value, hint, _depth)
    return _generic(value, hint, origin, _depth + 1)


def _plain(value: Any, hint: Any, depth: int) -> bool:
    if hint is None or hint is types.NoneType:
        return value is None
    if hint in (int, float):
        # bool is an int to Python, never a number to a store; an int is a fine float.
        allowed = (int,) if hint is int else (int, float)
        return isinstance(value, allowed) and not isinstance(value, bool)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return isinstance(value, hint) and all(
            conforms(getattr(value, name), field_hint, _depth=depth + 1)
            for name, field_hint in entity_hints(hint).items()
        )
    return not isinstance(hint, type) or isinstance(value, hint)


def _generic(value: Any, hint: Any, origin: Any, depth: int) -> bool:
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, arm, _depth=depth) for arm in args)
    if origin is typing.Literal:
        return any(value == choice and type(value) is type(choice) for choice in args)
    check = _CONTAINERS.get(origin)
    if check is not None:
        return check(value, args, depth)
    # numpy's NDArray and other parametrised classes: the class is what can be checked.
    return not isinstance(origin, type) or isinstance(value, origin)


def _tuple(value: Any, args: tuple[Any, ...], depth: int) -> bool:
    if not isinstance(value, tuple):
        return False
    if len(args) == 2 and args[1] is Ellipsis:
        return all(conforms(v, args[0], _depth=depth) for v in value)
    return len(value) == len(args) and all(
        conforms(v, a, _depth=depth) for v, a in zip(value, args, strict=True)
    )


def _sequence(
    kinds: tuple[type[abc.Collection[Any]], ...],
) -> Callable[[Any, tuple[Any, ...], int], bool]:
    def check(value: Any, args: tuple[Any, ...], depth: int) -> bool:
        if not isinstance(value, kinds):
            return False
        items: abc.Collection[Any] = value
        return not args or all(conforms(v, args[0], _depth=depth) for v in items)

    return check


def _mapping(value: Any, args: tuple[Any, ...], depth: int) -> bool:
    if not isinstance(value, abc.Mapping):
        return False
    return not args or all(
        conforms(k, args[0], _depth=depth) and conforms(v, args[1], _depth=depth)
        for k, v in value.items()
    )


_CONTAINERS: dict[Any, Callable[[Any, tuple[Any, ...], int], bool]] = {
    tuple: _tuple,
    list: _sequence((list,)),
    abc.Sequence: _sequence((list, tuple)),
    abc.MutableSequence: _sequence((list,)),
    frozenset: _sequence((frozenset, set)),
    set: _sequence((frozenset, set)),
    abc.Set: _sequence((frozenset, set)),
    dict: _mapping,
    abc.Mapping: _mapping,
    abc.MutableMapping: _mapping,
}
