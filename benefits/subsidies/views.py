"""Staff pages (/subsidies/): campaigns of the user's scope, a new campaign, a campaign's figures
and its monthly batches. Thin: parse, ask the door, one service or selector, render."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from cardportal.errors import ApplicationError
from cardportal.pagination import paginate
from members.access import Cap, access_for
from members.models import Union

from . import selectors, services
from .forms import BatchForm, CampaignForm


def _manager(view):
    @login_required
    def wrapped(request, *args, **kwargs):
        access_for(request.user).permit(Cap.SUBSIDY_MANAGE)
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def last_month():
    return (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)


def _home_union(user) -> Union:
    return access_for(user).union or Union.objects.filter(parent__isnull=True).order_by("path").first()


@_manager
def campaign_list(request):
    page = paginate(request, selectors.campaign_list_for_user(user=request.user))
    return render(request, "subsidies/list.html", {"page": page})


@_manager
def campaign_create(request):
    form = CampaignForm(request.POST or None, user=request.user)
    error = None
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        merchants, categories = data.pop("merchants"), data.pop("categories")
        try:
            campaign = services.subsidy_campaign_create(
                actor=request.user,
                union=_home_union(request.user),
                fields=data,
                merchants=list(merchants),
                categories=list(categories),
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            messages.success(request, f"消费补贴活动“{campaign.name}”已设立")
            return redirect(campaign)
    return render(
        request,
        "subsidies/form.html",
        {"form": form, "error": error},
        status=400 if (form.errors or error) else 200,
    )


@_manager
def campaign_detail(request, pk):
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    return render(
        request,
        "subsidies/detail.html",
        {
            "campaign": campaign,
            "months": selectors.campaign_months(campaign),
            "batches": selectors.campaign_batches(campaign),
            "merchants": list(campaign.merchants.order_by("name")),
            "categories": list(campaign.categories.order_by("id")),
            "batch_form": BatchForm(initial={"month": last_month()}),
        },
    )


@_manager
@require_POST
def campaign_batch(request, pk):
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    form = BatchForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(e for errors in form.errors.values() for e in errors))
        return redirect(campaign)
    try:
        result = services.subsidy_batch_build(
            campaign=campaign, month=form.cleaned_data["month"], actor=request.user
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(campaign)
    if result["disbursement"] is None:
        messages.info(
            request,
            "没有待发放的补贴" + (f"（{result['no_card']}人暂无有效工会卡）" if result["no_card"] else ""),
        )
        return redirect(campaign)
    note = f"；{result['no_card']}人暂无有效工会卡，留待下月" if result["no_card"] else ""
    messages.success(
        request, f"已生成发放批次：{result['count']}人，合计{result['total']}元{note}。请提交审批。"
    )
    return redirect(result["disbursement"])


@_manager
@require_POST
def campaign_toggle(request, pk):
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    try:
        services.subsidy_campaign_update(
            campaign=campaign, actor=request.user, changes={"is_active": not campaign.is_active}
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "活动已停用" if campaign.is_active else "活动已启用")
    return redirect(campaign)
