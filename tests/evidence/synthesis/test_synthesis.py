"""Synthesis checked against metafor's documented dat.bcg example and cases worked by hand.

metafor (Viechtbauer 2010), `rma(yi, vi, data=dat)` on `escalc(measure="RR", ai=tpos, bi=tneg,
ci=cpos, di=cneg, data=dat.bcg)` prints: estimate -0.7145, se 0.1798, ci.lb -1.0669,
ci.ub -0.3622, tau^2 = 0.3132, I^2 = 92.22%, Q(df = 12) = 152.2330; with method="DL":
estimate -0.7141, se 0.1787, tau^2 = 0.3088, I^2 = 92.12%; with method="FE": -0.4303, se 0.0405.
"""

from __future__ import annotations

import math

import pytest

from evidence.synthesis import Arm, ArmValue, Outcome, Study, head_to_head, pool, single_arm
from evidence.synthesis.effects import (
    hedges_g,
    log_risk_ratio,
    mean_difference,
    risk_difference,
)
from evidence.synthesis.grade import DesignFacts, grade
from evidence.synthesis.model import CONTINUOUS, DICHOTOMOUS
from evidence.synthesis.proportions import (
    ArmEvents,
    pool_by_skin_group,
    pool_proportion,
    skin_group,
)

approx = pytest.approx

# dat.bcg: trial, tpos, tneg, cpos, cneg (Colditz et al. 1994, as shipped with metafor)
BCG = [
    (1, 4, 119, 11, 128),
    (2, 6, 300, 29, 274),
    (3, 3, 228, 11, 209),
    (4, 62, 13536, 248, 12619),
    (5, 33, 5036, 47, 5761),
    (6, 180, 1361, 372, 1079),
    (7, 8, 2537, 10, 619),
    (8, 505, 87886, 499, 87892),
    (9, 29, 7470, 45, 7232),
    (10, 17, 1699, 65, 1600),
    (11, 186, 50448, 141, 27197),
    (12, 5, 2493, 3, 2338),
    (13, 27, 16886, 29, 17825),
]


def bcg_effects() -> list:
    """Return the 13 BCG trials as log risk ratios."""
    return [
        log_risk_ratio(key=str(t), label=f"trial {t}", events1=a, n1=a + b, events2=c, n2=c + d)
        for t, a, b, c, d in BCG
    ]


def test_bcg_reml_reproduces_metafor() -> None:
    """Random effects with REML gives metafor's printed estimate, se, tau², I² and Q."""
    r = pool(bcg_effects(), method="REML")
    assert r.pooled and r.k == 13
    assert round(r.estimate, 4) == -0.7145
    assert round(r.se, 4) == 0.1798
    assert round(r.ci_low, 4) == -1.0669
    assert round(r.ci_high, 4) == -0.3622
    assert round(r.tau2, 4) == 0.3132
    assert round(r.i2, 2) == 92.22
    assert round(r.q, 4) == 152.2330
    assert r.q_df == 12 and r.q_p < 1e-4
    # Higgins 2009 prediction interval: mu ± t(0.975, 11) sqrt(tau² + se²), t = 2.200985
    half = 2.200985 * math.sqrt(r.tau2 + r.se**2)
    assert r.pi_low == approx(r.estimate - half, abs=1e-5)
    assert r.pi_high == approx(r.estimate + half, abs=1e-5)
    assert round(math.exp(r.estimate), 2) == 0.49  # BCG roughly halves the risk of TB


def test_bcg_dl_and_fixed_effect_reproduce_metafor() -> None:
    """DerSimonian-Laird and the fixed-effect model match metafor to its printed decimals."""
    dl = pool(bcg_effects(), method="DL")
    assert round(dl.estimate, 4) == -0.7141
    assert round(dl.se, 4) == 0.1787
    assert round(dl.tau2, 4) == 0.3088
    assert round(dl.i2, 2) == 92.12
    fe = pool(bcg_effects(), method="FE")
    assert round(fe.estimate, 4) == -0.4303
    assert round(fe.se, 4) == 0.0405
    assert fe.tau2 == 0.0 and fe.pi_low is None
    pm = pool(bcg_effects(), method="PM")
    assert pm.tau2 > dl.tau2  # Paule-Mandel, iterated through statsmodels, differs from DL


