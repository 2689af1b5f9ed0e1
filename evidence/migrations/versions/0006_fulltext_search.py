"""Full-text search of citations: SQLite FTS5 or a PostgreSQL tsvector with a GIN index.

Both index title, abstract, authors, journal and MeSH (evidence/literature/search.py builds the rows
and the queries). Triggers only mark a changed citation in search_dirty; search.refresh()
rebuilds the marked rows in bulk, so a citation is tokenized once per write, not once per
author or heading inserted. Existing citations are indexed here.

Revision ID: 0006_fulltext_search
Revises: 0010_audit_log
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from evidence.literature import search

revision: str = "0006_fulltext_search"
down_revision: str | None = "0010_audit_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, the column holding the citation id, the columns whose change re-indexes it)
WATCHED = (
    ("citation", "id", "title, abstract, journal, journal_abbrev"),
    ("citation_author", "citation_id", "collective_name, last_name, fore_name, initials"),
    ("citation_mesh", "citation_id", "descriptor, qualifiers"),
)


def upgrade() -> None:
    """Create the index, the dirty list and its triggers; index every citation."""
    op.create_table(
        "search_dirty",
        sa.Column("citation_id", sa.Integer(), primary_key=True, autoincrement=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def _upgrade_sqlite() -> None:
    """FTS5 table (porter stemming, diacritics folded) and row triggers."""
    op.execute(
        "CREATE VIRTUAL TABLE citation_fts USING fts5(title, abstract, authors, journal, mesh, "
        "tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    for table, key, columns in WATCHED:
        for event, ref, extra in (
            ("INSERT", "NEW", ""),
            ("DELETE", "OLD", ""),
            ("UPDATE", "NEW", f" OF {columns}"),
        ):
            op.execute(
                f"CREATE TRIGGER {table}_search_{event.lower()} AFTER {event}{extra} ON {table} "
                f"BEGIN INSERT OR IGNORE INTO search_dirty (citation_id) VALUES ({ref}.{key}); END"
            )
    op.execute(search.SQLITE_INSERT)


def _upgrade_postgresql() -> None:
    """citation_search (weighted document, journal) with GIN indexes, and row triggers."""
    op.execute(
        "CREATE TABLE citation_search (citation_id integer PRIMARY KEY, "
        "document tsvector NOT NULL, journal tsvector NOT NULL)"
    )
    op.execute("CREATE INDEX ix_citation_search_document ON citation_search USING gin (document)")
    op.execute("CREATE INDEX ix_citation_search_journal ON citation_search USING gin (journal)")
    for table, key, columns in WATCHED:
        for event, ref, extra in (
            ("insert", "NEW", ""),
            ("delete", "OLD", ""),
            ("update", "NEW", f" OF {columns}"),
        ):
            function = f"{table}_search_{event}"
            op.execute(
                f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"INSERT INTO search_dirty (citation_id) VALUES ({ref}.{key}) "
                "ON CONFLICT DO NOTHING; RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {function} AFTER {event.upper()}{extra} ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
    op.execute(search.PG_UPSERT.format(where=""))


def downgrade() -> None:
    """Drop the index, its triggers and the dirty list."""
    if op.get_bind().dialect.name == "postgresql":
        for table, _key, _columns in WATCHED:
            for event in ("insert", "delete", "update"):
                function = f"{table}_search_{event}"
                op.execute(f"DROP TRIGGER IF EXISTS {function} ON {table}")
                op.execute(f"DROP FUNCTION IF EXISTS {function}()")
        op.execute("DROP TABLE IF EXISTS citation_search")
    else:
        for table, _key, _columns in WATCHED:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_search_{event}")
        op.execute("DROP TABLE IF EXISTS citation_fts")
    op.drop_table("search_dirty")
