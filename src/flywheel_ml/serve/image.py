"""The container image recipe of a prediction gateway for one model version.

:func:`export_image` writes, next to the Dockerfile it is given (the build context)::

    serve.Dockerfile                 python:<this Python>-slim, the lock, the bundle, the gateway
    serve.Dockerfile.dockerignore    the context sends only the two entries below
    serve.requirements.txt           the lock: name==version of every distribution the gateway
                                     needs, from the ones installed here (so the image runs what
                                     was tested here)
    serve-bundle/model/              the model bundle (:mod:`flywheel_ml.serve.bundle`)
    serve-bundle/lib/flywheel_ml/    this Flywheel's Python source (the gateway's code)

Build and run it with ``docker build -f serve.Dockerfile -t digits-clf:v3 .`` and ``docker run
-p 8000:8000 digits-clf:v3``. The lock is the transitive closure of the gateway's imports
(Starlette, uvicorn with uvloop and httptools, numpy, orjson, blake3; scikit-learn and skops
only when the version has no verified numpy kernel), read from the installed distributions'
metadata and installed in the image with ``--no-deps`` so nothing unlisted sneaks in. Nothing
is written unless everything could be: the files are made in a temporary folder beside the
Dockerfile and moved into place at the end.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError
from flywheel_ml.registry.stage import RegistryStage
from flywheel_ml.serve.bundle import BundleManifest, write_bundle

GATEWAY_DISTRIBUTIONS: tuple[str, ...] = (
    "starlette", "uvicorn", "uvloop", "httptools", "numpy", "orjson", "blake3",
)  # fmt: skip
"""What the gateway imports for any model (``server/gateway.py``, ``server/run.py``)."""
ESTIMATOR_DISTRIBUTIONS: tuple[str, ...] = ("scikit-learn", "skops")
"""What it imports in addition for a version without a verified numpy kernel."""
PORT = 8000
_WORKDIR = "/srv/flywheel"


@dataclass(frozen=True, slots=True)
class ImageExport:
    """What :func:`export_image` wrote.

    Attributes:
        ref: the exact version the image serves.
        dockerfile / lock / bundle / dockerignore: the paths written.
        requirements: the lock's ``name==version`` lines.
        kernel: whether the version is served by its numpy kernel (no scikit-learn in the image).
    """

    ref: str
    dockerfile: Path
    lock: Path
    bundle: Path
    dockerignore: Path
    requirements: tuple[str, ...]
    kernel: bool


def lock_requirements(roots: tuple[str, ...]) -> list[str]:
    """``name==version`` of ``roots`` and everything they require here, sorted by name.

    Requirements are those of the installed distributions whose environment markers hold on
    this interpreter (extras are not followed).

    Raises:
        NotFoundError: a root or a required distribution is not installed.
    """
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, str] = {}
    todo = [(name, "the gateway") for name in roots]
    while todo:
        name, wanted_by = todo.pop()
        key = canonicalize_name(name)
        if key in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise NotFoundError(
                f"{name} (needed by {wanted_by}) is not installed, so it cannot be locked",
                hint="pip install 'flywheel-ml[server,ml]' and export again",
            ) from None
        found[key] = f"{canonicalize_name(dist.metadata['Name'])}=={dist.version}"
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append((requirement.name, name))
    return [found[k] for k in sorted(found)]


def dockerfile_text(*, ref: str, exported_as: str, lock: str, bundle: str) -> str:
    """The Dockerfile of a gateway image serving ``ref`` from the bundle folder ``bundle``."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    tag, model = ref.replace("@", ":"), ref.split("@", maxsplit=1)[0]
    probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/readyz')"
    command = [
        "python", "-m", "flywheel_ml.server.bundle_gateway",
        "--bundle", f"{_WORKDIR}/model", "--host", "0.0.0.0", "--port", str(PORT),
    ]  # fmt: skip
    env = "PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1"
    lines = [
        f"# The Flywheel prediction gateway for {ref} (exported as {exported_as}).",
        f"# Build: docker build -f <this file> -t {tag} .",
        f"# Run:   docker run -p {PORT}:{PORT} {tag}",
        f"#        curl -X POST localhost:{PORT}/v1/models/{model}/predict -d "
        """'{"rows": [[...]]}'""",
        f"FROM python:{python}-slim",
        f"ENV {env} PIP_DISABLE_PIP_VERSION_CHECK=1",
        f"WORKDIR {_WORKDIR}",
        f"COPY {lock} {_WORKDIR}/requirements.txt",
        "# Exactly the locked versions, nothing else (--no-deps), and only wheels (no compiler).",
        f"RUN pip install --no-deps --only-binary=:all: -r {_WORKDIR}/requirements.txt",
        f"COPY {bundle}/lib {_WORKDIR}/lib",
        f"COPY {bundle}/model {_WORKDIR}/model",
        f"ENV PYTHONPATH={_WORKDIR}/lib",
        "RUN useradd --system --uid 10001 --no-create-home flywheel",
        "USER 10001",
        f"EXPOSE {PORT}",
        f"HEALTHCHECK --interval=10s --timeout=3s CMD {json.dumps(['python', '-c', probe])}",
        f"CMD {json.dumps(command)}",
    ]
    return "\n".join(lines) + "\n"


