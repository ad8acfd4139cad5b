"""Two models on the same items: which mistakes the newer one fixed, which it broke, per slice."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flywheel_ml.analyze.entities import ModelComparison, SliceDelta, SliceResult
from flywheel_ml.analyze.scoring import Scored
from flywheel_ml.errors import InvalidInputError


def compare_models(
    before: Scored,
    after: Scored,
    *,
    slices_before: Sequence[SliceResult],
    slices_after: Sequence[SliceResult],
) -> ModelComparison:
    """Items fixed (wrong before, right after), broken (right before, wrong after), slice deltas.

    Raises:
        InvalidInputError: the two were scored on different items.
    """
    from sklearn.metrics import accuracy_score

    if before.dataset.digest != after.dataset.digest or not np.array_equal(before.ids, after.ids):
        raise InvalidInputError(
            f"{before.model.ref} and {after.model.ref} were scored on different items",
            hint="compare on one dataset version: --data NAME@vN",
        )
    fixed = before.ids[~before.correct & after.correct]
    broken = before.ids[before.correct & ~after.correct]
    after_by_name = {s.name: s for s in slices_after}
    deltas = []
    for old in slices_before:
        new = after_by_name.get(old.name)
        if new is None:
            continue
        delta = (
            None if old.accuracy is None or new.accuracy is None else new.accuracy - old.accuracy
        )
        deltas.append(SliceDelta(old.name, old.rows, old.accuracy, new.accuracy, delta))
    deltas.sort(key=lambda d: (d.delta if d.delta is not None else 0.0, d.name))
    return ModelComparison(
        before=before.model.ref,
        after=after.model.ref,
        dataset=before.dataset.ref,
        split=before.split,
        rows=before.rows,
        accuracy_before=float(accuracy_score(before.y_true, before.y_pred)),
        accuracy_after=float(accuracy_score(after.y_true, after.y_pred)),
        fixed=tuple(str(i) for i in fixed),
        broken=tuple(str(i) for i in broken),
        slices=tuple(deltas),
    )
