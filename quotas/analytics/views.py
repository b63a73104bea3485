"""Analytics pages (county and city staff): parse, ask the door, call a selector, render."""

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cardportal.actions import attempt, run_download
from cardportal.params import positive_int
from cardportal.replica import replica_reads
from members.access import Cap, access_for, requires, scope_path
from merchants.models import MerchantCategory

from . import charts, selectors, services, sources
from .models import SegmentNotice
from .refresh import month_start
from .segments import SEGMENTS, counties_without, segment_get, segment_params, segment_snapshot_count
from .terms import NOTES

READ = Cap.USAGE_ANALYTICS


def _month(request) -> date:
    raw = request.GET.get("month", "")
    try:
        year, month = (int(p) for p in raw.split("-"))
        return date(year, month, 1)
    except (ValueError, OverflowError):
        return selectors.default_month()


def _months(current: date) -> list[date]:
    months, m = [], month_start(date.today())
    for _ in range(12):
        months.append(m)
        m = selectors.previous_month(m)
    return sorted(set(months) | {current}, reverse=True)


def _county(request):
    pk = positive_int(request.GET.get("county"))
    return selectors.county_get_for_user(user=request.user, pk=pk) if pk else None


@login_required
@requires(READ)
@replica_reads
def active(request):
    table = selectors.activity_table(user=request.user, county=_county(request))
    chart = charts.paired_bars(
        [(r.union.name.removesuffix("总工会"), r.rate30, r.rate90) for r in table.rows[:40]],
        legend=("近30天活跃率", "近90天活跃率"),
        unit="%",
        title="已激活卡中近期用过的比例",
    )
    return render(request, "analytics/active.html", {"table": table, "chart": chart, "notes": NOTES[:4]})


@login_required
@requires(READ)
@replica_reads
def spending(request):
    month = _month(request)
    table = selectors.spend_table(user=request.user, month=month)
    chart = charts.paired_bars(
        [(name, now, before) for name, now, before, _c in table.by_category],
        legend=(f"{table.month:%Y年%m月}", f"{table.previous:%Y年%m月}"),
        title="特约商户消费金额（元），按商户类别",
    )
    grid = [
        (c, [table.cells.get((c.pk, cat.pk), (0, 0)) for cat in table.categories]) for c in table.counties
    ]
    context = {"table": table, "chart": chart, "grid": grid, "months": _months(month), "notes": NOTES[4:6]}
    return render(request, "analytics/spending.html", context)


@login_required
@requires(READ)
@replica_reads
def merchants(request):
    month = _month(request)
    rows, unused = selectors.merchant_ranking(user=request.user, month=month)
    chart = charts.paired_bars(
        [(r.merchant.name[:10], r.cards, r.repeat_cards) for r in rows[:15]],
        legend=("服务会员（张卡）", "回头客（张卡）"),
        title=f"{month:%Y年%m月}服务会员最多的商户",
    )
    context = {"rows": rows[:200], "total": len(rows), "unused": unused, "month": month, "chart": chart,
               "months": _months(month), "notes": NOTES[6:8]}  # fmt: skip
    return render(request, "analytics/merchants.html", context)


@login_required
@requires(READ)
@replica_reads
def uptake(request):
    benefit = selectors.benefit_uptake(user=request.user)
    subsidy = sources.subsidy_uptake(user=request.user)
    chart = charts.paired_bars(
        [(c.name[:12], c.spent, c.budget) for c in subsidy],
        legend=("已使用预算", "预算"),
        title="消费补贴预算使用（元）",
    ) if subsidy else ""  # fmt: skip
    context = {
        "benefit": benefit, "subsidy": subsidy, "chart": chart, "subsidies_installed": sources.subsidies_installed(),
        "recipients": selectors.recipients(user=request.user, limit=50), "notes": NOTES[8:10],
    }  # fmt: skip
    return render(request, "analytics/uptake.html", context)


@login_required
@requires(READ)
@replica_reads
def export(request, page):
    if page not in ("active", "spending", "merchants", "uptake"):
        page = "active"
    month = _month(request) if page in ("spending", "merchants") else None
    county = _county(request) if page == "active" else None
    call = lambda: services.page_export(actor=request.user, page=page, month=month, county=county)  # noqa: E731
    return run_download(request, call, back=f"analytics:{page}")


@login_required
@requires(READ)
def segments(request):
    notices = SegmentNotice.objects.filter(scope_path__startswith=scope_path(request.user) or "\0")[:20]
    context = {"segments": SEGMENTS.values(), "categories": MerchantCategory.objects.order_by("order", "name"),
               "notices": notices}  # fmt: skip
    return render(request, "analytics/segments.html", context)


@login_required
@requires(READ)
@replica_reads
def segment(request, slug):
    seg = segment_get(slug)
    params = segment_params(request.GET)
    chosen = not seg.needs_category or params["category"]
    snapshot = segment_snapshot_count(request.user, seg, params) if chosen else None
    context = {
        "segment": seg, "params": params, "chosen": chosen, "snapshot": snapshot,
        "count": snapshot.count if snapshot else None,
        "categories": MerchantCategory.objects.order_by("order", "name"),
        "lacking": counties_without(request.user, params["category"]) if params.get("category") else None,
        "may_notify": access_for(request.user).can(Cap.SEGMENT_NOTICE),
        "query": request.GET.urlencode(),
    }  # fmt: skip
    return render(request, "analytics/segment.html", context)


@login_required
@requires(READ)
def segment_export(request, slug):
    seg = segment_get(slug)
    params = segment_params(request.GET)
    back = reverse("analytics:segment", args=[slug])
    return run_download(
        request, lambda: services.segment_export(actor=request.user, segment=seg, params=params), back=back
    )


@login_required
@requires(Cap.SEGMENT_NOTICE)
@require_POST
def segment_notify(request, slug):
    seg = segment_get(slug)
    params = segment_params(request.POST)
    expected = positive_int(request.POST.get("expected")) or 0
    title, when = request.POST.get("title", ""), request.POST.get("when", "")
    ok, notice = attempt(
        request,
        lambda: services.segment_notify(
            actor=request.user, segment=seg, params=params, title=title, when=when, expected=expected
        ),
    )
    if ok:
        messages.success(request, f"已安排向{notice.planned}名会员发送通知")
        return redirect("analytics:segments")
    query = f"?category={params['category'].pk}" if params.get("category") else ""
    return redirect(reverse("analytics:segment", args=[slug]) + query)
