"""The `evidence` command: a FlaskGroup, so `evidence run` and `evidence routes` work too.

Start-up stays short: each command imports what it uses inside its function, and the
commands that only use the database run in `create_app(web=False)` (evidence/cli/_app.py).
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from evidence.cli._app import EvidenceGroup, web_app, with_database


@click.group(cls=EvidenceGroup, create_app=web_app)
def main() -> None:
    """Clinical treatment evidence tracker."""


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_database
def db_upgrade(revision: str) -> None:
    """Apply migrations up to a revision; at head, add the catalogue's missing entries."""
    from evidence import migrate  # alembic: only the db commands need it
    from evidence.db import get_engine, session_scope

    url = current_app.config["DATABASE_URL"]
    migrate.upgrade(url, revision)
    current = migrate.current_revision(get_engine())
    click.echo(f"database at {current}")
    if current == migrate.head_revision(url):
        # The catalogue is part of the schema's data: `pubmed fetch --treatment` works at once.
        from evidence import snapshot as snap

        with session_scope() as session:
            report = snap.LoadReport()
            snap.load_catalogue(session, report)
        click.echo(
            f"catalogue: added {report.treatments} treatments, {report.indications} indications"
        )


@db.command("downgrade")
@click.argument("revision")
@with_database
def db_downgrade(revision: str) -> None:
    """Revert migrations down to a revision ('base' for an empty schema)."""
    from evidence import migrate  # alembic: only the db commands need it
    from evidence.db import get_engine

    migrate.downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {migrate.current_revision(get_engine())}")


@db.command("current")
@with_database
def db_current() -> None:
    """Print the revision the database is at and the newest one known."""
    from evidence import migrate  # alembic: only the db commands need it
    from evidence.db import get_engine

    url = current_app.config["DATABASE_URL"]
    click.echo(f"current: {migrate.current_revision(get_engine())}")
    click.echo(f"head:    {migrate.head_revision(url)}")


@db.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_database
def db_backup(path: Path) -> None:
    """Copy the database to PATH while the app runs (SQLite backup API; pg_dump for PostgreSQL)."""
    from evidence import backup

    try:
        outcome = backup.backup(current_app.config["DATABASE_URL"], path)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(outcome.message)


@db.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_database
def db_restore(path: Path, yes: bool) -> None:
    """Replace the database's contents with a backup made by `evidence db backup`."""
    from evidence import backup
    from evidence.db import get_engine

    url = current_app.config["DATABASE_URL"]
    if not yes:
        click.confirm(f"Replace everything in the database with {path}?", abort=True)
    # Pooled connections would keep reading the pages the restore replaces.
    get_engine().dispose()
    try:
        outcome = backup.restore(url, path)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(outcome.message)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (gunicorn) [default: one per CPU].",
)
@click.option(
    "--threads", default=8, show_default=True, type=click.IntRange(min=1), help="Per process."
)
@click.option(
    "--server",
    type=click.Choice(["auto", "gunicorn", "waitress"]),
    default="auto",
    show_default=True,
    help="auto: gunicorn where it runs (POSIX), waitress (one process) elsewhere.",
)
@click.option(
    "--worker/--no-worker",
    default=True,
    show_default=True,
    help="Run the background job consumer (one, whatever --workers says; use --no-worker "
    "when separate `evidence worker` processes serve the queue).",
)
@with_appcontext
def serve(
    host: str, port: int, workers: int | None, threads: int, server: str, worker: bool
) -> None:
    """Serve the app in production: gunicorn worker processes, or waitress where it cannot run.

    No debug, no reloader. The rate-limit counts are shared by the workers (Redis when
    EVIDENCE_REDIS_URL is set, otherwise the database).
    """
    from evidence.web import server as servers

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    reason = servers.gunicorn_unusable()
    if server == "gunicorn" and reason:
        raise click.ClickException(f"cannot serve with gunicorn: {reason}")
    if server == "waitress" or reason:
        if reason:
            click.echo(f"Serving with waitress: {reason}.", err=True)
        if workers and workers > 1:
            click.echo("waitress runs one process: --workers is ignored.", err=True)
        servers.serve_waitress(app, host=host, port=port, threads=threads, consumer=worker)
        return
    servers.serve_gunicorn(
        app,
        host=host,
        port=port,
        workers=workers or servers.default_workers(),
        threads=threads,
        consumer=worker,
    )


@main.group()
def snapshot() -> None:
    """The bundled offline snapshot of real records."""


@snapshot.command("load")
@with_database
def snapshot_load() -> None:
    """Load the catalogue and the bundled snapshot (running it twice adds nothing)."""
    from evidence import snapshot as snap
    from evidence.db import session_scope

    with session_scope() as session:
        report = snap.load(session)
    click.echo(
        f"added {report.treatments} treatments, {report.indications} indications, "
        f"{report.citations} citations, {report.links} links, {report.reports} outcome reports, "
        f"{report.price_points} price points, {report.measures} outcome measures, "
        f"{report.facts} labelled citation facts, {report.studies} studies, "
        f"{report.meta_analyses} published meta-analyses"
    )
    for line in report.skipped:
        click.echo(f"skipped: {line}", err=True)


@snapshot.command("build")
@click.option(
    "--from",
    "--source",
    "source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("../shared/data"),
    show_default=True,
)
def snapshot_build(source: Path) -> None:
    """Rebuild evidence/snapshot/*.json from shared/data (maintainers only; commit the result)."""
    from evidence import snapshot as snap

    counts = snap.build(source)
    click.echo(
        f"copied the inputs to evidence/snapshot/sources/; wrote {counts['citations']} "
        f"citations, {counts['reports']} reports, {counts['studies']} studies and "
        f"{counts['meta_analyses']} published meta-analyses"
    )


def _register_extra_commands() -> None:
    """Attach the commands of every module in evidence/cli/ (each offers `register(main)`;
    names starting with _ are helpers)."""
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        importlib.import_module(f"{__name__}.{info.name}").register(main)


_register_extra_commands()
