"""The schema revisions this code knows, read from the migration file names.

Kept free of SQLAlchemy and Alembic imports so start-up paths can ask for the head revision
without paying for either.
"""

from __future__ import annotations

from pathlib import Path

VERSIONS_DIR = Path(__file__).with_name("migrations") / "versions"


def known_revisions() -> list[str]:
    """Every revision this code knows, oldest first (``NNNN`` from ``NNNN_<what>.py``)."""
    return sorted(p.name[:4] for p in VERSIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py"))


def head_revision() -> str:
    """The newest revision this code knows."""
    return known_revisions()[-1]
