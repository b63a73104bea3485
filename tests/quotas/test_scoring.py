"""附件3 by hand: each test states the arithmetic it expects."""

from decimal import Decimal as D
from fractions import Fraction

import pytest

from quotas.conf import DEFAULTS
from quotas.scoring import (
    AnnualFacts,
    QuarterFacts,
    annual_assessment,
    quarterly_ranking,
    quarters_ranked,
    rank_places,
    score_activation,
    score_completion,
    score_ranking,
    score_responsiveness,
    score_service,
    score_staff_part,
)

CONF = dict(DEFAULTS)


def conf(**overrides):
    return {**CONF, **overrides}


# --- completion ------------------------------------------------------------------------------
def test_completion_met_exactly_scores_20():
    # 4200 of 4200 = 100%, 0 points above: 20 + 0×0.5 = 20
    score = score_completion(issued=4200, target=4200, conf=CONF)
    assert score.points == D("20")
    assert score.explain == "完成 4200÷4200 = 100%，超额 0 个百分点：20 + 0×0.5 = 20 分"


def test_completion_above_counts_whole_points_only_by_default():
    # 4733 of 4200 = 112.69%: 12 whole points above (12.69 truncated): 20 + 12×0.5 = 26
    score = score_completion(issued=4733, target=4200, conf=CONF)
    assert score.points == D("26")
    assert "超额 12 个百分点" in score.explain


def test_completion_rounding_setting_rounds_or_keeps_fractions():
    # 112.69%: rounded half up 13 points -> 20 + 6.5 = 26.5; exact 12.69 -> 20 + 6.345 = 26.345
    assert score_completion(issued=4733, target=4200, conf=conf(POINT_ROUNDING="round")).points == D("26.5")
    assert score_completion(issued=4733, target=4200, conf=conf(POINT_ROUNDING="exact")).points == D("26.345")


def test_completion_not_met_scores_nothing():
    # 4199 of 4200 = 99.98% < 100%: 0
    score = score_completion(issued=4199, target=4200, conf=CONF)
    assert score.points == D("0")
    assert "未完成年度任务，不得分" in score.explain


def test_completion_bonus_cap_when_set():
    # 6300 of 4200 = 150%: 50 points above × 0.5 = 25, capped at 10 -> 30
    assert score_completion(issued=6300, target=4200, conf=CONF).points == D("45")
    assert score_completion(issued=6300, target=4200, conf=conf(COMPLETION_BONUS_CAP=D("10"))).points == D(
        "30"
    )


# --- activation ------------------------------------------------------------------------------
def test_activation_at_60_percent_scores_20():
    assert score_activation(activated=600, base=1000, conf=CONF).points == D("20")


def test_activation_above_and_below_by_whole_points():
    # 637/1000 = 63.7% -> +3 (whole points) = 23; 574/1000 = 57.4% -> -2 (toward zero) = 18
    assert score_activation(activated=637, base=1000, conf=CONF).points == D("23")
    below = score_activation(activated=574, base=1000, conf=CONF)
    assert below.points == D("18")
    assert below.explain == "激活率 574÷1000 = 57.4%，与 60% 相差 -2 个百分点：20 − 2 = 18 分"


def test_activation_capped_at_plus_minus_10():
    # 95% -> +35 capped +10 = 30; 12% -> -48 capped -10 = 10; nothing issued -> 0% -> 10
    assert score_activation(activated=950, base=1000, conf=CONF).points == D("30")
    low = score_activation(activated=120, base=1000, conf=CONF)
    assert low.points == D("10")
    assert "加减分以 10 分为限" in low.explain
    assert score_activation(activated=0, base=0, conf=CONF).points == D("10")


# --- service items ---------------------------------------------------------------------------
def test_service_items_against_average_with_caps():
    # average 12.4: 15 items -> +2.6 -> +2 = 22; 10 items -> -2.4 -> -2 = 18
    assert score_service(measure=D(15), average=D("12.4"), conf=CONF).points == D("22")
    assert score_service(measure=D(10), average=D("12.4"), conf=CONF).points == D("18")
    # 30 items -> +17.6 capped at +10 = 30; 0 items -> -12.4 capped at -10 = 10
    assert score_service(measure=D(30), average=D("12.4"), conf=CONF).points == D("30")
    assert score_service(measure=D(0), average=D("12.4"), conf=CONF).points == D("10")


