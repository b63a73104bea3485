"""The audit viewer: city and province staff search and export the audit log of their subtree."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.vary import vary_on_headers

from .audit import client_ip, mask_pii_text, verb_family
from .audit_export import EXPORT_MAX_ROWS, audit_log_export
from .downloads import attachment
from .forms import AuditFilterForm
from .pagination import paginate
from .scoping import access_for, visible_unions
from .selectors import AUDIT_READ, audit_get_for_user, audit_list_for_user

# Chinese names of the keys services put in AuditEntry.data most often; others show as written.
DATA_LABELS = {
    "note": "备注",
    "reason": "原因",
    "status": "状态",
    "rows": "行数",
    "count": "数量",
    "amount": "金额",
    "via": "途径",
    "file": "文件",
    "filters": "筛选条件",
    "sha256": "文件摘要",
}
NOT_A_READER = "只有市、省总工会工作人员可以查阅审计日志"


def _form(request) -> AuditFilterForm:
    unions = visible_unions(request.user).order_by("path")
    return AuditFilterForm(request.GET or None, unions=unions)


def _entries(request, form):
    filters = form.filters()
    if filters is None:
        return audit_list_for_user(user=request.user).none()
    return audit_list_for_user(user=request.user, **filters)


# The same URL answers with the page or (to htmx) the table alone: without Vary and no-store the
# browser's Back button shows the bare table it cached. Audit pages are not worth caching anyway.
@never_cache
@vary_on_headers("HX-Request")
@login_required
def audit_list(request):
    access_for(request.user).permit(AUDIT_READ, NOT_A_READER)
    form = _form(request)
    page = paginate(request, _entries(request, form))
    rows = [(entry, verb_family(entry.verb).label, mask_pii_text(entry.target_label)) for entry in page]
    query = request.GET.copy()
    query.pop("page", None)
    # htmx asks for the whole page when it restores a history entry it has no snapshot of.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "audit/_audit_table.html" if partial else "audit/audit_list.html"
    return render(request, template, {"form": form, "page": page, "rows": rows, "query": query.urlencode()})


@login_required
def audit_detail(request, pk):
    access_for(request.user).permit(AUDIT_READ, NOT_A_READER)
    entry = audit_get_for_user(user=request.user, pk=pk)
    details = (
        [
            (
                DATA_LABELS.get(key, key),
                mask_pii_text(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)),
            )
            for key, value in sorted(entry.data.items())
        ]
        if isinstance(entry.data, dict)
        else [("", mask_pii_text(json.dumps(entry.data, ensure_ascii=False)))]
    )
    return render(
        request,
        "audit/audit_detail.html",
        {
            "entry": entry,
            "family": verb_family(entry.verb).label,
            "target_label": mask_pii_text(entry.target_label),
            "details": details,
        },
    )


@login_required
def audit_export(request):
    """The filtered log as .xlsx, itself audited (with the filters and the row count)."""
    access_for(request.user).permit(AUDIT_READ, NOT_A_READER)
    form = _form(request)
    entries = _entries(request, form)
    back = f"{reverse('audit:list')}?{request.GET.urlencode()}"
    if form.filters() is None:
        messages.error(request, "筛选条件有误，请先改正后再导出")
        return redirect(back)
    # One more than the limit tells "too many" apart from "exactly the limit".
    chosen = list(entries[: EXPORT_MAX_ROWS + 1])
    if len(chosen) > EXPORT_MAX_ROWS:
        messages.error(request, f"筛选结果超过 {EXPORT_MAX_ROWS} 条，请缩小日期范围或增加条件后再导出")
        return redirect(back)
    content, filename = audit_log_export(
        actor=request.user, entries=chosen, filters=_described(form), ip=client_ip(request)
    )
    return attachment(content, filename)


def _described(form) -> dict:
    """The filters as plain JSON for the audit row (the union by code, dates as ISO text)."""
    described = {}
    for key, value in (form.filters() or {}).items():
        if hasattr(value, "code"):
            value = value.code
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        described[key] = value
    return described
