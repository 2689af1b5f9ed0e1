"""Evidence levels follow the design's rule table and always say why."""

from evidence.literature.levels import grade


def test_publication_type_decides_over_title() -> None:
    g = grade(["Journal Article", "Randomized Controlled Trial"], "A review of anything")
    assert g.level == 2
    assert "'Randomized Controlled Trial'" in g.rule


def test_best_level_wins_when_several_types_map() -> None:
    g = grade(["Review", "Systematic Review", "Meta-Analysis"])
    assert g.level == 1


def test_split_face_randomized_trial_is_level_2_from_title_when_types_missing() -> None:
    g = grade([], "A randomized split-face trial of fractional CO2 laser")
    assert g.level == 2
    assert "title says 'randomized'" in g.rule
    assert "no publication type recorded" in g.rule


def test_types_that_map_nowhere_fall_back_to_title_and_say_so() -> None:
    g = grade(["Research Support, Non-U.S. Gov't"], "Microneedling versus laser for striae")
    assert g.level == 3
    assert "no publication type that maps to a level" in g.rule


def test_nothing_to_go_on_is_not_rated_rather_than_guessed() -> None:
    g = grade([], "Microneedling therapy in atrophic facial scars: an objective assessment")
    assert g.level is None
    assert g.rule.startswith("not rated")


def test_retraction_types_flag_without_hiding_the_design() -> None:
    g = grade(["Randomized Controlled Trial", "Retracted Publication"])
    assert g.level == 2
    assert g.flagged
    assert "Retracted Publication" in g.rule


def test_case_report_and_letter_are_level_5() -> None:
    assert grade(["Case Reports"]).level == 5
    assert grade(["Letter"]).level == 5


def test_guidelines_and_consensus_statements_have_their_own_label() -> None:
    """A guideline is not a case report: it keeps level 5's rank but names itself."""
    from evidence.literature.levels import LEVEL_LABELS, grade_label

    for kind in ("Practice Guideline", "Guideline", "Consensus Development Conference"):
        g = grade(["Journal Article", kind, "Review"], "Consensus on fractional laser use")
        assert g.level == 5
        assert "guideline or consensus statement" in g.rule
        assert grade_label(g.level, g.rule) == "Level 5: Guideline or consensus statement"
    case = grade(["Case Reports"])
    assert grade_label(case.level, case.rule) == f"Level 5: {LEVEL_LABELS[5]}"
    assert "Guideline" not in LEVEL_LABELS[5]


def test_review_typed_systematic_review_is_graded_by_its_title() -> None:
    """PubMed types a new systematic review as "Review" alone; the title says what it is."""
    g = grade(
        ["Journal Article", "Review"],
        "Microneedling for acne scars: a systematic review and meta-analysis",
    )
    assert g.level == 1
    assert "publication type 'Review' only" in g.rule
    assert "title says 'meta-analysis'" in g.rule
    # A narrative review stays a narrative review.
    assert grade(["Review"], "Microneedling: an update").level == 5


def test_rule_table_page_lists_guidelines_apart(client) -> None:  # type: ignore[no-untyped-def]
    """/about/evidence-levels shows the guideline row and the review title rule."""
    html = client.get("/about/evidence-levels").get_data(as_text=True)
    assert "<td>Guideline or consensus statement</td>" in html
    assert "Practice Guideline" in html
    assert "typed only &ldquo;Review&rdquo;" in html
