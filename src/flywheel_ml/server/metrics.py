"""Prometheus metrics of the gateway, kept in plain dicts and rendered in the text format.

Hand-rolled on purpose: one dict update per request is all the hot path pays.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

_BUCKETS_MS = (0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0)


def _labels(**labels: str) -> str:
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels.items()
    )
    return "{" + inner + "}" if inner else ""


class GatewayMetrics:
    """Request counts by model, version and status; rows; latency histogram; gauges."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.rows: dict[tuple[str, str], int] = {}
        self._hist: dict[str, list[int]] = {}
        self._sum_ms: dict[str, float] = {}
        self.gauges: dict[str, Callable[[], float]] = {}

    def observe(self, model: str, version: str, status: int, rows: int, latency_ms: float) -> None:
        """Count one answered request."""
        key = (model, version, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        if rows:
            rkey = (model, version)
            self.rows[rkey] = self.rows.get(rkey, 0) + rows
            hist = self._hist.get(model)
            if hist is None:
                hist = self._hist[model] = [0] * (len(_BUCKETS_MS) + 1)
            hist[bisect.bisect_left(_BUCKETS_MS, latency_ms)] += 1
            self._sum_ms[model] = self._sum_ms.get(model, 0.0) + latency_ms

    def render(self) -> str:
        """Every metric in the Prometheus text exposition format."""
        out = [
            "# HELP flywheel_requests_total Prediction requests by model, version and status.",
            "# TYPE flywheel_requests_total counter",
        ]
        for (model, version, status), count in sorted(self.requests.items()):
            labels = _labels(model=model, version=version, status=str(status))
            out.append(f"flywheel_requests_total{labels} {count}")
        out += [
            "# HELP flywheel_rows_total Predicted rows by model and version.",
            "# TYPE flywheel_rows_total counter",
        ]
        for (model, version), count in sorted(self.rows.items()):
            out.append(f"flywheel_rows_total{_labels(model=model, version=version)} {count}")
        out += [
            "# HELP flywheel_request_latency_ms Time from arrival to answer, milliseconds.",
            "# TYPE flywheel_request_latency_ms histogram",
        ]
        for model, hist in sorted(self._hist.items()):
            total = 0
            for bound, count in zip((*_BUCKETS_MS, float("inf")), hist, strict=True):
                total += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                out.append(
                    f"flywheel_request_latency_ms_bucket{_labels(model=model, le=le)} {total}"
                )
            out.append(
                f"flywheel_request_latency_ms_sum{_labels(model=model)} {self._sum_ms[model]}"
            )
            out.append(f"flywheel_request_latency_ms_count{_labels(model=model)} {total}")
        for name, read in sorted(self.gauges.items()):
            out += [f"# TYPE {name} gauge", f"{name} {read():g}"]
        return "\n".join(out) + "\n"
