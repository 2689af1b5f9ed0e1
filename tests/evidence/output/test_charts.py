"""Comparison charts: deterministic SVG/PNG from Figure, cached by their data, labelled."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from flask import Flask
from flask.testing import FlaskClient

import evidence
from evidence.db import session_scope
from evidence.models import OutcomeReport, Treatment
from evidence.output import charts
from evidence.synthesis import compare

PAIR = "t=microneedling&t=fractional-co2-laser"
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def data(app: Flask) -> dict[str, dict[str, object]]:
    """The chart data of microneedling against fractional CO2 on the snapshot."""
    with app.app_context(), session_scope() as session:
        chosen = compare.select_treatments(
            session, slugs=["microneedling", "fractional-co2-laser"], indication=None
        )
        return charts.chart_data(compare.compare(session, treatments=chosen.treatments))


def svg_texts(svg: bytes) -> list[str]:
    """Return the text elements of an SVG (fonttype none keeps text as text)."""
    root = ET.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]


def test_charts_are_valid_deterministic_svg_with_labelled_axes(
    data: dict[str, dict[str, object]],
) -> None:
    expected_labels = {
        "levels": "Citations (included links)",
        "years": "Publication year",
        "improvement": "Improvement rating (quartile scale)",
        "adverse": "Reports with the event (%), 95% Wilson interval",
    }
    for kind in charts.KINDS:
        first = charts.draw(kind, data[kind], "svg")
        again = charts.draw(kind, data[kind], "svg")
        assert first == again, kind  # no dates, fixed hash salt: byte-identical output
        texts = svg_texts(first)
        assert expected_labels[kind] in texts, (kind, texts)
        assert b"<dc:date>" not in first
    levels = svg_texts(charts.render("levels", data["levels"]))
    assert "Microneedling" in levels and "Fractional CO2 laser" in levels
    adverse = svg_texts(charts.render("adverse", data["adverse"]))
    assert "Microneedling (n = 3 - too few reports)" in adverse
    png = charts.render("levels", data["levels"], "png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_chart_cache_follows_the_data(
    app: Flask, data: dict[str, dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    draws = count_draws(monkeypatch)
    with app.app_context():
        first = charts.render("improvement", data["improvement"])
        assert charts.render("improvement", data["improvement"]) == first
        assert len(draws) == 1  # the second came from the cache
        changed = {
            "treatments": [
                {"name": "Microneedling", "counts": [1, 0, 0, 0, 2], "n": 3},
                {"name": "Fractional CO2 laser", "counts": [0, 0, 0, 0, 0], "n": 0},
            ]
        }
        redrawn = charts.render("improvement", changed)
    assert redrawn != first and len(draws) == 2


def count_draws(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every figure matplotlib saves (each chart drawn), passing the call through."""
    from matplotlib.figure import Figure

    saved: list[str] = []
    original = Figure.savefig

    def savefig(self: Figure, *args: object, **kwargs: object) -> None:
        saved.append(str(kwargs.get("format")))
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


