"""`evidence retractions import`, `evidence searches run-due`, `evidence digests send`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from evidence.cli._app import with_database


@click.group("retractions")
def retractions_group() -> None:
    """Retraction notices from the Retraction Watch data that Crossref publishes."""


@retractions_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_database
def retractions_import(path: Path) -> None:
    """Match a Retraction Watch CSV to citations by DOI and PMID and flag them (all or nothing)."""
    from evidence.db import session_scope
    from evidence.literature import retractions

    with session_scope() as session:
        report = retractions.import_file(session, path)
        if not report.ok:
            session.rollback()
    for line in report.errors[: retractions.MAX_ROW_ERRORS_SHOWN]:
        click.echo(line, err=True)
    if len(report.errors) > retractions.MAX_ROW_ERRORS_SHOWN:
        click.echo(
            f"... and {len(report.errors) - retractions.MAX_ROW_ERRORS_SHOWN} more", err=True
        )
    if not report.ok:
        raise click.ClickException(f"{path.name}: {report.summary()}")
    click.echo(report.summary())


@click.group("searches")
def searches_group() -> None:
    """Saved PubMed searches and their schedules."""


@searches_group.command("run-due")
@with_appcontext
def run_due() -> None:
    """Run the saved searches whose schedule is due now (what the periodic task does)."""
    from evidence.literature import living

    runs = living.run_due_searches(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"{len(runs)} scheduled search run(s): {runs}")


@click.group("digests")
def digests_group() -> None:
    """The weekly e-mail digests."""


@digests_group.command("send")
@with_appcontext
def digests_send() -> None:
    """Send the digests now (what the weekly task does); needs EVIDENCE_SMTP_HOST."""
    from evidence.literature import digests

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config.get("SMTP_HOST"):
        raise click.ClickException("EVIDENCE_SMTP_HOST is not set: no mail server to send through")
    sent = digests.send_digests(app)
    click.echo(f"{len(sent)} digest(s) sent")


def register(main: click.Group) -> None:
    """Attach `retractions`, `searches` and `digests` to the `evidence` command."""
    main.add_command(retractions_group)
    main.add_command(searches_group)
    main.add_command(digests_group)
