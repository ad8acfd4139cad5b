"""The serve stage's model resolver, backed by the model registry.

The registry comes before serve in the lifecycle, so it cannot implement serve's
:class:`~flywheel_ml.serve.predictors.ModelResolver` itself; the workspace wires this adapter.
"""

from __future__ import annotations

from flywheel_ml.registry.stage import RegistryStage
from flywheel_ml.serve.predictors import EstimatorPredictor, KernelPredictor, Predictor


class RegistryModelResolver:
    """Loads ``name@vN`` or ``name@<alias>`` from the registry as a serve predictor.

    An alias is resolved when the reference is loaded: the predictor names the concrete
    version (``digits-clf@v3``), so every response says which version answered.
    """

    def __init__(self, registry: RegistryStage) -> None:
        self._registry = registry

    def resolve(self, ref: str) -> Predictor:
        """The loaded model version ``ref`` names.

        Raises:
            NotFoundError: no such model, version or alias, or the version was deleted.
            UnsafeModelError: the stored model holds untrusted types.
        """
        version = self._registry.get_version(ref)
        if not version.deleted:
            kernel = self._registry.load_kernel(version)
            if kernel is not None:
                # numpy only: scikit-learn is never imported for this version.
                return KernelPredictor(
                    kernel, version_ref=version.ref, feature_names=version.feature_names
                )
        estimator = self._registry.load_model(version.ref)
        return EstimatorPredictor(
            estimator, version_ref=version.ref, feature_names=version.feature_names
        )
