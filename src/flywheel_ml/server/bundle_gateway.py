"""The prediction gateway of a model bundle: what a ``flywheel export docker`` image runs.

``python -m flywheel_ml.server.bundle_gateway --bundle DIR [--host H] [--port P]`` serves the
one version in the bundle (:mod:`flywheel_ml.serve.bundle`) with the same gateway as ``flywheel
serve start`` (``/v1/models/NAME/predict``, ``/healthz``, ``/readyz``, ``/metrics``), without a
workspace: no database, no registry, no deployment moves. Predictions are not logged (there is
no workspace to log them to); put a logging proxy in front when the monitor stage needs them.
Only the standard library's argparse parses the command line, so the image needs no CLI
packages.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path

from flywheel_ml.core.clock import utc_now
from flywheel_ml.errors import FlywheelError
from flywheel_ml.serve.bundle import BundleDeployments, BundleResolver
from flywheel_ml.serve.stage import ServeStage
from flywheel_ml.server.gateway import Gateway, GatewayConfig


def bundle_gateway(bundle: Path, *, config: GatewayConfig | None = None) -> Gateway:
    """A gateway serving the bundle in ``bundle`` (its model loads when the gateway starts).

    Raises:
        NotFoundError / InvalidInputError: no readable bundle there.
    """
    resolver = BundleResolver(bundle)
    store = BundleDeployments(resolver.manifest, at=utc_now())
    # No prediction log: the folder only satisfies the stage's signature and stays empty.
    log_dir = Path(tempfile.gettempdir()) / "flywheel-predictions-unused"
    stage = ServeStage(store, resolver=resolver, log_dir=log_dir)
    return Gateway(stage, predlog=None, config=config)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM; exit code 2 with one line on stderr for a bad bundle."""
    from flywheel_ml.server.run import rare_gc, single_threaded_blas, uvicorn_server

    parser = argparse.ArgumentParser(
        prog="python -m flywheel_ml.server.bundle_gateway",
        description="Serve the model bundle written by `flywheel export docker`.",
    )
    parser.add_argument("--bundle", type=Path, required=True, help="the bundle's model folder")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="TCP port")
    args = parser.parse_args(argv)
    try:
        gateway = bundle_gateway(args.bundle)
    except FlywheelError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 2
    single_threaded_blas()
    rare_gc()
    server = uvicorn_server(gateway, host=args.host, port=args.port)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
        server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
