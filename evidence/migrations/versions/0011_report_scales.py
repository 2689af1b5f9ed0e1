"""Validated scales on outcome reports: Goodman-Baron grade before/after and GAIS.

Revision ID: 0011_report_scales
Revises: 0005_study_extraction
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_report_scales"
down_revision: str | None = "0005_study_extraction"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("goodman_baron_before", "goodman_baron_after", "gais")


def upgrade() -> None:
    """Add three nullable integer columns to outcome_report (old reports keep NULL)."""
    with op.batch_alter_table("outcome_report", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop the three columns."""
    with op.batch_alter_table("outcome_report", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
