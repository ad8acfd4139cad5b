"""The model card shows recorded facts, and recorded text cannot inject HTML or break tables."""

from __future__ import annotations

from flywheel_ml.reports.model_card import model_card_markdown, write_model_card
from tests.registry.conftest import Project


def test_the_card_shows_lineage_evaluation_audit_and_history(project: Project) -> None:
    ws = project.ws
    ws.plan.set(add_constraints=["model_mb < 0.001"])
    version = ws.registry.register(project.good_run, name="digits-clf", description="LR | C=1")
    evaluation = ws.registry.evaluate(version.ref, reason="card test")
    reason = "<script>alert(1)</script> | ship it\nnow"
    ws.registry.set_alias("digits-clf", "champion", 1, override=True, reason=reason)
    facts = ws.registry.card_facts("digits-clf@champion")
    markdown = model_card_markdown(facts)
    assert version.run_id in markdown and "digits@v1" in markdown
    assert version.git_commit in markdown
    assert "**FAILED**" in markdown and "`model_mb < 0.001`" in markdown
    assert f"{evaluation.metrics['accuracy']:.4g}" in markdown
    assert "read 1 time(s)" in markdown
    assert "(override)" in markdown and "LR \\| C=1" in markdown
    row = next(line for line in markdown.splitlines() if "ship it" in line)
    assert row.count(" | ") == 6 - 1 and "now" in row

    card = write_model_card(facts, ws.root / "docs")
    html = card.html.read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert card.markdown.name == "model-digits-clf-v1.md"
