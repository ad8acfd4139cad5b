"""``flywheel export``: artefacts made from the record to run elsewhere.

``flywheel export docker REF --out serve.Dockerfile`` writes the image recipe of a prediction
gateway for one model version (see :mod:`flywheel_ml.serve.image`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flywheel_ml.cli.context import emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(help="Export what the record holds to run elsewhere.", no_args_is_help=True)


@app.command("docker")
def docker_command(
    ref: Annotated[str, typer.Argument(help="The model version: NAME@vN, NAME@alias or NAME.")],
    out: Annotated[
        Path, typer.Option(help="The Dockerfile to write; its folder is the build context.")
    ] = Path("serve.Dockerfile"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace the files of an earlier export.")
    ] = False,
) -> None:
    """Write a Dockerfile, a requirements lock and the model bundle of a gateway image that
    serves one model version (POST /v1/models/NAME/predict on port 8000)."""
    from flywheel_ml.serve.image import export_image

    with open_ws() as ws:
        done = export_image(ws.registry, ref, out, force=force)

    def render(console: Console) -> None:
        served = "its numpy kernel" if done.kernel else "scikit-learn"
        console.print(
            f"Wrote {done.dockerfile.name}, {done.lock.name} ({len(done.requirements)} pinned "
            f"distributions) and {done.bundle.name}/ for {done.ref} (answers with {served})."
        )
        console.print(
            f"  docker build -f {done.dockerfile.name} -t {done.ref.replace('@', ':')} "
            f"{done.dockerfile.parent}"
        )

    emit({k: str(v) if isinstance(v, Path) else v for k, v in asdict(done).items()}, render)
