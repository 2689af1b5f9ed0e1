"""Plain input records for synthesis: studies, arms and outcome values as extracted (no DB)."""

from __future__ import annotations

from dataclasses import dataclass, field

CONTINUOUS = "continuous"
DICHOTOMOUS = "dichotomous"


@dataclass(frozen=True)
class Arm:
    """One arm (or, in a split-face study, one side): its treatment and size."""

    index: int
    treatment: str  # a catalogue slug, or a comparator label such as "no treatment"
    n: int | None = None
    sessions: int | None = None


@dataclass(frozen=True)
class ArmValue:
    """One arm's result for one outcome at one time point, as extracted; missing stays None."""

    arm: int
    n: int | None = None
    events: int | None = None
    percent: float | None = None  # events as a stated percentage when no count was given
    baseline: float | None = None
    final: float | None = None
    change: float | None = None
    sd: float | None = None
    sd_of: str | None = None  # "final" or "change": which mean the SD belongs to


@dataclass(frozen=True)
class Outcome:
    """One outcome measure at one time point in one study, with a value per arm."""

    measure: str  # vocabulary key, e.g. "pih" or "goodman-baron-qualitative"
    label: str
    kind: str  # CONTINUOUS or DICHOTOMOUS
    lower_is_better: bool
    timepoint: str = ""
    adverse: bool = False
    values: tuple[ArmValue, ...] = ()


@dataclass(frozen=True)
class Study:
    """One extracted study: its citation, design, population and outcomes."""

    key: str
    label: str
    pmid: str | None
    citation_id: int | None
    indication: str | None
    design: str
    randomized: bool
    split_face: bool
    blinded: bool | None = None
    verified: bool = False
    retracted: bool = False
    fitzpatrick: str | None = None
    participants: int | None = None  # analysed, else enrolled
    indirect_note: str = ""
    arms: tuple[Arm, ...] = ()
    outcomes: tuple[Outcome, ...] = field(default=())
