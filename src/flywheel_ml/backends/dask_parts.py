"""Running per-part work of a stage (drift counting over log parts) on Dask."""

from __future__ import annotations

from typing import Any


def dask_map_parts(function: Any, parts: Any) -> list[Any]:
    """Run ``function`` on each log part with Dask (a cluster when ``FLYWHEEL_DASK_SCHEDULER``
    names one, else Dask's local threads) and return the results in order."""
    import importlib
    import os

    dask: Any = importlib.import_module("dask")
    tasks = [dask.delayed(function)(p) for p in parts]
    address = os.environ.get("FLYWHEEL_DASK_SCHEDULER")
    if address:
        distributed: Any = importlib.import_module("distributed")
        with distributed.Client(address) as client:
            return list(client.gather(client.compute(tasks)))
    return list(dask.compute(*tasks, scheduler="threads"))
