"""PRISMA 2020 flow counts for one treatment x indication, and the flow diagram.

Counts come from the stored links (one per record and cell, with how it was found), the
duplicate pairs (records removed as duplicates of a kept one) and the screening decisions.
They add up by construction and `check` says so: identified - duplicates = screened, and
screened - excluded = included + awaiting.

Full-text retrieval is not tracked: this tracker screens titles and abstracts, so "reports
sought" and "reports assessed" are reported as not tracked rather than guessed.
"""

from __future__ import annotations

import csv
import io
import textwrap
from collections import Counter
from dataclasses import dataclass, field

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from sqlmodel import Session, select

from evidence.literature import duplicates, screening
from evidence.models import Decision, DuplicateKind, LinkStatus, SavedSearch, ScreeningDecision

FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
NOT_TRACKED = "not tracked (title/abstract screening only)"


def source_label(found_by: str, searches: dict[int, SavedSearch]) -> str:
    """Name the source a link's found_by records: a saved search, an import file, ..."""
    kind, _, detail = found_by.partition(":")
    if kind == "search" and detail.isdigit():
        search = searches.get(int(detail))
        query = f": {textwrap.shorten(search.query, 60)}" if search else ""
        return f"PubMed saved search #{detail}{query}"
    if kind == "import":
        return f"Import file {detail}" if detail else "Imported file"
    if found_by == "snapshot":
        return "Bundled snapshot (curated)"
    if found_by == "curator":
        return "Linked by a curator"
    return found_by


@dataclass
class Prisma:
    """The PRISMA 2020 counts of one cell."""

    label: str
    identified: dict[str, int] = field(default_factory=dict)  # source label -> records
    duplicates_exact: int = 0  # same PMID, DOI or PMCID, merged on arrival
    duplicates_near: int = 0  # merged by a curator
    screened: int = 0
    excluded: int = 0
    exclusion_reasons: dict[str, int] = field(default_factory=dict)
    included: int = 0
    awaiting: int = 0
    maybe: int = 0  # awaiting records marked maybe (one-reviewer cells only: votes stay blind)
    in_conflict: int = 0  # awaiting a third curator
    screened_in_log: int = 0  # records with at least one live screening decision
    decided_outside_log: int = 0  # included/excluded with no screening decision (curated)
    two_reviewer: bool = False

    @property
    def identified_total(self) -> int:
        """Records identified from every source."""
        return sum(self.identified.values())

    @property
    def duplicates(self) -> int:
        """Duplicates removed before screening."""
        return self.duplicates_exact + self.duplicates_near

    def check(self) -> list[str]:
        """Return the identities that fail (empty when the counts add up)."""
        problems = []
        if self.identified_total - self.duplicates != self.screened:
            problems.append(
                f"identified {self.identified_total} - duplicates {self.duplicates} "
                f"!= screened {self.screened}"
            )
        if self.screened - self.excluded != self.included + self.awaiting:
            problems.append(
                f"screened {self.screened} - excluded {self.excluded} "
                f"!= included {self.included} + awaiting {self.awaiting}"
            )
        if sum(self.exclusion_reasons.values()) != self.excluded:
            problems.append("exclusion reasons do not sum to the records excluded")
        return problems

    def rows(self) -> list[tuple[str, str, int | str]]:
        """Return (stage, item, count) rows: the CSV and the page's table."""
        out: list[tuple[str, str, int | str]] = []
        for source, n in self.identified.items():
            out.append(("Identification", f"Records identified: {source}", n))
        out.append(("Identification", "Records identified, all sources", self.identified_total))
        out.append(
            (
                "Identification",
                "Duplicates removed automatically (same PMID, DOI or PMCID)",
                self.duplicates_exact,
            )
        )
        out.append(
            (
                "Identification",
                "Duplicates removed by a curator (near-duplicates)",
                self.duplicates_near,
            )
        )
        out.append(("Screening", "Records screened (title and abstract)", self.screened))
        out.append(("Screening", "Records excluded", self.excluded))
        for reason, n in self.exclusion_reasons.items():
            out.append(("Screening", f"Excluded: {reason}", n))
        out.append(("Retrieval", "Reports sought for retrieval", NOT_TRACKED))
        out.append(("Retrieval", "Reports assessed for eligibility", NOT_TRACKED))
        out.append(("Included", "Studies included", self.included))
        out.append(("Awaiting", "Records awaiting a screening decision", self.awaiting))
        return out


