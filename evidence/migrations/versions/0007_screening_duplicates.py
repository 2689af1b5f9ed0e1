"""Screening projects and decisions, duplicate pairs (issue 11: screening and duplicates).

Revision ID: 0007_screening_duplicates
Revises: 0008_living_evidence
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007_screening_duplicates"
down_revision: str | None = "0008_living_evidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create screening_project, screening_decision and duplicate_pair."""
    op.create_table(
        "screening_project",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("treatment_id", sa.Integer(), sa.ForeignKey("treatment.id"), nullable=False),
        sa.Column("indication_id", sa.Integer(), sa.ForeignKey("indication.id"), nullable=True),
        sa.Column("indication_key", sa.Integer(), nullable=False),
        sa.Column("two_reviewer", sa.Boolean(), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=True),
        sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("treatment_id", "indication_key", name="uq_screening_project"),
    )
    op.create_index("ix_screening_project_treatment_id", "screening_project", ["treatment_id"])
    op.create_table(
        "screening_decision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("link_id", sa.Integer(), sa.ForeignKey("citation_link.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("reason_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("reason_text", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column(
            "reverses_id", sa.Integer(), sa.ForeignKey("screening_decision.id"), nullable=True
        ),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_screening_decision_link_id", "screening_decision", ["link_id"])
    op.create_index("ix_screening_decision_user_id", "screening_decision", ["user_id"])
    op.create_index("ix_screening_decision_created_at", "screening_decision", ["created_at"])
    op.create_table(
        "duplicate_pair",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "kept_citation_id",
            sa.Integer(),
            sa.ForeignKey("citation.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "other_citation_id",
            sa.Integer(),
            sa.ForeignKey("citation.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("other_pmid", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("other_doi", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("other_title", sa.Text(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("matched_on", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("removed_links", sa.Text(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=True),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("kept_citation_id", "other_pmid", name="uq_duplicate"),
    )
    op.create_index("ix_duplicate_pair_kept_citation_id", "duplicate_pair", ["kept_citation_id"])
    op.create_index("ix_duplicate_pair_other_citation_id", "duplicate_pair", ["other_citation_id"])
    op.create_index("ix_duplicate_pair_other_pmid", "duplicate_pair", ["other_pmid"])
    op.create_index("ix_duplicate_pair_state", "duplicate_pair", ["state"])


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_table("duplicate_pair")
    op.drop_table("screening_decision")
    op.drop_table("screening_project")