def test_two_by_two_worked_by_hand() -> None:
    """Two trials pooled by hand: RR, its variance, FE weights, Q and the DL tau²."""
    a = log_risk_ratio(key="a", label="A", events1=10, n1=100, events2=20, n2=100)
    b = log_risk_ratio(key="b", label="B", events1=15, n1=50, events2=15, n2=50)
    # ln(0.10 / 0.20) = -0.693147; var = 1/10 - 1/100 + 1/20 - 1/100 = 0.13
    assert a.yi == approx(-0.693147, abs=1e-6)
    assert a.vi == approx(0.13)
    # ln 1 = 0; var = 2 (1/15 - 1/50) = 0.093333
    assert b.yi == approx(0.0) and b.vi == approx(0.093333, abs=1e-6)
    fe = pool([a, b], method="FE")
    # w = 7.692308, 10.714286; mu = -0.693147 * 7.692308 / 18.406593 = -0.289673
    assert fe.estimate == approx(-0.289673, abs=1e-6)
    assert fe.se == approx(math.sqrt(1 / 18.406593), abs=1e-6)  # 0.233084
    assert [round(row.weight, 1) for row in fe.rows] == [41.8, 58.2]
    # Q = 7.692308 * 0.480453 - (5.331901)^2 / 18.406593 = 2.151282; C = 8.955224
    assert fe.q == approx(2.151282, abs=1e-5)
    assert fe.q_p == approx(0.142451, abs=1e-5)  # chi² 1 df: 2 (1 - Phi(sqrt Q = 1.466725))
    dl = pool([a, b], method="DL")
    assert dl.tau2 == approx((2.151282 - 1) / 8.955224, abs=1e-5)  # 0.128560
    assert dl.pi_low is None  # two studies: no prediction interval
    assert any("at least 3 studies" in n for n in dl.notes)
    rd = risk_difference(key="a", label="A", events1=10, n1=100, events2=20, n2=100)
    # 0.10 - 0.20; var = 0.1 * 0.9 / 100 + 0.2 * 0.8 / 100 = 0.0025
    assert rd.yi == approx(-0.10) and rd.vi == approx(0.0025)


def test_zero_events_corrected_and_both_zero_excluded() -> None:
    """A zero arm gets 0.5 in every cell; a study with no events at all is left out, said so."""
    z = log_risk_ratio(key="z", label="Zero arm", events1=0, n1=20, events2=5, n2=20)
    # (0.5 / 21) / (5.5 / 21): ln(1/11) = -2.397895; var = 1/0.5 - 1/21 + 1/5.5 - 1/21
    assert z.yi == approx(math.log(1 / 11), abs=1e-6)
    assert z.vi == approx(2 + 1 / 5.5 - 2 / 21, abs=1e-6)
    assert "0.5 added" in z.note
    both = log_risk_ratio(key="b", label="Both zero", events1=0, n1=15, events2=0, n2=15)
    assert not both.estimable and "no events in either arm" in both.excluded
    other = log_risk_ratio(key="o", label="Other", events1=3, n1=30, events2=6, n2=30)
    r = pool([z, both, other], method="REML")
    assert r.k == 2 and r.pooled
    assert any("Both zero" in n and "no events in either arm" in n for n in r.notes)
    assert [row.weight is None for row in r.rows] == [False, True, False]


def test_one_study_is_not_pooled_and_says_so() -> None:
    """One study: its own estimate and interval, no heterogeneity, and a note saying so."""
    only = log_risk_ratio(key="s", label="Smith 2020", events1=9, n1=30, events2=2, n2=30)
    r = pool([only])
    assert not r.pooled and r.k == 1
    # ln(0.3 / 0.0667) = ln 4.5; var = 1/9 - 1/30 + 1/2 - 1/30 = 0.544444
    assert r.estimate == approx(math.log(4.5))
    assert r.ci_low == approx(math.log(4.5) - 1.959964 * math.sqrt(0.544444), abs=1e-5)
    assert r.tau2 is None and r.i2 is None and r.q is None and r.pi_low is None
    assert any("One study only (Smith 2020): no pooling" in n for n in r.notes)
    assert not pool([]).pooled


