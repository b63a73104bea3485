"""The clerk's queue of members' correction requests (from 我的信息 on the members' site)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cardportal.audit import client_ip
from cardportal.errors import ApplicationError
from cardportal.pagination import paginate
from cardportal.params import query_text

from . import corrections
from .models import CorrectionRequest


@login_required
def correction_list(request):
    status = request.GET.get("status", CorrectionRequest.Status.OPEN)
    if status not in CorrectionRequest.Status.values and status != "all":
        status = CorrectionRequest.Status.OPEN
    page = paginate(request, corrections.correction_list_for_user(user=request.user, status=status))
    rows = [{"request": r, "preview": corrections.correction_preview(r)} for r in page.object_list]
    return render(
        request,
        "members/correction_list.html",
        {"page": page, "rows": rows, "status": status, "statuses": CorrectionRequest.Status.choices},
    )


@login_required
def correction_detail(request, pk):
    item = corrections.correction_get_for_user(user=request.user, pk=pk)
    details = corrections.correction_read(request=item, actor=request.user, ip=client_ip(request))
    return render(
        request, "members/correction_detail.html", {"item": item, "details": details, "error": None}
    )


@login_required
@require_POST
def correction_handle(request, pk):
    item = corrections.correction_get_for_user(user=request.user, pk=pk)
    try:
        corrections.correction_mark_handled(
            request=item, actor=request.user, reply=query_text(request.POST.get("reply"), max_length=400)
        )
    except ApplicationError as exc:
        details = corrections.correction_read(request=item, actor=request.user, ip=client_ip(request))
        return render(
            request,
            "members/correction_detail.html",
            {"item": item, "details": details, "error": exc.message, "reply": request.POST.get("reply", "")},
            status=400,
        )
    messages.success(request, "已标记为已处理，会员可在会员网站看到处理说明。")
    return redirect("members:correction_list")
