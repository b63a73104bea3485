from datetime import date
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cardportal.actions import attempt, run_action, run_download
from cardportal.errors import ApplicationError
from cardportal.params import positive_int, query_text
from cardportal.replica import replica_reads
from members.access import Cap, access_for, requires

from . import charts, selectors, services
from .conf import quotas_conf
from .forms import AssessmentInputForm, WeeklyReportForm
from .scoring import PART_LABELS
from .terms import terms_for

SORTABLE = {
    "rank": "rank",
    "name": "union.path",
    "members": "members",
    "target": "target",
    "issued": "issued",
    "completion": "completion",
    "distributed": "distributed",
    "activated": "activated",
    "activation": "activation_rate",
    "items": "service_items",
    "change": "rank_change",
}


def _month_param(request, default: date | None = None) -> date:
    raw = request.GET.get("month", "")
    try:
        year, month = (int(p) for p in raw.split("-"))
        return date(year, month, 1)
    except (ValueError, OverflowError):  # "99999999999-1": date() overflows rather than refuses
        return default or selectors.add_months(selectors.current_month(), 0)


def _year_param(request) -> int:
    year = positive_int(request.GET.get("year"))
    if year is not None and year <= date.max.year:  # a 30-digit year overflowed date() (a 500)
        return year
    years = selectors.quota_years()
    today = selectors.current_month()
    return today.year if today.year in years or not years else years[-1]


def _sorted_rows(request, table):
    key = request.GET.get("sort", "rank")
    attr = SORTABLE.get(key, "rank")
    descending = request.GET.get("dir", "asc" if key in ("rank", "name") else "desc") == "desc"
    if attr == "union.path":
        return sorted(table.rows, key=lambda r: r.union.path, reverse=descending), key, descending
    return table.sorted_by(attr, descending), key, descending


@login_required
@requires(Cap.LEAGUE_READ)
@replica_reads
def league(request):
    month = _month_param(request, selectors.default_month())
    table = selectors.league_table(user=request.user, month=month)
    rows, sort, descending = _sorted_rows(request, table)
    first = date(month.year, 1, 1)
    series = selectors.monthly_cumulative(user=request.user, first=first, last=month)
    targets = {r.union.pk: r.target for r in table.rows}
    sparks = {}
    trend = {}
    for county_id, by_month in series.items():
        target = targets.get(county_id)
        points = [(m, Decimal(v) * 100 / target if target else None) for m, v in by_month.items()]
        sparks[county_id] = charts.sparkline([p for _, p in points])
        trend[county_id] = points
    names = {r.union.pk: r.union.name.removesuffix("总工会") for r in table.rows}
    context = {
        "table": table,
        "rows": [(r, sparks.get(r.union.pk)) for r in rows],
        "sort": sort,
        "descending": descending,
        "month": month,
        "months": selectors.league_months(),
        "bar_chart": charts.completion_bars(
            [
                (r.union.name.removesuffix("总工会"), r.completion)
                for r in sorted(table.rows, key=lambda r: r.rank or 99)
            ],
            title=f"{month.year}年{month.month}月底各县完成率（虚线为年度任务）",
        ),
        "trend_chart": charts.trend_chart(
            {names[k]: v for k, v in trend.items() if k in names}, title=f"{month.year}年各月累计完成率"
        ),
        "terms": terms_for(table.conf),
        "is_federation": access_for(request.user).can(Cap.LEAGUE_MANAGE),
    }
    return render(request, "quotas/league.html", context)


@login_required
@requires(Cap.LEAGUE_READ)
@replica_reads
def league_export(request):
    month = _month_param(request, selectors.default_month())
    return run_download(
        request, lambda: services.league_export(actor=request.user, month=month), back="quotas:league"
    )


@login_required
@requires(Cap.LEAGUE_READ)
@replica_reads
def league_county(request, pk):
    county = selectors.county_get_for_user(user=request.user, pk=pk)
    month = _month_param(request, selectors.default_month())
    table = selectors.league_table(user=request.user, month=month)
    row = next((r for r in table.rows if r.union.pk == county.pk), None)
    units = selectors.county_units(user=request.user, county=county, month=month)
    first = date(month.year, 1, 1)
    series = selectors.monthly_cumulative(user=selectors.EVERYONE, first=first, last=month)
    targets = selectors.targets_by_union(year=month.year)
    names = {c.pk: c.name.removesuffix("总工会") for c in selectors.union_tree(counties_only=True).counties}
    trend = {
        names[cid]: [
            (m, Decimal(v) * 100 / targets[cid] if targets.get(cid) else None) for m, v in by_month.items()
        ]
        for cid, by_month in series.items()
        if cid in names
    }
    context = {
        "county": county,
        "row": row,
        "units": units,
        "month": month,
        "months": selectors.league_months(),
        "trend_chart": charts.trend_chart(
            trend,
            title=f"{month.year}年各月累计完成率（红线为本县，灰线为其他县）",
            highlight=names.get(county.pk),
        ),
        "terms": terms_for(quotas_conf()),
    }
    return render(request, "quotas/county.html", context)


