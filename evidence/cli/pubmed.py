"""`evidence pubmed fetch|import|refresh` and `evidence worker`: PubMed jobs from the shell.

Each command creates (or resumes) a FetchJob and by default runs it right here with a
progress bar; `--background` puts it on the queue for `evidence worker` instead.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask import current_app
from flask.cli import with_appcontext

from evidence.cli._app import with_database

if TYPE_CHECKING:
    from evidence.models import FetchJob


@click.group("pubmed")
def pubmed() -> None:
    """PubMed: run saved searches, import files, refresh stored records."""


class _Bar:
    """A tqdm bar fed from a job's total/done counts."""

    def __init__(self, description: str) -> None:
        """Open the bar (on stderr) with an unknown total."""
        from tqdm import tqdm

        self.bar = tqdm(desc=description, unit="rec", total=None, dynamic_ncols=True)

    def __call__(self, job: FetchJob) -> None:
        """Move the bar to the job's position."""
        if job.total is not None and self.bar.total != job.total:
            self.bar.total = job.total
        self.bar.n = job.done
        self.bar.set_postfix(added=job.added, updated=job.updated, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()


def _run(job_id: int, description: str, background: bool) -> FetchJob | None:
    """Queue the job, or run it here with a progress bar; return the finished row."""
    from evidence import jobs
    from evidence.db import get_engine

    if background:
        jobs.enqueue(job_id)
        click.echo(f"job {job_id} queued; `evidence worker` will run it")
        return None
    bar = _Bar(description)
    try:
        return jobs.run_job(
            engine=get_engine(), config=current_app.config, job_id=job_id, progress=bar
        )
    finally:
        bar.close()


def _finish(job: FetchJob | None) -> None:
    """Print the job's outcome and exit non-zero unless it finished cleanly."""
    if job is None:
        return
    from evidence import jobs

    status = jobs.job_status(job)
    click.echo(
        f"job {job.id} {job.state}: {job.done}/{job.total or 0} fetched, "
        f"{job.added} added, {job.updated} updated"
    )
    if status.get("note"):
        click.echo(status["note"])
    if job.state != "done":
        if job.state == "interrupted":
            click.echo("run the same command again to resume where it stopped", err=True)
        raise click.ClickException(job.error or f"job {job.state}")


@pubmed.command("fetch")
@click.option("--treatment", "treatment_slug", required=True, help="Treatment slug.")
@click.option("--indication", "indication_slug", help="Indication slug.")
@click.option("--query", help="PubMed query (default: the treatment's default query).")
@click.option("--max", "max_records", type=click.IntRange(min=1), help="Fetch at most N records.")
@click.option("--background", is_flag=True, help="Queue for `evidence worker` instead.")
@with_database
def fetch(
    treatment_slug: str,
    indication_slug: str | None,
    query: str | None,
    max_records: int | None,
    background: bool,
) -> None:
    """Run a saved search (created on first use) and store its records."""
    from evidence import jobs, queries
    from evidence.db import session_scope

    with session_scope() as session:
        treatment = queries.treatment_by_slug(session, treatment_slug)
        if treatment is None:
            raise click.BadParameter(
                queries.unknown_slug_message(session, "treatment", treatment_slug),
                param_hint="--treatment",
            )
        indication_id = None
        if indication_slug:
            indication = queries.indication_by_slug(session, indication_slug)
            if indication is None:
                raise click.BadParameter(
                    queries.unknown_slug_message(session, "indication", indication_slug),
                    param_hint="--indication",
                )
            indication_id = indication.id
        search = jobs.find_or_create_search(
            session, treatment=treatment, indication_id=indication_id, query=query
        )
        job = jobs.start_search_job(session, search, max_records=max_records)
        job_id, text = job.id, search.query
        resumed = job.attempts > 0
    assert job_id is not None
    click.echo(f"{'resuming' if resumed else 'running'} job {job_id}: {text}")
    _finish(_run(job_id, "fetch", background))


@pubmed.command("import")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--treatment", "treatment_slug", help="Link imported records to this treatment.")
@click.option("--indication", "indication_slug", help="Link imported records to this indication.")
@click.option("--background", is_flag=True, help="Queue for `evidence worker` instead.")
@with_database
def import_files(
    paths: tuple[Path, ...],
    treatment_slug: str | None,
    indication_slug: str | None,
    background: bool,
) -> None:
    """Import PubMed XML (.xml, .gz), MEDLINE (.nbib) or PMID lists; each file all-or-nothing."""
    from evidence import jobs, queries
    from evidence.db import session_scope

    ids: dict[str, Any] = {"treatment_id": None, "indication_id": None}
    with session_scope() as session:
        if treatment_slug:
            treatment = queries.treatment_by_slug(session, treatment_slug)
            if treatment is None:
                raise click.BadParameter(
                    queries.unknown_slug_message(session, "treatment", treatment_slug),
                    param_hint="--treatment",
                )
            ids["treatment_id"] = treatment.id
        if indication_slug:
            indication = queries.indication_by_slug(session, indication_slug)
            if indication is None:
                raise click.BadParameter(
                    queries.unknown_slug_message(session, "indication", indication_slug),
                    param_hint="--indication",
                )
            ids["indication_id"] = indication.id
        job_ids = [jobs.start_import_job(session, path, **ids).id for path in paths]
    rejected = 0
    for path, job_id in zip(paths, job_ids, strict=True):
        assert job_id is not None
        job = _run(job_id, path.name, background)
        if job is None:
            continue
        click.echo(jobs.job_status(job)["note"] or f"{path}: {job.state}")
        if job.state != "done":
            rejected += 1
    if rejected:
        raise click.ClickException(
            f"{rejected} of {len(paths)} files rejected (nothing stored from them)"
        )


@pubmed.command("refresh")
@click.option("--all", "refresh_all", is_flag=True, help="Re-fetch every stored PMID.")
@click.option(
    "--pmid", "pmids", multiple=True, type=click.IntRange(min=1), help="A PMID (repeatable)."
)
@click.option("--background", is_flag=True, help="Queue for `evidence worker` instead.")
@with_database
def refresh(refresh_all: bool, pmids: tuple[int, ...], background: bool) -> None:
    """Re-fetch known records: completes snapshot records, picks up retraction notices."""
    from evidence import jobs
    from evidence.db import session_scope

    if refresh_all == bool(pmids):
        raise click.UsageError("give either --all or one or more --pmid")
    with session_scope() as session:
        job = jobs.start_refresh_job(session, pmids=list(pmids) or None)
        job_id = job.id
    assert job_id is not None
    _finish(_run(job_id, "refresh", background))


@click.command("worker")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1))
@with_appcontext
def worker(workers: int) -> None:
    """Run the background job consumer (SQLite queue in instance/, or Redis)."""
    from evidence import jobs
    from evidence.db import session_scope

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    queue = jobs.get_queue()
    with session_scope() as session:
        requeued = jobs.requeue_orphans(session, queue=queue)
    if requeued:
        click.echo(f"re-queued {len(requeued)} interrupted job(s): {requeued}", err=True)
    # Periodic tasks (the dead-runner reaper, scheduled searches) run in this consumer too.
    consumer = queue.huey.create_consumer(workers=workers, worker_type="thread")
    consumer.run()


def register(main: click.Group) -> None:
    """Attach `pubmed` and `worker` to the `evidence` command."""
    main.add_command(pubmed)
    main.add_command(worker)
