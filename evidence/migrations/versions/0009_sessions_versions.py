"""Session version on accounts (log-out ends sessions) and a version on reports (edits lock).

Revision ID: 0009_sessions_versions
Revises: 0007_screening_duplicates
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_sessions_versions"
down_revision: str | None = "0007_screening_duplicates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add user.session_version and outcome_report.version."""
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("outcome_report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    """Drop the two columns."""
    with op.batch_alter_table("outcome_report", schema=None) as batch_op:
        batch_op.drop_column("version")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("session_version")