# --- bulletins -------------------------------------------------------------------------------
@login_required
@requires(Cap.LEAGUE_READ)
def bulletin_list(request):
    bulletins = selectors.bulletin_list_for_user(user=request.user)
    due = services.bulletin_month_due()
    return render(
        request,
        "quotas/bulletin_list.html",
        {
            "bulletins": bulletins,
            "is_federation": access_for(request.user).can(Cap.LEAGUE_MANAGE),
            "due": due,
            "months": selectors.league_months(),
        },
    )


@login_required
@require_POST
@requires(Cap.LEAGUE_MANAGE)
def bulletin_draft(request):
    month = _month_param(request) if request.GET.get("month") else None
    raw = request.POST.get("month", "")
    try:
        year, mon = (int(p) for p in raw.split("-"))
        month = date(year, mon, 1)
    except (ValueError, OverflowError):
        month = month or services.bulletin_month_due()
    bulletin = services.bulletin_draft(month=month, actor=request.user)
    if bulletin.is_published:
        messages.warning(request, f"{month.year}年{month.month}月通报已发布，不再重新生成")
    else:
        messages.success(request, f"已生成{month.year}年{month.month}月通报草稿，请核对后发布")
    return redirect("quotas:bulletin_detail", pk=bulletin.pk)


@login_required
@requires(Cap.LEAGUE_READ)
def bulletin_detail(request, pk):
    bulletin = selectors.bulletin_get_for_user(user=request.user, pk=pk)
    rows = selectors.bulletin_rows_for_user(user=request.user, bulletin=bulletin)
    return render(
        request,
        "quotas/bulletin_detail.html",
        {
            "bulletin": bulletin,
            "rows": rows,
            "is_federation": access_for(request.user).can(Cap.LEAGUE_MANAGE),
            "can_publish": bulletin.month < selectors.current_month(),
            "terms": terms_for(quotas_conf()),
            "has_corrections": any(r.issued_correction or r.activated_correction for r in rows),
        },
    )


@login_required
@require_POST
@requires(Cap.LEAGUE_MANAGE)
def bulletin_publish(request, pk):
    bulletin = selectors.bulletin_get_for_user(user=request.user, pk=pk)
    try:
        services.bulletin_publish(
            bulletin=bulletin, actor=request.user, note=query_text(request.POST.get("note"))
        )
        messages.success(request, f"{bulletin.month.year}年{bulletin.month.month}月通报已发布，数据已冻结")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("quotas:bulletin_detail", pk=bulletin.pk)


@login_required
@requires(Cap.LEAGUE_READ)
def bulletin_download(request, pk):
    bulletin = selectors.bulletin_get_for_user(user=request.user, pk=pk)
    return run_download(
        request,
        lambda: services.bulletin_download(bulletin=bulletin, actor=request.user),
        back=reverse("quotas:bulletin_detail", args=[bulletin.pk]),
    )


# --- quarterly ranking and the annual assessment ---------------------------------------------
@login_required
@requires(Cap.LEAGUE_READ)
@replica_reads
def quarterly(request):
    year = _year_param(request)
    tables = selectors.quarterly_rankings(user=request.user, year=year)
    conf = quotas_conf()
    return render(
        request,
        "quotas/quarterly.html",
        {
            "year": year,
            "years": selectors.quota_years(),
            "tables": tables,
            "terms": terms_for(conf),
            "conf": conf,
        },
    )


@login_required
@requires(Cap.LEAGUE_READ)
@replica_reads
def assessment(request):
    year = _year_param(request)
    signoff = selectors.assessment_signoff_of(year=year)
    if signoff is not None:
        return _assessment_signed(request, signoff)
    results = selectors.annual_assessment(user=request.user, year=year)
    inputs = selectors.assessment_inputs_by_union(year=year)
    is_fed = access_for(request.user).can(Cap.LEAGUE_MANAGE)
    forms = {}
    if is_fed:
        for r in results:
            i = inputs.get(r.facts.key)
            forms[r.facts.key] = AssessmentInputForm(
                prefix=f"u{r.facts.key}",
                initial={
                    "leadership": i.leadership if i else Decimal("0"),
                    "measures": i.measures if i else Decimal("0"),
                    "missed_reports": i.missed_reports if i else 0,
                    "public_criticisms": i.public_criticisms if i else 0,
                    "note": i.note if i else "",
                },
            )
    return render(
        request,
        "quotas/assessment.html",
        {
            "year": year,
            "years": selectors.quota_years(),
            "results": [(r, forms.get(r.facts.key)) for r in results],
            "labels": PART_LABELS,
            "is_federation": is_fed,
            "year_over": date(year, 12, 31) < selectors.timezone.localdate(),
        },
    )


