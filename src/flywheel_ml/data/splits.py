"""Stable splits: an item's split is a pure function of (item id, seed, fractions).

The item id and the seed are hashed with BLAKE3 into a number in [0, 1); the number picks the
split by the cumulative fractions. Nothing else enters, so adding data never moves an item to
another split and the test set grows without ever leaking items that were trained on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import blake3

from flywheel_ml.data.entities import SPLITS, Split, SplitPolicy
from flywheel_ml.errors import InvalidInputError

_SCALE = float(1 << 64)


def validate_policy(policy: SplitPolicy) -> SplitPolicy:
    """``policy`` when its fractions are in [0, 1] and sum to 1.

    Raises:
        InvalidInputError: a negative fraction or fractions that do not add up to 1.
    """
    fractions = (policy.train, policy.val, policy.test)
    if any(not 0.0 <= f <= 1.0 for f in fractions) or not math.isclose(sum(fractions), 1.0):
        raise InvalidInputError(
            f"split fractions train={policy.train} val={policy.val} test={policy.test} "
            "must each be in [0, 1] and add up to 1",
            hint="e.g. --train 0.8 --val 0.1 --test 0.1",
        )
    if policy.seed < 0 or policy.seed >= 1 << 63:
        raise InvalidInputError(
            f"split seed {policy.seed} is out of range", hint="use a non-negative integer"
        )
    return policy


def split_position(item_id: str, seed: int) -> float:
    """Where the item falls in [0, 1) for ``seed`` (uniform over ids)."""
    head = blake3.blake3(f"{seed}\x00{item_id}".encode()).digest(8)
    return int.from_bytes(head, "big") / _SCALE


def split_of(item_id: str, policy: SplitPolicy) -> Split:
    """The split of one item under ``policy``."""
    position = split_position(item_id, policy.seed)
    if position < policy.train:
        return "train"
    if position < policy.train + policy.val:
        return "val"
    return "test"


def assign_splits(item_ids: Iterable[str], policy: SplitPolicy) -> list[Split]:
    """The split of each item, in order."""
    seed = policy.seed
    bounds = (policy.train, policy.train + policy.val)
    out: list[Split] = []
    append = out.append
    for item_id in item_ids:
        head = blake3.blake3(f"{seed}\x00{item_id}".encode()).digest(8)
        position = int.from_bytes(head, "big") / _SCALE
        append("train" if position < bounds[0] else "val" if position < bounds[1] else "test")
    return out


def split_counts(splits: Sequence[str]) -> dict[str, int]:
    """How many items fall in each split (every split listed, zero included)."""
    counts: dict[str, int] = dict.fromkeys(SPLITS, 0)
    for split in splits:
        counts[split] += 1
    return counts