def test_mean_difference_parallel_paired_and_hedges_g() -> None:
    """MD variance: parallel sd²/n; split-face without r as parallel; with r the paired form."""
    md = mean_difference(key="m", label="M", mean1=2.0, sd1=1.0, n1=20, mean2=3.0, sd2=2.0, n2=20)
    assert md.yi == approx(-1.0) and md.vi == approx(1 / 20 + 4 / 20)
    split = mean_difference(
        key="m", label="M", mean1=2.0, sd1=1.0, n1=20, mean2=3.0, sd2=2.0, n2=20, paired=True
    )
    assert split.vi == md.vi and split.participants == 20 and "parallel arms" in split.note
    paired = mean_difference(
        key="m", label="M", mean1=2.0, sd1=1.0, n1=20, mean2=3.0, sd2=2.0, n2=20,
        paired=True, within_person_r=0.5,
    )  # fmt: skip
    assert paired.vi == approx((1 + 4 - 2 * 0.5 * 1 * 2) / 20)
    no_sd = mean_difference(
        key="m", label="M", mean1=2.37, sd1=None, n1=30, mean2=3.2, sd2=None, n2=30
    )
    assert no_sd.yi == approx(-0.83) and not no_sd.estimable and "SD not reported" in no_sd.excluded
    g = hedges_g(key="g", label="G", mean1=2.0, sd1=1.0, n1=20, mean2=3.0, sd2=1.0, n2=20)
    # d = -1; J = 1 - 3 / (4 * 38 - 1) = 0.980132; g = -0.980132
    assert g.yi == approx(-1 * (1 - 3 / (4 * 38 - 1)), abs=1e-6)


def test_pooled_proportions_logit_and_skin_groups() -> None:
    """Single arms pool on the logit scale; one arm shows a Wilson interval; groups by type."""
    assert skin_group("IV-V") == "IV-VI"
    assert skin_group("I-III") == "I-III"
    assert skin_group("III-IV") is None and skin_group("I-VI") is None and skin_group(None) is None
    one = pool_proportion([ArmEvents("a", "A", 4, 31)])
    assert one.k == 1 and one.rate == approx(4 / 31)
    # Wilson: centre (p + z²/2n) / (1 + z²/n) = (0.129032 + 3.841459/62) / (1 + 3.841459/31)
    assert (one.low + one.high) / 2 == approx(0.169933, abs=1e-5)
    assert "no pooling" in one.note
    arms = [
        ArmEvents("a", "A", 4, 31, "III-IV"),
        ArmEvents("b", "B", 5, 36, "IV-V"),
        ArmEvents("c", "C", 0, 40, "I-II"),
        ArmEvents("d", "D", 2, 20, "IV-VI"),
    ]
    groups = pool_by_skin_group(arms)
    assert groups["all"].k == 4 and groups["IV-VI"].k == 2 and groups["I-III"].k == 1
    iv_vi = groups["IV-VI"]
    # logits: ln(5/31) = -1.824549 (var 1/5 + 1/31), ln(2/18) = -2.197225 (var 1/2 + 1/18)
    w1, w2 = 1 / (1 / 5 + 1 / 31), 1 / (1 / 2 + 1 / 18)
    fixed = (w1 * math.log(5 / 31) + w2 * math.log(2 / 18)) / (w1 + w2)
    assert iv_vi.pooled is not None and iv_vi.pooled.tau2 == 0.0  # no heterogeneity here
    assert iv_vi.rate == approx(1 / (1 + math.exp(-fixed)), abs=1e-6)
    assert iv_vi.low < iv_vi.rate < iv_vi.high


def test_grade_steps_carry_rules() -> None:
    """Randomised evidence starts high; inconsistency and imprecision each rate down one."""
    rct = [DesignFacts("A", True, True), DesignFacts("B", True, True)]
    c = grade(
        designs=rct, i2=75.0, ci_low=0.2, ci_high=0.9, null_value=1.0,
        dichotomous=True, participants=120, head_to_head=True,
    )  # fmt: skip
    assert c.level == "low"
    changes = {s.domain: s.change for s in c.steps}
    assert changes["Inconsistency"] == -1 and changes["Imprecision"] == -1
    assert all(s.rule for s in c.steps)
    assert "I² is above 50%" in next(s.rule for s in c.steps if s.domain == "Inconsistency")
    obs = grade(
        designs=[DesignFacts("C", False, None)], i2=None, ci_low=-2.0, ci_high=-1.0,
        null_value=0.0, dichotomous=False, participants=40, head_to_head=True,
    )  # fmt: skip
    assert obs.level == "low" and "not all randomised" in obs.steps[0].finding
    floor = grade(
        designs=[DesignFacts("D", False, False)], i2=None, ci_low=0.5, ci_high=2.0,
        null_value=1.0, dichotomous=True, participants=30, head_to_head=False,
    )  # fmt: skip
    assert floor.level == "very low" and floor.symbols == "⊕◯◯◯"


