"""Forest plots: every study row, the pooled diamond, the prediction interval, words for all."""

from __future__ import annotations

from evidence.output import forest
from evidence.synthesis import Arm, ArmValue, Outcome, Study, head_to_head
from tests.evidence.synthesis.test_synthesis import BCG

NAMES = {"bcg": "BCG vaccine", "control": "no vaccine"}


def bcg_finding():  # type: ignore[no-untyped-def]
    """Return the BCG trials as one head-to-head finding (risk of tuberculosis)."""
    studies = [
        Study(
            key=str(t),
            label=f"Trial {t}",
            pmid=None,
            citation_id=None,
            indication="tb",
            design="randomized parallel",
            randomized=True,
            split_face=False,
            arms=(Arm(0, "bcg"), Arm(1, "control")),
            outcomes=(
                Outcome(
                    "tb",
                    "Tuberculosis",
                    "dichotomous",
                    True,
                    adverse=True,
                    values=(ArmValue(0, events=a, n=a + b), ArmValue(1, events=c, n=c + d)),
                ),
            ),
        )  # fmt: skip
        for t, a, b, c, d in BCG
    ]
    return head_to_head(studies, "bcg", "control", "tb")[0]


def test_forest_plot_shows_rows_pooled_and_heterogeneity() -> None:
    """The SVG carries each trial, the pooled row and the prediction interval; words say it all."""
    finding = bcg_finding()
    data = forest.forest_data(finding, NAMES)
    assert len(data["rows"]) == 13
    svg = forest.render(data, "svg").decode()
    for label in ("Trial 1", "Trial 13", "Pooled (random effects)", "Prediction interval"):
        assert label in svg
    assert "0.49 [0.34, 0.70]" in svg  # exp(-0.7145) and its interval, as metafor prints
    assert "favours BCG vaccine" in svg
    assert forest.render(data, "png").startswith(b"\x89PNG")
    words = forest.alt_text(data, forest.heterogeneity_text(finding))
    assert "Trial 8: 1.01 [0.89, 1.14], weight 10.2%." in words
    assert "tau² = 0.313, I² = 92%, Q = 152.23 (df 12), p < 0.001" in words
    assert forest.render(data, "svg") == forest.render(data, "svg")  # deterministic, cached


def test_one_study_forest_says_no_pooling() -> None:
    """One study draws its own row and no diamond; the caption says there was no pooling."""
    finding = bcg_finding()
    single = head_to_head(
        [
            Study(
                key="1", label="Only", pmid=None, citation_id=None, indication="tb",
                design="randomized split-face", randomized=True, split_face=True,
                participants=30, arms=(Arm(0, "bcg"), Arm(1, "control")),
                outcomes=(Outcome("tb", "TB", "dichotomous", True,
                                  values=(ArmValue(0, percent=6.67), ArmValue(1, percent=30))),),
            )
        ],
        "bcg", "control", "tb",
    )[0]  # fmt: skip
    assert finding.pooled.pooled and not single.pooled.pooled
    data = forest.forest_data(single, NAMES)
    svg = forest.render(data, "svg").decode()
    assert "No pooling (one study)" in svg and "needs 3+ studies" in svg
    assert "One study only" in forest.heterogeneity_text(single)
