"""Experiment configuration files: one YAML file = one experiment.

>>> config = load_config("configs/rf.yaml")                      # doctest: +SKIP

A file names the dataset version, the label (and optionally the feature columns or one text
column), the model as an import path, its parameters, the metric, the seed and a ``search:``
space. Validation errors name the key and its line in the file.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flywheel_ml.errors import InvalidInputError, NotFoundError

EXAMPLE_CONFIG = """\
# One experiment: `flywheel train configs/example.yaml`; search: `flywheel tune search ...`
data: digits@latest            # dataset reference; features = all columns but id and label
label: label
model: sklearn.ensemble.RandomForestClassifier
params: {n_estimators: 100, max_depth: 12}
metric: accuracy               # the validation metric (val_accuracy) to optimise
seed: 13
train_dev: 0.1                 # hold out 10% of train as train-dev (for `tune diagnose`)
search:
  n_estimators: {int: [20, 300], log: true}
  max_depth: {int: [2, 32]}
  max_features: {choice: [sqrt, log2, 0.5]}
"""


class Dimension(BaseModel):
    """One axis of a search space: exactly one of ``float``, ``int``, ``choice``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    float_: tuple[float, float] | None = Field(default=None, alias="float")
    int_: tuple[int, int] | None = Field(default=None, alias="int")
    uniform: tuple[float, float] | None = None
    loguniform: tuple[float, float] | None = None
    choice: list[Any] | None = None
    log: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> Dimension:
        kinds = [
            k
            for k in ("float_", "int_", "uniform", "loguniform", "choice")
            if getattr(self, k) is not None
        ]
        if len(kinds) != 1:
            raise ValueError("give exactly one of float, int, uniform, loguniform, choice")
        if self.choice is not None and not self.choice:
            raise ValueError("choice needs at least one value")
        bounds = self.float_ or self.int_ or self.uniform or self.loguniform
        if bounds is not None:
            low, high = bounds
            if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
                raise ValueError(f"bounds [{low}, {high}] must be finite with low < high")
            if (self.log or self.loguniform) and low <= 0:
                raise ValueError("a log scale needs a positive lower bound")
        return self

    def to_spec(self) -> dict[str, Any]:
        """A plain description: ``{"kind": "int"|"float"|"choice", "low", "high", "log"}``."""
        if self.choice is not None:
            return {"kind": "choice", "choices": list(self.choice)}
        if self.int_ is not None:
            return {"kind": "int", "low": self.int_[0], "high": self.int_[1], "log": self.log}
        if self.loguniform is not None:
            low, high = self.loguniform
            return {"kind": "float", "low": low, "high": high, "log": True}
        low, high = self.float_ or self.uniform  # type: ignore[misc]
        return {"kind": "float", "low": low, "high": high, "log": self.log}


