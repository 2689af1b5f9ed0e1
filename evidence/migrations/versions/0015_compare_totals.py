"""Citation counts for the compare page, kept by triggers: its cost follows the cells shown.

The compare page counts each treatment's included citations by evidence level, retraction flag
and year (evidence.synthesis.compare.literature). Counting them from citation_link joined to
citation read most of both tables when four of six treatments were shown. compare_citation_total
holds those counts per (treatment, indication, level, flag, year): the page reads one row per
cell it shows. Two grains: `indication_key` is the link's indication (0: none), or -1 for the
treatment's citations over every indication, each citation counted once however many of its
links name the treatment (what the page shows when no indication is chosen). `level_key` and
`year_key` are 0 for an unrated level or an unknown year; `flagged` is 1 for a retracted or
flagged citation. Rows may hold 0 (nothing is deleted on write); readers skip them.

Triggers keep the counts in step with every writer (the ORM, bulk inserts, raw SQL, COPY):
on citation_link inserts, updates and deletes, and on citation updates that move a citation's
level, year or flag. A citation's delete first deletes its links (a BEFORE DELETE trigger), so
the link triggers still see the citation they subtract. Each change is written as the
difference it makes: a link's own cell +1 or -1, and the treatment-wide cell +1 when a citation
gains its first included link to the treatment, -1 when it loses its last. PostgreSQL runs the
link and citation triggers once per statement over its transition tables (an import of a
thousand links is one upsert); SQLite, having row triggers only, runs the same SQL per row.
TRUNCATE (PostgreSQL) empties the counts with the tables.

The newest systematic review is still looked up among the citations: ix_citation_level_year
finds the level 1 citations of the newest years directly (the evidence_level index alone read
every level 1 citation, and joining from the links read every included link).

Revision ID: 0015_compare_totals
Revises: 0014_import_keys
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_compare_totals"
down_revision: str | None = "0014_import_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "compare_citation_total"
KEY = "treatment_id, indication_key, level_key, flagged, year_key"
ANY_INDICATION = -1
LINK_COLUMNS = ("citation_id", "treatment_id", "indication_id", "status")
CITATION_COLUMNS = ("id", "evidence_level", "year", "retraction_status")
LEVEL_YEAR_INDEX = "ix_citation_level_year"
INCLUDED = "status = 'included' AND treatment_id IS NOT NULL"


def _flag(expr: str) -> str:
    """SQL: 1 when a citation with this retraction status is counted apart, else 0."""
    return f"CASE WHEN {expr} <> 'none' THEN 1 ELSE 0 END"


def _upsert(select_sql: str) -> str:
    """SQL adding the (key..., delta) rows of select_sql to the counts."""
    return (
        f"INSERT INTO {TABLE} ({KEY}, n) SELECT {KEY}, sum(delta) FROM ({select_sql}) AS d "
        f"WHERE true GROUP BY {KEY} "
        f"ON CONFLICT ({KEY}) DO UPDATE SET n = {TABLE}.n + excluded.n"
    )


def _unindexed(column: str) -> str:
    """Return a column as a trigger's filter that must not drive the lookup.

    Neither database has statistics on links written moments ago (SQLite none unless ANALYZE
    ran): of three equally indexed equalities either may walk the status index, every
    included link, for each row written, which made a bulk insert quadratic. Wrapped in an
    expression the column has no index, and the lookup walks the citation_id index.
    """
    return f"({column} || '')" if column.endswith("status") else f"({column} + 0)"


def link_change_sql(new_rows: str, old_rows: str) -> str:
    """SQL adding what a change of links made: new_rows and old_rows select LINK_COLUMNS."""
    changed = (
        f"SELECT citation_id, treatment_id, indication_id, 1 AS delta FROM ({new_rows}) AS nl "
        f"WHERE {INCLUDED} UNION ALL "
        f"SELECT citation_id, treatment_id, indication_id, -1 AS delta FROM ({old_rows}) AS ol "
        f"WHERE {INCLUDED}"
    )
    cells = (
        "SELECT ch.treatment_id AS treatment_id, coalesce(ch.indication_id, 0) AS indication_key, "
        "coalesce(c.evidence_level, 0) AS level_key, "
        f"{_flag('c.retraction_status')} AS flagged, coalesce(c.year, 0) AS year_key, "
        f"ch.delta AS delta FROM ({changed}) AS ch JOIN citation c ON c.id = ch.citation_id"
    )
    # A citation's treatment-wide cell moves when its included links to the treatment go from
    # none to some (+1) or from some to none (-1): now counted in citation_link, before = now
    # minus the change.
    pairs = (
        "SELECT citation_id, treatment_id, sum(delta) AS net, "
        "(SELECT count(*) FROM citation_link l WHERE l.citation_id = ch.citation_id "
        f"AND {_unindexed('l.treatment_id')} = ch.treatment_id "
        f"AND {_unindexed('l.status')} = 'included') AS now "
        f"FROM ({changed}) AS ch GROUP BY citation_id, treatment_id"
    )
    wide = (
        f"SELECT p.treatment_id AS treatment_id, {ANY_INDICATION} AS indication_key, "
        "coalesce(c.evidence_level, 0) AS level_key, "
        f"{_flag('c.retraction_status')} AS flagged, coalesce(c.year, 0) AS year_key, "
        "(CASE WHEN p.now > 0 THEN 1 ELSE 0 END) - (CASE WHEN p.now - p.net > 0 THEN 1 ELSE 0 END) "
        f"AS delta FROM ({pairs}) AS p JOIN citation c ON c.id = p.citation_id"
    )
    return _upsert(f"{cells} UNION ALL {wide}")


def citation_change_sql(changed: str) -> str:
    """SQL moving changed citations' counts: changed selects id, old_ and new_ level/year/status."""
    parts = []
    for side, delta in (("old", -1), ("new", 1)):
        values = (
            f"coalesce(ch.{side}_level, 0) AS level_key, "
            f"{_flag(f'ch.{side}_status')} AS flagged, coalesce(ch.{side}_year, 0) AS year_key"
        )
        parts.append(
            "SELECT l.treatment_id AS treatment_id, "
            f"coalesce(l.indication_id, 0) AS indication_key, {values}, {delta} AS delta "
            f"FROM ({changed}) AS ch "
            "JOIN citation_link l ON l.citation_id = ch.id "
            f"WHERE {_unindexed('l.status')} = 'included' AND l.treatment_id IS NOT NULL"
        )
        parts.append(
            f"SELECT w.treatment_id AS treatment_id, {ANY_INDICATION} AS indication_key, "
            f"{values}, {delta} AS delta FROM ({changed}) AS ch JOIN "
            "(SELECT DISTINCT citation_id, treatment_id FROM citation_link "
            f"WHERE {_unindexed('status')} = 'included' AND treatment_id IS NOT NULL "
            f"AND citation_id IN (SELECT id FROM ({changed}) AS ids)) AS w "
            "ON w.citation_id = ch.id"
        )
    return _upsert(" UNION ALL ".join(parts))


