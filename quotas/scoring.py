"""The rules of 附件3 as pure functions: figures in, points and a sentence saying why out.

No database here. Pages and bulletins gather the figures (selectors) and call these; the tests
call them with hand-worked numbers. `conf` is `quotas.conf.quotas_conf()` (or a dict like it).
"""

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from fractions import Fraction

ZERO = Decimal("0")
HUNDRED = Decimal("100")


@dataclass(frozen=True)
class Score:
    points: Decimal
    explain: str


def fmt(value: Decimal | int | float) -> str:
    """Decimal without trailing zeros: 6.50 -> 6.5, 20.00 -> 20."""
    d = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = f"{d:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent(numerator: int, denominator: int) -> Decimal | None:
    """numerator ÷ denominator as a percentage to 2 decimals; None when there is no denominator."""
    if not denominator:
        return None
    return (Decimal(numerator) * HUNDRED / Decimal(denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def whole(value: Decimal, rounding: str) -> Decimal:
    """How many points a difference is worth under POINT_ROUNDING (truncate / round / exact)."""
    if rounding == "truncate":
        return value.quantize(Decimal("1"), rounding=ROUND_DOWN)  # ROUND_DOWN is toward zero
    if rounding == "round":
        return value.quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    if rounding == "exact":
        return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    raise ValueError(f"unknown POINT_ROUNDING {rounding!r}")


def clamp(value: Decimal, cap: Decimal | None) -> Decimal:
    if cap is None:
        return value
    return max(-cap, min(cap, value))


# --- ranking ---------------------------------------------------------------------------------
def rank_places(values: dict[Hashable, Fraction | Decimal | int], *, ties: str = "shared") -> dict:
    """Place per key, highest value first. "shared": equal values share the higher place and the
    next place skips (1, 2, 2, 4); "dense": no skip (1, 2, 2, 3). Values compare exactly."""
    ordered = sorted(values.items(), key=lambda kv: kv[1], reverse=True)
    places: dict = {}
    place = 0
    distinct = 0
    previous = object()
    for index, (key, value) in enumerate(ordered, start=1):
        if value != previous:
            distinct += 1
            place = index if ties == "shared" else distinct
            previous = value
        places[key] = place
    return places


def quarter_points(place: int, conf: dict) -> Decimal:
    points = conf["QUARTER_FIRST_POINTS"] - conf["QUARTER_STEP"] * (place - 1)
    return max(points, conf["QUARTER_MIN_POINTS"])


def quarters_ranked(year: int, conf: dict) -> list[int]:
    """The quarters that count in `year` (2016 starts with the second: a launch year)."""
    return list(range(conf["FIRST_QUARTER"].get(year, 1), 5))


@dataclass(frozen=True)
class QuarterFacts:
    key: Hashable
    name: str
    issued: int  # cumulative cards issued at the end of the quarter
    target: int  # that year's cumulative target


@dataclass(frozen=True)
class QuarterRow:
    key: Hashable
    name: str
    issued: int
    target: int
    ratio: Decimal | None  # percent, for display
    place: int
    points: Decimal
    tied_with: tuple[str, ...]
    explain: str


def quarterly_ranking(facts: Sequence[QuarterFacts], conf: dict) -> list[QuarterRow]:
    """季排队: places by completion ratio (issued ÷ target, compared exactly as fractions)."""
    ratios = {f.key: Fraction(f.issued, f.target) if f.target else Fraction(0) for f in facts}
    places = rank_places(ratios, ties=conf["RANK_TIES"])
    by_place: dict[int, list[str]] = {}
    for f in facts:
        by_place.setdefault(places[f.key], []).append(f.name)
    rows = []
    for f in sorted(facts, key=lambda f: (places[f.key], f.name)):
        place = places[f.key]
        points = quarter_points(place, conf)
        tied = tuple(n for n in by_place[place] if n != f.name)
        ratio = percent(f.issued, f.target)
        explain = (
            f"完成率 {fmt(ratio) if ratio is not None else '—'}%（{f.issued}÷{f.target}），"
            f"第{place}名：{fmt(conf['QUARTER_FIRST_POINTS'])} − {fmt(conf['QUARTER_STEP'])}×{place - 1}"
        )
        raw = conf["QUARTER_FIRST_POINTS"] - conf["QUARTER_STEP"] * (place - 1)
        explain += f" = {fmt(raw)} 分"
        if points != raw:
            explain += f"，最低记 {fmt(points)} 分"
        if tied:
            rule = (
                "并列名次取较高名次，下一名次顺延" if conf["RANK_TIES"] == "shared" else "并列名次取较高名次"
            )
            explain += f"；与{'、'.join(tied)}完成率相同，{rule}"
        rows.append(QuarterRow(f.key, f.name, f.issued, f.target, ratio, place, points, tied, explain))
    return rows


# --- annual assessment (附件3) -----------------------------------------------------------------
def score_completion(*, issued: int, target: int, conf: dict) -> Score:
    """发卡任务完成情况: 20 when the target is met, +0.5 per percentage point above; 0 when not met."""
    if not target:
        return Score(ZERO, "未下达年度任务，不计分")
    ratio = percent(issued, target)
    if issued < target:
        return Score(ZERO, f"完成 {issued}÷{target} = {fmt(ratio)}%，未完成年度任务，不得分")
    above = whole(Decimal(issued - target) * HUNDRED / Decimal(target), conf["POINT_ROUNDING"])
    bonus = above * conf["COMPLETION_PER_POINT"]
    cap = conf["COMPLETION_BONUS_CAP"]
    capped = bonus if cap is None else min(bonus, cap)
    points = conf["COMPLETION_POINTS"] + capped
    explain = (
        f"完成 {issued}÷{target} = {fmt(ratio)}%，超额 {fmt(above)} 个百分点："
        f"{fmt(conf['COMPLETION_POINTS'])} + {fmt(above)}×{fmt(conf['COMPLETION_PER_POINT'])}"
    )
    if capped != bonus:
        explain += f"（加分封顶 {fmt(cap)}）"
    return Score(points, f"{explain} = {fmt(points)} 分")


def score_activation(*, activated: int, base: int, conf: dict) -> Score:
    """会员卡激活情况: 20 at 60%, ±1 per percentage point, capped at ±10."""
    rate = percent(activated, base) or ZERO
    mark = conf["ACTIVATION_MARK_PERCENT"]
    diff = whole(rate - mark, conf["POINT_ROUNDING"])
    adj = clamp(diff, conf["ACTIVATION_CAP"])
    points = conf["ACTIVATION_POINTS"] + adj
    sign = "+" if adj >= 0 else "−"
    explain = (
        f"激活率 {activated}÷{base} = {fmt(rate)}%，与 {fmt(mark)}% 相差 {fmt(diff)} 个百分点："
        f"{fmt(conf['ACTIVATION_POINTS'])} {sign} {fmt(abs(adj))}"
    )
    if adj != diff:
        explain += f"（加减分以 {fmt(conf['ACTIVATION_CAP'])} 分为限）"
    return Score(points, f"{explain} = {fmt(points)} 分")


def service_measure(items: int, members: int, conf: dict) -> Decimal:
    """What is compared with the city average: the count, or items per 10,000 declared members."""
    if conf["SERVICE_ITEMS_MODE"] == "per_10k":
        if not members:
            return ZERO
        return (Decimal(items) * Decimal(10000) / Decimal(members)).quantize(Decimal("0.01"))
    return Decimal(items)


def city_average(measures: Sequence[Decimal]) -> Decimal:
    if not measures:
        return ZERO
    return (sum(measures, ZERO) / Decimal(len(measures))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def score_service(*, measure: Decimal, average: Decimal, conf: dict) -> Score:
    """提供优惠服务项目: 20 at the city-wide average, ±1 per item, capped at ±10."""
    diff = whole(measure - average, conf["POINT_ROUNDING"])
    adj = clamp(diff, conf["SERVICE_CAP"])
    points = conf["SERVICE_POINTS"] + adj
    unit = "项/万名会员" if conf["SERVICE_ITEMS_MODE"] == "per_10k" else "项"
    sign = "+" if adj >= 0 else "−"
    explain = (
        f"服务项目 {fmt(measure)} {unit}，全市平均 {fmt(average)}，相差 {fmt(diff)}："
        f"{fmt(conf['SERVICE_POINTS'])} {sign} {fmt(abs(adj))}"
    )
    if adj != diff:
        explain += f"（加减分以 {fmt(conf['SERVICE_CAP'])} 分为限）"
    return Score(points, f"{explain} = {fmt(points)} 分")


def score_ranking(*, quarter_points_list: Sequence[Decimal], criticisms: int, conf: dict) -> Score:
    """督查排队: the sum of the quarterly points, −1 per public criticism (never below 0)."""
    total = sum(quarter_points_list, ZERO)
    penalty = conf["CRITICISM_PENALTY"] * criticisms
    points = max(ZERO, total - penalty)
    parts = " + ".join(fmt(p) for p in quarter_points_list) or "0"
    explain = f"季度排队得分 {parts}"
    if criticisms:
        explain += f"，点名通报批评 {criticisms} 次 −{fmt(penalty)}"
    return Score(points, f"{explain} = {fmt(points)} 分")


def score_staff_part(*, value: Decimal, maximum: Decimal, label: str) -> Score:
    if value < 0 or value > maximum:
        raise ValueError(f"{label}应在 0 至 {fmt(maximum)} 分之间")
    return Score(value, f"{label}：考核组评定 {fmt(value)} 分（满分 {fmt(maximum)}）")


def score_responsiveness(*, missed_reports: int, conf: dict) -> Score:
    penalty = conf["MISSED_REPORT_PENALTY"] * missed_reports
    points = max(ZERO, conf["RESPONSIVENESS_MAX"] - penalty)
    return Score(
        points,
        f"响应及时：{fmt(conf['RESPONSIVENESS_MAX'])} − {missed_reports}次漏项×"
        f"{fmt(conf['MISSED_REPORT_PENALTY'])} = {fmt(points)} 分",
    )


@dataclass(frozen=True)
class AnnualFacts:
    key: Hashable
    name: str
    members: int  # declared base
    target: int  # the year's cumulative target
    issued: int  # cumulative at year end
    activation_base: int  # issued or distributed, per ACTIVATION_DENOMINATOR
    activated: int
    service_items: int
    quarter_points: tuple[Decimal, ...]
    criticisms: int = 0
    leadership: Decimal = ZERO
    measures: Decimal = ZERO
    missed_reports: int = 0


@dataclass
class AnnualResult:
    facts: AnnualFacts
    parts: dict[str, Score]
    total: Decimal
    met_target: bool
    vetoed: bool
    place: int | None = None
    award: Decimal = ZERO
    award_explain: str = ""
    notes: list[str] = field(default_factory=list)


PART_LABELS = {
    "leadership": "领导重视",
    "measures": "措施有力",
    "responsiveness": "响应及时",
    "ranking": "督查排队",
    "completion": "发卡任务完成",
    "activation": "会员卡激活",
    "service": "优惠服务项目",
}


def annual_assessment(facts: Sequence[AnnualFacts], conf: dict) -> list[AnnualResult]:
    """The 100-point assessment, the veto and the awards, for every county of one year.

    Places follow the total score (ties per RANK_TIES). The veto (一票否决) applies to every
    county that missed its yearly target: with VETOED_TAKE_PLACES off (the default) it takes no
    place, so places 1–3 — and their awards — go to counties that met the target. Every other
    county that met its target gets AWARD_OTHER_MET."""
    measures = {f.key: service_measure(f.service_items, f.members, conf) for f in facts}
    average = city_average(list(measures.values()))
    results = []
    for f in facts:
        parts = {
            "leadership": score_staff_part(
                value=f.leadership, maximum=conf["LEADERSHIP_MAX"], label="领导重视"
            ),
            "measures": score_staff_part(value=f.measures, maximum=conf["MEASURES_MAX"], label="措施有力"),
            "responsiveness": score_responsiveness(missed_reports=f.missed_reports, conf=conf),
            "ranking": score_ranking(
                quarter_points_list=f.quarter_points, criticisms=f.criticisms, conf=conf
            ),
            "completion": score_completion(issued=f.issued, target=f.target, conf=conf),
            "activation": score_activation(activated=f.activated, base=f.activation_base, conf=conf),
            "service": score_service(measure=measures[f.key], average=average, conf=conf),
        }
        total = sum((s.points for s in parts.values()), ZERO)
        met = bool(f.target) and f.issued >= f.target
        results.append(AnnualResult(f, parts, total, met_target=met, vetoed=not met))
    placed = [r for r in results if conf["VETOED_TAKE_PLACES"] or not r.vetoed]
    places = rank_places({r.facts.key: r.total for r in placed}, ties=conf["RANK_TIES"])
    awards = conf["AWARDS"]
    for r in results:
        r.place = places.get(r.facts.key)
        if r.vetoed:
            r.award = ZERO
            r.award_explain = f"未完成年度任务（{r.facts.issued}<{r.facts.target}），一票否决，不予补助"
        elif r.place is not None and r.place <= len(awards):
            r.award = awards[r.place - 1]
            r.award_explain = f"综合得分第{r.place}名，项目补助 {fmt(r.award)} 元"
        else:
            r.award = conf["AWARD_OTHER_MET"]
            r.award_explain = f"完成年度任务，项目补助 {fmt(r.award)} 元"
    results.sort(key=lambda r: (r.place is None, r.place or 0, -r.total, r.facts.name))
    return results


# --- the checkpoints of the work plan (附件1 三(一)3 and 6) ----------------------------------
@dataclass(frozen=True)
class Checkpoint:
    """One county's figure against a checkpoint's threshold."""

    label: str
    value: int
    threshold: int
    passed: bool
    explain: str


def threshold_of(target: int, percent_of: Decimal) -> int:
    """The smallest whole number of cards that is at least `percent_of`% of `target`."""
    exact = Decimal(target) * percent_of / HUNDRED
    return int(exact.to_integral_value(rounding="ROUND_CEILING"))


def april_check(*, members: int, target: int) -> Checkpoint:
    """4月底前，各县级工会核实会员数不能低于市总下达的发卡任务."""
    passed = bool(target) and members >= target
    if not target:
        explain = "未下达年度任务，不检查"
    elif passed:
        explain = f"已核实会员 {members} 人，不低于发卡任务 {target} 张"
    else:
        explain = f"已核实会员 {members} 人，低于发卡任务 {target} 张，还差 {target - members} 人"
    return Checkpoint("核实会员数", members, target, passed, explain)


def midyear_check(*, label: str, value: int, target: int, conf: dict) -> Checkpoint:
    """6月底前，争取发放和启用会员卡不低于年度目标的40%: one metric (发放 or 启用)."""
    pct = conf["MIDYEAR_PERCENT"]
    threshold = threshold_of(target, pct)
    passed = bool(target) and value >= threshold
    if not target:
        explain = "未下达年度任务，不检查"
    else:
        explain = f"{label} {value} 张，年度目标 {target} 张的 {fmt(pct)}% 为 {threshold} 张，" + (
            "已达到" if passed else f"还差 {threshold - value} 张"
        )
    return Checkpoint(label, value, threshold, passed, explain)
