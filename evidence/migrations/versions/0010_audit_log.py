"""The audit log: one row per write (who, what, when).

Revision ID: 0010_audit_log
Revises: 0009_sessions_versions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_audit_log"
down_revision: str | None = "0009_sessions_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create audit_log."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("table_name", sa.String(length=60), nullable=False),
        sa.Column("row_id", sa.String(length=60), nullable=True),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=300), nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_user_id", "audit_log", ["user_id"])
    op.create_index("ix_audit_log_table_name", "audit_log", ["table_name"])


def downgrade() -> None:
    """Drop audit_log."""
    op.drop_table("audit_log")
