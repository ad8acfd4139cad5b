"""Types of the C module built from ``_folderio.c`` (see that file for the contract)."""

from typing import TypeVar

_T = TypeVar("_T", bound=tuple[object, ...])

def scan(root: str, cls: type[_T], /) -> list[_T] | None: ...
def read(paths: list[str], sizes: list[int], /) -> list[bytes | None]: ...