def _study(key: str, **kw: object) -> Study:
    """Return a two-arm microneedling vs CO2 split-face study with a PIH and a grade outcome."""
    base: dict[str, object] = {
        "key": key, "label": f"Study {key}", "pmid": key, "citation_id": None,
        "indication": "acne-scars", "design": "randomized split-face", "randomized": True,
        "split_face": True, "participants": 30,
        "arms": (Arm(0, "microneedling"), Arm(1, "fractional-co2-laser")),
    }  # fmt: skip
    base.update(kw)
    return Study(**base)  # type: ignore[arg-type]


PIH_PERCENT = Outcome(
    "pih", "Post-inflammatory hyperpigmentation", DICHOTOMOUS, True, adverse=True,
    values=(ArmValue(0, percent=6.67), ArmValue(1, percent=30.0)),
)  # fmt: skip
GRADE_NO_SD = Outcome(
    "goodman-baron-qualitative", "Goodman-Baron qualitative grade", CONTINUOUS, True,
    values=(ArmValue(0, baseline=3.53, final=3.2), ArmValue(1, baseline=3.53, final=2.37)),
)  # fmt: skip


def test_head_to_head_derives_counts_and_leaves_out_retracted() -> None:
    """Percentages of a known n become counts (marked); retracted studies are left out, said so."""
    studies = [
        _study("1", outcomes=(PIH_PERCENT, GRADE_NO_SD)),
        _study(
            "2",
            retracted=True,
            outcomes=(
                Outcome(
                    "pih",
                    "PIH",
                    DICHOTOMOUS,
                    True,
                    adverse=True,
                    values=(ArmValue(0, events=20, n=30), ArmValue(1, events=1, n=30)),
                ),  # fmt: skip
            ),
        ),
    ]
    findings = head_to_head(studies, "microneedling", "fractional-co2-laser", "acne-scars")
    pih = next(f for f in findings if f.measure == "pih")
    assert pih.effect_type == "RR" and not pih.pooled.pooled
    # 2/30 vs 9/30: RR = 0.2222
    assert pih.estimate == approx(2 / 9)
    assert [s.key for s in pih.studies] == ["1"]
    assert any("Retracted, left out: Study 2" in n for n in pih.notes)
    assert any(
        "2/30 derived from the stated 6.67%" in n for n in pih.pooled.rows[0].note.split("; ")
    )
    assert any("parallel arms" in n for n in pih.notes)
    assert pih.control_risk == approx(9 / 30)
    improvement = next(f for f in findings if f.measure == "goodman-baron-qualitative")
    assert improvement.estimate is None and improvement.pooled.k == 0
    assert any("+0.83 without interval" in n for n in improvement.notes)
    assert improvement.certainty.level in ("low", "very low")


def test_single_arm_is_marked_indirect() -> None:
    """Each treatment's own PIH rate is pooled per skin group and rated down for indirectness."""
    studies = [
        Study(
            key="a",
            label="A",
            pmid="1",
            citation_id=None,
            indication="acne-scars",
            design="single-arm prospective",
            randomized=False,
            split_face=False,
            fitzpatrick="IV-V",
            arms=(Arm(0, "microneedling", n=36),),
            outcomes=(
                Outcome(
                    "pih", "PIH", DICHOTOMOUS, True, adverse=True, values=(ArmValue(0, events=5),)
                ),
            ),
        ),  # fmt: skip
        Study(
            key="b",
            label="B",
            pmid="2",
            citation_id=None,
            indication="acne-scars",
            design="single-arm prospective",
            randomized=False,
            split_face=False,
            fitzpatrick="I-VI",
            arms=(Arm(0, "microneedling", n=60),),
            outcomes=(
                Outcome(
                    "pih", "PIH", DICHOTOMOUS, True, adverse=True, values=(ArmValue(0, events=0),)
                ),
            ),
        ),  # fmt: skip
    ]
    findings = single_arm(studies, "microneedling", "acne-scars")
    by_group = {f.group: f for f in findings}
    assert set(by_group) == {"all", "IV-VI"}
    assert by_group["all"].pooled.k == 2 and by_group["IV-VI"].estimate == approx(5 / 36)
    assert not by_group["all"].head_to_head
    step = next(s for s in by_group["all"].certainty.steps if s.domain == "Indirectness")
    assert step.change == -1 and "no head-to-head" in step.finding
    assert by_group["all"].certainty.level == "very low"
