"""Evidence levels derived from publication types, by a rule table shown in the UI."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

GUIDELINE_LABEL = "Guideline or consensus statement"
GUIDELINE_TYPES = (
    "Practice Guideline",
    "Guideline",
    "Consensus Development Conference",
    "Consensus Development Conference, NIH",
)
# Only a narrative "Review" type gives way to a systematic-review title (PubMed often types a
# systematic review and meta-analysis as "Review" alone until indexing catches up).
WEAK_TYPES = ("Review",)

# (level, label, publication types) -- the table from the design, shown on /about/levels.
LEVEL_TABLE: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "Systematic review / meta-analysis", ("Meta-Analysis", "Systematic Review")),
    (
        2,
        "Randomized controlled trial",
        ("Randomized Controlled Trial", "Equivalence Trial", "Pragmatic Clinical Trial"),
    ),
    (
        3,
        "Controlled or comparative study",
        ("Controlled Clinical Trial", "Comparative Study", "Observational Study"),
    ),
    (
        4,
        "Clinical study / case series",
        (
            "Clinical Study",
            "Clinical Trial",
            "Clinical Trial, Phase I",
            "Clinical Trial, Phase II",
            "Clinical Trial, Phase III",
            "Clinical Trial, Phase IV",
            "Case Series",
            "Multicenter Study",
            "Evaluation Study",
            "Validation Study",
        ),
    ),
    # Guidelines and consensus statements are expert recommendations, not a study design: they
    # rank with level 5 (below any primary study) but carry their own label, listed before
    # case reports so a guideline also typed "Review" is named for what it is.
    (
        5,
        GUIDELINE_LABEL,
        GUIDELINE_TYPES,
    ),
    (
        5,
        "Case report, narrative review or opinion",
        ("Case Reports", "Review", "Editorial", "Comment", "Letter"),
    ),
)
# One palette for level tiles (style.css --l1 ... --lu) and chart bars; white text on each meets
# WCAG AA contrast. tests/evidence/output/test_charts.py checks style.css uses the same values.
LEVEL_COLOURS = {
    "1": "#004f7a",
    "2": "#0072b2",
    "3": "#1f6e57",
    "4": "#9a4f00",
    "5": "#7a5c9e",
    "unrated": "#5c6670",
}
FLAG_TYPES = ("Retracted Publication", "Retraction of Publication", "Expression of Concern")
# One label per numeric level (the last row of a level: guidelines keep their own, by rule).
LEVEL_LABELS = {level: label for level, label, _types in LEVEL_TABLE}

# Title signals used only when the record has no publication type that maps to a level.
# Ordered strongest first; each is a clear statement of design, not a guess from the topic.
TITLE_SIGNALS: tuple[tuple[int, str, re.Pattern[str]], ...] = (
    (1, "meta-analysis", re.compile(r"\bmeta-?analys[ie]s\b", re.IGNORECASE)),
    (1, "systematic review", re.compile(r"\bsystematic\s+review\b", re.IGNORECASE)),
    (2, "randomized", re.compile(r"\brandomi[sz]ed\b", re.IGNORECASE)),
    (
        3,
        "comparison",
        re.compile(r"\b(comparative|comparison|compared|versus|vs\.?)\s", re.IGNORECASE),
    ),
    (
        4,
        "case series",
        re.compile(r"\b(case series|report of \w+ cases|\d+ cases)\b", re.IGNORECASE),
    ),
    (5, "case report", re.compile(r"\bcase report\b", re.IGNORECASE)),
    (5, "review", re.compile(r"\breview\b", re.IGNORECASE)),
)


@dataclass(frozen=True)
class Grade:
    """An evidence level (None: not rated) with the rule that produced it."""

    level: int | None
    rule: str
    flagged: bool = False


def grade(publication_types: Iterable[str], title: str = "") -> Grade:
    """Derive the evidence level from publication types, falling back to title signals."""
    types = [t.strip() for t in publication_types if t and t.strip()]
    flags = [t for t in types if t in FLAG_TYPES]
    flagged = bool(flags)
    flag_note = f"; flagged: {', '.join(flags)}" if flags else ""
    for level, label, table_types in LEVEL_TABLE:
        matched = [t for t in types if t in table_types]
        if matched:
            if all(t in WEAK_TYPES for t in matched):
                upgrade = _strong_title_signal(title)
                if upgrade is not None and upgrade[0] < level:
                    return Grade(
                        upgrade[0],
                        f"publication type {matched[0]!r} only, title says {upgrade[1]!r}"
                        f" -> level {upgrade[0]}{flag_note}",
                        flagged,
                    )
            named = f" ({label.lower()})" if label == GUIDELINE_LABEL else ""
            return Grade(
                level,
                f"publication type {matched[0]!r} -> level {level}{named}{flag_note}",
                flagged,
            )
    for level, name, pattern in TITLE_SIGNALS:
        if pattern.search(title or ""):
            why = "no publication type that maps to a level" if types else "no publication type"
            return Grade(
                level,
                f"title says {name!r} ({why} recorded) -> level {level}{flag_note}",
                flagged,
            )
    if types:
        shown = ", ".join(repr(t) for t in types)
        return Grade(
            None, f"not rated: publication types {shown} map to no level{flag_note}", flagged
        )
    return Grade(
        None, "not rated: no publication type recorded and no design named in the title", flagged
    )


def _strong_title_signal(title: str) -> tuple[int, str] | None:
    """Return the level-1 title signal (systematic review, meta-analysis) the title states."""
    for level, name, pattern in TITLE_SIGNALS:
        if level == 1 and pattern.search(title or ""):
            return level, name
    return None


def grade_label(level: int | None, rule: str = "") -> str:
    """Return the label of a graded citation: guidelines keep theirs though ranked level 5."""
    if level is None:
        return "Not rated"
    if GUIDELINE_LABEL.lower() in (rule or "").lower():
        return f"Level {level}: {GUIDELINE_LABEL}"
    return f"Level {level}: {LEVEL_LABELS.get(level, '')}"
