"""Download names built from query values: never a 500, never a header split, names kept."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.http import parse_options_header

HOSTILE = ["a\r\nSet-Cookie: x=1", "微针", 'a"b\\c/d;e', "é\x00x"]


@pytest.mark.parametrize("value", HOSTILE)
def test_citation_export_names_are_safe_for_any_treatment_value(client: Any, value: str) -> None:
    """Whatever the treatment value, the response is a download with one clean header."""
    response = client.get("/exports/citations", query_string={"format": "csv", "treatment": value})
    assert response.status_code in (200, 400, 404)
    if response.status_code == 200:
        header = response.headers["Content-Disposition"]
        assert "\r" not in header and "\n" not in header and "\x00" not in header
        kind, options = parse_options_header(header)
        assert kind == "attachment"
        assert options["filename"].startswith("citations-")
        assert "Set-Cookie" not in response.headers


def test_a_non_latin_name_is_kept_in_filename_star() -> None:
    """A non-ASCII value gets an ASCII fallback and the UTF-8 name in filename*."""
    from flask import Response

    from evidence.output.downloads import attach

    response = attach(Response(b""), "citations-微针-2026-12-02.csv")
    kind, options = parse_options_header(response.headers["Content-Disposition"])
    # Werkzeug's parser, like browsers, prefers the UTF-8 filename* over the fallback.
    assert options["filename"] == "citations-微针-2026-12-02.csv"
    assert 'filename="citations--2026-12-02.csv"' in response.headers["Content-Disposition"]
    assert (
        "UTF-8''citations-%E5%BE%AE%E9%92%88-2026-12-02.csv"
        in response.headers["Content-Disposition"]
    )
