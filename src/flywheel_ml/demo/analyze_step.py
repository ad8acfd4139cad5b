"""The demo's analyze step: where the champion is wrong on val, and the two reports.

:func:`analyze_step` runs after the registry step (it analyses the registered champion on the
validation split: no sealed test labels are read); :func:`experience_step` runs last, when the
whole lifecycle has been recorded.
"""

from __future__ import annotations

from collections.abc import Callable

from flywheel_ml.reports.error_analysis import write_error_analysis
from flywheel_ml.reports.experience import write_experience_report
from flywheel_ml.workspace import Workspace

MODEL = "digits-clf"


def analyze_step(ws: Workspace, say: Callable[[str], None]) -> list[tuple[str, str]]:
    """Errors, slices and failure clusters of the champion on val; the error-analysis report."""
    versions = ws.registry.list_versions(MODEL) if ws.registry.list_versions() else []
    if not versions:
        say("6 analyze: skipped (no registered model)")
        return []
    aliases = ws.registry.aliases(MODEL)
    ref = f"{MODEL}@v{aliases.get('champion', versions[-1].version)}"
    ws.data.add_slice("digits", "faint-centre", where="px36 <= 4")
    say(f"6 analyze: where is {ref} wrong on the val split? (slice faint-centre: px36 <= 4)")
    report = write_error_analysis(ws.analyze, ref, evaluation=ws.registry.latest_evaluation)
    errors, slices, clusters = report.errors, report.slices, report.clusters
    pairs = ", ".join(f"{t}→{p} ({n})" for t, p, n in errors.top_confusions[:3])
    say(f"  {errors.rows} val rows, {errors.errors} mistakes, accuracy {errors.accuracy:.3f}; "
        f"commonest confusions {pairs or 'none'}")  # fmt: skip
    judged = [s for s in slices.slices if not s.too_small]
    small = len(slices.slices) - len(judged)
    if judged:
        worst = judged[0]
        say(f"  worst judged slice: {worst.name} ({worst.rows} rows) accuracy "
            f"{worst.accuracy or 0:.3f} [{worst.ci_low or 0:.3f}, {worst.ci_high or 0:.3f}]; "
            f"{small} slice(s) too small to judge")  # fmt: skip
    if clusters.clusters:
        top = clusters.clusters[0]
        say(f"  failure clusters: {len(clusters.clusters)}; the largest has {top.size} mistakes "
            f"(exemplars {', '.join(top.exemplars[:3])})")  # fmt: skip
    else:
        say(f"  failure clusters: none — {clusters.explanation}")
    features = ws.analyze.features(ref, repeats=3)
    say(f"  permutation importance: {len(features.remove)} of {len(features.features)} pixels "
        "do not help on val; their removal is recorded as a decision")  # fmt: skip
    say(f"  error-analysis report written to {report.markdown.relative_to(ws.root)} (+ .html)")
    return [
        ("error analysis", str(report.markdown)),
        ("failure clusters", f"flywheel -C {ws.root} analyze clusters {ref}"),
    ]


def experience_step(ws: Workspace, say: Callable[[str], None]) -> list[tuple[str, str]]:
    """The experience report from everything the demo recorded."""
    report = write_experience_report(
        plan=ws.plan, data=ws.data, track=ws.track, registry=ws.registry, analyze=ws.analyze,
        events=ws.events, docs_dir=ws.root / "docs",
    )  # fmt: skip

    def show(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    say(f"  experience report: baseline {show(report.baseline)}, best run {show(report.best)}, "
        f"final on the sealed test set {show(report.final)} -> "
        f"{report.markdown.relative_to(ws.root)}")  # fmt: skip
    return [("experience report", str(report.markdown))]
