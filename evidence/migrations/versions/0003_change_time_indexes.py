"""Indexes on change times: citation.updated_at, citation_link.decided_at, outcome_report.updated_at

The compare page caches its figures under a fingerprint of the rows they are computed from
(counts, highest ids and latest change times). With these indexes the latest change time is
an index lookup instead of a scan of every citation, link and report.

Revision ID: 0003_change_time_indexes
Revises: 0002_record_hash
Create Date: 2026-11-23 22:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_change_time_indexes"
down_revision: str | None = "0002_record_hash"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_citation_updated_at", "citation", "updated_at"),
    ("ix_citation_link_decided_at", "citation_link", "decided_at"),
    ("ix_outcome_report_updated_at", "outcome_report", "updated_at"),
)


def upgrade() -> None:
    """Create the three indexes."""
    for name, table, column in INDEXES:
        op.create_index(name, table, [column], unique=False)


def downgrade() -> None:
    """Drop the three indexes."""
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)