def recount_sql() -> str:
    """SQL filling the counts afresh from citation_link and citation (the table empty)."""
    value = (
        "coalesce(c.evidence_level, 0) AS level_key, "
        f"{_flag('c.retraction_status')} AS flagged, coalesce(c.year, 0) AS year_key"
    )
    return (
        f"INSERT INTO {TABLE} ({KEY}, n) SELECT {KEY}, count(*) FROM ("
        "SELECT l.treatment_id AS treatment_id, coalesce(l.indication_id, 0) AS indication_key, "
        f"{value} FROM citation_link l JOIN citation c ON c.id = l.citation_id "
        "WHERE l.status = 'included' AND l.treatment_id IS NOT NULL UNION ALL "
        f"SELECT w.treatment_id, {ANY_INDICATION}, {value} FROM "
        "(SELECT DISTINCT citation_id, treatment_id FROM citation_link "
        "WHERE status = 'included' AND treatment_id IS NOT NULL) AS w "
        f"JOIN citation c ON c.id = w.citation_id) AS d GROUP BY {KEY}"
    )


def _changed_citations(old: str, new: str, where: str = "") -> str:
    """SQL selecting a citation's id with its old and new level, year and status."""
    return (
        f"SELECT {new}.id AS id, {old}.evidence_level AS old_level, {old}.year AS old_year, "
        f"{old}.retraction_status AS old_status, {new}.evidence_level AS new_level, "
        f"{new}.year AS new_year, {new}.retraction_status AS new_status{where}"
    )


def _row(prefix: str, columns: Sequence[str]) -> str:
    """SQL selecting one trigger row's columns (SQLite: NEW.x AS x)."""
    return "SELECT " + ", ".join(f"{prefix}.{c} AS {c}" for c in columns)


def _no_links() -> str:
    """SQL selecting no rows with LINK_COLUMNS, typed as citation_link's."""
    return f"SELECT {', '.join(LINK_COLUMNS)} FROM citation_link WHERE 1 = 0"


