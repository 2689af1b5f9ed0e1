"""Study extraction: studies, arms, outcome measurements, adverse events, revisions,
the outcome-measure vocabulary, published meta-analyses and labelled citation field sources.

Revision ID: 0005_study_extraction
Revises: 0006_fulltext_search
Create Date: 2026-12-02 15:30:27.223849
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005_study_extraction"
down_revision: str | None = "0006_fulltext_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the extraction tables."""
    op.create_table(
        "outcome_measure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("scale_min", sa.Float(), nullable=True),
        sa.Column("scale_max", sa.Float(), nullable=True),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outcome_measure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outcome_measure_slug"), ["slug"], unique=True)

    op.create_table(
        "citation_field_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citation_id", sa.Integer(), nullable=False),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("source_url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["citation_id"], ["citation.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("citation_field_source", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_citation_field_source_citation_id"), ["citation_id"], unique=False
        )

    op.create_table(
        "extraction_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("citation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["citation_id"], ["citation.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("extraction_revision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_extraction_revision_citation_id"), ["citation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_extraction_revision_study_id"), ["study_id"], unique=False
        )

    op.create_table(
        "published_meta_analysis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pmid", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("citation_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("journal", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("doi", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column(
            "comparison_as_stated", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False
        ),
        sa.Column("comparison_note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("indication_id", sa.Integer(), nullable=True),
        sa.Column("studies_included", sa.Integer(), nullable=True),
        sa.Column("patients_included", sa.Integer(), nullable=True),
        sa.Column("studies_note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("outcomes_note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("source_url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("extra_sources", sa.Text(), nullable=False),
        sa.Column("checked_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["citation_id"],
            ["citation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["indication_id"],
            ["indication.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("published_meta_analysis", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_published_meta_analysis_citation_id"), ["citation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_published_meta_analysis_pmid"), ["pmid"], unique=True)

    op.create_table(
        "study",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citation_id", sa.Integer(), nullable=False),
        sa.Column("snapshot_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("design", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("design_note", sa.Text(), nullable=True),
        sa.Column("split_face", sa.Boolean(), nullable=False),
        sa.Column("randomised", sa.Boolean(), nullable=True),
        sa.Column("blinded", sa.Boolean(), nullable=True),
        sa.Column("indication_id", sa.Integer(), nullable=True),
        sa.Column("indication_note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("fitzpatrick_types", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("n_enrolled", sa.Integer(), nullable=True),
        sa.Column("n_analysed", sa.Integer(), nullable=True),
        sa.Column("downtime_days", sa.Float(), nullable=True),
        sa.Column("downtime_note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column(
            "adverse_events_note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True
        ),
        sa.Column("outcomes_note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("source_url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("extra_sources", sa.Text(), nullable=False),
        sa.Column("checked_on", sa.Date(), nullable=True),
        sa.Column("verified_by_id", sa.Integer(), nullable=True),
        sa.Column("verified_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["citation_id"], ["citation.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["indication_id"],
            ["indication.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["verified_by_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("snapshot_key"),
    )
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_study_citation_id"), ["citation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_study_design"), ["design"], unique=False)
        batch_op.create_index(batch_op.f("ix_study_indication_id"), ["indication_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_study_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "published_pooled_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meta_analysis_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "measure_as_stated", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False
        ),
        sa.Column("measure_id", sa.Integer(), nullable=True),
        sa.Column("effect_type", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("estimate", sa.Float(), nullable=True),
        sa.Column("ci_low", sa.Float(), nullable=True),
        sa.Column("ci_high", sa.Float(), nullable=True),
        sa.Column("ci_as_printed", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("i2", sa.Float(), nullable=True),
        sa.Column("n_studies", sa.Integer(), nullable=True),
        sa.Column("favours_as_stated", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("p_value_as_stated", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["outcome_measure.id"],
        ),
        sa.ForeignKeyConstraint(
            ["meta_analysis_id"], ["published_meta_analysis.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("published_pooled_result", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_published_pooled_result_meta_analysis_id"),
            ["meta_analysis_id"],
            unique=False,
        )

    op.create_table(
        "study_arm",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("treatment_id", sa.Integer(), nullable=True),
        sa.Column("comparator_label", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("co_intervention", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("sessions", sa.Integer(), nullable=True),
        sa.Column("interval_weeks", sa.Float(), nullable=True),
        sa.Column(
            "interval_as_stated", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
        ),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["treatment_id"],
            ["treatment.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("study_arm", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_study_arm_study_id"), ["study_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_study_arm_treatment_id"), ["treatment_id"], unique=False
        )

    op.create_table(
        "outcome_measurement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("arm_id", sa.Integer(), nullable=True),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column(
            "measure_as_stated", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("timepoint", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("baseline_sd", sa.Float(), nullable=True),
        sa.Column("final", sa.Float(), nullable=True),
        sa.Column("mean_change", sa.Float(), nullable=True),
        sa.Column("sd", sa.Float(), nullable=True),
        sa.Column("sd_of", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.Column("percent_improvement", sa.Float(), nullable=True),
        sa.Column("responders", sa.Integer(), nullable=True),
        sa.Column("responders_n", sa.Integer(), nullable=True),
        sa.Column("responders_percent", sa.Float(), nullable=True),
        sa.Column("value_as_stated", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("ci_as_stated", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column(
            "categories_as_stated", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True
        ),
        sa.Column("p_value_as_stated", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column(
            "p_vs_baseline_as_stated", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
        ),
        sa.Column(
            "direction_as_stated", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True
        ),
        sa.ForeignKeyConstraint(["arm_id"], ["study_arm.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["outcome_measure.id"],
        ),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outcome_measurement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outcome_measurement_measure_id"), ["measure_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outcome_measurement_study_id"), ["study_id"], unique=False
        )

    op.create_table(
        "study_adverse_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("arm_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("event", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("event_as_stated", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("scope_as_stated", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("events", sa.Integer(), nullable=True),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.Column("percent", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["arm_id"], ["study_arm.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("study_adverse_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_study_adverse_event_event"), ["event"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_study_adverse_event_study_id"), ["study_id"], unique=False
        )


def downgrade() -> None:
    """Drop the extraction tables."""
    with op.batch_alter_table("study_adverse_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_adverse_event_study_id"))
        batch_op.drop_index(batch_op.f("ix_study_adverse_event_event"))

    op.drop_table("study_adverse_event")
    with op.batch_alter_table("outcome_measurement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outcome_measurement_study_id"))
        batch_op.drop_index(batch_op.f("ix_outcome_measurement_measure_id"))

    op.drop_table("outcome_measurement")
    with op.batch_alter_table("study_arm", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_arm_treatment_id"))
        batch_op.drop_index(batch_op.f("ix_study_arm_study_id"))

    op.drop_table("study_arm")
    with op.batch_alter_table("published_pooled_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_published_pooled_result_meta_analysis_id"))

    op.drop_table("published_pooled_result")
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_updated_at"))
        batch_op.drop_index(batch_op.f("ix_study_indication_id"))
        batch_op.drop_index(batch_op.f("ix_study_design"))
        batch_op.drop_index(batch_op.f("ix_study_citation_id"))

    op.drop_table("study")
    with op.batch_alter_table("published_meta_analysis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_published_meta_analysis_pmid"))
        batch_op.drop_index(batch_op.f("ix_published_meta_analysis_citation_id"))

    op.drop_table("published_meta_analysis")
    with op.batch_alter_table("extraction_revision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_extraction_revision_study_id"))
        batch_op.drop_index(batch_op.f("ix_extraction_revision_citation_id"))

    op.drop_table("extraction_revision")
    with op.batch_alter_table("citation_field_source", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_citation_field_source_citation_id"))

    op.drop_table("citation_field_source")
    with op.batch_alter_table("outcome_measure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outcome_measure_slug"))

    op.drop_table("outcome_measure")
