"""Models kept safely: scikit-learn estimators as skops files, never pickles.

Saving: :func:`save_model` turns an estimator into skops bytes (a zip of JSON and numpy arrays,
no executable code). Loading: :func:`load_model` refuses anything that is not a skops file
(pickles in particular) and refuses a skops file that holds a type outside skops' default
trusted set and scikit-learn's own classes unless the caller names it in ``trusted``.

>>> from sklearn.linear_model import LogisticRegression          # doctest: +SKIP
>>> saved = save_model(LogisticRegression().fit(X, y))            # doctest: +SKIP
>>> model = load_model(saved.data)                                # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flywheel_ml.core.digests import Digest, digest_bytes, parse_digest
from flywheel_ml.core.objects import ObjectStore
from flywheel_ml.errors import InvalidInputError, UnsafeModelError

MODEL_FORMAT = "skops"
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"
_SKLEARN_PREFIX = "sklearn."


@dataclass(frozen=True, slots=True)
class SavedModel:
    """A model in a safe format.

    Attributes:
        data: the file's bytes.
        digest: the BLAKE3 digest of ``data`` (its name in the object store).
        format: ``skops``.
        estimator: the model's class, e.g. ``sklearn.pipeline.Pipeline``.
        library: the library and version that trained it, e.g. ``scikit-learn==1.9.1``.
    """

    data: bytes
    digest: Digest
    format: str
    estimator: str
    library: str

    @property
    def meta(self) -> dict[str, object]:
        """What is recorded with the artifact."""
        return {
            "format": self.format,
            "estimator": self.estimator,
            "library": self.library,
            "size": len(self.data),
        }


def save_model(model: object) -> SavedModel:
    """Serialise a scikit-learn estimator (or pipeline) with skops.

    Raises:
        InvalidInputError: the model is not a scikit-learn estimator, or skops cannot save it.
    """
    cls = type(model)
    qualified = f"{cls.__module__}.{cls.__qualname__}"
    if not callable(getattr(model, "get_params", None)) or not callable(
        getattr(model, "fit", None)
    ):
        raise InvalidInputError(
            f"cannot log a {qualified} as a model: only scikit-learn estimators are saved "
            "(with skops)",
            hint="save other models in their framework's safe format and use "
            "run.log_artifact(path)",
        )
    import sklearn
    import skops.io

    try:
        data = skops.io.dumps(model)
    except Exception as exc:  # skops raises several kinds for types it cannot save
        raise InvalidInputError(
            f"skops cannot save the {qualified}: {exc}",
            hint="use scikit-learn estimators and numpy arrays only, or log_artifact a file",
        ) from exc
    return SavedModel(
        data=data,
        digest=digest_bytes(data),
        format=MODEL_FORMAT,
        estimator=qualified,
        library=f"scikit-learn=={sklearn.__version__}",
    )


def dump_state(state: object) -> bytes:
    """Serialise a training state (an estimator, numpy arrays, dicts/lists of numbers and
    strings) with skops, for checkpoints.

    Raises:
        InvalidInputError: skops cannot save it.
    """
    import skops.io

    try:
        return bytes(skops.io.dumps(state))
    except Exception as exc:  # skops raises several kinds for types it cannot save
        raise InvalidInputError(
            f"cannot checkpoint a {type(state).__qualname__}: {exc}",
            hint="checkpoint estimators, numpy arrays and dicts/lists of plain values",
        ) from exc


def load_state(data: bytes, *, trusted: Sequence[str] = ()) -> Any:
    """Load a checkpoint written by :func:`dump_state`, with the rules of :func:`load_model`."""
    return load_model(data, trusted=trusted)


def untrusted_types(data: bytes) -> list[str]:
    """The types in a skops file outside skops' default trusted set.

    Raises:
        UnsafeModelError: the bytes are not a skops file (a pickle, for instance).
    """
    _require_skops(data)
    import skops.io

    try:
        return sorted(skops.io.get_untrusted_types(data=data))
    except Exception as exc:
        raise UnsafeModelError(
            f"the model bytes are not a valid skops file: {exc}",
            hint="log the model again with run.log_model(model)",
        ) from exc


def load_model(
    source: bytes | Digest | str,
    *,
    objects: ObjectStore | None = None,
    trusted: Sequence[str] = (),
    trust_sklearn: bool = True,
) -> Any:
    """Load a model saved by :func:`save_model` (or ``run.log_model``), without unpickling.

    Args:
        source: the skops bytes, or the digest of an object in ``objects``.
        objects: the object store to read a digest from.
        trusted: fully qualified type names to allow beyond skops' default trusted set, e.g.
            ``["mypackage.MyTransformer"]``; only name types whose code you trust.
        trust_sklearn: also allow every type defined in the installed scikit-learn (skops
            leaves some internals out of its default set, e.g. the MLP's ``AdamOptimizer``);
            they are classes of a package already installed, not code from the file.

    Returns:
        The estimator.

    Raises:
        UnsafeModelError: the bytes are a pickle or not a skops file, or they hold types that
            are neither trusted by default nor named in ``trusted`` (listed in the message).
        InvalidInputError: a digest was given without ``objects``.
        NotFoundError: no object under the digest.
    """
    data = _bytes_of(source, objects)
    untrusted = untrusted_types(data)
    allowed = set(trusted)
    refused = [
        t
        for t in untrusted
        if t not in allowed and not (trust_sklearn and t.startswith(_SKLEARN_PREFIX))
    ]
    if refused:
        raise UnsafeModelError(
            f"the model holds types that are not trusted: {', '.join(refused)}",
            hint="load it only if you trust their code, naming them in trusted=[...] "
            "(CLI: --trust TYPE)",
        )
    import skops.io

    return skops.io.loads(data, trusted=untrusted)


def _bytes_of(source: bytes | Digest | str, objects: ObjectStore | None) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    digest = parse_digest(source)
    if objects is None:
        raise InvalidInputError(
            f"cannot load model {digest}: no object store given",
            hint="pass objects=ws.objects, or use ws.track.load_model(run_id)",
        )
    return objects.get_bytes(digest)


def _require_skops(data: bytes) -> None:
    if data.startswith(_ZIP_MAGIC):
        return
    if data.startswith(_PICKLE_MAGIC):
        raise UnsafeModelError(
            "refusing to load a pickle: unpickling can run any code",
            hint="re-save the model with skops (run.log_model(model) does) and load that",
        )
    raise UnsafeModelError(
        "the model bytes are not a skops file",
        hint="Flywheel loads scikit-learn models saved with skops (run.log_model)",
    )
