"""The analyze stage's model source, backed by the model registry.

The registry comes after analyze in the lifecycle, so analyze takes a callable that loads a
model by reference; the workspace wires this adapter in.
"""

from __future__ import annotations

from flywheel_ml.analyze.entities import LoadedModel
from flywheel_ml.registry.stage import RegistryStage


class RegistryModelSource:
    """Loads ``name@vN`` or ``name@<alias>`` from the registry for analysis (aliases resolve)."""

    def __init__(self, registry: RegistryStage) -> None:
        self._registry = registry

    def __call__(self, ref: str) -> LoadedModel:
        """The loaded model version ``ref`` names.

        Raises:
            NotFoundError: no such model, version or alias, or the version was deleted.
            UnsafeModelError: the stored model holds untrusted types.
        """
        version = self._registry.get_version(ref)
        estimator = self._registry.load_model(version.ref)
        return LoadedModel(version.ref, estimator, version.feature_names, version.dataset)