# --- ranking ---------------------------------------------------------------------------------
def test_rank_places_shared_and_dense_ties():
    values = {"a": Fraction(1, 2), "b": Fraction(2, 3), "c": Fraction(2, 3), "d": Fraction(1, 10)}
    assert rank_places(values, ties="shared") == {"b": 1, "c": 1, "a": 3, "d": 4}
    assert rank_places(values, ties="dense") == {"b": 1, "c": 1, "a": 2, "d": 3}


def test_quarterly_ranking_points_and_ties_explained():
    # ratios: 甲 50/100 = 50%, 乙 110/200 = 55%, 丙 55/100 = 55%, 丁 30/100 = 30%
    # places: 乙 and 丙 tie first (7 each), 甲 third (7 - 0.5×2 = 6), 丁 fourth (7 - 0.5×3 = 5.5)
    rows = quarterly_ranking(
        [
            QuarterFacts("a", "甲", 50, 100),
            QuarterFacts("b", "乙", 110, 200),
            QuarterFacts("c", "丙", 55, 100),
            QuarterFacts("d", "丁", 30, 100),
        ],
        CONF,
    )
    assert [(r.name, r.place, r.points) for r in rows] == [
        ("丙", 1, D("7")),
        ("乙", 1, D("7")),
        ("甲", 3, D("6")),
        ("丁", 4, D("5.5")),
    ]
    assert rows[0].explain == (
        "完成率 55%（55÷100），第1名：7 − 0.5×0 = 7 分；与乙完成率相同，并列名次取较高名次，下一名次顺延"
    )


def test_quarterly_points_never_below_minimum():
    # 22 counties: place 22 would be 7 - 0.5×21 = -3.5; the floor is 0 (place 15 = 0, too)
    facts = [QuarterFacts(i, f"县{i:02d}", 100 - i, 100) for i in range(22)]
    rows = quarterly_ranking(facts, CONF)
    assert rows[13].points == D("0.5")  # place 14: 7 - 6.5
    assert rows[14].points == D("0")  # place 15: 7 - 7
    assert rows[21].points == D("0") and "最低记 0 分" in rows[21].explain


def test_2016_ranking_starts_with_the_second_quarter():
    assert quarters_ranked(2016, CONF) == [2, 3, 4]
    assert quarters_ranked(2017, CONF) == [1, 2, 3, 4]


def test_ranking_part_sums_quarters_minus_criticisms():
    # 2016: Q2 7 + Q3 6.5 + Q4 6 = 19.5, two public criticisms -2 = 17.5
    score = score_ranking(quarter_points_list=[D("7"), D("6.5"), D("6")], criticisms=2, conf=CONF)
    assert score.points == D("17.5")
    assert score.explain == "季度排队得分 7 + 6.5 + 6，点名通报批评 2 次 −2 = 17.5 分"


def test_staff_parts_and_responsiveness():
    # 5 - 3 missed × 0.5 = 3.5; 11 missed would be -0.5, floored at 0
    assert score_responsiveness(missed_reports=3, conf=CONF).points == D("3.5")
    assert score_responsiveness(missed_reports=11, conf=CONF).points == D("0")
    assert score_staff_part(value=D("2.5"), maximum=D("3"), label="领导重视").points == D("2.5")
    with pytest.raises(ValueError):
        score_staff_part(value=D("3.5"), maximum=D("3"), label="领导重视")


# --- the whole year: veto and awards -----------------------------------------------------------
def _facts(key, issued, target=1000, activated=600, items=10, quarters=(D("7"),) * 4, **kw):
    return AnnualFacts(
        key=key,
        name=key,
        members=10000,
        target=target,
        issued=issued,
        activation_base=issued,
        activated=activated,
        service_items=items,
        quarter_points=quarters,
        leadership=kw.pop("leadership", D("3")),
        measures=kw.pop("measures", D("4")),
        missed_reports=kw.pop("missed_reports", 0),
        criticisms=kw.pop("criticisms", 0),
    )


