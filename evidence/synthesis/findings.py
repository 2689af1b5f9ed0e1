"""What the studies found, for the compare page and the API: blocks, summary of findings, practice.

Plain functions on the synthesis dataclasses (evidence.synthesis) and the practice statistics
(evidence.practice.outcomes via evidence.synthesis.compare.Practice). For each pair of compared
treatments, the head-to-head findings; for each treatment, its own pooled rates and changes
(indirect). A summary-of-findings table in GRADEpro's layout per block; the published meta-analyses
of the same comparison beside ours; and the literature's PIH rate in skin types IV-VI set against
practice's, in words. The database loader lives in evidence/synthesis/findings_db.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from evidence.output.forest import EFFECT_NAMES, heterogeneity_text
from evidence.practice.outcomes import SMALL_N, Proportion
from evidence.synthesis import Finding, Study, head_to_head, single_arm
from evidence.synthesis.compare import Practice

PIH_MEASURES = ("pih", "post-inflammatory-hyperpigmentation")
SOF_HEADER = (
    "Comparison",
    "Outcome",
    "Studies / participants",
    "Relative effect (95% CI)",
    "Absolute effect (95% CI)",
    "Certainty (GRADE)",
    "Comment",
)


@dataclass(frozen=True)
class Published:
    """A published meta-analysis's pooled result, as stated by its authors."""

    pmid: str
    title: str
    year: int | None
    comparison: str
    treatments: tuple[str, ...]
    indication: str | None
    measure: str
    effect_type: str | None
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    i2: float | None
    n_studies: int | None
    favours: str | None
    p_value: str | None


@dataclass(frozen=True)
class Block:
    """One comparison's findings: a head-to-head pair, or one treatment's own studies."""

    treatments: tuple[str, ...]
    head_to_head: bool
    findings: tuple[Finding, ...]
    published: tuple[Published, ...] = ()
    not_estimable: tuple[str, ...] = ()  # outcomes extracted with no number to show

    @property
    def key(self) -> str:
        """Return the block's identifier in URLs and anchors."""
        return "-vs-".join(self.treatments)


@dataclass(frozen=True)
class PracticeLine:
    """A sentence setting the literature against practice; kind says what it found."""

    kind: str  # "disagree" | "agree" | "too-few" | "no-literature" | "scales-differ"
    text: str
    treatment: str


@dataclass
class StudyFindings:
    """Everything the "What the studies found" block shows."""

    indication: str | None
    names: dict[str, str]
    pairs: list[Block] = field(default_factory=list)
    indirect: list[Block] = field(default_factory=list)
    practice: list[PracticeLine] = field(default_factory=list)
    # Published results for compared pairs no extracted head-to-head study covers.
    published_pairs: dict[tuple[str, str], tuple[Published, ...]] = field(default_factory=dict)
    studies: int = 0
    unverified: int = 0
    retracted: int = 0

    @property
    def empty_pairs(self) -> list[tuple[str, str]]:
        """Return the compared pairs no head-to-head study covers."""
        covered = {b.treatments for b in self.pairs}
        return [pair for pair in itertools.combinations(self.names, 2) if pair not in covered]


def is_pih(finding: Finding) -> bool:
    """Return whether a finding is about post-inflammatory hyperpigmentation."""
    return finding.measure in PIH_MEASURES or "hyperpigmentation" in finding.label.lower()


def matching_published(
    published: Sequence[Published], treatments: Sequence[str], indication: str | None
) -> tuple[Published, ...]:
    """Return the published results about exactly these treatments (and the indication)."""
    wanted = set(treatments)
    return tuple(
        p
        for p in published
        if set(p.treatments) == wanted
        and (indication is None or p.indication in (None, indication))
    )


def study_findings(
    studies: Sequence[Study],
    *,
    slugs: Sequence[str],
    names: dict[str, str],
    indication: str | None,
    published: Sequence[Published] = (),
    practice: Sequence[Practice] = (),
) -> StudyFindings:
    """Build the block for a selection: pairs head to head, each treatment indirect, practice."""
    relevant = [s for s in studies if indication is None or s.indication == indication]
    out = StudyFindings(
        indication=indication,
        names={slug: names.get(slug, slug) for slug in slugs},
        studies=sum(1 for s in relevant if not s.retracted),
        unverified=sum(1 for s in relevant if not s.retracted and not s.verified),
        retracted=sum(1 for s in relevant if s.retracted),
    )
    for first, second in itertools.combinations(slugs, 2):
        found = head_to_head(relevant, first, second, indication)
        if not found:
            stated = matching_published(published, (first, second), indication)
            if stated:
                out.published_pairs[(first, second)] = stated
        if found:
            shown, missing = _split(found)
            out.pairs.append(
                Block(
                    (first, second),
                    True,
                    shown,
                    matching_published(published, (first, second), indication),
                    missing,
                )
            )
    for slug in slugs:
        own = single_arm(relevant, slug, indication)
        if own:
            shown, missing = _split(own)
            out.indirect.append(
                Block(
                    (slug,),
                    False,
                    shown,
                    matching_published(published, (slug,), indication),
                    missing,
                )
            )
    by_slug = {p.treatment: p for p in practice}
    for slug in slugs:
        if slug in by_slug:
            out.practice.extend(
                literature_against_practice(
                    out.names[slug], slug, _indirect_pih(out, slug), by_slug[slug]
                )
            )
    return out


