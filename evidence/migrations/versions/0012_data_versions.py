"""Data versions (triggers give each side of the data a token that changes with every write),
and an index on when each link arrived.

The compare page, its charts and its study findings are cached (evidence/web/cache.py) under
the versions of the data they are computed from. Reading a version must not grow with the
tables (counting rows did), and must follow every writer: the ORM, bulk inserts, raw SQL,
COPY and restores alike. So triggers on the tables each side reads replace the side's token
with a random one on every write; the version of a side is a hash of its tokens
(evidence.db.data_versions). A random token rather than a counter: after a restore the tokens
are the backup's, which name exactly the backup's data, and no later write can reuse one.

PostgreSQL fires the trigger once per statement and replaces a side's token once per
transaction (an import of a thousand rows replaces one token, not a thousand), and spreads
writers over 16 shards by backend process id, so two concurrent writers seldom wait on one row
lock. SQLite has row triggers only; its writers are serialised anyway, so one shard suffices.
Authors are not watched: a study's label names its first author, and a corrected author list
arrives with its citation row (ingest rewrites the record), which is watched.

The compare page marks the cells that gained a level 1-2 study since a moment: links whose
coalesce(decided_at, created_at) is later, for the treatments shown. Without an index on that
expression every included link was read and joined to its citation (7.7 of an 8 s page on
PostgreSQL with 50,000 citations); ix_citation_link_arrived reads only the shown treatments'
links that arrived since (evidence/literature/living.py, cell_changes).

Revision ID: 0012_data_versions
Revises: 0011_report_scales
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_data_versions"
down_revision: str | None = "0011_report_scales"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables each cached side is computed from (evidence.synthesis.compare, findings_db).
SIDES = {
    "literature": ("treatment", "indication", "citation", "citation_link", "retraction_notice"),
    "practice": (
        "treatment",
        "indication",
        "outcome_report",
        "outcome_adverse_event",
        "price_point",
    ),
    "extraction": (
        "treatment",
        "indication",
        "citation",
        "study",
        "study_arm",
        "outcome_measure",
        "outcome_measurement",
        "study_adverse_event",
        "published_meta_analysis",
        "published_pooled_result",
    ),
}
PG_SHARDS = 16
ARRIVED_INDEX = "ix_citation_link_arrived"


def watched() -> dict[str, list[str]]:
    """Return each watched table with the sides its writes change."""
    tables: dict[str, list[str]] = {}
    for side, names in SIDES.items():
        for name in names:
            tables.setdefault(name, []).append(side)
    return tables


def upgrade() -> None:
    """Create data_version and the triggers that replace its tokens; index link arrivals."""
    op.create_index(
        ARRIVED_INDEX,
        "citation_link",
        [sa.text("treatment_id"), sa.text("coalesce(decided_at, created_at)")],
    )
    op.create_table(
        "data_version",
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("side", "shard"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Once per side and transaction (a transaction-local setting remembers it): every
        # later statement of the transaction commits under the same new token.
        op.execute(
            "CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "DECLARE changed text; BEGIN FOREACH changed IN ARRAY TG_ARGV LOOP "
            "IF coalesce(current_setting('evidence.data_version_' || changed, true), '') "
            "<> '1' THEN "
            "INSERT INTO data_version (side, shard, token) "
            f"VALUES (changed, pg_backend_pid() % {PG_SHARDS}, md5(random()::text || "
            "clock_timestamp()::text)) "
            "ON CONFLICT (side, shard) DO UPDATE SET token = excluded.token; "
            "PERFORM set_config('evidence.data_version_' || changed, '1', true); "
            "END IF; END LOOP; RETURN NULL; END $$"
        )
        for table, sides in watched().items():
            arguments = ", ".join(f"'{side}'" for side in sides)
            op.execute(
                f"CREATE TRIGGER {table}_data_version "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version({arguments})"
            )
    else:
        for table, sides in watched().items():
            bumps = " ".join(
                "INSERT INTO data_version (side, shard, token) "
                f"VALUES ('{side}', 0, lower(hex(randomblob(16)))) "
                "ON CONFLICT (side, shard) DO UPDATE SET token = excluded.token;"
                for side in sides
            )
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_data_version_{event.lower()} "
                    f"AFTER {event} ON {table} BEGIN {bumps} END"
                )


def downgrade() -> None:
    """Drop the index, the triggers and data_version."""
    op.drop_index(ARRIVED_INDEX, table_name="citation_link")
    if op.get_bind().dialect.name == "postgresql":
        for table in watched():
            op.execute(f"DROP TRIGGER IF EXISTS {table}_data_version ON {table}")
        op.execute("DROP FUNCTION IF EXISTS bump_data_version()")
    else:
        for table in watched():
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_data_version_{event}")
    op.drop_table("data_version")
