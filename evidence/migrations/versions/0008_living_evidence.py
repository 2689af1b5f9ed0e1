"""Living evidence: search schedules and runs, job leases, page visits, retraction notices.

Revision ID: 0008_living_evidence
Revises: 0004_author_suffix
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008_living_evidence"
down_revision: str | None = "0004_author_suffix"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add saved_search.schedule, the fetch_job lease, search_run, page_visit, retraction_notice,
    digest_subscription."""
    with op.batch_alter_table("saved_search", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "schedule",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="off",
            )
        )
    with op.batch_alter_table("fetch_job", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("runner", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("deaths", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "search_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("saved_search_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("trigger", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("hits", sa.Integer(), nullable=True),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("notices", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["fetch_job.id"]),
        sa.ForeignKeyConstraint(["saved_search_id"], ["saved_search.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_search_run_saved_search_id", "search_run", ["saved_search_id"])
    op.create_table(
        "page_visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("area", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("previous_at", sa.DateTime(), nullable=True),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "area", name="uq_page_visit_user_area"),
    )
    op.create_index("ix_page_visit_user_id", "page_visit", ["user_id"])
    op.create_table(
        "retraction_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citation_id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("nature", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("notice_date", sa.Date(), nullable=True),
        sa.Column("notice_doi", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("notice_pmid", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("matched_by", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["citation_id"], ["citation.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("citation_id", "record_id", name="uq_retraction_notice_record"),
    )
    op.create_index("ix_retraction_notice_citation_id", "retraction_notice", ["citation_id"])
    op.create_index("ix_retraction_notice_created_at", "retraction_notice", ["created_at"])
    op.create_table(
        "digest_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_table("digest_subscription")
    op.drop_index("ix_retraction_notice_created_at", table_name="retraction_notice")
    op.drop_index("ix_retraction_notice_citation_id", table_name="retraction_notice")
    op.drop_table("retraction_notice")
    op.drop_index("ix_page_visit_user_id", table_name="page_visit")
    op.drop_table("page_visit")
    op.drop_index("ix_search_run_saved_search_id", table_name="search_run")
    op.drop_table("search_run")
    with op.batch_alter_table("fetch_job", schema=None) as batch_op:
        batch_op.drop_column("deaths")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("runner")
    with op.batch_alter_table("saved_search", schema=None) as batch_op:
        batch_op.drop_column("schedule")