def has_number(f: Finding) -> bool:
    """Return whether a finding has a number to show: an estimate, or one study's difference."""
    return f.estimate is not None or any(r.yi is not None for r in f.pooled.rows)


def _split(found: Sequence[Finding]) -> tuple[tuple[Finding, ...], tuple[str, ...]]:
    """Split findings into those with a number (estimates first) and the names of the rest.

    An outcome extracted with no count, mean or n says nothing on the page but its name.
    """
    shown = sorted(
        (f for f in found if has_number(f)),
        key=lambda f: (f.estimate is None, f.adverse, f.label.lower(), f.group),
    )
    missing = tuple(dict.fromkeys(f.label for f in found if not has_number(f)))
    return tuple(shown), missing


def _indirect_pih(findings: StudyFindings, slug: str) -> Finding | None:
    """Return the literature's pooled PIH rate for one treatment in skin types IV-VI."""
    for block in findings.indirect:
        if block.treatments == (slug,):
            for f in block.findings:
                if is_pih(f) and f.group == "IV-VI":
                    return f
    return None


def _pct(x: float | None) -> str:
    """Format a rate as a percentage with one decimal."""
    return "n/a" if x is None else f"{100 * x:.1f}%"


def literature_against_practice(
    name: str, slug: str, literature: Finding | None, practice: Practice
) -> list[PracticeLine]:
    """Set the literature's PIH rate in skin types IV-VI beside practice's and say what it shows."""
    reports: Proportion | None = None
    group = practice.by_skin.get("IV-VI")
    if group is not None:
        reports = group.adverse.get("pih")
    lines: list[PracticeLine] = []
    if literature is None or literature.estimate is None:
        lines.append(
            PracticeLine(
                "no-literature",
                f"{name}: no extracted study reports a PIH rate for skin types IV-VI only, so "
                "practice reports for those types have nothing like-for-like to sit beside.",
                slug,
            )
        )
    elif reports is None or reports.n < SMALL_N:
        n = 0 if reports is None else reports.n
        lines.append(
            PracticeLine(
                "too-few",
                f"{name}: the studies put PIH in skin types IV-VI at {_pct(literature.estimate)} "
                f"(95% CI {_pct(literature.ci_low)} to {_pct(literature.ci_high)}, "
                f"{literature.participants} participants); practice has "
                + (f"only {n} report{'s' if n != 1 else ''}" if n else "no reports")
                + f" for those types (fewer than {SMALL_N}): too few to say whether practice "
                "agrees.",
                slug,
            )
        )
    else:
        assert reports.low is not None and reports.high is not None
        assert literature.ci_low is not None and literature.ci_high is not None
        lit = (
            f"the studies' {_pct(literature.estimate)} (95% CI {_pct(literature.ci_low)} to "
            f"{_pct(literature.ci_high)})"
        )
        prac = (
            f"practice's {_pct(reports.rate)} ({reports.k} of {reports.n} reports; 95% CI "
            f"{_pct(reports.low)} to {_pct(reports.high)})"
        )
        if reports.low > literature.ci_high or reports.high < literature.ci_low:
            side = "higher" if reports.low > literature.ci_high else "lower"
            lines.append(
                PracticeLine(
                    "disagree",
                    f"{name}, PIH in skin types IV-VI: {prac} is {side} than {lit}; the intervals "
                    "do not overlap.",
                    slug,
                )
            )
        else:
            lines.append(
                PracticeLine(
                    "agree",
                    f"{name}, PIH in skin types IV-VI: {prac} and {lit} overlap: no disagreement "
                    "shown.",
                    slug,
                )
            )
    lines.append(
        PracticeLine(
            "scales-differ",
            f"{name}: practice rates improvement on the 0-4 quartile scale and the studies on "
            "their own scales (Goodman-Baron grades, ECCA, percent improvement): the scales "
            "differ, so improvement is not set side by side.",
            slug,
        )
    )
    return lines


# --- summary of findings ------------------------------------------------------------------


def _num(x: float | None, effect: str) -> str:
    """Format a number on an effect's natural scale."""
    if x is None:
        return "–"
    return f"{100 * x:.1f}%" if effect == "proportion" else f"{x:.2f}"


def relative_effect(f: Finding) -> str:
    """Return a finding's relative effect in words, e.g. "RR 0.22 (0.05 to 0.96)"."""
    if f.effect_type != "RR":
        return "–"
    if f.estimate is None:
        return "not estimable"
    return f"RR {f.estimate:.2f} ({f.ci_low:.2f} to {f.ci_high:.2f})"