def export_image(
    registry: RegistryStage, ref: str, dockerfile: Path, *, force: bool = False
) -> ImageExport:
    """Write the image recipe of a gateway serving version ``ref`` (see the module docstring).

    Args:
        registry: where the version and its files are.
        ref: ``name@vN``, ``name@<alias>`` or ``name``; the image serves the version it names
            now (an alias moving later does not change the image).
        dockerfile: the Dockerfile to write; its folder is the build context.
        force: replace files an earlier export wrote.

    Raises:
        NotFoundError: no such version, it was deleted, or a needed distribution is missing.
        ConflictError: an output exists and ``force`` is not set.
        InvalidInputError: ``dockerfile`` names a folder.
    """
    version = registry.get_version(ref)
    if version.deleted:
        raise NotFoundError(f"{version.ref} was deleted", hint="export another version")
    dockerfile = dockerfile.absolute()
    if dockerfile.is_dir():
        raise InvalidInputError(
            f"{dockerfile} is a folder", hint="give a file name: --out serve.Dockerfile"
        )
    context, stem = dockerfile.parent, dockerfile.stem or dockerfile.name
    outputs = {
        "dockerfile": dockerfile,
        "lock": context / f"{stem}.requirements.txt",
        "bundle": context / f"{stem}-bundle",
        "dockerignore": context / f"{dockerfile.name}.dockerignore",
    }
    existing = [p.name for p in outputs.values() if p.exists()]
    if existing and not force:
        raise ConflictError(
            f"{', '.join(existing)} exist(s) in {context}",
            hint="pass --force to replace an earlier export, or choose another --out",
        )
    kernel = version.kernel_digest
    requirements = lock_requirements(
        GATEWAY_DISTRIBUTIONS + (() if kernel is not None else ESTIMATOR_DISTRIBUTIONS)
    )
    manifest = BundleManifest(
        ref=version.ref,
        exported_as=ref,
        estimator=version.estimator,
        feature_names=tuple(version.feature_names),
        trusted=tuple(version.trusted),
        model_digest=str(version.artifact_digest),
        kernel_digest=None if kernel is None else str(kernel),
    )
    context.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=context, prefix=f".{stem}-export-") as tmp:
        staging = Path(tmp)
        write_bundle(
            staging / "bundle" / "model",
            manifest=manifest,
            model_bytes=registry.objects.get_bytes(version.artifact_digest),
            kernel_bytes=None if kernel is None else registry.objects.get_bytes(kernel),
        )
        _copy_source(staging / "bundle" / "lib" / "flywheel_ml")
        (staging / "lock").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        (staging / "dockerfile").write_text(
            dockerfile_text(
                ref=version.ref,
                exported_as=ref,
                lock=outputs["lock"].name,
                bundle=outputs["bundle"].name,
            ),
            encoding="utf-8",
        )
        ignore = f"*\n!{outputs['lock'].name}\n!{outputs['bundle'].name}\n"
        (staging / "dockerignore").write_text(ignore, encoding="utf-8")
        for key, target in outputs.items():
            if target.is_dir():
                shutil.rmtree(target)
            (staging / key).replace(target)
    return ImageExport(
        ref=version.ref,
        dockerfile=outputs["dockerfile"],
        lock=outputs["lock"],
        bundle=outputs["bundle"],
        dockerignore=outputs["dockerignore"],
        requirements=tuple(requirements),
        kernel=kernel is not None,
    )


def _copy_source(target: Path) -> None:
    """This Flywheel's Python files (no templates, static files or caches: the gateway needs
    none)."""
    source = Path(__file__).resolve().parents[1]  # the flywheel_ml package folder
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if "__pycache__" in relative.parts or not path.is_file():
            continue
        if path.suffix == ".py" or path.name == "py.typed":
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
