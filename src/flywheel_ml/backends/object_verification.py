"""Re-hashing every stored object, loose or packed: what ``flywheel verify`` runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flywheel_ml.backends.blobs import FsspecObjectStore, LocalObjectStore
from flywheel_ml.core.digests import Digest

if TYPE_CHECKING:
    from flywheel_ml.backends.packs import PackedObjectStore


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What ``verify`` found: how many objects it checked and which ones are corrupt."""

    checked: int
    corrupt: tuple[Digest, ...]
    swept: int = 0
    """Stale temporary files (left by killed writes) that were deleted."""

    @property
    def ok(self) -> bool:
        """Whether every object's bytes match its digest."""
        return not self.corrupt


def verify_objects(
    objects: LocalObjectStore | FsspecObjectStore,
    packed: PackedObjectStore,
    *,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Check every loose object, then every packed one, against its digest.

    Also deletes temporary files that killed writes left behind in a local store (older than
    six hours): they are never part of an acknowledged write.

    Args:
        progress: called with the number of objects checked so far (after each loose object,
            every 1,000 packed ones).
    """
    corrupt = []
    checked = 0
    for digest in objects.iter_digests():
        if not objects.check(digest):
            corrupt.append(digest)
        checked += 1
        if progress is not None:
            progress(checked)
    for digest, ok in packed.check_packed():
        if not ok:
            corrupt.append(digest)
        checked += 1
        if progress is not None and checked % 1000 == 0:
            progress(checked)
    swept = objects.sweep_temporary() if isinstance(objects, LocalObjectStore) else 0
    return VerifyReport(checked=checked, corrupt=tuple(sorted(corrupt)), swept=swept)