def absolute_effect(f: Finding, names: dict[str, str]) -> str:
    """Return a finding's absolute effect: per 1000 for ratios, the difference or the rate."""
    if f.estimate is None:
        return effect_text(f)
    if f.effect_type == "RR" and f.control_risk is not None:
        assert f.ci_low is not None and f.ci_high is not None
        base = 1000 * f.control_risk
        first, second = (names.get(t, t) for t in f.treatments)

        def diff(rr: float) -> str:
            """Return the change per 1000 implied by a ratio."""
            d = base * (rr - 1)
            return f"{abs(d):.0f} {'more' if d > 0 else 'fewer'}"

        return (
            f"{base:.0f} per 1000 with {second}; {base * f.estimate:.0f} per 1000 with {first}: "
            f"{diff(f.estimate)} per 1000 (from {diff(f.ci_low)} to {diff(f.ci_high)})"
        )
    if f.effect_type == "MD":
        return f"MD {f.estimate:+.2f} ({_num(f.ci_low, 'MD')} to {_num(f.ci_high, 'MD')})"
    if f.effect_type == "proportion":
        return (
            f"{_num(f.estimate, 'proportion')} ({_num(f.ci_low, 'proportion')} to "
            f"{_num(f.ci_high, 'proportion')})"
        )
    return f"{f.estimate:+.2f} ({_num(f.ci_low, 'x')} to {_num(f.ci_high, 'x')})"


def comment(f: Finding) -> str:
    """Return the summary-of-findings comment: pooling, unverified studies, what was derived."""
    parts = [heterogeneity_text(f)]
    if not f.head_to_head:
        parts.append("Indirect: each treatment's own studies, not a head-to-head comparison.")
    if f.group != "all":
        parts.append(f"Fitzpatrick {f.group} only.")
    if f.unverified:
        parts.append(f"{f.unverified} of {len(f.studies)} studies not yet verified by a curator.")
    if f.estimate is not None and f.ci_low is None:
        parts.append("No interval.")
    return " ".join(parts)


def outcome_label(f: Finding) -> str:
    """Return the outcome as the summary of findings names it."""
    group = f" (Fitzpatrick {f.group})" if f.group != "all" else ""
    return f"{f.label}{group}: {EFFECT_NAMES.get(f.effect_type, f.effect_type).lower()}"


def sof_rows(block: Block, names: dict[str, str]) -> list[list[str]]:
    """Return a block's summary-of-findings rows in GRADEpro's column order."""
    title = " vs ".join(names.get(t, t) for t in block.treatments)
    if not block.head_to_head:
        title += " (indirect)"
    return [
        [
            title,
            outcome_label(f),
            f"{len(f.studies)} / {f.participants}",
            relative_effect(f),
            absolute_effect(f, names),
            f"{f.certainty.symbols} {f.certainty.level}",
            comment(f),
        ]
        for f in block.findings
    ]


def sof_csv_rows(findings: StudyFindings) -> list[list[str]]:
    """Return every block's summary of findings as CSV rows under one header."""
    rows = [list(SOF_HEADER)]
    for block in findings.pairs + findings.indirect:
        rows.extend(sof_rows(block, findings.names))
    return rows


def find(findings: StudyFindings, treatments: Sequence[str], slug: str) -> Finding | None:
    """Return the finding of one block (by its treatments) and outcome slug."""
    for block in findings.pairs + findings.indirect:
        if list(block.treatments) == list(treatments):
            for f in block.findings:
                if f.slug == slug:
                    return f
    return None


def effect_text(f: Finding) -> str:
    """Return a finding's pooled effect and interval in words, or why there is none."""
    if f.estimate is None:
        unpooled = next((r for r in f.pooled.rows if r.yi is not None), None)
        if unpooled is not None and unpooled.yi is not None:
            name = "MD" if f.effect_type == "MD" else "change"
            return f"{name} {unpooled.yi:+.2f}, no interval ({unpooled.excluded})"
        return "not estimable"
    name = {"RR": "RR", "MD": "MD", "proportion": "", "mean change": "change"}[f.effect_type]
    if f.effect_type == "RR":
        body = f"{f.estimate:.2f} ({f.ci_low:.2f} to {f.ci_high:.2f})"
    elif f.effect_type == "proportion":
        body = f"{_pct(f.estimate)} ({_pct(f.ci_low)} to {_pct(f.ci_high)})"
    else:
        body = f"{f.estimate:+.2f} ({f.ci_low:+.2f} to {f.ci_high:+.2f})"
    return f"{name} {body}".strip()


def direction_text(f: Finding, names: dict[str, str]) -> str:
    """Say which treatment the pooled interval favours, or that it includes no effect."""
    if f.estimate is None or f.ci_low is None or f.ci_high is None or f.null_value is None:
        return ""
    if len(f.treatments) != 2:
        return ""
    first, second = (names.get(t, t) for t in f.treatments)
    if f.ci_low <= f.null_value <= f.ci_high:
        return "the interval includes no difference"
    below = f.ci_high < f.null_value
    return f"favours {first if below == f.lower_is_better else second}"


def risk_difference_text(f: Finding) -> str:
    """Return the pooled risk difference of a ratio finding in words, or nothing."""
    rd = f.risk_difference
    if rd is None or rd.estimate is None or rd.ci_low is None or rd.ci_high is None:
        return ""
    return f"RD {rd.estimate:+.2f} ({rd.ci_low:+.2f} to {rd.ci_high:+.2f})"
