"""A model bundle: one model version's files and what a gateway needs to serve it alone.

``flywheel export docker`` writes a bundle into the image's build context; inside the image the
gateway serves it with no workspace, database or registry (``server/bundle_gateway.py``)::

    model/
      manifest.json     the version: ref, features, estimator, trusted types, file digests
      model.skops       the model as registered (a skops file, never a pickle)
      kernel.npz        its verified numpy serving kernel, when it has one

:class:`BundleResolver` checks each file against the BLAKE3 digest in the manifest before it
loads it (a changed byte refuses to serve), answers with the kernel when there is one (numpy
only: scikit-learn is then not even installed in the image) and otherwise opens the skops file
trusting only the types trusted at registration. :class:`BundleDeployments` is the deployment
state of such a gateway: the one version as champion, no canary, no moves.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flywheel_ml.core.digests import digest_bytes
from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError
from flywheel_ml.registry.kernels import LinearKernel
from flywheel_ml.serve.entities import Deployment, DeploymentMove, MoveKind
from flywheel_ml.serve.predictors import EstimatorPredictor, KernelPredictor, Predictor
from flywheel_ml.serve.store import GatewayRecord

MANIFEST = "manifest.json"
MODEL_FILE = "model.skops"
KERNEL_FILE = "kernel.npz"
FORMAT = 1
"""The bundle layout version written into every manifest."""


@dataclass(frozen=True, slots=True)
class BundleManifest:
    """What a bundle holds.

    Attributes:
        ref: the exact version, ``name@vN`` (never an alias: an image is one version).
        exported_as: the reference the export was asked for (``digits-clf@champion``).
        estimator: the model's class.
        feature_names: the input columns in training order.
        trusted: types beyond skops' defaults trusted at registration.
        model_digest: BLAKE3 of ``model.skops``.
        kernel_digest: BLAKE3 of ``kernel.npz``, or None without a kernel.
        format: the bundle layout version.
    """

    ref: str
    exported_as: str
    estimator: str
    feature_names: tuple[str, ...]
    trusted: tuple[str, ...]
    model_digest: str
    kernel_digest: str | None
    format: int = FORMAT

    @property
    def model(self) -> str:
        """The model name (the part of ``ref`` before ``@``)."""
        return self.ref.split("@", 1)[0]


def write_bundle(
    directory: Path,
    *,
    manifest: BundleManifest,
    model_bytes: bytes,
    kernel_bytes: bytes | None,
) -> None:
    """Write the bundle files into the empty or new ``directory``.

    Raises:
        InvalidInputError: the bytes do not match the manifest's digests.
    """
    if str(digest_bytes(model_bytes)) != manifest.model_digest or (
        kernel_bytes is not None and str(digest_bytes(kernel_bytes)) != manifest.kernel_digest
    ):
        raise InvalidInputError(
            f"the stored files of {manifest.ref} do not match their digests",
            hint="run flywheel verify",
        )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MODEL_FILE).write_bytes(model_bytes)
    if kernel_bytes is not None:
        (directory / KERNEL_FILE).write_bytes(kernel_bytes)
    text = json.dumps(asdict(manifest), indent=2, sort_keys=True)
    (directory / MANIFEST).write_text(text + "\n", encoding="utf-8")


def read_manifest(directory: Path) -> BundleManifest:
    """The manifest of the bundle in ``directory``.

    Raises:
        NotFoundError: no manifest there.
        InvalidInputError: a manifest of another layout version or with missing fields.
    """
    path = directory / MANIFEST
    if not path.is_file():
        raise NotFoundError(
            f"no model bundle in {directory} (no {MANIFEST})",
            hint="point --bundle at the folder flywheel export docker wrote",
        )
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if raw.get("format") != FORMAT:
        raise InvalidInputError(
            f"the bundle in {directory} has layout {raw.get('format')!r}, this Flywheel reads "
            f"{FORMAT}",
            hint="export it again with this Flywheel",
        )
    try:
        return BundleManifest(
            **{
                **raw,
                "feature_names": tuple(raw["feature_names"]),
                "trusted": tuple(raw["trusted"]),
            }
        )
    except (KeyError, TypeError) as exc:
        raise InvalidInputError(
            f"the bundle manifest in {directory} is incomplete: {exc}", hint="export it again"
        ) from None


def _checked(path: Path, digest: str) -> bytes:
    data = path.read_bytes()
    if str(digest_bytes(data)) != digest:
        raise ConflictError(
            f"{path.name} does not match the digest in the manifest: it was changed",
            hint="export the image again; never edit a bundle by hand",
        )
    return data


class BundleResolver:
    """Loads the one version of a bundle (the :class:`ModelResolver` of a bundle gateway)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.manifest = read_manifest(directory)

    def resolve(self, ref: str) -> Predictor:
        """The bundled model when ``ref`` is its version.

        Raises:
            NotFoundError: another reference.
            ConflictError: a file does not match its digest.
            UnsafeModelError: the skops file holds untrusted types.
        """
        m = self.manifest
        if ref != m.ref:
            raise NotFoundError(f"this image serves only {m.ref}, not {ref}", hint="")
        if m.kernel_digest is not None:
            kernel = LinearKernel.from_bytes(
                _checked(self.directory / KERNEL_FILE, m.kernel_digest)
            )
            return KernelPredictor(kernel, version_ref=m.ref, feature_names=m.feature_names)
        from flywheel_ml.registry.versions import open_safely

        data = _checked(self.directory / MODEL_FILE, m.model_digest)
        estimator = open_safely(data, trusted=m.trusted)
        return EstimatorPredictor(estimator, version_ref=m.ref, feature_names=m.feature_names)


class BundleDeployments:
    """The deployment state of a bundle gateway: its version as champion, nothing moves.

    Implements :class:`~flywheel_ml.serve.store.DeploymentStore`; every move is refused (an
    image serves one version: ship another image to change it).
    """

    def __init__(self, manifest: BundleManifest, *, at: datetime) -> None:
        self._state = Deployment(
            model=manifest.model,
            champion=manifest.ref,
            revision=1,
            updated_at=at,
            updated_by="flywheel export docker",
        )

    def get_deployment(self, model: str) -> Deployment | None:
        """The deployment when ``model`` is the bundled one."""
        return self._state if model == self._state.model else None

    def list_deployments(self) -> list[Deployment]:
        """The one deployment."""
        return [self._state]

    def apply_move(
        self,
        model: str,
        change: Callable[[Deployment | None], Deployment],
        *,
        kind: MoveKind,
        actor: str,
        at: datetime,
        reason: str = "",
    ) -> DeploymentMove:
        """Always refused."""
        raise ConflictError(
            f"a bundle gateway serves {self._state.champion} only: no {kind}",
            hint="export and ship another image",
        )

    def list_moves(self, model: str) -> list[DeploymentMove]:
        """No moves."""
        return []

    def last_seq(self) -> int:
        """Always 1: the state never changes."""
        return 1

    def add_gateway(self, url: str, *, at: datetime) -> GatewayRecord:
        """Refused: nothing would ever sync a bundle gateway."""
        raise ConflictError("a bundle gateway is not registered anywhere", hint="")

    def remove_gateway(self, gateway_id: str) -> None:
        """Nothing to forget."""

    def list_gateways(self) -> list[GatewayRecord]:
        """None."""
        return []
