"""Model names, references (``name@v3``, ``name@champion``, ``name``) and safe model bytes.

A model is registered from a run's logged model artifact. Its bytes are checked before anything
is written: they must be a skops file (never a pickle) whose types are all trusted by skops'
defaults or named by the caller, and they must load into an estimator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flywheel_ml.core.digests import Digest
from flywheel_ml.errors import InvalidInputError, NotFoundError, UnsafeModelError
from flywheel_ml.registry.entities import ModelVersion
from flywheel_ml.registry.store import RegistryStore
from flywheel_ml.track.entities import Artifact, Run
from flywheel_ml.track.models import untrusted_types

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
_ALIAS_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_VERSION_RE = re.compile(r"^v?([0-9]{1,9})$")


def check_model_name(name: str) -> str:
    """``name`` when it is a valid model name.

    Raises:
        InvalidInputError: not 1-100 lowercase letters, digits, ``_.-``, starting with a letter
            or digit.
    """
    if not _NAME_RE.fullmatch(name):
        raise InvalidInputError(
            f"invalid model name {name[:120]!r}",
            hint="use 1-100 lowercase letters, digits, '_', '.' or '-', e.g. digits-clf",
        )
    return name


def check_alias(alias: str) -> str:
    """``alias`` when it is a valid alias name (and not a version number such as ``v3``).

    Raises:
        InvalidInputError: malformed, or shaped like a version number.
    """
    if not _ALIAS_RE.fullmatch(alias) or _VERSION_RE.fullmatch(alias):
        raise InvalidInputError(
            f"invalid alias {alias[:60]!r}",
            hint="use a lowercase word such as champion or candidate (not v<N>)",
        )
    return alias


def parse_version(text: str | int) -> int:
    """A version number from ``3``, ``"3"`` or ``"v3"``.

    Raises:
        InvalidInputError: anything else.
    """
    if isinstance(text, int) and not isinstance(text, bool) and text > 0:
        return text
    match = _VERSION_RE.fullmatch(str(text).strip())
    if match is None or int(match.group(1)) == 0:
        raise InvalidInputError(f"not a version number: {str(text)[:40]!r}", hint="write v3 or 3")
    return int(match.group(1))


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A parsed model reference: a name with a version number, an alias, or neither (latest)."""

    name: str
    version: int | None = None
    alias: str | None = None


def parse_model_ref(text: str) -> ModelRef:
    """Parse ``name@v3``, ``name@champion`` or ``name`` (its latest version).

    Raises:
        InvalidInputError: malformed reference.

    >>> parse_model_ref("digits-clf@v3")
    ModelRef(name='digits-clf', version=3, alias=None)
    """
    name, sep, selector = text.strip().partition("@")
    check_model_name(name)
    if not sep:
        return ModelRef(name=name)
    if _VERSION_RE.fullmatch(selector) and selector.startswith("v"):
        return ModelRef(name=name, version=parse_version(selector))
    if selector == "latest":
        return ModelRef(name=name)
    return ModelRef(name=name, alias=check_alias(selector))


def open_safely(data: bytes, *, trusted: Sequence[str] = ()) -> Any:
    """Load skops model bytes after checking every type in them is trusted.

    Raises:
        UnsafeModelError: a pickle, not a skops file, or a type neither trusted by skops'
            defaults nor named in ``trusted`` (listed in the message).
    """
    untrusted = untrusted_types(data)
    refused = [t for t in untrusted if t not in set(trusted)]
    if refused:
        raise UnsafeModelError(
            f"the model holds types that are not trusted: {', '.join(refused)}",
            hint="register it only if you trust their code, naming them with "
            "trusted=[...] (CLI: --trust TYPE)",
        )
    import skops.io

    try:
        return skops.io.loads(data, trusted=untrusted)
    except Exception as exc:
        raise UnsafeModelError(
            f"the skops file does not load: {exc}",
            hint="log the model again with run.log_model(model)",
        ) from exc


def feature_names_of(estimator: Any, *, dataset_columns: Sequence[str] = ()) -> tuple[str, ...]:
    """The input columns of a fitted estimator, in training order.

    ``feature_names_in_`` when the estimator was fitted on a DataFrame; else the dataset's
    feature columns when their count matches ``n_features_in_``; else ``x0 .. x{n-1}``.
    """
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return tuple(str(n) for n in names)
    count = int(getattr(estimator, "n_features_in_", 0) or 0)
    if dataset_columns and (count == 0 or count == len(dataset_columns)):
        return tuple(dataset_columns)
    return tuple(f"x{i}" for i in range(count))


def is_classifier(estimator: Any) -> bool:
    """Whether ``estimator`` predicts classes (scikit-learn's own test)."""
    from sklearn.base import is_classifier as sk_is_classifier

    return bool(sk_is_classifier(estimator))


def version_maker(
    name: str,
    run: Run,
    artifact: Artifact,
    data: bytes,
    estimator: Any,
    *,
    features: Sequence[str],
    trusted: Sequence[str],
    description: str,
    actor: str,
    at: datetime,
    kernel: Digest | None = None,
) -> Callable[[int], ModelVersion]:
    """What the store calls with the next version number to get the version to keep."""
    cls = type(estimator)

    def make(number: int) -> ModelVersion:
        return ModelVersion(
            name=name,
            version=number,
            run_id=run.id,
            dataset=run.datasets[0] if run.datasets else "",
            git_commit=run.lineage.git_commit,
            artifact_digest=artifact.digest,
            artifact_format=str(artifact.meta.get("format", "skops")),
            artifact_size=len(data),
            estimator=f"{cls.__module__}.{cls.__qualname__}",
            feature_names=tuple(features),
            created_by=actor,
            created_at=at,
            trusted=tuple(sorted(set(trusted))),
            description=description.strip(),
            kernel_digest=kernel,
        )

    return make


def resolve(store: RegistryStore, ref: str) -> ModelVersion:
    """The version ``ref`` names: ``name@v3``, ``name@<alias>`` or ``name`` (its latest live one).

    Raises:
        InvalidInputError: a malformed reference.
        NotFoundError: no such model, version or alias.
    """
    parsed = parse_model_ref(ref)
    number = parsed.version
    if parsed.alias is not None:
        number = store.aliases(parsed.name).get(parsed.alias)
        if number is None:
            raise NotFoundError(
                f"model {parsed.name!r} has no alias {parsed.alias!r}",
                hint=f"see `flywheel registry history {parsed.name}`",
            )
    if number is None:
        live = [v for v in store.list_versions(parsed.name) if not v.deleted]
        if not live:
            raise _unknown(parsed.name)
        return live[-1]
    version = store.get_version(parsed.name, number)
    if version is None:
        if not store.list_versions(parsed.name):
            raise _unknown(parsed.name)
        raise NotFoundError(
            f"model {parsed.name!r} has no version v{number}",
            hint=f"see `flywheel registry list {parsed.name}`",
        )
    return version


def _unknown(name: str) -> NotFoundError:
    return NotFoundError(
        f"no model named {name!r} in the registry",
        hint=f"register one: flywheel registry register RUN --name {name}",
    )
