"""Links between areas: the reports list offers its own rows as CSV, the account menu its tokens."""

from __future__ import annotations

import csv
import io
import re

from flask import Flask


def test_reports_list_links_to_a_csv_of_the_same_reports(app: Flask) -> None:
    client = app.test_client()
    html = client.get("/reports?treatment=microneedling").data.decode()
    match = re.search(r'href="(/exports/reports\.csv\?[^"]+)"', html)
    assert match, "the reports list offers no CSV download"
    resp = client.get(match.group(1).replace("&amp;", "&"))
    assert resp.status_code == 200
    rows = list(csv.DictReader(io.StringIO(resp.data.decode())))
    assert len(rows) == 3  # the three quoted forum reports, all microneedling
    listed = re.findall(r'id="report-(\d+)"', html)
    assert sorted(listed) == sorted(r["id"] for r in rows)


def test_treatment_page_links_to_its_saved_searches(app: Flask) -> None:
    client = app.test_client()
    html = client.get("/treatments/microneedling").data.decode()
    assert 'href="/searches?treatment=microneedling"' in html
    searches = client.get("/searches?treatment=microneedling").data.decode()
    assert "microneedling[tiab]" in searches.replace("&#34;", '"')
