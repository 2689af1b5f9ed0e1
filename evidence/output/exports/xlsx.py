"""XLSX, written by xlsxwriter: every text cell a string cell, so no formula ever runs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from .csv import CITATION_COLUMNS, DEFAULT_COLUMNS
from .records import CitationRecord


def write_xlsx_file(
    records: Iterable[CitationRecord],
    path: str,
    *,
    columns: Sequence[str] = DEFAULT_COLUMNS,
    about: Sequence[tuple[str, str]] = (),
) -> int:
    """Write an XLSX workbook (a 'Citations' sheet and an 'About' sheet); return the rows."""
    import xlsxwriter

    # constant_memory flushes each row to disk as it is written: memory stays flat.
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False})
    try:
        sheet = workbook.add_worksheet("Citations")
        bold = workbook.add_format({"bold": True})
        getters = [CITATION_COLUMNS[name][1] for name in columns]
        for j, name in enumerate(columns):
            sheet.write_string(0, j, name, bold)
        sheet.freeze_panes(1, 0)
        n = 0
        for n, record in enumerate(records, start=1):
            for j, get in enumerate(getters):
                value = get(record)
                if isinstance(value, int):
                    sheet.write_number(n, j, value)
                else:
                    # write_string, never write(): a title starting with '=' stays text.
                    sheet.write_string(n, j, str(value))
        info = workbook.add_worksheet("About")
        info.write_string(0, 0, "Exported", bold)
        info.write_string(0, 1, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
        info.write_string(1, 0, "Citations", bold)
        info.write_number(1, 1, n)
        for i, (label, value) in enumerate(about, start=2):
            info.write_string(i, 0, label, bold)
            info.write_string(i, 1, value)
        return n
    finally:
        workbook.close()


def write_xlsx(
    records: Iterable[CitationRecord],
    columns: Sequence[str] = DEFAULT_COLUMNS,
    *,
    about: Sequence[tuple[str, str]] = (),
    chunk_size: int = 64 * 1024,
) -> Iterator[bytes]:
    """Yield an XLSX workbook's bytes: built in a temporary file (a zip is written at the end)."""
    fd, path = tempfile.mkstemp(prefix="evidence-export-", suffix=".xlsx")
    os.close(fd)
    try:
        write_xlsx_file(records, path, columns=columns, about=about)
        with open(path, "rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk
    finally:
        os.unlink(path)
