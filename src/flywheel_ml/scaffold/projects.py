"""``flywheel init --template``: lay out a project that trains and registers with no edits.

Every template writes the same folders (configs/, data/, notebooks/, src/<package>/{datasets,
models,train}.py, api/, tests/, .gitignore, a CI workflow); they differ in the sample data and
the model. Templates are package data (``templates/project/``, Jinja2 files ending in ``.j2``;
a path part ``__package__`` becomes the package name, ``__config__`` the config's name and a
leading ``dot_`` a dot).

Scaffolding is idempotent and never overwrites: a file that exists is kept and reported as kept,
so running it again (or over a project the user already started) only adds what is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.scaffold.sample_data import write_sample_data

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from flywheel_ml.workspace import Workspace

TEMPLATES: dict[str, str] = {
    "classification": "classification on tables",
    "text": "text classification",
    "image": "image classification",
}
"""Template name -> what it is for."""

_CONFIGS = {"classification": "rf", "text": "logreg", "image": "rf"}
_ADD_OPTIONS = " --label label --id id"


@dataclass(frozen=True, slots=True)
class ScaffoldReport:
    """What :func:`scaffold_project` did.

    Attributes:
        template: the template used.
        package: the Python package under ``src/``.
        config: the experiment config to train (``configs/<name>.yaml``).
        dataset: the dataset the config trains on.
        written: files written (paths relative to the project root).
        kept: files that existed and were left as they were.
        dataset_added: the dataset version added (``''`` when the dataset existed already).
    """

    template: str
    package: str
    config: str
    dataset: str
    written: tuple[str, ...]
    kept: tuple[str, ...]
    dataset_added: str


def package_name(project: str) -> str:
    """A Python package name made of a project name (``"Digits CLF"`` -> ``"digits_clf"``)."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", project).strip("_").lower()
    if not name:
        return "project"
    return f"p_{name}" if name[0].isdigit() else name


def scaffold_project(ws: Workspace, template: str, *, package: str | None = None) -> ScaffoldReport:
    """Write ``template``'s files into the workspace's folder and add its sample data.

    The sample table is added as a dataset version only when that dataset does not exist yet
    (a re-run does not add a version of data the user may have replaced).

    Raises:
        InvalidInputError: an unknown template or an invalid package name.
    """
    if template not in TEMPLATES:
        raise InvalidInputError(
            f"no project template {template!r}",
            hint=f"choose one of: {', '.join(TEMPLATES)}",
        )
    package = package or package_name(ws.name)
    if not package.isidentifier() or package.startswith("_"):
        raise InvalidInputError(
            f"{package!r} is not a Python package name",
            hint="use letters, digits and underscores, e.g. --package digits_clf",
        )
    root = ws.root
    sample, written, kept = write_sample_data(root, template)
    config = _CONFIGS[template]
    values = {
        "project": ws.name,
        "package": package,
        "template": template,
        "title": TEMPLATES[template],
        "config": config,
        "dataset": sample.dataset,
        "data_file": sample.table,
        "model": f"{sample.dataset}-clf",
        "add_options": _ADD_OPTIONS,
        "trust": " --trust sklearn.tree._tree.Tree" if config == "rf" else "",
    }
    base = resources.files("flywheel_ml.scaffold").joinpath("templates", "project")
    for source, relative in _template_files(base, ""):
        target = _target_path(relative, package=package, config=config)
        path = root / target
        if path.exists():
            kept.append(target)
            continue
        text = source.read_text(encoding="utf-8")
        if relative.endswith(".j2"):
            text = _render(text, values)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written.append(target)
    added = ""
    if ws.data.latest_or_none(sample.dataset) is None:
        version = ws.data.add(
            root / sample.table,
            name=sample.dataset,
            label="label",
            id="id",
            message=f"sample data of the {template} template",
        )
        added = version.ref
    return ScaffoldReport(
        template=template,
        package=package,
        config=f"configs/{config}.yaml",
        dataset=sample.dataset,
        written=tuple(sorted(written)),
        kept=tuple(sorted(kept)),
        dataset_added=added,
    )


def _template_files(folder: Traversable, prefix: str) -> list[tuple[Traversable, str]]:
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        relative = f"{prefix}{entry.name}"
        if entry.is_dir():
            if entry.name != "__pycache__":
                found.extend(_template_files(entry, relative + "/"))
        else:
            found.append((entry, relative))
    return found


def _target_path(relative: str, *, package: str, config: str) -> str:
    parts = []
    for raw in relative.removesuffix(".j2").split("/"):
        part = raw.replace("__package__", package).replace("__config__", config)
        parts.append("." + part.removeprefix("dot_") if part.startswith("dot_") else part)
    return "/".join(parts)


def _render(text: str, values: dict[str, str]) -> str:
    import jinja2

    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    return environment.from_string(text).render(**values)