def counts(session: Session, *, cell: screening.Cell) -> Prisma:
    """Count one cell's PRISMA flow from its links, duplicate pairs and decisions."""
    project = screening.project_for(session, cell)
    links = screening.cell_links(session, cell)
    decisions = screening.decisions_by_link(session, [lk.id for lk in links if lk.id])
    searches = {s.id: s for s in session.exec(select(SavedSearch)) if s.id is not None}
    removed = duplicates.removed_for_cell(
        session, treatment_id=cell.treatment_id, indication_key=cell.indication_key
    )
    identified: Counter[str] = Counter()
    for link in links:
        identified[source_label(link.found_by, searches)] += 1
    for _kind, found_by in removed:
        identified[source_label(found_by, searches)] += 1
    result = Prisma(label=cell.label, two_reviewer=project.two_reviewer)
    result.identified = dict(sorted(identified.items(), key=lambda kv: (-kv[1], kv[0])))
    result.duplicates_exact = sum(1 for kind, _f in removed if kind != DuplicateKind.NEAR)
    result.duplicates_near = sum(1 for kind, _f in removed if kind == DuplicateKind.NEAR)
    result.screened = len(links)
    reasons: Counter[str] = Counter()
    for link in links:
        ds = decisions.get(link.id or 0, [])
        state = screening.derive(ds, two_reviewer=project.two_reviewer)
        if screening.live(ds):
            result.screened_in_log += 1
        elif link.status != LinkStatus.CANDIDATE:
            result.decided_outside_log += 1
        if link.status == LinkStatus.INCLUDED:
            result.included += 1
        elif link.status == LinkStatus.EXCLUDED:
            result.excluded += 1
            reasons[_reason_label(state.deciding, link.exclusion_reason)] += 1
        else:
            result.awaiting += 1
            if state.conflict and state.resolution is None:
                result.in_conflict += 1
            elif not project.two_reviewer and any(
                v.decision == Decision.MAYBE for v in state.votes.values()
            ):
                # With two reviewers a lone vote stays blind, a maybe included.
                result.maybe += 1
    result.exclusion_reasons = dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return result


def _reason_label(deciding: ScreeningDecision | None, link_reason: str | None) -> str:
    """Group exclusions by the listed reason; curated ones outside the log by their text."""
    if deciding is not None and deciding.decision == Decision.EXCLUDE and deciding.reason_code:
        return screening.REASON_LABELS.get(deciding.reason_code, deciding.reason_code)
    return f"Other: {link_reason}" if link_reason else "Other (no reason recorded)"


def to_csv(prisma: Prisma) -> str:
    """Return the counts as CSV (stage, item, count)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["cell", "stage", "item", "count"])
    for stage, item, n in prisma.rows():
        writer.writerow([prisma.label, stage, item, n])
    return buf.getvalue()


# --- the diagram -----------------------------------------------------------------------------


def _box(fig: Figure, x: float, y: float, w: float, h: float, lines: list[str]) -> None:
    """Draw a box (figure coordinates, x/y its lower left) holding wrapped lines of text."""
    fig.patches.append(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0.004,rounding_size=0.01",
            transform=fig.transFigure,
            facecolor="#ffffff",
            edgecolor="#0d2a45",
            linewidth=1.2,
        )
    )
    # Characters per line for 9.5 pt DejaVu Sans across the box on an 8.6 inch wide figure.
    width = max(18, int(w * 8.6 * 72 / (9.5 * 0.58)))
    wrapped = [part for line in lines for part in (textwrap.wrap(line, width) or [""])]
    fig.text(
        x + 0.012,
        y + h - 0.014,
        "\n".join(wrapped),
        va="top",
        ha="left",
        fontsize=9.5,
        linespacing=1.35,
    )


def _arrow(fig: Figure, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Draw an arrow between two points in figure coordinates."""
    fig.add_artist(
        matplotlib.patches.FancyArrowPatch(
            start,
            end,
            transform=fig.transFigure,
            arrowstyle="-|>",
            mutation_scale=10,
            color="#0d2a45",
            linewidth=1.1,
        )
    )