def _assessment_signed(request, signoff):
    """A signed-off year: the frozen results, read-only, the rows the user may see."""
    visible = {u.pk for u in selectors.visible_counties(request.user, [r["key"] for r in signoff.results])}
    return render(
        request,
        "quotas/assessment.html",
        {
            "year": signoff.year,
            "years": selectors.quota_years(),
            "signoff": signoff,
            "frozen": [r for r in signoff.results if r["key"] in visible],
            "labels": PART_LABELS,
            "year_over": True,
        },
    )


@login_required
@require_POST
@requires(Cap.LEAGUE_MANAGE)
def assessment_signoff(request, year: int):
    approval = request.POST.get("approval", "")
    return run_action(
        request,
        lambda: services.assessment_signoff(year=year, approval=approval, actor=request.user),
        done=f"{year}年考核结果已审定，此后只读",
        back=f"{reverse('quotas:assessment')}?year={year}",
    )


@login_required
@requires(Cap.LEAGUE_READ)
def checkpoints(request):
    year = _year_param(request)
    return render(
        request,
        "quotas/checkpoints.html",
        {
            "year": year,
            "years": selectors.quota_years(),
            "checks": selectors.checkpoints(user=request.user, year=year),
            "conf": quotas_conf(),
        },
    )


@login_required
@require_POST
@requires(Cap.LEAGUE_MANAGE)
def assessment_input(request, year: int, pk: int):
    county = selectors.county_get_for_user(user=request.user, pk=pk)
    form = AssessmentInputForm(request.POST, prefix=f"u{pk}")
    if form.is_valid():
        try:
            services.assessment_input_save(union=county, year=year, actor=request.user, **form.cleaned_data)
            messages.success(request, f"已保存{county.name}{year}年的评分")
        except ApplicationError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(
            request, f"{county.name}：" + "；".join(e for errs in form.errors.values() for e in errs)
        )
    return redirect(f"{reverse('quotas:assessment')}?year={year}#u{pk}")


# --- the teams' weekly reports (seed 002 四(二)) ----------------------------------------------
def _week_param(request) -> date:
    try:
        return selectors.week_of(date.fromisoformat(request.GET.get("week", "")))
    except ValueError:
        return selectors.week_of(selectors.timezone.localdate())


@login_required
@requires(Cap.LEAGUE_MANAGE)
def weekly(request):
    """This week's (or the chosen week's) reports of every team, a form per team for federation
    staff, and the week's figures; `?print=1` is the printable summary."""
    week = _week_param(request)
    summary = selectors.weekly_summary(user=request.user, week=week)
    forms = {}
    for team, report in summary.rows:
        initial = {f: getattr(report, f) for f in services.REPORT_FIELDS} if report else None
        forms[team.pk] = WeeklyReportForm(prefix=f"t{team.pk}", initial=initial)
    this_week = selectors.week_of(selectors.timezone.localdate())
    return render(
        request,
        "quotas/weekly_print.html" if request.GET.get("print") else "quotas/weekly.html",
        {
            "s": summary,
            "rows": [(team, report, forms[team.pk]) for team, report in summary.rows],
            "previous": selectors.add_days(summary.week, -7),
            "next": selectors.add_days(summary.week, 7) if summary.week < this_week else None,
            "editable": summary.week <= this_week,
        },
    )


@login_required
@require_POST
@requires(Cap.LEAGUE_MANAGE)
def weekly_save(request, team_pk: int, week: str):
    team = selectors.team_get_for_user(user=request.user, pk=team_pk)
    try:
        monday = date.fromisoformat(week)
    except ValueError:
        raise Http404 from None
    form = WeeklyReportForm(request.POST, prefix=f"t{team.pk}")
    if form.is_valid():
        ok, _ = attempt(
            request,
            lambda: services.weekly_report_save(
                team=team, week=monday, actor=request.user, **form.cleaned_data
            ),
        )
        if ok:
            messages.success(request, f"已保存{team.name}{monday:%Y-%m-%d}这一周的汇报")
    else:
        messages.error(
            request, f"{team.name}：" + "；".join(e for errs in form.errors.values() for e in errs)
        )
    return redirect(f"{reverse('quotas:weekly')}?week={monday:%Y-%m-%d}#t{team.pk}")
