"""Staff pages (/drops/), the venue's check-in page (/drops/venue/<token>/) and the drop picture."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cardportal.downloads import attachment
from cardportal.errors import ApplicationError
from cardportal.pagination import paginate
from cardportal.params import query_text
from members.access import access_for
from members.models import Union

from . import selectors, services, store
from .access import require_drop_manager
from .forms import DropForm
from .models import Drop, Ticket


def _manager(view):
    @login_required
    def wrapped(request, *args, **kwargs):
        require_drop_manager(request.user)
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _home_union(user) -> Union:
    return access_for(user).union or Union.objects.filter(parent__isnull=True).order_by("path").first()


@_manager
def drop_list(request):
    page = paginate(request, selectors.drop_list_for_user(user=request.user))
    return render(request, "drops/list.html", {"page": page})


@_manager
def drop_create(request):
    form = DropForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "counties"}
        drop = services.drop_create(
            actor=request.user,
            union=_home_union(request.user),
            fields=fields,
            counties=form.cleaned_data["counties"],
        )
        messages.success(request, "抢票活动已创建")
        return redirect(drop)
    return render(request, "drops/form.html", {"form": form}, status=400 if form.errors else 200)


@_manager
def drop_edit(request, pk):
    drop = selectors.drop_get_for_user(user=request.user, pk=pk)
    if drop.has_opened():
        messages.error(request, "活动已开始，不能再修改（只能提前结束）")
        return redirect(drop)
    form = DropForm(request.POST or None, request.FILES or None, instance=drop, user=request.user)
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "counties"}
        try:
            services.drop_update(
                drop=drop, actor=request.user, fields=fields, counties=form.cleaned_data["counties"]
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "已保存")
        return redirect(drop)
    return render(
        request, "drops/form.html", {"form": form, "drop": drop}, status=400 if form.errors else 200
    )


def _detail_context(request, drop: Drop) -> dict:
    counts = selectors.drop_counts(drop)
    return {
        "drop": drop,
        "counts": counts,
        "held": counts["pending"] + counts["valid"] + counts["used"],
        "left": drop.tickets - drop.taken,
        "state": drop.state_label(),
    }


@_manager
def drop_detail(request, pk):
    drop = selectors.drop_get_for_user(user=request.user, pk=pk)
    context = _detail_context(request, drop)
    context["winners"] = paginate(request, selectors.drop_winners(drop), per_page=100)
    context["venue_url"] = request.build_absolute_uri(f"/drops/venue/{drop.venue_token}/")
    context["mask_name"] = services.mask_name
    if request.htmx:
        return render(request, "drops/_live.html", context)
    return render(request, "drops/detail.html", context)


@_manager
@require_POST
def drop_close(request, pk):
    drop = selectors.drop_get_for_user(user=request.user, pk=pk)
    try:
        services.drop_close_early(drop=drop, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "活动已提前结束")
    return redirect(drop)


@_manager
@require_POST
def drop_reconcile(request, pk):
    drop = selectors.drop_get_for_user(user=request.user, pk=pk)
    if not store.enabled():
        messages.info(request, "未启用 Redis：库存只在数据库中，无需对账")
        return redirect(drop)
    result = services.drop_reconcile(drop=drop, repair=True, actor=request.user)
    if result.repaired:
        messages.warning(request, f"缓存库存与数据库不一致，已按数据库修正（已抢出 {result.db_taken} 张）")
    else:
        messages.success(request, f"缓存库存与数据库一致（已抢出 {result.db_taken} 张）")
    return redirect(drop)


@_manager
def drop_export(request, pk):
    drop = selectors.drop_get_for_user(user=request.user, pk=pk)
    return attachment(services.drop_export(drop=drop, actor=request.user), f"{drop.title}-中签名单.xlsx")


def _code_param(value) -> str:
    return "".join(ch for ch in query_text(value, max_length=40) if ch.isdigit())


@_manager
def redeem(request):
    """Staff check a voucher by its code (typed, or read from the QR by a scanner)."""
    result, error = None, None
    if request.method == "POST":
        code = _code_param(request.POST.get("code"))
        ticket = selectors.ticket_by_code_for_user(user=request.user, code=code) if len(code) == 12 else None
        if ticket is None:
            error = "券码不存在，请核对 12 位数字"
        else:
            try:
                result = services.voucher_redeem(ticket=ticket, actor=request.user)
            except ApplicationError as exc:
                error = exc.message
    return render(
        request,
        "drops/redeem.html",
        {"result": result, "error": error, "mask_name": services.mask_name},
        status=400 if error else 200,
    )


def venue(request, token):
    """The venue's own page (a link staff give the venue; no account): check in this drop's vouchers."""
    drop = Drop.objects.filter(venue_token=token).first()
    if drop is None:
        raise Http404
    result, error = None, None
    if request.method == "POST":
        code = _code_param(request.POST.get("code"))
        ticket = Ticket.objects.filter(drop=drop, code=code).first() if len(code) == 12 else None
        if ticket is None:
            error = "券码不存在，请核对 12 位数字"
        else:
            try:
                result = services.voucher_redeem(ticket=ticket, at_venue=True)
            except ApplicationError as exc:
                error = exc.message
    return render(
        request,
        "drops/venue.html",
        {"drop": drop, "result": result, "error": error, "mask_name": services.mask_name},
        status=400 if error else 200,
    )


def picture(request, pk):
    """A drop's picture (public, like the drop itself; never a member's file)."""
    drop = Drop.objects.filter(pk=pk).only("picture").first()
    if drop is None or not drop.picture:
        raise Http404
    response = FileResponse(drop.picture.open("rb"))
    response["Cache-Control"] = "public, max-age=300"
    return response
