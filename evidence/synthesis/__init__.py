"""Evidence synthesis: what the studies found, pooled, graded and set against practice.

effects, pooling, proportions, grade and synthesize are plain functions on plain dataclasses
(no Flask, no database), built on statsmodels.stats.meta_analysis and scipy; see each module's
docstring for the rules it states. findings_db loads extracted studies from the database into
those dataclasses, findings turns them into the compare page's blocks, and compare builds the
side-by-side comparison of treatments (literature rows, practice rows, their disagreement).
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