CITATION_MOVED = (
    "{o}.evidence_level IS DISTINCT FROM {n}.evidence_level OR {o}.year IS DISTINCT FROM "
    "{n}.year OR ({o}.retraction_status <> 'none') <> ({n}.retraction_status <> 'none')"
)


def upgrade() -> None:
    """Create compare_citation_total, fill it, and add the triggers that keep it."""
    op.create_table(
        TABLE,
        sa.Column("treatment_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("indication_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("level_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("flagged", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("year_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "treatment_id", "indication_key", "level_key", "flagged", "year_key"
        ),
    )
    op.execute(recount_sql())
    op.create_index(LEVEL_YEAR_INDEX, "citation", ["evidence_level", "year"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _postgresql_triggers() -> None:
    """Statement triggers over transition tables; a row trigger deletes a citation's links."""
    link_columns = ", ".join(LINK_COLUMNS)
    for event, new, old in (
        ("INSERT", f"SELECT {link_columns} FROM new_links", _no_links()),
        (
            "UPDATE",
            f"SELECT {link_columns} FROM new_links",
            f"SELECT {link_columns} FROM old_links",
        ),
        ("DELETE", _no_links(), f"SELECT {link_columns} FROM old_links"),
    ):
        name = f"{TABLE}_link_{event.lower()}"
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{link_change_sql(new, old)}; RETURN NULL; END $$"
        )
        tables = {
            "INSERT": "NEW TABLE AS new_links",
            "UPDATE": "OLD TABLE AS old_links NEW TABLE AS new_links",
            "DELETE": "OLD TABLE AS old_links",
        }[event]
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON citation_link REFERENCING {tables} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    moved = CITATION_MOVED.format(o="o", n="c")
    changed = _changed_citations(
        "o", "c", f" FROM old_citations o JOIN new_citations c ON c.id = o.id WHERE {moved}"
    )
    op.execute(
        f"CREATE FUNCTION {TABLE}_citation_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{citation_change_sql(changed)}; RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_citation_update AFTER UPDATE ON citation "
        "REFERENCING OLD TABLE AS old_citations NEW TABLE AS new_citations "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_citation_update()"
    )
    op.execute(
        f"CREATE FUNCTION {TABLE}_citation_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "DELETE FROM citation_link WHERE citation_id = OLD.id; RETURN OLD; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_citation_delete BEFORE DELETE ON citation "
        f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_citation_delete()"
    )
    op.execute(
        f"CREATE FUNCTION {TABLE}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"DELETE FROM {TABLE}; RETURN NULL; END $$"
    )
    for table in ("citation", "citation_link"):
        op.execute(
            f"CREATE TRIGGER {TABLE}_{table}_truncate AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_truncate()"
        )


def _sqlite_triggers() -> None:
    """Row triggers running the same SQL on the one row (NEW and OLD)."""
    for event, new, old in (
        ("INSERT", _row("NEW", LINK_COLUMNS), _no_links()),
        ("UPDATE", _row("NEW", LINK_COLUMNS), _row("OLD", LINK_COLUMNS)),
        ("DELETE", _no_links(), _row("OLD", LINK_COLUMNS)),
    ):
        op.execute(
            f"CREATE TRIGGER {TABLE}_link_{event.lower()} AFTER {event} ON citation_link "
            f"BEGIN {link_change_sql(new, old)}; END"
        )
    moved = CITATION_MOVED.format(o="OLD", n="NEW").replace("IS DISTINCT FROM", "IS NOT")
    op.execute(
        f"CREATE TRIGGER {TABLE}_citation_update AFTER UPDATE ON citation WHEN {moved} "
        f"BEGIN {citation_change_sql(_changed_citations('OLD', 'NEW'))}; END"
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_citation_delete BEFORE DELETE ON citation "
        "BEGIN DELETE FROM citation_link WHERE citation_id = OLD.id; END"
    )


def downgrade() -> None:
    """Drop the triggers, the counts and the index."""
    op.drop_index(LEVEL_YEAR_INDEX, table_name="citation")
    if op.get_bind().dialect.name == "postgresql":
        for name, table in (
            ("link_insert", "citation_link"),
            ("link_update", "citation_link"),
            ("link_delete", "citation_link"),
            ("citation_update", "citation"),
            ("citation_delete", "citation"),
            ("citation_truncate", "citation"),
            ("citation_link_truncate", "citation_link"),
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{name} ON {table}")
        for name in ("link_insert", "link_update", "link_delete", "citation_update"):
            op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_{name}()")
        op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_citation_delete()")
        op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_truncate()")
    else:
        for name in ("link_insert", "link_update", "link_delete", "citation_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{name}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_citation_delete")
    op.drop_table(TABLE)
