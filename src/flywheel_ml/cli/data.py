"""``flywheel data``: add, list, show, diff, export, check, split and audit dataset versions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flywheel_ml.cli.context import emit, fail, open_ws, progress
from flywheel_ml.cli.data_quick import add_message, version_json

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_ml.data.entities import CheckReport

app = typer.Typer(
    help="Versioned datasets, stable splits, the sealed test set, checks and slices.",
    no_args_is_help=True,
)
slice_app = typer.Typer(help="Named filters evaluated on any version.", no_args_is_help=True)
app.add_typer(slice_app, name="slice")


@app.command("add")
def add_command(
    source: Annotated[Path, typer.Argument(help="A .csv/.parquet/.jsonl table or a folder.")],
    name: Annotated[str | None, typer.Option("--name", help="Dataset name.")] = None,
    label: Annotated[str | None, typer.Option(help="Label column of a table.")] = None,
    id_column: Annotated[str | None, typer.Option("--id", help="Item id column.")] = None,
    message: Annotated[str, typer.Option("-m", "--message", help="What changed.")] = "",
    label_from_folder: Annotated[
        bool, typer.Option("--label-from-folder", help="Label = each file's parent folder.")
    ] = False,
    as_test_set: Annotated[
        str | None, typer.Option("--as-test-set", help="Add as a named held-out test set.")
    ] = None,
    link: Annotated[bool, typer.Option("--link", help="Hardlink big files, not copy.")] = False,
) -> None:
    """Add a new version of a dataset (nothing is written when the content is unchanged)."""
    dataset = as_test_set or name
    if not dataset:
        raise typer.BadParameter("give --name (or --as-test-set NAME)")
    with open_ws() as ws, progress("adding files") as advance:
        before = ws.data.latest_or_none(dataset)
        version = ws.data.add(
            source, name=dataset, label=label, id=id_column, message=message,
            label_from_folder=label_from_folder, as_test_set=as_test_set is not None,
            link=link, progress=advance,
        )  # fmt: skip
    unchanged = before is not None and before.digest == version.digest

    def render(out: Console) -> None:
        out.print(add_message(version, unchanged=unchanged))  # the fast path prints it too

    emit({**version_json(version), "unchanged": unchanged}, render)


@app.command("status")
def status_command(
    name: Annotated[str, typer.Argument(help="A folder dataset.")],
    path: Annotated[
        Path | None, typer.Argument(help="The folder (default: the one last added).")
    ] = None,
) -> None:
    """Files added, removed or modified in a folder since the dataset's newest version."""
    with open_ws() as ws:
        changes = ws.data.status(name, path)
    data = {
        "version": changes.version, "path": changes.path, "unchanged": changes.unchanged,
        "added": list(changes.added), "removed": list(changes.removed),
        "modified": list(changes.modified),
    }  # fmt: skip

    def render(out: Console) -> None:
        if changes.unchanged:
            out.print(f"{changes.path} matches {changes.version}.")
            return
        for what in ("added", "removed", "modified"):
            for p in getattr(changes, what)[:20]:
                out.print(f"{what}: {p}")
        out.print(f"{len(changes.added)} added, {len(changes.removed)} removed, "
                  f"{len(changes.modified)} modified since {changes.version}.")  # fmt: skip

    emit(data, render)


@app.command("list")
def list_command() -> None:
    """Datasets with their latest version, item count and size."""
    with open_ws() as ws:
        rows = [(d, ws.data.latest_or_none(d.name)) for d in ws.data.list_datasets()]
    data = [
        {"name": d.name, "kind": d.kind, "role": d.role, "label": d.label,
         "latest": None if v is None else version_json(v)}
        for d, v in rows
    ]  # fmt: skip

    def render(out: Console) -> None:
        from rich.table import Table

        table = Table("dataset", "kind", "latest", "items", "size", "label")
        for d, v in rows:
            kind = d.kind + (" (test set)" if d.role == "test_set" else "")
            if v is not None:
                table.add_row(d.name, kind, v.ref, f"{v.items:,}", _size(v.size), d.label or "")
        out.print(table if rows else "No datasets yet: flywheel data add FILE --name NAME")

    emit(data, render)


