"""What the gateway needs from a model, and how it gets one from a reference.

The registry stage supplies the real :class:`ModelResolver` (it loads a version's safely saved
model); the workspace wires it in. Tests and benchmarks may wire their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from flywheel_ml.errors import NotFoundError
from flywheel_ml.registry.kernels import LinearKernel, compile_linear


@runtime_checkable
class Predictor(Protocol):
    """A loaded model version.

    Attributes:
        version_ref: the reference it was loaded from, e.g. ``digits-clf@v3``; every response
            and log row names it.
        feature_names: the input columns in training order (their count is the width every
            request must have; names let ``records``/``columns`` bodies be reordered).
    """

    @property
    def version_ref(self) -> str:
        """The reference it was loaded from."""
        ...

    @property
    def feature_names(self) -> Sequence[str]:
        """The input columns in training order."""
        ...

    def predict(self, X: npt.NDArray[np.float64]) -> npt.NDArray[Any]:
        """One prediction per row of the 2-D float array ``X`` (shape ``(n, len(features))``)."""
        ...


@runtime_checkable
class ProbabilisticPredictor(Predictor, Protocol):
    """A predictor that also gives class probabilities."""

    @property
    def classes(self) -> Sequence[Any]:
        """The class labels, in the column order of :meth:`predict_proba`."""
        ...

    def predict_proba(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Class probabilities, shape ``(n, len(classes))``."""
        ...


class ModelResolver(Protocol):
    """Loads the model version a reference names."""

    def resolve(self, ref: str) -> Predictor:
        """The loaded model for ``ref`` (``name@version``).

        Raises:
            NotFoundError: no such model version.
        """
        ...


_ARGMAX_OF_PROBA = frozenset(
    {
        "LogisticRegression",
        "RandomForestClassifier",
        "ExtraTreesClassifier",
        "DecisionTreeClassifier",
        "GaussianNB",
        "KNeighborsClassifier",
    }
)


class NoRegistryResolver:
    """The resolver of a workspace without a model registry: every reference is unknown."""

    def resolve(self, ref: str) -> Predictor:
        """Always raises: there is no registry to load ``ref`` from."""
        raise NotFoundError(
            f"cannot load {ref}: this workspace has no model registry to load versions from",
            hint="register the model with `flywheel registry register` (or pass a resolver to "
            "ServeStage in library use)",
        )


