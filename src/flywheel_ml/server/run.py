"""Start a prediction gateway for a workspace on uvicorn (uvloop, httptools, no access log)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

from flywheel_ml.server.gateway import Gateway, GatewayConfig

if TYPE_CHECKING:
    import uvicorn

    from flywheel_ml.workspace import Workspace


def build_gateway(
    ws: Workspace, *, host: str, port: int, config: GatewayConfig | None = None, log: bool = True
) -> Gateway:
    """A gateway serving ``ws``'s deployments, registered so moves wait for it.

    Args:
        ws: the workspace (its serve stage gives the store and the model resolver).
        host: the address it will listen on (a wildcard address registers as 127.0.0.1).
        port: the port it will listen on.
        config: limits and timings.
        log: whether to write the prediction log under ``.flywheel/predictions``.
    """
    from flywheel_ml.serve.predlog import PredictionLog

    stage = ws.serve
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://[{local}]:{port}" if ":" in local else f"http://{local}:{port}"
    predlog = PredictionLog(stage.log_dir) if log else None
    return Gateway(stage, predlog=predlog, config=config, public_url=url)


def uvicorn_server(gateway: Gateway, *, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for ``gateway``, tuned for the prediction path."""
    import uvicorn

    config = uvicorn.Config(
        gateway,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="on",
        timeout_keep_alive=30,
        backlog=2048,
    )
    return uvicorn.Server(config)


def run_gateway(
    ws: Workspace, *, host: str = "127.0.0.1", port: int = 8000, config: GatewayConfig | None = None
) -> None:
    """Serve ``ws``'s deployments until Ctrl-C or SIGTERM, which stop it cleanly.

    uvicorn finishes a graceful shutdown (requests answered, log flushed, gateway unregistered)
    and then re-raises the signal it caught; here that ends the process with exit code 0.
    """
    gateway = build_gateway(ws, host=host, port=port, config=config)
    server = uvicorn_server(gateway, host=host, port=port)
    single_threaded_blas()
    rare_gc()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        server.run()
    except KeyboardInterrupt:
        return


def single_threaded_blas() -> None:
    """Keep BLAS (numpy's matrix products) on the calling thread in a gateway process.

    The gateway predicts on one event-loop thread; BLAS worker threads only add hand-off
    latency on request-sized matrices (a 1,000 x 64 product took 3x longer with two) and take
    the cores the loop needs.
    """
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # scikit-learn brings it; without it numpy keeps its default
        return
    threadpool_limits(limits=1, user_api="blas")


def rare_gc() -> None:
    """Keep Python's cycle collector off the prediction path of a gateway process.

    A 1,000-row JSON body is parsed into 1,000 lists, which alone crosses the collector's
    default threshold (700 new container objects): it ran on every batch request, walking each
    live row list (~7% of the gateway's CPU in a profile). Requests create no reference cycles
    worth collecting quickly, so the youngest generation is collected every 50,000 objects, and
    everything alive at start-up (modules, the app) is frozen out of the collections.
    """
    import gc

    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(50_000, middle, oldest)


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