@app.command("versions")
def versions_command(name: Annotated[str, typer.Argument(help="Dataset name.")]) -> None:
    """Every version of a dataset with digest, size, message, author and date."""
    with open_ws() as ws:
        versions = ws.data.list_versions(name)

    def render(out: Console) -> None:
        from rich.table import Table

        table = Table("version", "digest", "items", "size", "message", "author", "date (UTC)")
        for v in versions:
            table.add_row(v.ref, v.short, f"{v.items:,}", _size(v.size), v.message, v.author,
                          f"{v.created_at:%Y-%m-%d %H:%M}")  # fmt: skip
        out.print(table)

    emit([version_json(v) for v in versions], render)


@app.command("show")
def show_command(
    ref: Annotated[str, typer.Argument(help="NAME@vN, NAME@latest or digest.")],
) -> None:
    """Schema, counts, class balance, splits and the last check of a version."""
    with open_ws() as ws:
        version = ws.data.get_version(ref)
        last_check = ws.data.last_check(version.ref)
    facts = version.facts
    data = {**version_json(version), "facts": facts, "last_check": last_check}

    def render(out: Console) -> None:
        out.print(f"{version.ref}  {version.digest}")
        out.print(f"{version.items:,} items, {_size(version.size)}; {version.message or ''}")
        out.print(f"by {version.author} at {version.created_at:%Y-%m-%d %H:%M} UTC")
        if facts.get("labels"):
            out.print("labels: " + ", ".join(f"{k} {v}" for k, v in facts["labels"].items()))
        for split, info in facts.get("splits", {}).items():
            out.print(f"{split}: {info['items']:,} items")
        schema = facts.get("schema", {})
        for column, info in schema.get("columns", {}).items():
            out.print(f"  {column}: {info['type']}, {info['null_rate']:.1%} missing")
        if schema.get("kind") == "files":
            out.print(f"file types: {schema['file_types']}; empty files: {schema['empty_files']}")
        if last_check is not None:
            out.print(f"last check: {'passed' if last_check['passed'] else 'FAILED'}")

    emit(data, render)


@app.command("diff")
def diff_command(
    old: Annotated[str, typer.Argument(help="The older version.")],
    new: Annotated[str, typer.Argument(help="The newer version.")],
) -> None:
    """Items added, removed, relabelled and changed between two versions."""
    with open_ws() as ws:
        diff = ws.data.diff(old, new)
    data = {
        "old": diff.old, "new": diff.new, "added": list(diff.added),
        "removed": list(diff.removed), "relabelled": list(diff.relabelled),
        "changed": list(diff.changed),
    }  # fmt: skip

    def render(out: Console) -> None:
        out.print(f"{diff.old} -> {diff.new}")
        for what in ("added", "removed", "relabelled", "changed"):
            ids = getattr(diff, what)
            sample = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
            out.print(f"{what}: {len(ids):,}" + (f"  ({sample})" if ids else ""))

    emit(data, render)


@app.command("export")
def export_command(
    ref: Annotated[str, typer.Argument(help="The version to export.")],
    to: Annotated[Path, typer.Option("--to", help="Output folder.")],
    fmt: Annotated[str, typer.Option("--format", help="parquet, csv or jsonl.")] = "parquet",
    purpose: Annotated[
        str | None, typer.Option(help="Why test labels are read (recorded); else sealed.")
    ] = None,
) -> None:
    """Write a version out: a table as one file, a folder dataset as its files."""
    if fmt not in {"parquet", "csv", "jsonl"}:
        raise typer.BadParameter("--format must be parquet, csv or jsonl")
    with open_ws() as ws:
        written = ws.data.export(ref, to, format=fmt, purpose=purpose)  # type: ignore[arg-type]

    def render(out: Console) -> None:
        out.print(f"Wrote {len(written):,} file(s) to {to}.")

    emit({"files": len(written), "to": str(to)}, render)


def check_json(report: CheckReport) -> dict[str, Any]:
    """A check report as JSON data."""
    return {
        "version": report.version,
        "compared_with": report.compared_with,
        "passed": report.passed,
        "findings": [
            {"check": f.check, "severity": f.severity, "message": f.message}
            for f in report.findings
        ],
    }


@app.command("check")
def check_command(ref: Annotated[str, typer.Argument(help="The version to check.")]) -> None:
    """Schema and quality checks against the parent version; exit 1 on failures."""
    with open_ws() as ws:
        report = ws.data.check(ref)

    def render(out: Console) -> None:
        against = f" against {report.compared_with}" if report.compared_with else ""
        for f in report.findings:
            out.print(f"{f.severity}: {f.check}: {f.message}")
        verdict = "passed" if report.passed else "FAILED"
        out.print(f"{report.version}{against}: {verdict} ({len(report.findings)} finding(s)).")

    emit(check_json(report), render)
    if not report.passed:
        fail(1)