class ExperimentConfig(BaseModel):
    """An experiment: data, model, parameters, metric, seed and search space."""

    model_config = ConfigDict(extra="forbid")

    data: str = Field(min_length=1)
    label: str = "label"
    features: list[str] | None = None
    text: str | None = None
    model: str = Field(min_length=3)
    params: dict[str, Any] = Field(default_factory=dict)
    metric: str = "accuracy"
    metrics: list[str] = Field(default_factory=list)
    seed: int = Field(default=0, ge=0, lt=2**32)
    name: str | None = None
    epochs: int = Field(default=20, ge=1, le=10_000)
    train_dev: float = Field(default=0.0, ge=0.0, lt=0.5)
    search: dict[str, Dimension] = Field(default_factory=dict)

    @field_validator("model")
    @classmethod
    def _import_path(cls, value: str) -> str:
        if "." not in value or value.startswith(".") or value.endswith("."):
            raise ValueError("write the model as an import path, e.g. sklearn.svm.SVC")
        return value

    def search_space(self) -> dict[str, dict[str, Any]]:
        """The search space as plain specs (see :meth:`Dimension.to_spec`)."""
        return {name: dim.to_spec() for name, dim in self.search.items()}

    def estimator_class(self) -> type:
        """The model's class, imported.

        Raises:
            InvalidInputError: the module or class cannot be imported, or the class has no
                ``fit``/``predict``.
        """
        module_name, _, class_name = self.model.rpartition(".")
        try:
            module = importlib.import_module(module_name)
            cls = getattr(module, class_name)
        except (ImportError, AttributeError) as exc:
            raise InvalidInputError(
                f"model {self.model!r} cannot be imported: {exc}",
                hint="give an importable class, e.g. sklearn.ensemble.RandomForestClassifier",
            ) from exc
        if not isinstance(cls, type) or not all(
            callable(getattr(cls, m, None)) for m in ("fit", "predict")
        ):
            raise InvalidInputError(
                f"model {self.model!r} is not a class with fit and predict",
                hint="use a scikit-learn estimator or a class with fit/predict[_proba]",
            )
        return cls

    def build(self, overrides: Mapping[str, Any] | None = None) -> Any:
        """A fresh estimator with ``params`` (and ``overrides``); ``random_state`` is set to the
        seed when the class takes one and the params do not.

        Raises:
            InvalidInputError: a parameter the class does not accept.
        """
        cls = self.estimator_class()
        params = {**self.params, **(overrides or {})}
        estimator = cls()
        accepted = estimator.get_params() if hasattr(estimator, "get_params") else {}
        if "random_state" in accepted and "random_state" not in params:
            params["random_state"] = self.seed
        unknown = sorted(set(params) - set(accepted)) if accepted else []
        if unknown:
            raise InvalidInputError(
                f"{self.model} has no parameter(s) {', '.join(unknown)}",
                hint=f"its parameters: {', '.join(sorted(accepted))}",
            )
        try:
            return cls(**params)
        except TypeError as exc:
            raise InvalidInputError(f"cannot build {self.model}: {exc}", hint="fix params") from exc


def parse_config(text: str, *, source: str = "<config>") -> ExperimentConfig:
    """Validate a YAML text.

    Raises:
        InvalidInputError: bad YAML, an unknown or invalid key (the message names the key and
            its line).
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise InvalidInputError(
            f"{source}{where}: not valid YAML ({getattr(exc, 'problem', exc)})",
            hint="fix the YAML syntax",
        ) from exc
    if not isinstance(document, dict):
        raise InvalidInputError(
            f"{source}: a config file is a mapping of keys (data, model, params, ...)",
            hint="see configs/example.yaml (created by `flywheel init`)",
        )
    try:
        return ExperimentConfig.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        # Drop pydantic's internal steps (e.g. a model_validator's location) from the key.
        key = ".".join(p.rstrip("_") for p in loc) or "(top level)"
        line = _line_of(root, loc)
        where = f" line {line}" if line else ""
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        elif first["type"] == "missing":
            message = "required key is missing"
        raise InvalidInputError(
            f"{source}{where}: {key}: {message}",
            hint="keys: data, label, features, text, model, params, metric, metrics, seed, "
            "name, epochs, train_dev, search",
        ) from exc


def load_config(path: str | os.PathLike[str]) -> ExperimentConfig:
    """Read and validate a config file.

    Raises:
        NotFoundError: no such file.
        InvalidInputError: see :func:`parse_config`.
    """
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"no config file {file}", hint="see configs/example.yaml")
    return parse_config(file.read_text(encoding="utf-8"), source=str(file))


def _line_of(node: yaml.Node | None, loc: list[str]) -> int | None:
    """The 1-based line of the key at ``loc`` (or of the deepest part of it that exists)."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = None
            for key_node, value_node in node.value:
                if str(key_node.value) in (part, part.rstrip("_")):
                    match = (key_node, value_node)
                    break
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    if line is None and node is not None:
        line = node.start_mark.line + 1
    return line
