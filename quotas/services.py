"""Writes: loading a plan, drafting and publishing bulletins, recording the staff-judged parts."""

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from members.access import Cap, access_for
from members.models import Union

from . import exports, scoring
from .conf import quotas_conf
from .models import AssessmentInput, AssessmentSignoff, Bulletin, BulletinRow, Quota, WeeklyReport, WorkTeam
from .selectors import (
    COUNTY_LEVELS,
    EVERYONE,
    add_months,
    annual_assessment,
    bulletin_rows_for_user,
    league_table,
    month_start,
)

PLAN_COLUMNS = ("union_name", "members_2015")


@dataclass(frozen=True)
class PlanRow:
    line: int
    union_name: str
    members: int
    targets: dict[int, tuple[int, int, int | None]]  # year -> (cumulative, new in year, rate)


def plan_parse(text: str) -> list[PlanRow]:
    """Read a plan in the shape of cangzhou_plan_2016_2018.csv: union_name, members_YYYY, then
    per year issued_Y, rate_Y and (after the first year) cumulative_Y. The first year's
    cumulative is its issued count. A 合计 row is skipped. Errors name the line and column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = reader.fieldnames or []
    if "union_name" not in columns:
        raise ApplicationError("计划文件缺少列：union_name", code="plan_columns")
    members_col = next((c for c in columns if c.startswith("members_")), None)
    if members_col is None:
        raise ApplicationError("计划文件缺少会员数列（members_年份）", code="plan_columns")
    years = sorted({int(c.split("_")[1]) for c in columns if c.startswith("issued_")})
    if not years:
        raise ApplicationError("计划文件缺少发卡数列（issued_年份）", code="plan_columns")
    rows = []
    for line, raw in enumerate(reader, start=2):
        name = (raw.get("union_name") or "").strip()
        if not name or name == "合计":
            continue

        def number(col: str, *, required: bool = True, _raw=raw, _line=line) -> int | None:
            value = (_raw.get(col) or "").strip().replace(",", "")
            if not value:
                if required:
                    raise ApplicationError(f"第{_line}行 {col} 为空", code="plan_value")
                return None
            try:
                return int(Decimal(value))
            except ArithmeticError as exc:
                raise ApplicationError(f"第{_line}行 {col} 不是数字：{value}", code="plan_value") from exc

        targets = {}
        running = 0
        for year in years:
            new = number(f"issued_{year}")
            cumulative = number(f"cumulative_{year}", required=False)
            running = cumulative if cumulative is not None else running + new
            targets[year] = (running, new, number(f"rate_{year}", required=False))
        rows.append(PlanRow(line, name, number(members_col), targets))
    return rows


@transaction.atomic
def _require_below_actor(actor, lines: list[tuple[int, Union]]) -> None:
    """A plan is set by the level above: a staff actor loads it only for unions strictly below
    their own (a county admin must not set their own or a neighbour's target). No actor: the
    command line and the demo."""
    access = access_for(actor)
    outside = [f"第{line}行“{union.name}”" for line, union in lines if not access.governs(union)]
    if outside:
        raise ApplicationError(f"只能为本级以下的工会导入任务：{'、'.join(outside)}", code="plan_scope")


def quotas_load(*, text: str, actor=None) -> dict:
    """Upsert Quota rows from a plan CSV. Unions are matched by exact name among county-level
    unions; every unknown name is reported at once and nothing is written. Idempotent."""
    rows = plan_parse(text)
    unions = {u.name: u for u in Union.objects.filter(level__in=COUNTY_LEVELS)}
    missing = [f"第{r.line}行“{r.union_name}”" for r in rows if r.union_name not in unions]
    if missing:
        raise ApplicationError(
            f"找不到这些县级工会（名称须完全一致）：{'、'.join(missing)}", code="plan_union"
        )
    _require_below_actor(actor, [(r.line, unions[r.union_name]) for r in rows])
    created = updated = 0
    for row in rows:
        union = unions[row.union_name]
        for year, (cumulative, new, rate) in row.targets.items():
            _, was_created = Quota.objects.update_or_create(
                union=union,
                year=year,
                defaults={
                    "target": cumulative,
                    "new_in_year": new,
                    "member_base": row.members,
                    "planned_rate": rate,
                },
            )
            created += was_created
            updated += not was_created
        if union.declared_members != row.members:
            union.declared_members = row.members
            union.save(update_fields=["declared_members"])
    if actor is not None and rows:
        audit_record(
            actor=actor,
            verb="quotas.loaded",
            target=unions[rows[0].union_name].parent or unions[rows[0].union_name],
            data={"created": created, "updated": updated, "unions": len(rows)},
            label=f"发卡任务：{len(rows)}个县级工会",
        )
    return {"unions": len(rows), "created": created, "updated": updated}


# --- bulletins -------------------------------------------------------------------------------
def _last_published_before(month: date) -> Bulletin | None:
    return (
        Bulletin.objects.filter(status=Bulletin.Status.PUBLISHED, month__lt=month).order_by("-month").first()
    )


@transaction.atomic
def bulletin_draft(*, month: date, actor=None, service_items: dict[int, int] | None = None) -> Bulletin:
    """Draft (or redraft) the bulletin of `month` from the live counts. Idempotent: one bulletin
    per month (locked while rewritten); a published bulletin is returned untouched.

    Corrections: for each county, the previous month's cumulative figure as it stands now minus
    what the last published bulletin said for that month. A card recorded late for an earlier
    month therefore shows here, and the published bulletin keeps what it said."""
    access_for(actor).require(Cap.LEAGUE_MANAGE)
    month = month_start(month)
    bulletin, _ = Bulletin.objects.get_or_create(month=month, defaults={"drafted_at": timezone.now()})
    bulletin = Bulletin.objects.select_for_update().get(pk=bulletin.pk)
    if bulletin.is_published:
        return bulletin
    conf = quotas_conf()
    table = league_table(user=EVERYONE, month=month, service_items=service_items or {}, conf=conf)
    previous = _last_published_before(month)
    published_rows = {r.union_id: r for r in previous.rows.all()} if previous else {}
    # The figures of the previous bulletin's month as they stand now.
    if previous is not None:
        then = league_table(user=EVERYONE, month=previous.month, service_items={}, conf=conf)
        then_now = {r.union.pk: r for r in then.rows}
    else:
        then_now = {}
    bulletin.rows.all().delete()
    new_rows = []
    for r in table.rows:
        old = published_rows.get(r.union.pk)
        now_then = then_now.get(r.union.pk)
        issued_correction = (now_then.issued - old.issued) if old and now_then else 0
        activated_correction = (now_then.activated - old.activated) if old and now_then else 0
        new_rows.append(
            BulletinRow(
                bulletin=bulletin,
                union=r.union,
                union_name=r.union.name,
                members=r.members,
                registered=r.registered,
                target=r.target or 0,
                issued=r.issued,
                # against the previous month as it stands now: late entries are corrections
                issued_in_month=r.issued - r.issued_prev,
                issued_correction=issued_correction,
                distributed=r.distributed,
                activated=r.activated,
                activated_correction=activated_correction,
                completion=r.completion,
                activation_rate=r.activation_rate,
                rank=r.rank or 0,
                rank_change=(old.rank - (r.rank or 0)) if old else r.rank_change,
            )
        )
    BulletinRow.objects.bulk_create(new_rows)
    bulletin.previous = previous
    bulletin.drafted_at = timezone.now()
    bulletin.save(update_fields=["previous", "drafted_at"])
    return bulletin


@transaction.atomic
def bulletin_publish(*, bulletin: Bulletin, actor, note: str = "") -> Bulletin:
    """Freeze the bulletin. Refreshes the draft first, so what is published is the figures of
    the moment of publishing; after this nothing rewrites its rows."""
    access_for(actor).require(Cap.LEAGUE_MANAGE)
    bulletin = Bulletin.objects.select_for_update().get(pk=bulletin.pk)
    if bulletin.is_published:
        raise ApplicationError("该月通报已发布，不能重复发布", code="bulletin_published")
    if bulletin.month >= month_start(timezone.localdate()):
        raise ApplicationError("当月尚未结束，不能发布本月通报", code="bulletin_month_open")
    bulletin_draft(month=bulletin.month, actor=actor)
    bulletin.refresh_from_db()
    bulletin.status = Bulletin.Status.PUBLISHED
    bulletin.published_at = timezone.now()
    bulletin.published_by = actor
    if note:
        bulletin.note = note
    bulletin.save(update_fields=["status", "published_at", "published_by", "note"])
    city = Union.objects.filter(level=Union.Level.CITY).order_by("path").first()
    audit_record(
        actor=actor,
        verb="bulletin.published",
        target=bulletin,
        union=city,
        data={"month": bulletin.month.isoformat(), "rows": bulletin.rows.count()},
    )
    return bulletin


def bulletin_month_due(today: date | None = None) -> date:
    """The month a bulletin drafted today reports on: the month that just ended."""
    return add_months(month_start(today or timezone.localdate()), -1)


# --- assessment inputs -----------------------------------------------------------------------
@transaction.atomic
def assessment_input_save(
    *,
    union: Union,
    year: int,
    leadership: Decimal,
    measures: Decimal,
    missed_reports: int,
    public_criticisms: int,
    note: str = "",
    actor,
) -> AssessmentInput:
    access_for(actor).require(Cap.LEAGUE_MANAGE)
    conf = quotas_conf()
    if not (0 <= leadership <= conf["LEADERSHIP_MAX"]):
        raise ApplicationError(
            f"领导重视应在 0 至 {scoring.fmt(conf['LEADERSHIP_MAX'])} 分之间", code="range"
        )
    if not (0 <= measures <= conf["MEASURES_MAX"]):
        raise ApplicationError(f"措施有力应在 0 至 {scoring.fmt(conf['MEASURES_MAX'])} 分之间", code="range")
    # The county's quota row is the lock a sign-off also takes: no input slips in after it.
    list(Quota.objects.select_for_update().filter(union=union, year=year))
    _refuse_if_signed(year)
    item, _ = AssessmentInput.objects.select_for_update().get_or_create(union=union, year=year)
    before = {
        "leadership": str(item.leadership),
        "measures": str(item.measures),
        "missed_reports": item.missed_reports,
        "public_criticisms": item.public_criticisms,
    }
    item.leadership = leadership
    item.measures = measures
    item.missed_reports = missed_reports
    item.public_criticisms = public_criticisms
    item.note = note
    item.updated_by = actor
    item.save()
    audit_record(
        actor=actor,
        verb="assessment.input_saved",
        target=item,
        union=union,
        data={
            "year": year,
            "before": before,
            "after": {
                "leadership": str(leadership),
                "measures": str(measures),
                "missed_reports": missed_reports,
                "public_criticisms": public_criticisms,
            },
        },
    )
    return item


# --- audited downloads ---------------------------------------------------------------------------
@transaction.atomic
def league_export(*, actor, month: date) -> tuple[bytes, str]:
    """The month's league table of the actor's subtree as .xlsx, and its file name; audited."""
    access_for(actor).require(Cap.LEAGUE_READ)
    table = league_table(user=actor, month=month)
    union = access_for(actor).union
    audit_record(
        actor=actor,
        verb="league.exported",
        target=union or actor,
        union=union,
        data={"month": month.isoformat(), "rows": len(table.rows)},
        label=f"{month:%Y年%m月}进度表导出",
    )
    return exports.league_workbook(table), f"league-{month:%Y-%m}.xlsx"


@transaction.atomic
def bulletin_download(*, bulletin: Bulletin, actor) -> tuple[bytes, str]:
    """The bulletin's rows of the actor's subtree as .xlsx, and its file name; audited."""
    access_for(actor).require(Cap.LEAGUE_READ)
    rows = bulletin_rows_for_user(user=actor, bulletin=bulletin)
    audit_record(
        actor=actor,
        verb="bulletin.downloaded",
        target=bulletin,
        union=access_for(actor).union,
        data={"rows": len(rows)},
    )
    return exports.bulletin_workbook(bulletin, rows, quotas_conf()), f"bulletin-{bulletin.month:%Y-%m}.xlsx"


# --- signing off the year's assessment (附件3 三) ---------------------------------------------
def _refuse_if_signed(year: int) -> None:
    signoff = AssessmentSignoff.objects.filter(year=year).first()
    if signoff is not None:
        raise ApplicationError(
            f"{year}年考核结果已于{timezone.localtime(signoff.signed_at):%Y-%m-%d}审定，不能再修改",
            code="assessment_signed",
        )


def _frozen(result) -> dict:
    return {
        "key": result.facts.key,
        "name": result.facts.name,
        "place": result.place,
        # a list in PART_LABELS order: a JSON object's key order is not kept (jsonb sorts keys)
        "parts": [
            {"part": k, "points": str(result.parts[k].points), "explain": result.parts[k].explain}
            for k in scoring.PART_LABELS
        ],
        "total": str(result.total),
        "vetoed": result.vetoed,
        "award": str(result.award),
        "award_explain": result.award_explain,
    }


@transaction.atomic
def assessment_signoff(*, year: int, approval: str, actor) -> AssessmentSignoff:
    """Record the leading group's approval of a year's assessment and freeze it: the results as
    computed now are stored, the year's inputs become read-only, and the act is audited. Only
    after the year has ended, only by federation staff, once."""
    access_for(actor).require(Cap.LEAGUE_MANAGE, "审定年度考核")
    approval = approval.strip()
    if not approval:
        raise ApplicationError("请填写审批依据（如主席会议纪要的日期和文号）", code="approval_required")
    if date(year, 12, 31) >= timezone.localdate():
        raise ApplicationError(f"{year}年尚未结束，年终考核结果不能审定", code="year_not_over")
    list(Quota.objects.select_for_update().filter(year=year).order_by("pk"))  # see assessment_input_save
    _refuse_if_signed(year)
    results = annual_assessment(user=EVERYONE, year=year)
    if not results:
        raise ApplicationError(f"{year}年没有任务数据，无可审定的结果", code="nothing_to_sign")
    signoff = AssessmentSignoff.objects.create(
        year=year, results=[_frozen(r) for r in results], approval=approval, signed_by=actor
    )
    audit_record(
        actor=actor,
        verb="assessment.signed_off",
        target=signoff,
        data={"year": year, "approval": approval, "counties": len(results)},
    )
    return signoff


# --- the teams' weekly reports (seed 002 四(二)) ----------------------------------------------
REPORT_FIELDS = ("merchants_enrolled", "members_developed", "progress", "problems", "next_steps")


@transaction.atomic
def weekly_report_save(*, team: WorkTeam, week: date, actor, **fields) -> WeeklyReport:
    """Write (or rewrite) a team's report for the week starting on Monday `week`; not for a week
    that has not started. Audited with what it said before."""
    access = access_for(actor)
    access.require(Cap.LEAGUE_MANAGE, "填报推进周报")
    if not access.sees(team.owner):
        raise ApplicationError("只能填报本级及下级推进小组的周报", code="forbidden")
    if week.weekday() != 0:
        raise ApplicationError("周报的日期应为该周的周一", code="week_not_monday")
    if week > timezone.localdate():
        raise ApplicationError("不能填报尚未开始的一周", code="week_in_future")
    if not (fields.get("progress") or "").strip():
        raise ApplicationError("请填写本周工作进展", code="progress_required")
    report = WeeklyReport.objects.select_for_update().filter(team=team, week=week).first()
    before = {f: getattr(report, f) for f in REPORT_FIELDS} if report else None
    if report is None:
        report = WeeklyReport(team=team, week=week)
    for name in REPORT_FIELDS:
        setattr(report, name, fields.get(name, getattr(report, name)))
    report.submitted_by = actor
    report.save()
    audit_record(
        actor=actor,
        verb="weekly_report.saved",
        target=report,
        union=team.owner,
        data={"week": week.isoformat(), "team": team.name, "before": before},
        label=f"{team.name} {week:%Y-%m-%d} 周报",
    )
    return report
