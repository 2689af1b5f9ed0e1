"""citation.record_hash: fingerprint of the PubMed record last stored

Lets a re-fetch or re-import tell an unchanged record (skipped) from a changed one
(updated, e.g. a new retraction notice or a corrected title) without reading its children.

Revision ID: 0002_record_hash
Revises: 0001
Create Date: 2026-11-23 22:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_record_hash"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable column (existing rows get NULL: never fetched, so never unchanged)."""
    with op.batch_alter_table("citation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("citation", schema=None) as batch_op:
        batch_op.drop_column("record_hash")
