"""Serving kernels: a linear classifier's own arithmetic, without its library.

A kernel is compiled and verified when a model version is registered, and saved beside the
model as a ``.npz`` of plain arrays (read back with ``allow_pickle=False``: a safe format). The
prediction gateway then answers with numpy alone: it never imports scikit-learn for such a
version, which is most of its start-up time and memory.

scikit-learn spends most of a one-row ``predict`` on input validation and array-API dispatch
(hundreds of microseconds in 1.9, against a few for the arithmetic). For a fitted
``LogisticRegression`` the answer is ``X @ coef_.T + intercept_`` followed by an argmax (and a
softmax or logistic function for probabilities), which this module computes with numpy directly.

A kernel is only used after it reproduced the estimator on probe rows: identical predictions and
probabilities within 1e-9; anything else (another estimator, a pipeline, one-vs-rest
probabilities, a mismatch) keeps the estimator's own methods. The gateway validates its inputs
(shape, finiteness) before any model sees them, which is the part of scikit-learn's validation
that matters here.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from flywheel_ml.core.digests import Digest
from flywheel_ml.core.objects import ObjectStore


@dataclass(frozen=True, slots=True)
class LinearKernel:
    """``predict``/``predict_proba`` of a fitted linear classifier in plain numpy."""

    coef_t: npt.NDArray[np.float64]
    intercept: npt.NDArray[np.float64]
    classes: npt.NDArray[Any]

    def decision(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The decision function, ``(n, k)`` (``k == 1`` for two classes)."""
        out: npt.NDArray[np.float64] = X @ self.coef_t + self.intercept
        return out

    def predict_proba(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Class probabilities: logistic for two classes, softmax for more."""
        d = self.decision(X)
        if d.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-d[:, 0]))
            both: npt.NDArray[np.float64] = np.column_stack([1.0 - p, p])
            return both
        shifted: npt.NDArray[np.float64] = d - d.max(axis=1, keepdims=True)
        np.exp(shifted, out=shifted)
        shifted /= shifted.sum(axis=1, keepdims=True)
        return shifted

    def predict(self, X: npt.NDArray[np.float64]) -> npt.NDArray[Any]:
        """The predicted classes."""
        d = self.decision(X)
        index = (d[:, 0] > 0).astype(np.intp) if d.shape[1] == 1 else d.argmax(axis=1)
        picked: npt.NDArray[Any] = self.classes[index]
        return picked

    def to_bytes(self) -> bytes:
        """The kernel as an uncompressed ``.npz`` of three plain arrays."""
        buffer = io.BytesIO()
        np.savez(buffer, coef_t=self.coef_t, intercept=self.intercept, classes=self.classes)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LinearKernel:
        """A kernel back from :meth:`to_bytes`; object arrays are refused (never unpickled).

        Raises:
            ValueError: the bytes are not such a file.
        """
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(
                coef_t=np.ascontiguousarray(arrays["coef_t"], dtype=np.float64),
                intercept=np.asarray(arrays["intercept"], dtype=np.float64),
                classes=np.asarray(arrays["classes"]),
            )


def compile_linear(estimator: Any, *, n_features: int, seed: int = 0) -> LinearKernel | None:
    """A verified :class:`LinearKernel` for ``estimator``, or None when it does not qualify.

    Only a fitted ``LogisticRegression`` qualifies, and only if the kernel reproduces its
    ``predict`` exactly and its ``predict_proba`` within 1e-9 on 256 probe rows. An estimator
    fitted on a DataFrame (it has ``feature_names_in_``) is given the probe rows as a DataFrame
    with those columns, the way the gateway would call it; the kernel then expects the columns
    in that order, which is the version's feature order.
    """
    if type(estimator).__name__ != "LogisticRegression" or not n_features:
        return None
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and len(names) != n_features:
        return None
    coef = getattr(estimator, "coef_", None)
    intercept = getattr(estimator, "intercept_", None)
    classes = getattr(estimator, "classes_", None)
    if coef is None or intercept is None or classes is None:
        return None
    kernel = LinearKernel(
        coef_t=np.ascontiguousarray(np.asarray(coef, dtype=np.float64).T),
        intercept=np.asarray(intercept, dtype=np.float64),
        classes=np.asarray(classes),
    )
    if kernel.classes.dtype.kind not in "iub" and kernel.classes.dtype.kind != "U":
        return None  # object labels cannot be saved without pickle
    rng = np.random.default_rng(seed)
    scale = float(np.abs(coef).max()) or 1.0
    probes = rng.normal(0.0, 4.0 / scale, size=(256, n_features))
    given: Any = probes
    if names is not None:
        import pandas as pd  # registration only: the gateway never compiles

        given = pd.DataFrame(probes, columns=[str(n) for n in names])
    try:
        same = np.array_equal(kernel.predict(probes), estimator.predict(given))
        close = np.allclose(
            kernel.predict_proba(probes), estimator.predict_proba(given), rtol=1e-9, atol=1e-12
        )
    except (ValueError, TypeError, AttributeError):
        return None
    return kernel if same and close else None


def kernel_for(estimator: Any, features: Sequence[str], *, store: ObjectStore) -> Digest | None:
    """Compile and store the serving kernel of ``estimator`` over ``features``; the digest of
    the stored kernel, or None when the model has no exact kernel (the gateway then loads the
    estimator itself)."""
    # Reproduced exactly on probe rows (given as a DataFrame to a DataFrame-fitted model), or
    # no kernel. A DataFrame-fitted model's features are its ``feature_names_in_``, so the
    # kernel's column order must be the version's.
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and tuple(str(n) for n in names) != tuple(features):
        return None
    kernel = compile_linear(estimator, n_features=len(features))
    return None if kernel is None else store.put_bytes(kernel.to_bytes())
