"""Reads for league tables, rankings and the assessment, always scoped to the user's subtree.

The figures come from `issuance.UnionMonthCount` (per grassroots union, per month, per stage,
kept current by the card lifecycle in the same transaction as each card change), never from the
card table: a month's league table is one aggregate over a few thousand counter rows plus the
small union table, which is what keeps it fast at 1.5 million cards.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

from django.db.models import Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from issuance.models import Card, UnionMonthCount
from issuance.selectors import WEEK_STAGES, progress_by_week
from members.access import Cap, access_for
from members.models import Union

from . import scoring
from .conf import quotas_conf
from .models import (
    AssessmentInput,
    AssessmentSignoff,
    Bulletin,
    BulletinRow,
    CountyMonthCount,
    Quota,
    WeeklyReport,
    WorkTeam,
)
from .service_items import merchants_signed, service_items_by_county

COUNTY_LEVELS = (Union.Level.COUNTY, Union.Level.INDUSTRY)
METRICS = ("applied", "issued", "received", "distributed", "activated")


def month_start(d: date) -> date:
    return d.replace(day=1)


def add_months(d: date, n: int) -> date:
    index = d.year * 12 + d.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_end(d: date) -> date:
    return add_months(d, 1).fromordinal(add_months(d, 1).toordinal() - 1)


def current_month() -> date:
    return month_start(timezone.localdate())


def league_months() -> list[date]:
    """The months a league table can be asked for, newest first: from January of the first
    planned year to this month or December of the last planned year, whichever is earlier."""
    years = quota_years() or [current_month().year]
    first = date(years[0], 1, 1)
    last = min(current_month(), date(years[-1], 12, 1))
    months = []
    m = last
    while m >= first:
        months.append(m)
        m = add_months(m, -1)
    return months


def default_month() -> date:
    """This month while a plan covers it; after the plan, its last month (the demo's plan ends in 2018)."""
    months = league_months()
    return months[0] if months else current_month()


# --- the union tree --------------------------------------------------------------------------
@dataclass
class Tree:
    counties: list[Union]  # the league: every county-level union, by path
    county_of: dict[int, int]  # any union id below (or at) a county -> that county's id
    by_id: dict[int, Union] = field(default_factory=dict)


def union_tree(*, within: Union | None = None, counties_only: bool = False) -> Tree:
    """County-level unions and a map from every union below them to their county. The union
    table is small (thousands of rows, not millions), so one query and a dict walk of the
    materialized paths beat a LIKE join. `counties_only` skips the map (the roll-up is already
    per county); `within` limits it to one subtree (a drill-down)."""
    qs = Union.objects.only("id", "name", "path", "level", "declared_members", "parent_id", "code")
    if counties_only:
        qs = qs.filter(level__in=COUNTY_LEVELS)
    if within is not None:
        qs = qs.filter(path__startswith=within.path)
    unions = list(qs)
    counties = sorted((u for u in unions if u.level in COUNTY_LEVELS), key=lambda u: u.path)
    county_by_path = {c.path: c.pk for c in counties}
    county_of: dict[int, int] = {}
    for u in unions:
        prefix = ""
        for segment in u.path.split("/")[:-1]:
            prefix += segment + "/"
            if prefix in county_by_path:
                county_of[u.pk] = county_by_path[prefix]
                break
    return Tree(counties, county_of, {u.pk: u for u in unions})


EVERYONE = object()  # computing city-wide places before the rows are filtered to the real user


def visible_to(user, union: Union) -> bool:
    return user is EVERYONE or access_for(user).sees(union)


# --- bulletins -------------------------------------------------------------------------------
def bulletin_list_for_user(*, user) -> QuerySet[Bulletin]:
    """The bulletins `user` may open, newest month first: the published ones for every league
    reader; drafts only for those who compile them (`league.manage`: city staff and above)."""
    access = access_for(user)
    qs = Bulletin.objects.select_related("published_by").order_by("-month")
    if not access.can(Cap.LEAGUE_READ):
        return qs.none()
    if not access.can(Cap.LEAGUE_MANAGE):
        qs = qs.filter(status=Bulletin.Status.PUBLISHED)
    return qs


def bulletin_get_for_user(*, user, pk) -> Bulletin:
    """One bulletin of `bulletin_list_for_user`, or 404 (a draft is missing for a county reader)."""
    try:
        return bulletin_list_for_user(user=user).get(pk=pk)
    except (Bulletin.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def bulletin_rows_for_user(*, user, bulletin: Bulletin) -> list[BulletinRow]:
    """The bulletin's rows of the counties in the user's subtree."""
    access = access_for(user)
    return [row for row in bulletin.rows.select_related("union") if access.sees(row.union)]


def assessment_signoff_of(*, year: int) -> AssessmentSignoff | None:
    """The year's sign-off (the frozen result), if the leading group has approved it."""
    return AssessmentSignoff.objects.select_related("signed_by").filter(year=year).first()


def visible_counties(user, keys: list[int]) -> list[Union]:
    """The unions among `keys` the user may see (frozen results carry union ids)."""
    return [u for u in Union.objects.filter(pk__in=keys) if visible_to(user, u)]


# --- the league table ------------------------------------------------------------------------
@dataclass
class LeagueRow:
    union: Union
    members: int  # declared base (plan)
    registered: int  # members whose first card application is recorded
    target: int | None
    issued: int
    issued_prev: int
    distributed: int
    activated: int
    service_items: int
    completion: Decimal | None = None
    activation_rate: Decimal | None = None
    rank: int | None = None
    prev_rank: int | None = None

    @property
    def rank_change(self) -> int | None:
        if self.rank is None or self.prev_rank is None:
            return None
        return self.prev_rank - self.rank  # positive: moved up

    @property
    def coverage(self) -> Decimal | None:
        return scoring.percent(self.issued, self.members)


@dataclass
class LeagueTable:
    month: date
    year: int
    rows: list[LeagueRow]
    totals: LeagueRow | None
    conf: dict

    def sorted_by(self, key: str, descending: bool) -> list[LeagueRow]:
        def value(row):
            v = getattr(row, key)
            return (v is None, v if v is not None else 0)

        rows = sorted(self.rows, key=value, reverse=descending)
        # Missing values always last.
        return [r for r in rows if getattr(r, key) is not None] + [r for r in rows if getattr(r, key) is None]


def _sums_by(tree: Tree, *, upto: date, prev: date, by: str = "county") -> dict[int, dict]:
    """{county or union id: {metric: [cumulative to `upto`, cumulative to `prev`]}} in one query:
    by county from the county roll-up (a few thousand rows at city scale), by grassroots union
    from the union counters of the unions in `tree` (one county's subtree)."""
    if by == "county":
        qs = CountyMonthCount.objects.filter(month__lte=upto).values_list("county_id", "metric")
    else:
        qs = UnionMonthCount.objects.filter(month__lte=upto, union_id__in=list(tree.by_id))
        qs = qs.values_list("union_id", "metric")
    rows = qs.annotate(now=Sum("count"), before=Sum("count", filter=Q(month__lte=prev)))
    out: dict[int, dict] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for key, metric, now, before in rows:
        cell = out[key][metric]
        cell[0] += now or 0
        cell[1] += before or 0
    return out


def _rank(rows: list[LeagueRow], attr: str, conf: dict) -> dict[int, int]:
    values = {}
    for r in rows:
        target = r.target
        issued = r.issued if attr == "now" else r.issued_prev
        if target:
            values[r.union.pk] = Fraction(issued, target)
    return scoring.rank_places(values, ties=conf["RANK_TIES"])


def league_table(
    *, user, month: date, service_items: dict[int, int] | None = None, conf: dict | None = None
) -> LeagueTable:
    """Every county's cumulative figures at the end of `month`, ranked by completion ratio
    (cumulative issued ÷ that year's cumulative target) among all counties; the rows returned
    are those the user may see (a county reviewer gets their own row, with its city-wide rank)."""
    conf = conf or quotas_conf()
    month = month_start(month)
    prev = add_months(month, -1)
    tree = union_tree(counties_only=True)
    sums = _sums_by(tree, upto=month, prev=prev)
    quotas = {q.union_id: q for q in Quota.objects.filter(year=month.year)}
    prev_quotas = (
        quotas if prev.year == month.year else {q.union_id: q for q in Quota.objects.filter(year=prev.year)}
    )
    if service_items is None:
        service_items = service_items_by_county(on=min(month_end(month), timezone.localdate()))
    issued_metric = conf["ISSUED_METRIC"]
    base_metric = conf["ACTIVATION_DENOMINATOR"]
    rows = []
    for county in tree.counties:
        s = sums.get(county.pk, {})
        quota = quotas.get(county.pk)
        row = LeagueRow(
            union=county,
            members=(quota.member_base if quota else county.declared_members) or 0,
            registered=s.get("applied", (0, 0))[0],
            target=quota.target if quota else None,
            issued=s.get(issued_metric, (0, 0))[0],
            issued_prev=s.get(issued_metric, (0, 0))[1],
            distributed=s.get("distributed", (0, 0))[0],
            activated=s.get("activated", (0, 0))[0],
            service_items=service_items.get(county.pk, 0),
        )
        row.completion = scoring.percent(row.issued, row.target or 0)
        row.activation_rate = scoring.percent(row.activated, s.get(base_metric, (0, 0))[0])
        rows.append(row)
    now_places = _rank(rows, "now", conf)
    # Last month's rank uses last month's target (January compares with December's standing).
    prev_rows = [
        LeagueRow(
            r.union, 0, 0, getattr(prev_quotas.get(r.union.pk), "target", None), 0, r.issued_prev, 0, 0, None
        )
        for r in rows
    ]
    prev_places = _rank(prev_rows, "prev", conf)
    for r in rows:
        r.rank = now_places.get(r.union.pk)
        r.prev_rank = prev_places.get(r.union.pk)
    visible = [r for r in rows if visible_to(user, r.union)]
    visible.sort(key=lambda r: (r.rank is None, r.rank or 0, r.union.path))
    return LeagueTable(month, month.year, visible, _totals(visible, conf), conf)


def _totals(rows: list[LeagueRow], conf: dict) -> LeagueRow | None:
    if not rows:
        return None
    city = Union(name="合计")
    total = LeagueRow(
        union=city,
        members=sum(r.members for r in rows),
        registered=sum(r.registered for r in rows),
        target=sum(r.target or 0 for r in rows) or None,
        issued=sum(r.issued for r in rows),
        issued_prev=sum(r.issued_prev for r in rows),
        distributed=sum(r.distributed for r in rows),
        activated=sum(r.activated for r in rows),
        service_items=sum(r.service_items for r in rows),
    )
    total.completion = scoring.percent(total.issued, total.target or 0)
    base = total.issued if conf["ACTIVATION_DENOMINATOR"] == "issued" else total.distributed
    total.activation_rate = scoring.percent(total.activated, base)
    return total


def county_get_for_user(*, user, pk: int) -> Union:
    """A county-level union the user may see, else 404."""
    try:
        county = Union.objects.get(pk=pk, level__in=COUNTY_LEVELS)
    except (Union.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc
    if not visible_to(user, county):
        raise Http404
    return county


@dataclass
class UnitRow:
    union: Union
    registered: int
    issued: int
    distributed: int
    activated: int
    activation_rate: Decimal | None
    share: Decimal | None  # of the county's issued cards


def county_units(*, user, county: Union, month: date, conf: dict | None = None) -> list[UnitRow]:
    """Drill-down: the grassroots unions of one county with their cumulative figures."""
    conf = conf or quotas_conf()
    if not visible_to(user, county):
        raise Http404
    month = month_start(month)
    tree = union_tree(within=county)
    sums = _sums_by(tree, upto=month, prev=month, by="union")
    unit_totals: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for union_id, metrics in sums.items():
        # Sub-branches below a grassroots union roll up into it.
        unit_id = union_id
        while unit_id in tree.by_id and tree.by_id[unit_id].level != Union.Level.GRASSROOTS:
            parent = tree.by_id[unit_id].parent_id
            if parent is None or tree.by_id[unit_id].level in COUNTY_LEVELS:
                break
            unit_id = parent
        for metric, (now, _before) in metrics.items():
            unit_totals[unit_id][metric] += now
    units = [
        u for u in tree.by_id.values() if u.path.startswith(county.path) and u.level == Union.Level.GRASSROOTS
    ]
    county_issued = sum(t[conf["ISSUED_METRIC"]] for t in unit_totals.values())
    rows = []
    for unit in sorted(units, key=lambda u: u.path):
        t = unit_totals.get(unit.pk, {})
        issued = t.get(conf["ISSUED_METRIC"], 0)
        rows.append(
            UnitRow(
                union=unit,
                registered=t.get("applied", 0),
                issued=issued,
                distributed=t.get("distributed", 0),
                activated=t.get("activated", 0),
                activation_rate=scoring.percent(
                    t.get("activated", 0), t.get(conf["ACTIVATION_DENOMINATOR"], 0)
                ),
                share=scoring.percent(issued, county_issued),
            )
        )
    return rows


# --- trends and quarters ---------------------------------------------------------------------
def monthly_cumulative(
    *, user, first: date, last: date, conf: dict | None = None
) -> dict[int, dict[date, int]]:
    """{county id: {month: cumulative cards issued at its end}} for months first..last, for
    the counties the user may see. One aggregate query."""
    conf = conf or quotas_conf()
    tree = union_tree(counties_only=True)
    rows = (
        CountyMonthCount.objects.filter(metric=conf["ISSUED_METRIC"], month__lte=last)
        .values_list("county_id", "month")
        .annotate(n=Sum("count"))
    )
    per_month: dict[int, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for county, month, n in rows:
        per_month[county][max(month, first)] += n
    months = []
    m = first
    while m <= last:
        months.append(m)
        m = add_months(m, 1)
    result: dict[int, dict[date, int]] = {}
    for county in tree.counties:
        if not visible_to(user, county):
            continue
        running = 0
        series = {}
        for m in months:
            running += per_month.get(county.pk, {}).get(m, 0)
            series[m] = running
        result[county.pk] = series
    return result


@dataclass
class QuarterTable:
    year: int
    quarter: int
    month: date  # the quarter's last month
    rows: list[scoring.QuarterRow]
    complete: bool  # the quarter has ended


def quarterly_rankings(*, user, year: int, conf: dict | None = None) -> list[QuarterTable]:
    """季排队 for every ranked quarter of `year` up to the current one (2016 starts with Q2).
    Places are among all counties; the rows shown are those the user may see."""
    conf = conf or quotas_conf()
    today = timezone.localdate()
    tree = union_tree(counties_only=True)
    quotas = {q.union_id: q for q in Quota.objects.filter(year=year)}
    last = date(year, 12, 1)
    everyone = monthly_cumulative(user=EVERYONE, first=date(year, 1, 1), last=last, conf=conf)
    tables = []
    for quarter in scoring.quarters_ranked(year, conf):
        end = date(year, quarter * 3, 1)
        if date(year, quarter * 3 - 2, 1) > month_start(today):
            break  # the quarter has not started
        facts = [
            scoring.QuarterFacts(c.pk, c.name, everyone.get(c.pk, {}).get(end, 0), quotas[c.pk].target)
            for c in tree.counties
            if c.pk in quotas
        ]
        rows = [r for r in scoring.quarterly_ranking(facts, conf) if visible_to(user, tree.by_id[r.key])]
        tables.append(QuarterTable(year, quarter, end, rows, complete=month_end(end) < today))
    return tables


# --- the annual assessment -------------------------------------------------------------------
def assessment_facts(
    *, year: int, service_items: dict[int, int] | None = None, conf: dict | None = None
) -> list[scoring.AnnualFacts]:
    conf = conf or quotas_conf()
    tree = union_tree(counties_only=True)
    end = date(year, 12, 1)
    sums = _sums_by(tree, upto=end, prev=end)
    quotas = {q.union_id: q for q in Quota.objects.filter(year=year)}
    inputs = {i.union_id: i for i in AssessmentInput.objects.filter(year=year)}
    if service_items is None:
        service_items = service_items_by_county(on=min(date(year, 12, 31), timezone.localdate()))
    points: dict[int, list[Decimal]] = defaultdict(list)
    for table in quarterly_rankings(user=EVERYONE, year=year, conf=conf):
        for row in table.rows:
            points[row.key].append(row.points)
    facts = []
    for county in tree.counties:
        quota = quotas.get(county.pk)
        if quota is None:
            continue
        s = sums.get(county.pk, {})
        i = inputs.get(county.pk)
        facts.append(
            scoring.AnnualFacts(
                key=county.pk,
                name=county.name,
                members=quota.member_base,
                target=quota.target,
                issued=s.get(conf["ISSUED_METRIC"], (0, 0))[0],
                activation_base=s.get(conf["ACTIVATION_DENOMINATOR"], (0, 0))[0],
                activated=s.get("activated", (0, 0))[0],
                service_items=service_items.get(county.pk, 0),
                quarter_points=tuple(points.get(county.pk, [])),
                criticisms=i.public_criticisms if i else 0,
                leadership=i.leadership if i else Decimal("0"),
                measures=i.measures if i else Decimal("0"),
                missed_reports=i.missed_reports if i else 0,
            )
        )
    return facts


def annual_assessment(
    *, user, year: int, service_items: dict[int, int] | None = None, conf: dict | None = None
):
    conf = conf or quotas_conf()
    facts = assessment_facts(year=year, service_items=service_items, conf=conf)
    results = scoring.annual_assessment(facts, conf)
    tree_unions = {u.pk: u for u in Union.objects.filter(pk__in=[f.key for f in facts])}
    visible = [r for r in results if visible_to(user, tree_unions[r.facts.key])]
    return visible


def targets_by_union(*, year: int) -> dict[int, int]:
    """Each county's target for `year` (the plan is city-wide: the trend draws every county)."""
    return dict(Quota.objects.filter(year=year).values_list("union_id", "target"))


def assessment_inputs_by_union(*, year: int) -> dict[int, AssessmentInput]:
    """The staff-judged parts of `year`'s assessment, per county."""
    return {i.union_id: i for i in AssessmentInput.objects.filter(year=year)}


def quota_years() -> list[int]:
    return sorted(set(Quota.objects.values_list("year", flat=True)))


# --- the work plan's checkpoints (附件1: end of April, end of June) -----------------------------
@dataclass
class CheckpointRow:
    union: Union
    target: int
    year_target: int  # what the June check measures against (MIDYEAR_BASIS)
    april: scoring.Checkpoint
    midyear: list[scoring.Checkpoint]

    @property
    def midyear_passed(self) -> bool:
        return all(c.passed for c in self.midyear)


@dataclass
class Checkpoints:
    year: int
    april_over: bool
    june_over: bool
    rows: list[CheckpointRow]


def checkpoints(*, user, year: int, conf: dict | None = None) -> Checkpoints:
    """附件1 三(一)3: by the end of April a county's verified members (cards applied for) reach the
    year's card target; 三(一)6: by the end of June cards issued and activated reach 40% of the
    year's target (this year's new cards by default, MIDYEAR_BASIS). One roll-up query each."""
    conf = conf or quotas_conf()
    tree = union_tree(counties_only=True)
    april = date(year, conf["APRIL_CHECK_MONTH"], 1)
    june = date(year, conf["MIDYEAR_CHECK_MONTH"], 1)
    members = _sums_by(tree, upto=april, prev=april)
    progress = _sums_by(tree, upto=june, prev=date(year - 1, 12, 1))
    quotas = {q.union_id: q for q in Quota.objects.filter(year=year)}
    previous = {q.union_id: q.target for q in Quota.objects.filter(year=year - 1)}
    labels = {"issued": "发放", "activated": "启用（激活）", "distributed": "发放到会员"}
    rows = []
    for county in tree.counties:
        quota = quotas.get(county.pk)
        if quota is None or not visible_to(user, county):
            continue
        new = quota.new_in_year or max(quota.target - previous.get(county.pk, 0), 0)
        basis_new = conf["MIDYEAR_BASIS"] == "new"
        year_target = new if basis_new else quota.target
        figures = progress.get(county.pk, {})
        midyear = []
        for metric in conf["MIDYEAR_METRICS"]:
            now, before = figures.get(metric, (0, 0))
            midyear.append(
                scoring.midyear_check(
                    label=labels.get(metric, metric),
                    value=now - before if basis_new else now,
                    target=year_target,
                    conf=conf,
                )
            )
        applied = members.get(county.pk, {}).get("applied", (0, 0))[0]
        rows.append(
            CheckpointRow(
                union=county,
                target=quota.target,
                year_target=year_target,
                april=scoring.april_check(members=applied, target=quota.target),
                midyear=midyear,
            )
        )
    today = timezone.localdate()
    return Checkpoints(year, month_end(april) < today, month_end(june) < today, rows)


# --- the teams' weekly reports and the printable weekly summary --------------------------------
def week_of(day: date) -> date:
    """The Monday of `day`'s week."""
    return date.fromordinal(day.toordinal() - day.weekday())


def add_days(day: date, n: int) -> date:
    return date.fromordinal(day.toordinal() + n)


def _teams_qs(user):
    path = access_for(user).path
    if path is None:
        return WorkTeam.objects.none()
    return WorkTeam.objects.filter(owner__path__startswith=path).select_related("owner")


def teams_for_user(user) -> list[WorkTeam]:
    return list(_teams_qs(user))


def team_get_for_user(*, user, pk: int) -> WorkTeam:
    team = _teams_qs(user).filter(pk=pk).first()
    if team is None:
        raise Http404
    return team


@dataclass
class WeeklySummary:
    week: date
    end: date
    rows: list[tuple[WorkTeam, WeeklyReport | None]]
    cards: list[tuple[str, int]]  # (stage, cards that reached it this week in the user's subtree)
    merchants_signed: int

    @property
    def missing(self) -> list[WorkTeam]:
        return [team for team, report in self.rows if report is None]


def weekly_summary(*, user, week: date) -> WeeklySummary:
    """Every team's report for the week, with the week's card figures (cards that reached each
    stage, from the union counters' events) and the merchants signed that week."""
    week = week_of(week)
    end = add_days(week, 6)
    teams = teams_for_user(user)
    reports = {
        r.team_id: r
        for r in WeeklyReport.objects.filter(team__in=teams, week=week).select_related("submitted_by")
    }
    root = access_for(user).union or Union.objects.order_by("path").first()  # a superuser: the top
    counts = progress_by_week(root=root, weeks=1, until=end)[0]["counts"] if root else [0] * len(WEEK_STAGES)
    cards = [(Card.Status(stage).label, n) for stage, n in zip(WEEK_STAGES, counts, strict=True)]
    return WeeklySummary(
        week, end, [(t, reports.get(t.pk)) for t in teams], cards, merchants_signed(start=week, end=end)
    )
