"""Export lists: what an export reads from a citation's child tables, as one JSON text.

The authors, publication types, keywords, MeSH headings, links, the first DOI and PMCID among
the identifiers and the abstract rebuilt from its sections. An export of 50,000 citations
spent most of its time gathering these from seven child tables
(22-25 us a citation on SQLite). citation_export keeps them as one text per citation, in the
form evidence/output/exports/loader.py reads. Triggers only delete a citation's row when one
of its child rows (or the citation) is inserted, changed or deleted, which costs a writer one
primary-key probe; the next export fills the missing rows in bulk and reads the tables for
any still missing, so an export is never stale. Existing citations are filled here.

Revision ID: 0016_export_text
Revises: 0015_compare_totals
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_export_text"
down_revision: str | None = "0015_compare_totals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, the column holding the citation id, the columns an export reads)
WATCHED = (
    ("citation", "id", ""),
    (
        "citation_author",
        "citation_id",
        "position, last_name, fore_name, initials, suffix, collective_name",
    ),
    ("citation_publication_type", "citation_id", "position, name"),
    ("citation_keyword", "citation_id", "position, keyword"),
    ("citation_mesh", "citation_id", "position, descriptor, qualifiers, major"),
    ("citation_link", "citation_id", "status, treatment_id, indication_id"),
    ("citation_identifier", "citation_id", "id_type, value"),
    ("citation_abstract_section", "citation_id", "position, label, text"),
)
# Child rows are read per citation in position order: the index serves that order directly.
ORDERED = (
    "citation_author",
    "citation_publication_type",
    "citation_keyword",
    "citation_mesh",
    "citation_abstract_section",
)
IDENTIFIER_INDEX = "ix_citation_identifier_citation_id_id"


def upgrade() -> None:
    """Create citation_export, its triggers and the position indexes; fill every citation."""
    from evidence.output.exports.loader import fill_export_lists

    op.create_table(
        "citation_export",
        sa.Column(
            "citation_id",
            sa.Integer(),
            sa.ForeignKey("citation.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("lists", sa.Text(), nullable=False),
    )
    for table in ORDERED:
        op.create_index(f"ix_{table}_citation_position", table, ["citation_id", "position"])
    # A citation's first identifier of a type (ORDER BY id LIMIT 1): without this index
    # PostgreSQL walked the primary key over the whole table for each citation lacking one.
    op.create_index(IDENTIFIER_INDEX, "citation_identifier", ["citation_id", "id"])
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()
    fill_export_lists(op.get_bind())


def _upgrade_sqlite() -> None:
    """Row triggers (SQLite has no others): each deletes the changed citation's row."""
    delete = "DELETE FROM citation_export WHERE citation_id = "
    for table, key, columns in WATCHED:
        events = [("insert", f"{delete}NEW.{key};"), ("delete", f"{delete}OLD.{key};")]
        if columns:
            events.append(
                (
                    "update",
                    f"{delete}OLD.{key}; {delete}NEW.{key};",
                )
            )
        for event, body in events:
            of = f" OF {key}, {columns}" if event == "update" else ""
            op.execute(
                f"CREATE TRIGGER {table}_export_{event} AFTER {event.upper()}{of} ON {table} "
                f"BEGIN {body} END"
            )


def _upgrade_postgresql() -> None:
    """Statement triggers over the transition tables: one delete per statement, COPY included."""
    for table, key, columns in WATCHED:
        events = [("insert", "NEW TABLE AS changed", ["changed"])]
        events.append(("delete", "OLD TABLE AS changed", ["changed"]))
        if columns:
            events.append(
                ("update", "OLD TABLE AS old_rows NEW TABLE AS changed", ["old_rows", "changed"])
            )
        for event, referencing, names in events:
            function = f"{table}_export_{event}"
            sources = " UNION ALL ".join(f"SELECT {key} FROM {name}" for name in names)
            op.execute(
                f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"DELETE FROM citation_export WHERE citation_id IN ({sources}); "
                "RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {function} AFTER {event.upper()} ON {table} "
                f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )


def downgrade() -> None:
    """Drop the triggers, the position indexes and citation_export."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, _key, _columns in WATCHED:
        for event in ("insert", "delete", "update"):
            function = f"{table}_export_{event}"
            if postgresql:
                op.execute(f"DROP TRIGGER IF EXISTS {function} ON {table}")
                op.execute(f"DROP FUNCTION IF EXISTS {function}()")
            else:
                op.execute(f"DROP TRIGGER IF EXISTS {function}")
    for table in ORDERED:
        op.drop_index(f"ix_{table}_citation_position", table_name=table)
    op.drop_index(IDENTIFIER_INDEX, table_name="citation_identifier")
    op.drop_table("citation_export")
