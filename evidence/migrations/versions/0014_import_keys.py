"""citation.first_author_key: near-duplicate blocking by (year, first author) through an index.

The import offers near duplicates among records with the same year and first author
(evidence/literature/duplicates.py). Reading that block used to mean reading every citation
of the year with its first author; the key (the first author's last or collective name,
normalised as the duplicate check compares it) and an index on (year, first_author_key) let
it read only the block. NULL means not computed (the duplicate check then reads the
author, as before); existing rows are filled here.

Also indexes on citation.pmcid and citation_correction.ref_pmid: every imported batch looks
records up by PMCID (exact duplicates) and corrections up by the PMID they name, which
without an index read both tables whole, batch after batch.

Revision ID: 0014_import_keys
Revises: 0013_rate_limits
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from rapidfuzz import utils

revision: str = "0014_import_keys"
down_revision: str | None = "0013_rate_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def _key(name: str | None) -> str:
    """The first author's name as the duplicate check compares it (a copy, frozen here)."""
    return str(utils.default_process(name or "")).replace(" ", "")


def upgrade() -> None:
    """Add the column and its index, and fill it for the stored citations."""
    with op.batch_alter_table("citation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_author_key", sa.String(length=300), nullable=True))
        batch_op.create_index(
            "ix_citation_year_first_author_key", ["year", "first_author_key"], unique=False
        )
    op.create_index("ix_citation_pmcid", "citation", ["pmcid"])
    op.create_index("ix_citation_correction_ref_pmid", "citation_correction", ["ref_pmid"])
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT citation_id, last_name, collective_name FROM citation_author WHERE position = 0"
        )
    ).all()
    update = sa.text("UPDATE citation SET first_author_key = :key WHERE id = :id")
    params = [{"id": cid, "key": _key(last or collective)[:300]} for cid, last, collective in rows]
    for start in range(0, len(params), BATCH):
        conn.execute(update, params[start : start + BATCH])


def downgrade() -> None:
    """Drop the indexes and the column."""
    op.drop_index("ix_citation_correction_ref_pmid", table_name="citation_correction")
    op.drop_index("ix_citation_pmcid", table_name="citation")
    with op.batch_alter_table("citation", schema=None) as batch_op:
        batch_op.drop_index("ix_citation_year_first_author_key")
        batch_op.drop_column("first_author_key")