@app.command("splits")
def splits_command(ref: Annotated[str, typer.Argument(help="The version.")]) -> None:
    """Item counts and class balance per split."""
    with open_ws() as ws:
        version = ws.data.get_version(ref)
        policy = ws.data.split_policy()
    splits = version.facts.get("splits", {})
    data = {"version": version.ref, "policy": {"train": policy.train, "val": policy.val,
            "test": policy.test, "seed": policy.seed}, "splits": splits}  # fmt: skip

    def render(out: Console) -> None:
        from rich.table import Table

        labels = sorted(version.facts.get("labels", {}))
        table = Table("split", "items", *labels)
        for split, info in splits.items():
            counts = [str(info["labels"].get(lab, 0)) for lab in labels]
            table.add_row(split, f"{info['items']:,}", *counts)
        out.print(f"{version.ref}: train {policy.train:g} / val {policy.val:g} / "
                  f"test {policy.test:g}, seed {policy.seed}")  # fmt: skip
        out.print(table)

    emit(data, render)


@app.command("split-policy")
def split_policy_command(
    train: Annotated[float, typer.Option(help="Train fraction.")] = 0.8,
    val: Annotated[float, typer.Option(help="Validation fraction.")] = 0.1,
    test: Annotated[float, typer.Option(help="Test fraction.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Split seed.")] = 13,
) -> None:
    """Fix the project's split policy (once: before any data, so no item changes split)."""
    with open_ws() as ws:
        policy = ws.data.set_split_policy(train=train, val=val, test=test, seed=seed)
    data = {"train": policy.train, "val": policy.val, "test": policy.test, "seed": policy.seed}

    def render(out: Console) -> None:
        out.print(f"Split policy: train {policy.train:g} / val {policy.val:g} / "
                  f"test {policy.test:g}, seed {policy.seed}.")  # fmt: skip

    emit(data, render)


@app.command("audit")
def audit_command(
    dataset: Annotated[str | None, typer.Argument(help="Only this dataset.")] = None,
) -> None:
    """Every recorded read of sealed test labels: who, when, which version, why."""
    with open_ws() as ws:
        reads = ws.data.audit(dataset=dataset)
    data = [{"dataset": r.dataset, "version": r.version, "purpose": r.purpose, "rows": r.rows,
             "actor": r.actor, "at": r.at} for r in reads]  # fmt: skip

    def render(out: Console) -> None:
        for r in reads:
            out.print(f"{r.at:%Y-%m-%d %H:%M:%S} {r.actor} read {r.rows:,} test labels of "
                      f"{r.dataset} ({r.version[7:19]}): {r.purpose}")  # fmt: skip
        out.print(f"{len(reads)} audited read(s).")

    emit(data, render)


@slice_app.command("add")
def slice_add_command(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    name: Annotated[str, typer.Argument(help="Slice name.")],
    where: Annotated[str, typer.Option(help="Filter, e.g. 'hour >= 20 or hour < 6'.")],
) -> None:
    """Save a named filter on a dataset."""
    with open_ws() as ws:
        saved = ws.data.add_slice(dataset, name, where=where)
        counts = ws.data.slice_counts(f"{dataset}@latest", name)
    data = {"dataset": saved.dataset, "name": saved.name, "where": saved.where, "latest": counts}

    def render(out: Console) -> None:
        out.print(f"Slice {dataset}/{name} saved; on the latest version: "
                  + ", ".join(f"{k} {v:,}" for k, v in counts.items()))  # fmt: skip

    emit(data, render)


@slice_app.command("list")
def slice_list_command(
    dataset: Annotated[str | None, typer.Argument(help="Only this dataset.")] = None,
) -> None:
    """Saved slices."""
    with open_ws() as ws:
        slices = ws.data.list_slices(dataset)
    data = [{"dataset": s.dataset, "name": s.name, "where": s.where} for s in slices]

    def render(out: Console) -> None:
        for s in slices:
            out.print(f"{s.dataset}/{s.name}: {s.where}")
        if not slices:
            out.print("No slices yet.")

    emit(data, render)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
