"""Evidence levels follow the design's rule table and always say why."""

from evidence.levels import grade


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
