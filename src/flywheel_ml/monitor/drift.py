"""Drift of current data against a reference binning: PSI, KS, Wasserstein, chi-square.

Counting (:class:`DriftCounter`) and testing (:func:`compare`) are separate: counts are additive,
so a prediction log is counted batch by batch (one column at a time, never the whole table) or
partition by partition on Dask, and the tests run once on two count vectors per column.

A column is flagged only when both hold:

* its test rejects "same distribution" after multiple-testing control across the columns
  (Benjamini–Hochberg by default, Bonferroni on request) at ``alpha``; and
* the difference is large enough to matter: a Wasserstein distance of at least ``min_shift_sd``
  reference standard deviations for a numeric column, a total-variation distance of at least
  ``min_tvd`` for a categorical one. With a million rows a KS test rejects differences nobody
  cares about; the effect-size floor keeps those quiet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.monitor.binning import (
    GRID_BINS,
    CategoricalBins,
    NumericBins,
    ReferenceBinning,
    count_categories,
    count_numeric,
)

Correction = Literal["bh", "bonferroni"]
Role = Literal["feature", "prediction", "label"]

_EPS = 1e-4
_PARALLEL_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class DriftOptions:
    """How drift is decided.

    Attributes:
        alpha: the false-discovery rate (``bh``) or family-wise error rate (``bonferroni``).
        correction: ``bh`` (Benjamini–Hochberg) or ``bonferroni``.
        min_shift_sd: the smallest numeric shift flagged, as Wasserstein distance in reference SDs.
        min_tvd: the smallest categorical change flagged, as total-variation distance.
    """

    alpha: float = 0.05
    correction: Correction = "bh"
    min_shift_sd: float = 0.1
    min_tvd: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise InvalidInputError(f"alpha must be in (0, 1), got {self.alpha}", hint="e.g. 0.05")
        if self.correction not in ("bh", "bonferroni"):
            raise InvalidInputError(
                f"unknown correction {self.correction!r}", hint="use bh or bonferroni"
            )


@dataclass(frozen=True, slots=True)
class ColumnDrift:
    """The drift verdict of one column.

    Attributes:
        column: its name.
        role: ``feature``, ``prediction`` (model outputs vs reference labels) or ``label``.
        test: ``ks`` (numeric) or ``chi2`` (categorical).
        statistic: the KS distance D or the chi-square statistic.
        p_value / p_adjusted: the test's p-value before and after multiple-testing control.
        psi: population stability index (reference deciles or categories); > 0.2 is large.
        effect: Wasserstein distance in reference SDs (numeric) or total-variation distance.
        drifted: significant after correction and ``effect`` at or above the floor.
        n_reference / n_current: values compared (missing ones included).
        missing_reference / missing_current: share of missing values.
        bins: ``(label, reference share, current share)`` per PSI bin, for the report.
    """

    column: str
    role: Role
    test: Literal["ks", "chi2"]
    statistic: float
    p_value: float
    p_adjusted: float
    psi: float
    effect: float
    drifted: bool
    n_reference: int
    n_current: int
    missing_reference: float
    missing_current: float
    bins: tuple[tuple[str, float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Every column's verdict against one reference."""

    reference: str
    rows: int
    columns: tuple[ColumnDrift, ...]
    options: DriftOptions = field(default_factory=DriftOptions)
    seconds: float = 0.0

    @property
    def drifted(self) -> tuple[str, ...]:
        """Names of the flagged columns, in column order."""
        return tuple(c.column for c in self.columns if c.drifted)

    def column(self, name: str) -> ColumnDrift:
        """The verdict of ``name``.

        Raises:
            InvalidInputError: no such column in the report.
        """
        for c in self.columns:
            if c.column == name:
                return c
        raise InvalidInputError(f"no column {name!r} in the drift report", hint="see its columns")


