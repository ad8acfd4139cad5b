"""ONNX export of a registered scikit-learn model, with the latency of both formats measured.

The ONNX graph is made by skl2onnx and run by onnxruntime. Both formats predict the same rows,
one row at a time, so the recorded latencies compare like with like; ``agreement`` is the share
of rows where both give the same prediction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from flywheel_ml.core.digests import Digest
from flywheel_ml.errors import InvalidInputError
from flywheel_ml.registry.entities import ModelVersion

_WARMUP = 5


@dataclass(frozen=True, slots=True)
class OnnxExport:
    """An ONNX copy of a model version and how the two formats compare.

    Attributes:
        ref: the version exported.
        digest: the ONNX file's digest in the object store.
        size: the ONNX file's size in bytes.
        rows: how many single rows were timed.
        skops_p50_ms / skops_p95_ms: single-row latency of the scikit-learn model.
        onnx_p50_ms / onnx_p95_ms: single-row latency of the ONNX model in onnxruntime.
        agreement: share of timed rows where both predicted the same.
    """

    ref: str
    digest: Digest
    size: int
    rows: int
    skops_p50_ms: float
    skops_p95_ms: float
    onnx_p50_ms: float
    onnx_p95_ms: float
    agreement: float


def convert(estimator: Any, n_features: int) -> bytes:
    """The estimator as ONNX bytes (float32 inputs, plain probability output).

    Raises:
        InvalidInputError: skl2onnx is not installed or cannot convert this model.
    """
    try:
        from skl2onnx import to_onnx
    except ImportError as exc:
        raise InvalidInputError(
            "ONNX export needs skl2onnx and onnxruntime",
            hint="pip install 'flywheel-ml[onnx]'",
        ) from exc
    sample = np.zeros((1, n_features), dtype=np.float32)
    options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else None
    try:
        graph = to_onnx(estimator, sample, options=options)
    except Exception as exc:  # skl2onnx raises many types for unsupported models
        raise InvalidInputError(
            f"skl2onnx cannot convert a {type(estimator).__name__}: {exc}",
            hint="export models skl2onnx supports; the skops file stays the served format",
        ) from exc
    return bytes(graph.SerializeToString())


def compare(
    estimator: Any, onnx_bytes: bytes, X: np.ndarray[Any, Any]
) -> tuple[dict[str, float], float]:
    """Single-row latencies of both formats on the rows of ``X`` and their agreement."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x32 = X.astype(np.float32)

    def run_onnx(row: np.ndarray[Any, Any]) -> Any:
        return session.run(None, {name: row})[0]

    skops = _timings(estimator.predict, X)
    onnx = _timings(run_onnx, x32)
    same = (
        np.asarray(session.run(None, {name: x32})[0]).ravel()
        == np.asarray(estimator.predict(X)).ravel()
    )
    latencies = {
        "skops_p50_ms": float(np.percentile(skops, 50)),
        "skops_p95_ms": float(np.percentile(skops, 95)),
        "onnx_p50_ms": float(np.percentile(onnx, 50)),
        "onnx_p95_ms": float(np.percentile(onnx, 95)),
    }
    return latencies, float(same.mean())


def _timings(predict: Callable[[Any], Any], X: np.ndarray[Any, Any]) -> list[float]:
    for i in range(min(_WARMUP, len(X))):
        predict(X[i : i + 1])
    found = []
    for i in range(len(X)):
        row = X[i : i + 1]
        began = time.perf_counter_ns()
        predict(row)
        found.append((time.perf_counter_ns() - began) / 1e6)
    return found


def export_onnx(
    version: ModelVersion,
    estimator: Any,
    X: np.ndarray[Any, Any],
    *,
    put_bytes: Callable[[bytes], Digest],
) -> tuple[OnnxExport, bytes]:
    """Convert ``version``'s estimator, keep the bytes with ``put_bytes``, time both on ``X``."""
    data = convert(estimator, len(version.feature_names))
    latencies, agreement = compare(estimator, data, X)
    export = OnnxExport(
        ref=version.ref, digest=put_bytes(data), size=len(data), rows=len(X),
        agreement=agreement, **latencies,
    )  # fmt: skip
    return export, data


def export_detail(export: OnnxExport) -> dict[str, object]:
    """What the activity log records about an export."""
    return {
        "format": "onnx", "digest": export.digest, "size": export.size, "rows": export.rows,
        "agreement": export.agreement, "skops_p50_ms": export.skops_p50_ms,
        "skops_p95_ms": export.skops_p95_ms, "onnx_p50_ms": export.onnx_p50_ms,
        "onnx_p95_ms": export.onnx_p95_ms,
    }  # fmt: skip