def test_charts_never_import_pyplot() -> None:
    code = (
        "import sys\n"
        "from evidence.output import charts\n"
        "data = {'treatments': [{'name': 'A', 'years': [[2020, 2], [2021, 1]]}]}\n"
        "assert charts.render('years', data).startswith(b'<?xml')\n"
        "import matplotlib\n"
        "assert matplotlib.get_backend().lower() == 'agg', matplotlib.get_backend()\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_alt_text_describes_the_data(data: dict[str, dict[str, object]]) -> None:
    levels = charts.alt_text("levels", data["levels"])
    assert "Microneedling: 3 at level 1, 5 at level 2" in levels
    assert "Fractional CO2 laser: 3 at level 1, 5 at level 2" in levels
    assert (
        "Microneedling: 3 at level 1, 5 at level 2, 2 at level 3, 0 at level 4, 4 at level 5, "
        "14 not rated; 0 retracted or flagged." in levels
    )
    improvement = charts.alt_text("improvement", data["improvement"])
    assert "Microneedling: 2 reports (too few reports): 1 rated 0, 1 rated 4." in improvement
    assert "Fractional CO2 laser: no report states an improvement." in improvement
    adverse = charts.alt_text("adverse", data["adverse"])
    assert "Bruising 1 of 3" in adverse and "Fractional CO2 laser: no outcome reports." in adverse


def test_empty_selection_charts_say_so() -> None:
    empty = {
        "events": ["pih"],
        "treatments": [{"name": "A", "n": 0, "events": [["pih", 0, 0, None, None]]}],
    }
    assert "No outcome reports for these treatments" in svg_texts(charts.render("adverse", empty))
    years = {"treatments": [{"name": "A", "years": []}]}
    assert "No dated citations linked to these treatments" in svg_texts(
        charts.render("years", years)
    )


def test_page_inlines_labelled_svg_with_unique_ids(client: FlaskClient) -> None:
    html = client.get(f"/compare?{PAIR}").get_data(as_text=True)
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    svgs = re.findall(r'<svg role="img" aria-labelledby="(chart-\w+)-title \1-desc"', html)
    assert svgs == ["chart-levels", "chart-years", "chart-improvement", "chart-adverse"]
    assert '<title id="chart-levels-title">Citations by evidence level</title>' in html
    assert '<desc id="chart-levels-desc">Stacked bars of citations by evidence level.' in html
    ids = Counter(re.findall(r'\bid="([^"]+)"', html))
    assert [i for i, n in ids.items() if n > 1] == []


def test_chart_downloads(client: FlaskClient) -> None:
    response = client.get(f"/compare/chart/levels.png?{PAIR}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert (
        'filename="chart-levels-microneedling-vs-fractional-co2-laser.png"'
        in response.headers["Content-Disposition"]
    )
    assert response.get_data().startswith(b"\x89PNG")
    etag = response.headers["ETag"]
    again = client.get(f"/compare/chart/levels.png?{PAIR}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    svg = client.get(f"/compare/chart/adverse.svg?{PAIR}")
    assert svg.mimetype == "image/svg+xml" and svg.get_data().startswith(b"<?xml")
    assert client.get(f"/compare/chart/pie.png?{PAIR}").status_code == 404
    assert client.get(f"/compare/chart/levels.gif?{PAIR}").status_code == 404
    assert client.get("/compare/chart/levels.png").status_code == 404


def test_page_chart_is_redrawn_when_reports_change(app: Flask) -> None:
    client = app.test_client()
    before = client.get(f"/compare?{PAIR}").get_data(as_text=True)
    assert "Fractional CO2 laser: no report states an improvement." in before
    with app.app_context(), session_scope() as session:
        from sqlmodel import select

        laser = session.exec(
            select(Treatment).where(Treatment.slug == "fractional-co2-laser")
        ).one()
        assert laser.id is not None
        session.add(OutcomeReport(treatment_id=laser.id, improvement=2))
    after = client.get(f"/compare?{PAIR}").get_data(as_text=True)
    assert "Fractional CO2 laser: 1 reports (too few reports): 1 rated 2." in after


def test_axes_keep_their_tick_labels() -> None:
    """Every axis shows its tick values (drawn without matplotlib's per-tick artists)."""
    years = svg_texts(
        charts.render("years", {"treatments": [{"name": "A", "years": [[2000, 2], [2010, 5]]}]})
    )
    assert [t for t in years if t.isdigit()] == [
        "2000", "2002", "2004", "2006", "2008", "2010", "0", "1", "2", "3", "4", "5"
    ]  # fmt: skip
    assert "Publication year" in years and "Citations" in years
    improvement = svg_texts(
        charts.render(
            "improvement", {"treatments": [{"name": "A", "counts": [1, 0, 3, 0, 12], "n": 16}]}
        )
    )
    ratings = ["none", "up to 25%", "26-50%", "51-75%", "over 75%"]
    assert [t for t in improvement if t in ratings] == ratings
    assert [t for t in improvement if t.isdigit()] == ["0", "2", "4", "6", "8", "10", "12"]
    adverse = svg_texts(
        charts.render(
            "adverse",
            {
                "events": ["pih"],
                "treatments": [{"name": "A", "n": 20, "events": [["pih", 4, 20, 0.08, 0.42]]}],
            },
        )
    )
    assert [t for t in adverse if t.isdigit()] == ["0", "20", "40", "60", "80", "100"]
    assert "PIH" in adverse


def test_empty_improvement_chart_draws_no_line_through_its_message() -> None:
    """No report states an improvement: the note alone, no zero-height bars drawn as a line."""
    empty = {"treatments": [{"name": "A", "counts": [0, 0, 0, 0, 0], "n": 0}]}
    fig = charts.figure("improvement", empty)
    (ax,) = fig.axes
    assert len(ax.patches) == 0 and len(ax.lines) == 0
    assert [t.get_text() for t in ax.texts] == [
        "No outcome report states an improvement for these treatments"
    ]
    assert "No outcome report states an improvement for these treatments" in svg_texts(
        charts.render("improvement", empty)
    )


def test_chart_level_colours_are_the_tiles_colours() -> None:
    """One palette: the level tiles (style.css --l1 ... --lu) and the chart bars agree."""
    from pathlib import Path

    from evidence.literature.levels import LEVEL_COLOURS

    css = (Path(evidence.__file__).parent / "static" / "style.css").read_text()
    tiles = dict(re.findall(r"--l([1-5u]):\s*(#[0-9a-fA-F]{6})", css))
    for key, colour in LEVEL_COLOURS.items():
        assert tiles["u" if key == "unrated" else key].lower() == colour.lower(), key
        assert charts.LEVEL_STYLE[key][1].lower() == colour.lower(), key


def test_legends_are_set_at_ten_points() -> None:
    """Legend text is 10 pt or more on every chart (about 7 px on screen before)."""
    data = {
        "treatments": [{"name": "A", "counts": [1, 0, 2, 0, 1], "n": 4}],
    }
    fig = charts.figure("improvement", data)
    sizes = [t.get_fontsize() for legend in fig.legends for t in legend.get_texts()]
    assert sizes and min(sizes) >= 10
