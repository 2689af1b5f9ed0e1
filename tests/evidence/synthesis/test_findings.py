"""Study findings for a selection: blocks, summary of findings, literature against practice."""

from __future__ import annotations

import pytest

from evidence.practice.outcomes import ReportData, skin_type_groups, summarize
from evidence.synthesis import Arm, ArmValue, Outcome, Study, findings
from evidence.synthesis.compare import Practice
from evidence.synthesis.model import DICHOTOMOUS

NAMES = {"microneedling": "Microneedling", "fractional-co2-laser": "Fractional CO2"}


def pih(events: int, n: int) -> Outcome:
    """Return a single-arm PIH outcome."""
    return Outcome(
        "pih", "PIH", DICHOTOMOUS, True, adverse=True, values=(ArmValue(0, events=events, n=n),)
    )


def own(key: str, treatment: str, events: int, n: int, types: str | None) -> Study:
    """Return a single-arm study of one treatment reporting PIH."""
    return Study(
        key=key, label=f"Study {key}", pmid=key, citation_id=None, indication="acne-scars",
        design="single-arm prospective", randomized=False, split_face=False, fitzpatrick=types,
        arms=(Arm(0, treatment, n=n),), outcomes=(pih(events, n),), verified=key != "3",
    )  # fmt: skip


SPLIT = Study(
    key="9", label="Split 2024", pmid="9", citation_id=None, indication="acne-scars",
    design="randomized split-face", randomized=True, split_face=True, participants=30,
    arms=(Arm(0, "microneedling"), Arm(1, "fractional-co2-laser")), verified=True,
    outcomes=(
        Outcome("pih", "PIH", DICHOTOMOUS, True, adverse=True,
                values=(ArmValue(0, events=2, n=30), ArmValue(1, events=9, n=30))),
    ),
)  # fmt: skip


def practice(treatment: str, fitzpatricks: list[int], with_pih: int) -> Practice:
    """Return practice statistics for reports of the given skin types, some with PIH."""
    reports = [
        ReportData(
            id=i,
            treatment=treatment,
            indication="acne-scars",
            fitzpatrick=f,
            improvement=2,
            satisfaction=None,
            sessions=3,
            downtime_days=None,
            cost_per_session=None,
            cost_per_course=None,
            currency=None,
            adverse_events=("pih",) if i < with_pih else (),
        )  # fmt: skip
        for i, f in enumerate(fitzpatricks)
    ]
    return Practice(treatment, summarize(reports), skin_type_groups(reports), (0, 0, 0, 0, 0))


def test_pairs_indirect_and_summary_of_findings() -> None:
    """A head-to-head pair, each treatment's own rates, and GRADEpro rows with absolute effects."""
    studies = [
        SPLIT,
        own("1", "microneedling", 5, 36, "IV-V"),
        own("2", "fractional-co2-laser", 4, 31, "III-IV"),
        own("3", "fractional-co2-laser", 6, 20, "IV-VI"),
    ]
    result = findings.study_findings(
        studies, slugs=list(NAMES), names=NAMES, indication="acne-scars"
    )
    assert result.studies == 4 and result.unverified == 1
    (pair,) = result.pairs
    (rr,) = pair.findings
    assert findings.effect_text(rr) == "RR 0.22 (0.05 to 0.94)"
    assert findings.direction_text(rr, NAMES) == "favours Microneedling"
    row = findings.sof_rows(pair, NAMES)[0]
    assert row[0] == "Microneedling vs Fractional CO2" and row[2] == "1 / 30"
    # GRADEpro: 9/30 = 300 per 1000 with CO2; x 0.222 = 67 per 1000 with microneedling.
    assert row[4].startswith("300 per 1000 with Fractional CO2; 67 per 1000 with Microneedling")
    assert "233 fewer per 1000" in row[4]
    assert "⊕" in row[5]
    csv_rows = findings.sof_csv_rows(result)
    assert csv_rows[0] == list(findings.SOF_HEADER) and len(csv_rows) > 2
    co2 = next(b for b in result.indirect if b.treatments == ("fractional-co2-laser",))
    groups = {f.group for f in co2.findings}
    assert groups == {"all", "IV-VI"}  # III-IV spans both groups: only in "all"
    assert findings.find(result, ["fractional-co2-laser"], "pih~IV-VI") is not None
    assert result.empty_pairs == []


@pytest.mark.parametrize(
    ("types", "with_pih", "kind", "words"),
    [
        ([5, 6, 4], 1, "too-few", "only 3 reports"),
        ([5] * 20, 1, "agree", "overlap"),
        ([5] * 20, 15, "disagree", "higher than the studies'"),
    ],
)
def test_literature_against_practice_like_with_like(
    types: list[int], with_pih: int, kind: str, words: str
) -> None:
    """Practice's PIH rate in types IV-VI sits beside the studies' rate in the same types."""
    studies = [own("1", "microneedling", 5, 36, "IV-V"), own("4", "microneedling", 3, 40, "IV-VI")]
    result = findings.study_findings(
        studies,
        slugs=["microneedling"],
        names=NAMES,
        indication="acne-scars",
        practice=[practice("microneedling", types, with_pih)],
    )
    line = result.practice[0]
    assert line.kind == kind and words in line.text
    assert result.practice[1].kind == "scales-differ"


def test_no_literature_for_the_group_is_said() -> None:
    """Without a study of skin types IV-VI only, the page says there is nothing like for like."""
    result = findings.study_findings(
        [own("2", "microneedling", 4, 31, "I-VI")],
        slugs=["microneedling"],
        names=NAMES,
        indication="acne-scars",
        practice=[practice("microneedling", [5] * 12, 1)],
    )
    assert result.practice[0].kind == "no-literature"
