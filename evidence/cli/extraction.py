"""`evidence extraction import|export`: the extraction table as long-format CSV."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from evidence.cli._app import with_database


def register(main: click.Group) -> None:
    """Attach the `extraction` command group to the `evidence` command."""

    @main.group()
    def extraction() -> None:
        """Extracted study results (docs/extraction-csv.md)."""

    @extraction.command("export")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
    @with_database
    def export_cmd(output: Path | None) -> None:
        """Write every extracted study as long-format CSV (to stdout without --output)."""
        from evidence.db import session_scope
        from evidence.literature import extraction_csv

        with session_scope() as session:
            text = extraction_csv.export_csv(session)
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8", newline="")
            click.echo(f"wrote {text.count(chr(10)) - 1} rows to {output}", err=True)

    @extraction.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @with_database
    def import_cmd(path: Path) -> None:
        """Import a long-format CSV, all or nothing (row errors listed, exit status 1)."""
        from evidence.db import session_scope
        from evidence.literature import extraction_csv

        try:
            with session_scope() as session:
                result = extraction_csv.import_csv(session, path.read_bytes(), user_id=None)
        except extraction_csv.ImportFailed as exc:
            click.echo(f"Nothing was imported: {len(exc.errors)} problems.", err=True)
            for error in exc.errors:
                click.echo(str(error), err=True)
            raise SystemExit(1) from None
        click.echo(
            f"imported {result.rows} rows: {result.created} studies created, "
            f"{result.updated} updated, {result.unchanged} unchanged"
        )