def figure(prisma: Prisma) -> Figure:
    """Draw the PRISMA 2020 flow diagram (identification, screening, included)."""
    reasons = list(prisma.exclusion_reasons.items())
    fig = Figure(figsize=(8.6, 7.4 + 0.16 * max(0, len(reasons) - 3)))
    fig.text(0.02, 0.975, f"PRISMA 2020 flow: {prisma.label}", fontsize=11, weight="bold")
    stages = [("Identification", 0.76, 0.18), ("Screening", 0.32, 0.42), ("Included", 0.03, 0.26)]
    for name, y, h in stages:
        fig.patches.append(
            FancyBboxPatch(
                (0.015, y),
                0.045,
                h,
                boxstyle="round,pad=0.002",
                transform=fig.transFigure,
                facecolor="#d8e6f3",
                edgecolor="none",
            )
        )
        fig.text(0.0375, y + h / 2, name, rotation=90, ha="center", va="center", fontsize=9)
    left, right, w = 0.08, 0.56, 0.42
    sources = [f"{src}: {n}" for src, n in prisma.identified.items()] or ["no records"]
    _box(
        fig,
        left,
        0.77,
        w,
        0.165,
        [f"Records identified (n = {prisma.identified_total})", *sources[:6]],
    )
    _box(
        fig,
        right,
        0.77,
        w,
        0.165,
        [
            "Records removed before screening:",
            f"duplicates (n = {prisma.duplicates})",
            f"- same PMID, DOI or PMCID (n = {prisma.duplicates_exact})",
            f"- near-duplicates merged by a curator (n = {prisma.duplicates_near})",
        ],
    )
    _box(fig, left, 0.63, w, 0.07, [f"Records screened (n = {prisma.screened})"])
    reason_lines = [f"{label}: {n}" for label, n in reasons] or ["none"]
    _box(
        fig,
        right,
        0.5,
        w,
        0.2,
        [f"Records excluded (n = {prisma.excluded})", *reason_lines[:8]],
    )
    _box(fig, left, 0.35, w, 0.09, ["Reports sought for retrieval:", NOT_TRACKED])
    _box(
        fig,
        right,
        0.33,
        w,
        0.11,
        [
            f"Awaiting a decision (n = {prisma.awaiting})",
            f"marked maybe: {prisma.maybe}; disagreements to resolve: {prisma.in_conflict}",
        ],
    )
    _box(fig, left, 0.1, w, 0.12, [f"Studies included (n = {prisma.included})"])
    _arrow(fig, (left + w / 2, 0.77), (left + w / 2, 0.70))
    _arrow(fig, (left + w, 0.85), (right, 0.85))
    _arrow(fig, (left + w, 0.665), (right, 0.60))
    _arrow(fig, (left + w, 0.665), (right, 0.40))
    _arrow(fig, (left + w / 2, 0.63), (left + w / 2, 0.44))
    _arrow(fig, (left + w / 2, 0.35), (left + w / 2, 0.22))
    if prisma.check():
        fig.text(0.02, 0.01, "Counts do not add up: " + "; ".join(prisma.check()), color="red")
    return fig


def render(prisma: Prisma, fmt: str = "svg") -> bytes:
    """Return the flow diagram as SVG or PNG bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    with matplotlib.rc_context(
        {"svg.hashsalt": "evidence-prisma", "svg.fonttype": "none", "font.family": "DejaVu Sans"}
    ):
        fig = figure(prisma)
        buf = io.BytesIO()
        if fmt == "svg":
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        else:
            fig.savefig(buf, format="png", dpi=150, metadata={"Software": None})
    return buf.getvalue()


def describe(prisma: Prisma) -> str:
    """Say what the diagram shows, for screen readers and as its caption."""
    sources = "; ".join(f"{src}: {n}" for src, n in prisma.identified.items()) or "none"
    reasons = "; ".join(f"{r}: {n}" for r, n in prisma.exclusion_reasons.items()) or "none"
    return (
        f"{prisma.identified_total} records identified ({sources}); {prisma.duplicates} "
        f"duplicates removed; {prisma.screened} screened; {prisma.excluded} excluded "
        f"(reasons: {reasons}); {prisma.included} included; {prisma.awaiting} awaiting a "
        "decision. Full-text retrieval is not tracked."
    )
