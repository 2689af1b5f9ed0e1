"""Evidence synthesis: effect sizes, pooling, pooled proportions and GRADE certainty.

Plain functions on plain dataclasses (no Flask, no database), built on
statsmodels.stats.meta_analysis and scipy; see each module's docstring for the rules it states.
"""

from evidence.synthesis.grade import Certainty, GradeStep
from evidence.synthesis.model import Arm, ArmValue, Outcome, Study
from evidence.synthesis.pooling import Pooled, StudyRow, pool
from evidence.synthesis.synthesize import Finding, StudyRef, head_to_head, single_arm

__all__ = [
    "Arm",
    "ArmValue",
    "Certainty",
    "Finding",
    "GradeStep",
    "Outcome",
    "Pooled",
    "Study",
    "StudyRef",
    "StudyRow",
    "head_to_head",
    "pool",
    "single_arm",
]
