"""`evidence export citations|reports`: the web downloads, from the command line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import click
from flask.cli import with_appcontext

from evidence.cli._app import LazyGroup


def _write(chunks: Iterator[bytes], output: Path | None) -> int:
    """Write streamed chunks to a file (or stdout) as they come; return the bytes written."""
    written = 0
    handle: BinaryIO
    if output is None:
        handle = sys.stdout.buffer
        for chunk in chunks:
            handle.write(chunk)
            written += len(chunk)
        handle.flush()
        return written
    with output.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
            written += len(chunk)
    return written


def _attach(export: click.Group) -> None:
    """Attach the `export` commands (their choices come from the export formats and filters)."""
    from evidence import queries
    from evidence.output import exports

    @export.command("citations")
    @click.option(
        "--format",
        "fmt",
        type=click.Choice([*exports.FORMATS, *exports.FORMAT_ALIASES], case_sensitive=False),
        default="csv",
        show_default=True,
    )
    @click.option("--treatment", metavar="SLUG", help="Only citations linked to this treatment.")
    @click.option("--indication", metavar="SLUG", help="Only citations linked to this indication.")
    @click.option(
        "--level", type=click.Choice(list(queries.LEVEL_KEYS)), help="Only one evidence level."
    )
    @click.option("--year-from", type=int)
    @click.option("--year-to", type=int)
    @click.option("--pub-type", help="Only this PubMed publication type.")
    @click.option("-q", "--query", "text", help="Text in title, abstract, journal, author, PMID.")
    @click.option(
        "--status",
        type=click.Choice(list(queries.STATUS_KEYS)),
        default=None,
        help="Screening status of the links: 'unlinked' for records linked to nothing yet "
        "(default: 'included' with --treatment/--indication; without them every citation in "
        "the database, linked or not).",
    )
    @click.option(
        "--columns",
        help="CSV/XLSX columns, comma-separated (default: "
        + ",".join(exports.DEFAULT_COLUMNS)
        + "). Known: "
        + ",".join(exports.CITATION_COLUMNS),
    )
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        help="File to write (default: standard output).",
    )
    @with_appcontext
    def export_citations(
        fmt: str,
        treatment: str | None,
        indication: str | None,
        level: str | None,
        year_from: int | None,
        year_to: int | None,
        pub_type: str | None,
        text: str | None,
        status: str | None,
        columns: str | None,
        output: Path | None,
    ) -> None:
        """Export the citations matching the filters, as the citation tables do."""
        from sqlmodel import Session

        from evidence.db import get_engine

        fmt = exports.get_format(fmt).key
        if fmt == "xlsx" and output is None and sys.stdout.isatty():
            raise click.UsageError("XLSX is binary: give -o FILE.xlsx (or redirect stdout).")
        try:
            chosen = exports.parse_columns([columns] if columns else None)
        except exports.ExportError as error:
            raise click.BadParameter(str(error), param_hint="--columns") from error
        if status is None:
            # No filter at all exports the whole database, unlinked imports included.
            status = "included" if (treatment or indication) else "any"
        flt = queries.CitationFilter(
            treatment=treatment,
            indication=indication,
            level=level,
            year_from=year_from,
            year_to=year_to,
            pub_type=pub_type,
            q=text,
            status=status,
        )
        with Session(get_engine()) as session:
            for slug, finder, what in (
                (treatment, queries.treatment_by_slug, "treatment"),
                (indication, queries.indication_by_slug, "indication"),
            ):
                if slug and finder(session, slug) is None:
                    raise click.BadParameter(
                        queries.unknown_slug_message(session, what, slug), param_hint=what
                    )
            total = queries.count_citations(session, flt)
            size = _write(exports.export_citations(session, flt, fmt, columns=chosen), output)
        if output is not None:
            click.echo(f"wrote {total} citations ({size} bytes) to {output}", err=True)

    @export.command("reports")
    @click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
    @click.option("--treatment", metavar="SLUG")
    @click.option("--indication", metavar="SLUG")
    @click.option(
        "--skin",
        type=click.Choice([*"123456", "I-III", "IV-VI", "none"]),
        help="Fitzpatrick type, group, or 'none' (not stated).",
    )
    @click.option("--event", help="Only reports with this adverse event (e.g. pih).")
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        help="File to write (default: standard output).",
    )
    @with_appcontext
    def export_reports(
        fmt: str,
        treatment: str | None,
        indication: str | None,
        skin: str | None,
        event: str | None,
        output: Path | None,
    ) -> None:
        """Export the visible outcome reports as CSV (no reporter identity is exported)."""
        from sqlmodel import Session

        from evidence.db import get_engine
        from evidence.models import ADVERSE_EVENT_LABELS
        from evidence.practice.reports import ReportFilter

        if event and event not in ADVERSE_EVENT_LABELS:
            known = ", ".join(ADVERSE_EVENT_LABELS)
            raise click.BadParameter(f"unknown event {event!r}; use one of {known}")
        flt = ReportFilter(treatment=treatment, indication=indication, skin=skin, event=event)
        with Session(get_engine()) as session:
            size = _write(exports.export_reports(session, flt), output)
        if output is not None:
            click.echo(f"wrote {size} bytes to {output}", err=True)


def register(main: click.Group) -> None:
    """Attach the `export` command group to the `evidence` command."""

    @main.group("export", cls=LazyGroup, load=_attach)
    def export() -> None:
        """Export citations (six formats) or outcome reports (CSV)."""
