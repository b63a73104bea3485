"""Staff pages of the feed: upload a partner's file, the imports with their progress, one import's
reconciliation report, its problem rows as a download (masked card numbers only)."""

import csv
import io

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from cardportal.actions import run_action
from cardportal.audit import audit_record
from cardportal.downloads import attachment
from cardportal.errors import ApplicationError
from cardportal.jobs import job_recover, render_job_progress
from cardportal.pagination import paginate
from cardportal.uploads import upload_refusal
from members.access import Cap, requires

from . import services
from .models import PartnerFeed, TxnImport


class FeedUploadForm(forms.Form):
    feed = forms.ModelChoiceField(label="文件格式", queryset=PartnerFeed.objects.none(), empty_label=None)
    # an empty file is the table kernel's file_empty; the size limit is enforced while it streams in
    file = forms.FileField(label="交易明细文件（.csv / .txt / .xlsx）", allow_empty_file=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["feed"].queryset = PartnerFeed.objects.select_related("partner").order_by(
            "partner__name", "name"
        )


@login_required
@requires(Cap.USAGE_IMPORT)
def import_list(request):
    refused = upload_refusal(request)
    form = FeedUploadForm(request.POST or None, request.FILES or None)
    if refused is not None:
        messages.error(request, refused.message)
    elif request.method == "POST" and form.is_valid():
        try:
            imp = services.import_create(
                feed=form.cleaned_data["feed"], upload=form.cleaned_data["file"], actor=request.user
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            return redirect(imp)
    page = paginate(
        request, TxnImport.objects.select_related("partner", "created_by").exclude(kind="generated")
    )
    return render(request, "usage/import_list.html", {"form": form, "page": page})


def _get(pk: int) -> TxnImport:
    return get_object_or_404(TxnImport.objects.select_related("partner", "created_by"), pk=pk)


REPORT_SECTIONS = (
    ("rejected_rows", "格式错误（未入库）", "rejected"),
    ("unknown_cards", "未知卡号（未入库）", "unknown_card"),
    ("cards_not_live", "非有效卡（已入库）", "card_not_live"),
)


@login_required
@requires(Cap.USAGE_IMPORT)
def import_detail(request, pk):
    imp = _get(pk)
    job_recover(imp)
    report = imp.report or {}
    sections = [
        (key, label, report.get(key, []), getattr(imp, count)) for key, label, count in REPORT_SECTIONS
    ]
    return render(
        request,
        "usage/import_detail.html",
        {
            "imp": imp,
            "sections": sections,
            "mids": report.get("unknown_mids", [])[:50],
            "mid_distinct": report.get("unknown_mid_distinct", 0),
        },  # fmt: skip
    )


@login_required
@requires(Cap.USAGE_IMPORT)
def import_progress(request, pk):
    return render_job_progress(request, _get(pk))


@login_required
@require_POST
@requires(Cap.USAGE_IMPORT)
def import_retry(request, pk):
    imp = _get(pk)
    return run_action(
        request, lambda: services.import_retry(imp=imp, actor=request.user), done="已重新开始导入", back=imp
    )


@login_required
@requires(Cap.USAGE_IMPORT)
def import_problems(request, pk):
    imp = _get(pk)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(services.PROBLEM_HEADER)
    writer.writerows(services.problem_rows(imp))
    audit_record(actor=request.user, verb="usage.problems_downloaded", target=imp)
    return attachment("\ufeff" + out.getvalue(), f"交易明细问题行-{imp.pk}.csv", "text/csv; charset=utf-8")