class DriftCounter:
    """Counts current values on a reference binning, batch by batch.

    Args:
        binning: the reference binning.
        columns: the columns to count (default: all of the binning's).
        roles: column -> role (``feature`` when not given).
        threads: columns counted at once on large batches (numpy releases the GIL).
    """

    def __init__(
        self,
        binning: ReferenceBinning,
        *,
        columns: Iterable[str] | None = None,
        roles: Mapping[str, Role] | None = None,
        threads: int = 2,
    ) -> None:
        names = list(binning.columns) if columns is None else list(columns)
        unknown = [c for c in names if c not in binning.columns]
        if unknown:
            raise InvalidInputError(
                f"columns not in the reference: {', '.join(unknown[:5])}",
                hint="monitor columns the reference dataset version has",
            )
        self.binning = binning
        self.roles: dict[str, Role] = {c: "feature" for c in names}
        self.roles.update(roles or {})
        self.rows = 0
        self.threads = threads
        self._numeric: dict[str, npt.NDArray[np.int64]] = {}
        self._categorical: dict[str, tuple[dict[str, int], int]] = {}

    @property
    def columns(self) -> list[str]:
        """The counted columns."""
        return list(self.roles)

    def add_column(self, name: str, values: Any) -> None:
        """Count one batch of one column (a numpy array, list or Arrow array)."""
        self._store(name, self._count(name, values))

    def add(self, batch: Any) -> None:
        """Count a batch: a mapping of column -> values, an Arrow table or record batch."""
        names = getattr(batch, "column_names", None)
        present: list[tuple[str, Any]] = []
        for name in self.roles:
            if names is not None:
                if name in names:
                    present.append((name, batch.column(name)))
            elif name in batch:
                present.append((name, batch[name]))
        if not present:
            return
        rows = len(present[0][1])
        if rows >= _PARALLEL_ROWS and len(present) > 1 and self.threads > 1:
            # numpy releases the GIL in its loops: columns are counted on several cores.
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self.threads) as pool:
                done = list(pool.map(lambda nv: self._count(*nv), present))
            for (name, _), counts in zip(present, done, strict=True):
                self._store(name, counts)
        else:
            for name, values in present:
                self._store(name, self._count(name, values))
        self.rows += rows

    def _count(self, name: str, values: Any) -> Any:
        bins = self.binning.columns[name]
        if isinstance(bins, NumericBins):
            return count_numeric(_as_float(values), bins)
        return count_categories(values)

    def _store(self, name: str, counts: Any) -> None:
        if isinstance(counts, np.ndarray):
            previous = self._numeric.get(name)
            self._numeric[name] = counts if previous is None else previous + counts
            return
        found, missing = counts
        total, total_missing = self._categorical.get(name, ({}, 0))
        for key, n in found.items():
            total[key] = total.get(key, 0) + n
        self._categorical[name] = (total, total_missing + missing)

    def merge(self, other: DriftCounter) -> None:
        """Add another counter's counts (from another partition) into this one."""
        for name, counts in other._numeric.items():
            mine = self._numeric.get(name)
            self._numeric[name] = counts if mine is None else mine + counts
        for name, (found, missing) in other._categorical.items():
            total, total_missing = self._categorical.get(name, ({}, 0))
            for key, n in found.items():
                total[key] = total.get(key, 0) + n
            self._categorical[name] = (total, total_missing + missing)
        self.rows += other.rows

    def counted(self, name: str) -> npt.NDArray[np.int64] | tuple[dict[str, int], int] | None:
        """The counts of ``name`` so far (None when no batch had it)."""
        if name in self._numeric:
            return self._numeric[name]
        return self._categorical.get(name)


def _as_float(values: Any) -> npt.NDArray[np.float64]:
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        try:
            return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
        except TypeError:
            return np.asarray(values.to_numpy(), dtype=np.float64)
    return np.asarray(values, dtype=np.float64)


def compare(counter: DriftCounter, *, options: DriftOptions | None = None) -> DriftReport:
    """Test every counted column against the reference and apply the correction and floors."""
    import time

    started = time.perf_counter()
    opts = options or DriftOptions()
    raw: list[dict[str, Any]] = []
    for name in counter.columns:
        found = counter.counted(name)
        if found is None:
            continue
        bins = counter.binning.columns[name]
        if isinstance(bins, NumericBins):
            assert isinstance(found, np.ndarray)
            raw.append(_numeric_stats(name, bins, found))
        else:
            assert isinstance(found, tuple)
            raw.append(_categorical_stats(name, bins, found[0], found[1]))
    adjusted = adjust_p_values([r["p_value"] for r in raw], method=opts.correction)
    columns = []
    for r, p_adj in zip(raw, adjusted, strict=True):
        floor = opts.min_shift_sd if r["test"] == "ks" else opts.min_tvd
        drifted = bool(p_adj < opts.alpha and r["effect"] >= floor)
        columns.append(
            ColumnDrift(
                role=counter.roles[r["column"]], p_adjusted=float(p_adj), drifted=drifted, **r
            )
        )
    return DriftReport(
        reference=counter.binning.reference, rows=counter.rows, columns=tuple(columns),
        options=opts, seconds=time.perf_counter() - started,
    )  # fmt: skip