def test_annual_total_veto_and_awards():
    # Average service items over the five counties: (10+10+10+10+10)/5 = 10 -> everyone 20.
    # A: 1100/1000 = 110% -> 20 + 10×0.5 = 25; activation 660/1100 = 60% -> 20; ranking 28;
    #    staff 3 + 4 + 5 = 12; total 25 + 20 + 20 + 28 + 12 = 105 -> first, 300,000
    # B: 1000/1000 -> 20; activation 600/1000 = 60% -> 20; ranking 28; staff 12 -> 100 -> second
    # C: same as B but 1 missed report -> 99.5 -> third, 150,000
    # D: same as B but 2 criticisms -> ranking 26 -> 98 -> fourth: met target, 50,000
    # E: 999/1000 missed target -> completion 0, vetoed, no place, no award, though its
    #    remaining parts (activation 599/999 = 59.96% -> -0 = 20, ...) add up to 80
    results = annual_assessment(
        [
            _facts("A", 1100, activated=660),
            _facts("B", 1000),
            _facts("C", 1000, missed_reports=1),
            _facts("D", 1000, criticisms=2),
            _facts("E", 999, activated=599),
        ],
        CONF,
    )
    table = [(r.facts.key, r.total, r.place, r.vetoed, r.award) for r in results]
    assert table == [
        ("A", D("105"), 1, False, D("300000.00")),
        ("B", D("100"), 2, False, D("200000.00")),
        ("C", D("99.5"), 3, False, D("150000.00")),
        ("D", D("98"), 4, False, D("50000.00")),
        ("E", D("80"), None, True, D("0")),
    ]
    assert results[4].award_explain == "未完成年度任务（999<1000），一票否决，不予补助"


def test_vetoed_county_with_top_score_does_not_take_an_award_place():
    # Items average (40+10+9+8)/4 = 16.75.
    # V missed its target (990<1000): completion 0, activation 990/990 = 100% -> +40 capped +10 = 30,
    #   items 40 -> +23.25 capped +10 = 30, ranking 28, staff 12: total 100 (the highest)
    # A: 20 + 20 + (10-16.75 = -6.75 -> -6) 14 + 28 + 12 = 94; B: 13 -> 93; C: 12 -> 92
    # By default V takes no place, so A, B, C take places 1-3.
    # Setting VETOED_TAKE_PLACES makes V first and pushes C to fourth (50,000), V still gets 0.
    facts = [
        _facts("V", 990, activated=990, items=40),
        _facts("A", 1000, items=10),
        _facts("B", 1000, items=9),
        _facts("C", 1000, items=8),
    ]
    results = annual_assessment(facts, CONF)
    assert {r.facts.key: r.total for r in results} == {
        "V": D("100"),
        "A": D("94"),
        "B": D("93"),
        "C": D("92"),
    }
    default = {r.facts.key: (r.place, r.award) for r in results}
    assert default == {
        "A": (1, D("300000.00")),
        "B": (2, D("200000.00")),
        "C": (3, D("150000.00")),
        "V": (None, D("0")),
    }
    placed = {
        r.facts.key: (r.place, r.award) for r in annual_assessment(facts, conf(VETOED_TAKE_PLACES=True))
    }
    assert placed["V"] == (1, D("0"))
    assert placed["C"] == (4, D("50000.00"))


def test_tied_totals_share_the_award_place():
    # A and B tie at 100 -> both first (300,000 each); C is third (150,000); no second place
    results = annual_assessment(
        [_facts("A", 1000), _facts("B", 1000), _facts("C", 1000, missed_reports=2)], CONF
    )
    assert [(r.facts.key, r.place, r.award) for r in results] == [
        ("A", 1, D("300000.00")),
        ("B", 1, D("300000.00")),
        ("C", 3, D("150000.00")),
    ]


def test_service_items_per_10k_members_mode():
    # per_10k: A 10 items / 10,000 members = 10; B 10 items / 20,000 = 5; average 7.5
    # A: +2.5 -> +2 = 22; B: -2.5 -> -2 = 18
    a = _facts("A", 1000)
    b = AnnualFacts(**{**a.__dict__, "key": "B", "name": "B", "members": 20000})
    results = {r.facts.key: r for r in annual_assessment([a, b], conf(SERVICE_ITEMS_MODE="per_10k"))}
    assert results["A"].parts["service"].points == D("22")
    assert results["B"].parts["service"].points == D("18")
