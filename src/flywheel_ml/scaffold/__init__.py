"""Project scaffolding and CI recipes: ``flywheel init --template`` and ``flywheel ci``."""

from flywheel_ml.scaffold.projects import TEMPLATES, ScaffoldReport, package_name, scaffold_project

__all__ = ["TEMPLATES", "ScaffoldReport", "package_name", "scaffold_project"]
