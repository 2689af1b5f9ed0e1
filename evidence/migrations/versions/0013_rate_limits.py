"""Rate-limit counts in the database, shared by every web process when there is no Redis.

Revision ID: 0013_rate_limits
Revises: 0012_data_versions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_rate_limits"
down_revision: str | None = "0012_data_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create rate_limit_entry (moving-window hits) and rate_limit_counter (fixed windows)."""
    op.create_table(
        "rate_limit_entry",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_rate_limit_entry_key_at", "rate_limit_entry", ["key", "at"])
    op.create_index("ix_rate_limit_entry_expires_at", "rate_limit_entry", ["expires_at"])
    op.create_table(
        "rate_limit_counter",
        sa.Column("key", sa.String(length=1024), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_rate_limit_counter_expires_at", "rate_limit_counter", ["expires_at"])


def downgrade() -> None:
    """Drop both tables (counts in flight are lost: the limits start afresh)."""
    op.drop_table("rate_limit_counter")
    op.drop_table("rate_limit_entry")