def adjust_p_values(p_values: list[float], *, method: Correction = "bh") -> list[float]:
    """p-values adjusted for testing them together (Benjamini–Hochberg or Bonferroni).

    >>> [round(p, 3) for p in adjust_p_values([0.01, 0.04, 0.03], method="bh")]
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return []
    if method == "bonferroni":
        return [float(v) for v in np.minimum(p * m, 1.0)]
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    return [float(v) for v in out]


def _psi(ref: npt.NDArray[np.float64], cur: npt.NDArray[np.float64]) -> float:
    r = np.maximum(ref / max(ref.sum(), 1.0), _EPS)
    c = np.maximum(cur / max(cur.sum(), 1.0), _EPS)
    return float(np.sum((c - r) * np.log(c / r)))


def _numeric_stats(name: str, bins: NumericBins, cur: npt.NDArray[np.int64]) -> dict[str, Any]:
    from scipy.special import kolmogorov

    ref = bins.counts.astype(np.float64)
    now = cur.astype(np.float64)
    ref_present, cur_present = ref[: GRID_BINS + 2], now[: GRID_BINS + 2]
    n_r, n_c = float(ref_present.sum()), float(cur_present.sum())
    if n_r == 0 or n_c == 0:
        d, p, w_sd = 0.0, 1.0, 0.0
    else:
        f_r = np.cumsum(ref_present) / n_r
        f_c = np.cumsum(cur_present) / n_c
        d = float(np.max(np.abs(f_r - f_c)))
        en = math.sqrt(n_r * n_c / (n_r + n_c))
        # Stephens' small-sample correction of the asymptotic Kolmogorov distribution.
        p = float(kolmogorov((en + 0.12 + 0.11 / en) * d))
        width = (bins.hi - bins.lo) / GRID_BINS
        w_sd = float(np.sum(np.abs(f_r[:GRID_BINS] - f_c[:GRID_BINS])) * width / bins.std)
    edges = [0, *bins.psi_cuts]
    psi_ref = np.add.reduceat(ref_present, edges)
    psi_cur = np.add.reduceat(cur_present, edges)
    if ref[-1] or now[-1]:
        psi_ref = np.append(psi_ref, ref[-1])
        psi_cur = np.append(psi_cur, now[-1])
    ends = [*edges[1:], GRID_BINS + 2]
    labels = [_edge_label(bins, a, b) for a, b in zip(edges, ends, strict=True)]
    if len(psi_ref) > len(labels):
        labels.append("missing")
    share_r = psi_ref / max(psi_ref.sum(), 1.0)
    share_c = psi_cur / max(psi_cur.sum(), 1.0)
    return {
        "column": name, "test": "ks", "statistic": d, "p_value": min(max(p, 0.0), 1.0),
        "psi": _psi(psi_ref, psi_cur), "effect": w_sd,
        "n_reference": int(ref.sum()), "n_current": int(now.sum()),
        "missing_reference": float(ref[-1] / max(ref.sum(), 1.0)),
        "missing_current": float(now[-1] / max(now.sum(), 1.0)),
        "bins": tuple((lab, float(a), float(b)) for lab, a, b in
                      zip(labels, share_r, share_c, strict=True)),
    }  # fmt: skip


def _edge_label(bins: NumericBins, start: int, end: int) -> str:
    width = (bins.hi - bins.lo) / GRID_BINS
    lo = "-inf" if start == 0 else f"{bins.lo + (start - 1) * width:.4g}"
    hi = "inf" if end >= GRID_BINS + 2 else f"{bins.lo + (end - 1) * width:.4g}"
    return f"[{lo}, {hi})"


def _categorical_stats(
    name: str, bins: CategoricalBins, found: Mapping[str, int], missing: int
) -> dict[str, Any]:
    from scipy.stats import chi2

    keys = sorted(set(bins.counts) | set(found))
    ref = np.array([bins.counts.get(k, 0) for k in keys], dtype=np.float64)
    cur = np.array([found.get(k, 0) for k in keys], dtype=np.float64)
    n_r, n_c = ref.sum(), cur.sum()
    if n_r == 0 or n_c == 0 or len(keys) < 2:
        stat, p, tvd = 0.0, 1.0, 0.0
    else:
        table = np.vstack([ref, cur])
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
        stat = float(np.sum((table - expected) ** 2 / expected))
        p = float(chi2.sf(stat, len(keys) - 1))
        tvd = float(0.5 * np.abs(ref / n_r - cur / n_c).sum())
    share_r = ref / max(n_r, 1.0)
    share_c = cur / max(n_c, 1.0)
    return {
        "column": name, "test": "chi2", "statistic": stat, "p_value": p,
        "psi": _psi(ref, cur), "effect": tvd,
        "n_reference": bins.n, "n_current": int(n_c) + missing,
        "missing_reference": bins.missing / max(bins.n, 1),
        "missing_current": missing / max(int(n_c) + missing, 1),
        "bins": tuple((k, float(a), float(b)) for k, a, b in
                      zip(keys[:50], share_r[:50], share_c[:50], strict=True)),
    }  # fmt: skip


def drift_of(
    binning: ReferenceBinning,
    batches: Iterable[Mapping[str, Any] | Any],
    *,
    columns: Iterable[str] | None = None,
    roles: Mapping[str, Role] | None = None,
    options: DriftOptions | None = None,
) -> DriftReport:
    """Drift of the current data given as batches (Arrow tables/record batches or mappings).

    >>> import numpy as np
    >>> from flywheel_ml.monitor.binning import fit_binning
    >>> rng = np.random.default_rng(0)
    >>> ref = fit_binning({"x": rng.normal(size=5000)}, reference="demo")
    >>> drift_of(ref, [{"x": rng.normal(0.5, 1, 5000)}]).drifted
    ('x',)
    """
    counter = DriftCounter(binning, columns=columns, roles=roles)
    for batch in batches:
        counter.add(batch)
    return compare(counter, options=options)
