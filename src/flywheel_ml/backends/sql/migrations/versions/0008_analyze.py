"""analyze: no tables.

The analyze stage computes from recorded facts and keeps its decisions (feature removals) as
activity-log events, so it needs no schema of its own. The revision is kept so that the chain
stays one revision per stage in lifecycle order.
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
