"""Author name suffix (Jr, Sr, 2nd ...), kept apart from the initials.

Revision ID: 0004_author_suffix
Revises: 0003_change_time_indexes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_author_suffix"
down_revision: str | None = "0003_change_time_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add citation_author.suffix."""
    with op.batch_alter_table("citation_author", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suffix", sa.String(length=20), nullable=True))


def downgrade() -> None:
    """Drop citation_author.suffix."""
    with op.batch_alter_table("citation_author", schema=None) as batch_op:
        batch_op.drop_column("suffix")
