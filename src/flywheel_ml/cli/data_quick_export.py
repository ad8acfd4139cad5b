"""The fast path of ``flywheel data export`` of a folder dataset (see :mod:`.data_quick`).

Exporting 20,000 files is mostly creating them, but the full command also spends ~0.3 s starting
Typer, Rich and SQLAlchemy. Here the same :meth:`DataStage.export
<flywheel_ml.data.reading.VersionReader.export>` runs on the stdlib ``sqlite3`` stores. Only
folder datasets are exported this way (a table export needs pandas anyway); anything else, and
any error before the export starts (an unknown reference, say), goes to the full command, which
reports it. Once files are being written, errors are reported as the full command reports them.
"""

from __future__ import annotations

from pathlib import Path

from flywheel_ml.cli.data_quick import emit_owed, local_settings, parse_words, stdlib_stage

_VALUE_OPTIONS = {"--to": "to", "--format": "format", "--purpose": "purpose"}
_FORMATS = ("parquet", "csv", "jsonl")


def export(words: list[str], *, workspace: str | None, json_output: bool) -> bool:
    """Export as ``data export REF --to DIR [--format F] [--purpose P]`` would, and return
    True; or return False having written nothing, and the full command runs."""
    from flywheel_ml.errors import FlywheelError

    parsed = _parse(words)
    if parsed is None:
        return False
    settings = local_settings(workspace)
    if settings is None:
        return False
    # Typer hands the command a Path: the printed folder is its normal form.
    to = Path(parsed["to"])
    with stdlib_stage(settings) as stage:
        if stage is None:
            return False
        try:
            version = stage.get_version(parsed["ref"])
            kind = stage.get_dataset(version.dataset).kind
        except FlywheelError:
            return False
        if kind != "files":
            return False
        written = stage.export(version.digest, to, purpose=parsed.get("purpose"))
    return emit_owed(
        {"files": len(written), "to": str(to)},
        f"Wrote {len(written):,} file(s) to {to}.",
        json_output,
    )


def _parse(words: list[str]) -> dict[str, str] | None:
    parsed = parse_words(words, values=_VALUE_OPTIONS, flags={})
    if parsed is None:
        return None
    found, refs = parsed
    if len(refs) != 1 or "to" not in found or found.get("format", "parquet") not in _FORMATS:
        return None
    return {**found, "ref": refs[0]}