class EstimatorPredictor:
    """A :class:`Predictor` around a fitted scikit-learn-style estimator.

    Args:
        estimator: anything with ``predict`` (and optionally ``predict_proba``/``classes_``).
        version_ref: the reference to name in responses.
        feature_names: the input columns; default ``estimator.feature_names_in_`` when present,
            else ``x0 .. x{n-1}`` from ``n_features_in_``.
        compiled: answer with a verified numpy kernel where one exists (see
            :mod:`flywheel_ml.registry.kernels`); False always calls the estimator.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        version_ref: str,
        feature_names: Sequence[str] | None = None,
        compiled: bool = True,
    ) -> None:
        self._estimator = estimator
        self._ref = version_ref
        if feature_names is None:
            names = getattr(estimator, "feature_names_in_", None)
            if names is None:
                count = int(getattr(estimator, "n_features_in_", 0))
                names = [f"x{i}" for i in range(count)]
            feature_names = [str(n) for n in names]
        self._features = tuple(feature_names)
        self._has_proba = hasattr(estimator, "predict_proba")
        first = estimator.steps[0][1] if hasattr(estimator, "steps") else estimator
        self.takes_text = callable(getattr(first, "build_analyzer", None))
        """Whether the model reads raw text (it starts with a text vectoriser)."""
        classes = getattr(estimator, "classes_", None)
        self._classes: tuple[Any, ...] = () if classes is None else tuple(classes.tolist())
        # For these estimators predict() is the argmax of predict_proba(), so one call gives both.
        final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
        self._argmax_predicts = bool(self._classes) and type(final).__name__ in _ARGMAX_OF_PROBA
        self._classes_array = None if classes is None else np.asarray(classes)
        # The estimator was fitted on a plain array: give it one (no column-name warnings).
        fitted_names = getattr(estimator, "feature_names_in_", None)
        self._plain = fitted_names is None
        # A DataFrame-fitted estimator's kernel expects its own column order.
        in_order = fitted_names is None or tuple(str(n) for n in fitted_names) == self._features
        self.kernel = (
            compile_linear(estimator, n_features=len(self._features))
            if compiled and in_order
            else None
        )

    @property
    def version_ref(self) -> str:
        """The reference it was loaded from."""
        return self._ref

    @property
    def feature_names(self) -> Sequence[str]:
        """The input columns in training order."""
        return self._features

    @property
    def classes(self) -> Sequence[Any]:
        """The class labels (empty for a regressor)."""
        return self._classes

    @property
    def has_proba(self) -> bool:
        """Whether :meth:`predict_proba` is available."""
        return self._has_proba

    def predict(self, X: npt.NDArray[np.float64]) -> npt.NDArray[Any]:
        """The estimator's predictions for ``X``."""
        if self.kernel is not None:
            return self.kernel.predict(X)
        return np.asarray(self._estimator.predict(self._input(X)))

    def predict_proba(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The estimator's class probabilities for ``X``."""
        if self.kernel is not None:
            return self.kernel.predict_proba(X)
        return np.asarray(self._estimator.predict_proba(self._input(X)), dtype=np.float64)

    def predict_with_proba(
        self, X: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64]]:
        """Predictions and probabilities; one model call when ``predict`` is their argmax."""
        proba = self.predict_proba(X)
        if self._argmax_predicts:
            return np.asarray(self._classes_array)[proba.argmax(axis=1)], proba
        return self.predict(X), proba

    def _input(self, X: npt.NDArray[np.float64]) -> Any:
        if self._plain:
            return X
        import pandas as pd

        return pd.DataFrame(X, columns=list(self._features))


class KernelPredictor:
    """A :class:`Predictor` answering with a version's verified serving kernel (numpy only).

    Args:
        kernel: the kernel saved with the version at registration.
        version_ref: the reference to name in responses.
        feature_names: the input columns in training order.
    """

    has_proba = True

    def __init__(
        self, kernel: LinearKernel, *, version_ref: str, feature_names: Sequence[str]
    ) -> None:
        self.kernel = kernel
        self._ref = version_ref
        self._features = tuple(feature_names)
        self._classes: tuple[Any, ...] = tuple(kernel.classes.tolist())

    @property
    def version_ref(self) -> str:
        """The reference it was loaded from."""
        return self._ref

    @property
    def feature_names(self) -> Sequence[str]:
        """The input columns in training order."""
        return self._features

    @property
    def classes(self) -> Sequence[Any]:
        """The class labels."""
        return self._classes

    def predict(self, X: npt.NDArray[np.float64]) -> npt.NDArray[Any]:
        """The predicted classes for ``X``."""
        return self.kernel.predict(X)

    def predict_proba(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Class probabilities for ``X``."""
        return self.kernel.predict_proba(X)

    def predict_with_proba(
        self, X: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64]]:
        """Predictions and probabilities from one product (the prediction is the argmax)."""
        proba = self.kernel.predict_proba(X)
        return self.kernel.classes[proba.argmax(axis=1)], proba


def takes_text(predictor: Predictor) -> bool:
    """Whether ``predictor`` reads raw text rather than numeric features."""
    return bool(getattr(predictor, "takes_text", False))


def has_proba(predictor: Predictor) -> bool:
    """Whether ``predictor`` can give probabilities."""
    flag = getattr(predictor, "has_proba", None)
    if flag is not None:
        return bool(flag)
    return callable(getattr(predictor, "predict_proba", None))
