"""``flywheel plan``: write, show and check the project page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from flywheel_ml.cli.context import emit, fail, open_ws

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_ml.plan.entities import ProjectPage

app = typer.Typer(
    help="The project page: problem, value, feasibility, objective, constraints.",
    no_args_is_help=True,
)


def _page_json(page: ProjectPage) -> dict[str, Any]:
    from flywheel_ml.backends.sql.plan_store import page_to_json

    return {
        **page_to_json(page),
        "revision": page.revision,
        "updated_at": page.updated_at,
        "updated_by": page.updated_by,
    }


@app.command("set")
def set_command(
    name: Annotated[str | None, typer.Option(help="Project display name.")] = None,
    problem: Annotated[str | None, typer.Option(help="The problem, in the user's words.")] = None,
    value: Annotated[str | None, typer.Option(help="Why solving it is worth it.")] = None,
    feasibility: Annotated[str | None, typer.Option(help="Why it can be done.")] = None,
    expectations: Annotated[str | None, typer.Option(help="What result counts as success.")] = None,
    objective: Annotated[
        str | None, typer.Option(help="The one objective metric, e.g. 'accuracy max'.")
    ] = None,
    constraint: Annotated[
        list[str] | None,
        typer.Option(
            help="Satisficing constraint '<metric> <op> <number>'; repeatable; "
            "replaces one on the same metric and operator."
        ),
    ] = None,
    remove_constraint: Annotated[
        list[str] | None, typer.Option(help="Remove constraints on this metric; repeatable.")
    ] = None,
    reference: Annotated[
        list[str] | None, typer.Option(help="Literature, prior work or a link; repeatable.")
    ] = None,
) -> None:
    """Change parts of the project page; every change is kept as a revision."""
    with open_ws() as ws:
        page = ws.plan.set(
            name=name,
            problem=problem,
            value=value,
            feasibility=feasibility,
            expectations=expectations,
            objective=objective,
            add_constraints=constraint or (),
            remove_constraints=remove_constraint or (),
            add_references=reference or (),
        )
        ws.events.record(stage="plan", kind="page.changed", subject=f"revision {page.revision}")

    def render(out: Console) -> None:
        out.print(f"Project page saved as revision {page.revision}.")

    emit(_page_json(page), render)


@app.command("show")
def show_command(
    history: Annotated[bool, typer.Option("--history", help="List every revision.")] = False,
) -> None:
    """Show the project page (or its history of changes)."""
    with open_ws() as ws:
        if history:
            revisions = ws.plan.history()
            data: Any = [
                {
                    "revision": r.revision,
                    "changed_at": r.changed_at,
                    "changed_by": r.changed_by,
                    "summary": r.summary,
                    "page": _page_json(r.page),
                }
                for r in revisions
            ]

            def render_history(out: Console) -> None:
                from rich.table import Table

                table = Table("rev", "when (UTC)", "who", "what")
                for r in revisions:
                    table.add_row(
                        str(r.revision),
                        f"{r.changed_at:%Y-%m-%d %H:%M:%S}",
                        r.changed_by,
                        r.summary,
                    )
                out.print(table if revisions else "No revisions yet.")

            emit(data, render_history)
            return
        page = ws.plan.get()

    def render(out: Console) -> None:
        from rich.markdown import Markdown

        from flywheel_ml.reports.project_page import project_page_markdown

        out.print(Markdown(project_page_markdown(page)))

    emit(_page_json(page), render)


@app.command("check")
def check_command() -> None:
    """Exit 0 when the project page is complete; else list what is missing and exit 1."""
    with open_ws() as ws:
        result = ws.plan.check()
    data = {
        "complete": result.complete,
        "missing": list(result.missing),
        "warnings": list(result.warnings),
    }

    def render(out: Console) -> None:
        if result.complete:
            out.print("The project page is complete.")
        for item in result.missing:
            out.print(f"missing: {item} — set it with `flywheel plan set --{item} ...`")
        for item in result.warnings:
            out.print(f"warning: {item}")

    emit(data, render)
    if not result.complete:
        fail(1)
