"""Pages of the issuance app: views parse input, call one service or selector, and render.

Over 400 lines on purpose for now: the access door and thin-edges work of issue 12 (items 1-2)
rewrites these views' checks and reads; splitting the file by page family (batches, bank
files, union work, waves, reports) is best done after that, not under it."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from cardportal.actions import attempt, run_action
from cardportal.audit import client_ip
from cardportal.downloads import attachment
from cardportal.errors import ApplicationError
from cardportal.jobs import job_recover, render_job_progress
from cardportal.pagination import paginate
from cardportal.params import positive_ints
from cardportal.redirects import safe_next
from cardportal.replica import replica_reads
from cardportal.uploads import upload_refusal
from members.access import Cap, access_for, requires
from members.models import Union

from . import exports, hardship, selectors
from .forms import (
    ActivationSessionForm,
    BatchCreateForm,
    DistributeForm,
    ProgressForm,
    ReasonForm,
    ReceiveForm,
    UploadForm,
)
from .functions import batch_functions
from .models import BankFileImport, Card
from .return_upload import return_upload
from .selectors import STAGES, WEEK_STAGES
from .services import bankfiles, batches, handoff
from .services import cards as cards_services
from .services import receipt as receipt_services

S = Card.Status
STATUS_LABELS = dict(S.choices)


@login_required
def home(request):
    """The nav's entry: a clerk goes to their union's cards, federation and bank staff to batches."""
    access = access_for(request.user)
    if access.can(Cap.UNION_DESK):
        return redirect("issuance:union_cards", pk=access.staff.union_id)
    if access.can(Cap.BATCH_MANAGE):
        return redirect("issuance:batch_list")
    if access.staff is not None:
        return redirect("issuance:union_cards", pk=access.staff.union_id)
    raise PermissionDenied


# --- batches ----------------------------------------------------------------------------------
@login_required
@requires(Cap.BATCH_MANAGE)
def batch_list(request):
    unions = selectors.report_roots_for_user(user=request.user)
    waves = selectors.wave_list_for_user(user=request.user)
    form = BatchCreateForm(request.POST or None, unions=unions, waves=waves)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            batch = batches.batch_create(
                partner=data["partner"],
                union=data["union"],
                wave=data["wave"],
                limit=data["limit"],
                hardship_only=data["hardship_only"],
                note=data["note"],
                actor=request.user,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"已创建银行批次 {batch.code}，共 {batch.card_count} 张，正在生成报送文件"
            )
            return redirect(batch)
    page = paginate(request, selectors.batch_list_for_user(user=request.user))
    root = unions.first()
    waiting = batches.applied_cards(union=root).count() if root else 0
    return render(request, "issuance/batch_list.html", {"form": form, "page": page, "waiting": waiting})


@login_required
def batch_detail(request, pk):
    batch = selectors.batch_get_for_user(user=request.user, pk=pk)
    job_recover(batch)  # a worker that died shows as re-queued or failed, not as running
    counts = selectors.batch_status_counts(batch=batch)
    context = {
        "batch": batch,
        "status_counts": [(STATUS_LABELS[s], counts[s]) for s in STAGES if counts[s]],
        "imports": batch.imports.filter(kind=BankFileImport.Kind.RETURN)
        .select_related("created_by")
        .order_by("-id"),
        "functions": batch_functions(request, batch),
        "upload_form": UploadForm(),
        "can_download": access_for(request.user).can(Cap.BANK_FILES),
        "rejected": selectors.batch_rejected_cards(batch=batch),
        "manifest": json.dumps(batch.manifest(), ensure_ascii=False, indent=2),
    }
    return render(request, "issuance/batch_detail.html", context)


@login_required
def batch_progress(request, pk):
    batch = selectors.batch_get_for_user(user=request.user, pk=pk)
    return render_job_progress(request, batch)


@login_required
@require_POST
def batch_handoff_retry(request, pk):
    batch = selectors.batch_get_for_user(user=request.user, pk=pk)
    return run_action(
        request,
        lambda: handoff.batch_handoff_retry(batch=batch, actor=request.user),
        done="已重新开始生成报送文件",
        back=batch,
    )


@login_required
@require_POST
def import_retry(request, pk):
    imp = selectors.import_get_for_user(user=request.user, pk=pk)
    return run_action(
        request, lambda: bankfiles.import_retry(imp=imp, actor=request.user), done="已重新开始导入", back=imp
    )


@login_required
def batch_handoff(request, pk):
    batch = selectors.batch_get_for_user(user=request.user, pk=pk)
    ok, handle = attempt(
        request, lambda: handoff.batch_handoff_open(batch=batch, actor=request.user, ip=client_ip(request))
    )
    if not ok:
        return redirect(batch)
    return FileResponse(handle, as_attachment=True, filename=batch.handoff_name)


@login_required
def batch_manifest(request, pk):
    batch = selectors.batch_get_for_user(user=request.user, pk=pk)
    if not batch.handoff_sha256:
        raise Http404
    return attachment(
        json.dumps(batch.manifest(), ensure_ascii=False, indent=2), f"{batch.code}-manifest.json"
    )


@login_required
def batch_paperwork(request, pk):
    """Printable 单位批量开卡承诺书 and 批量办理借记卡业务委托书, one page each per grassroots union (004 §四)."""
    batch = selectors.batch_get_for_user(user=request.user, pk=pk)
    units = selectors.batch_units(batch=batch)
    return render(
        request,
        "issuance/batch_paperwork.html",
        {"batch": batch, "units": units, "today": timezone.localdate()},
    )


@login_required
@require_POST
def batch_return_upload(request, pk):
    batch = selectors.batch_get_for_user(user=request.user, pk=pk)
    return return_upload(request, batch, kind=BankFileImport.Kind.RETURN, missing="请选择回盘文件")


@login_required
@require_POST
def batch_requeue(request, pk):
    batch = selectors.batch_get_for_user(user=request.user, pk=pk)
    ids = positive_ints(request.POST.getlist("card"))
    cards = selectors.batch_rejected_ids(batch=batch, ids=ids)
    try:
        n = cards_services.cards_requeue(cards=cards, actor=request.user)
        messages.success(request, f"{n} 张卡已转为待报送，将进入下一银行批次")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(batch)


# --- bank files -------------------------------------------------------------------------------
@login_required
def import_detail(request, pk):
    imp = selectors.import_get_for_user(user=request.user, pk=pk)
    job_recover(imp)
    report = imp.report or {}
    counts, found = report.get("counts", {}), report.get("lists", {})
    # A fixed order: jsonb does not keep the keys' order.
    summary = [(label, counts[k]) for k, label in exports.SUMMARY_LABELS.items() if k in counts]
    lists = [
        (label, k, found[k], counts.get(k, len(found[k])))
        for k, label in exports.REPORT_SECTIONS.items()
        if found.get(k)
    ]
    can_retry = access_for(request.user).can(Cap.BANK_FILES)
    return render(
        request,
        "issuance/import_detail.html",
        {"imp": imp, "summary": summary, "lists": lists, "can_retry": can_retry},
    )


@login_required
def import_progress(request, pk):
    imp = selectors.import_get_for_user(user=request.user, pk=pk)
    return render_job_progress(request, imp)


@login_required
def import_report_xlsx(request, pk):
    imp = selectors.import_get_for_user(user=request.user, pk=pk)
    return attachment(exports.reconciliation_xlsx(imp=imp), f"对账结果-{imp.pk}.xlsx")


@login_required
def activation_upload(request):
    access = access_for(request.user)
    access.permit(Cap.BANK_FILES)
    refused = upload_refusal(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if refused is not None:
        messages.error(request, refused.message)
    elif request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        union = access.union or selectors.report_roots_for_user(user=request.user).first()
        try:
            imp = bankfiles.import_create(
                kind=BankFileImport.Kind.ACTIVATION,
                union=union,
                file_name=upload.name,
                data=upload.read(),
                actor=request.user,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            return redirect(imp)
    imports = selectors.import_list_for_user(user=request.user, kind=BankFileImport.Kind.ACTIVATION)[:20]
    return render(request, "issuance/activation_upload.html", {"form": form, "imports": imports})


# --- the union's cards: receipt, distribution, activation ------------------------------------
@login_required
def union_cards(request, pk):
    union = selectors.union_get_for_user(user=request.user, pk=pk)
    issued = list(selectors.union_cards(union=union, status=S.ISSUED)[:500])
    received = list(selectors.union_cards(union=union, status=S.RECEIVED)[:500])
    distributed = list(selectors.union_cards(union=union, status=S.DISTRIBUTED)[:500])
    counts = selectors.union_status_counts(union=union)
    context = {
        "union": union,
        "counts": [(s, STATUS_LABELS[s], counts[s]) for s in STAGES],
        "issued": issued,
        "received": received,
        "distributed": distributed,
        "notices": selectors.notices_for_union(union=union)[:50],
        "receipts": selectors.receipts_for_union(union=union)[:10],
        "receive_form": ReceiveForm(initial={"counted": ""}),
        "distribute_form": DistributeForm(),
        "session_form": ActivationSessionForm(),
        "can_work": access_for(request.user).can(Cap.CARD_RECEIVE),
    }
    return render(request, "issuance/union_cards.html", context)


def _ticked(request) -> list[int]:
    return positive_ints(request.POST.getlist("card"))


@login_required
@require_POST
def union_receive(request, pk):
    union = selectors.union_get_for_user(user=request.user, pk=pk)
    form = ReceiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写实际清点的张数")
        return redirect("issuance:union_cards", pk=union.pk)
    try:
        receipt = receipt_services.cards_receive(
            union=union,
            card_ids=_ticked(request),
            counted=form.cleaned_data["counted"],
            note=form.cleaned_data["note"],
            actor=request.user,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        if receipt.accepted:
            messages.success(request, f"已签收 {receipt.counted} 张卡片")
        else:
            messages.error(
                request,
                f"清点张数（{receipt.counted}）与勾选张数（{receipt.selected}）不符，差异已记录，卡片未签收。请核对后重新签收或联系银行。",
            )
    return redirect("issuance:union_cards", pk=union.pk)


@login_required
@require_POST
def union_distribute(request, pk):
    union = selectors.union_get_for_user(user=request.user, pk=pk)
    form = DistributeForm(request.POST)
    form.is_valid()
    try:
        n = receipt_services.cards_distribute(
            union=union, card_ids=_ticked(request), numbers=form.numbers_list(), actor=request.user
        )
        messages.success(request, f"已登记发放 {n} 张")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("issuance:union_cards", pk=union.pk)


@login_required
@require_POST
def union_activate(request, pk):
    union = selectors.union_get_for_user(user=request.user, pk=pk)
    form = ActivationSessionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写激活日期")
        return redirect("issuance:union_cards", pk=union.pk)
    try:
        session = receipt_services.activation_session_record(
            union=union,
            held_on=form.cleaned_data["held_on"],
            place=form.cleaned_data["place"],
            card_ids=_ticked(request),
            numbers=form.numbers_list(),
            actor=request.user,
        )
        messages.success(request, f"已登记集中激活 {session.activated} 张")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("issuance:union_cards", pk=union.pk)


@login_required
def distribution_sheet(request, pk):
    union = selectors.union_get_for_user(user=request.user, pk=pk)
    cards = list(selectors.union_cards(union=union, status=S.RECEIVED))
    if request.GET.get("format") == "xlsx":
        return attachment(
            exports.distribution_sheet_xlsx(union=union, cards=cards), f"发放表-{union.name}.xlsx"
        )
    return render(
        request,
        "issuance/distribution_sheet.html",
        {"union": union, "cards": cards, "today": timezone.localdate()},
    )


@login_required
@require_POST
def notice_ack(request, pk):
    notice = selectors.notice_get_for_user(user=request.user, pk=pk)
    cards_services.notice_acknowledge(notice=notice, actor=request.user)
    return redirect(safe_next(request, reverse("issuance:home")))


# --- one card: loss and cancellation ----------------------------------------------------------
def _card_action(request, pk, action, done: str):
    """Apply `action(card=, note=, actor=)` to a card the user may see, from the reason form, and
    go back to the member's page with the outcome as a message."""
    card = selectors.card_get_for_user(user=request.user, pk=pk)
    form = ReasonForm(request.POST)
    form.is_valid()
    try:
        action(card=card, note=form.cleaned_data.get("note", ""), actor=request.user)
        messages.success(request, done)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(card.member)


@login_required
@require_POST
def card_lost(request, pk):
    return _card_action(
        request, pk, cards_services.card_report_lost, "已挂失，补卡申请已生成，将随下一银行批次办理"
    )


@login_required
@require_POST
def card_cancel(request, pk):
    return _card_action(request, pk, cards_services.card_cancel, "卡片已注销")


# --- waves and progress -----------------------------------------------------------------------
@login_required
def wave_list(request):
    waves = [(w, selectors.wave_progress(wave=w)) for w in selectors.wave_list_for_user(user=request.user)]
    return render(request, "issuance/wave_list.html", {"waves": waves})


@login_required
def wave_detail(request, pk):
    wave = selectors.wave_get_for_user(user=request.user, pk=pk)
    return render(
        request,
        "issuance/wave_detail.html",
        {
            "wave": wave,
            "p": selectors.wave_progress(wave=wave),
            "batches": wave.batches.select_related("partner")[:50],
        },
    )


def _report_root(request) -> tuple[ProgressForm, Union]:
    """The union a report is about: the one picked, else the first the user may report on, else
    their own; 404 for a user with none."""
    roots = selectors.report_roots_for_user(user=request.user)
    form = ProgressForm(request.GET or None, roots=roots)
    root = form.cleaned_data["root"] if form.is_valid() else None
    root = root or roots.first() or access_for(request.user).union
    if root is None:
        raise Http404
    return form, root


@login_required
@replica_reads
def progress(request):
    form, root = _report_root(request)
    weeks = (form.cleaned_data.get("weeks") if form.is_valid() else None) or 12
    until = (form.cleaned_data.get("until") if form.is_valid() else None) or timezone.localdate()
    by_status = selectors.progress_by_status(root=root)
    by_week = selectors.progress_by_week(root=root, weeks=weeks, until=until)
    if request.GET.get("format") == "xlsx":
        return attachment(
            exports.progress_xlsx(root=root, by_status=by_status, by_week=by_week),
            f"发卡进度-{root.name}-{timezone.localdate():%Y%m%d}.xlsx",
        )
    totals = [sum(col) for col in zip(*[r["counts"] for r in by_status], strict=True)] if by_status else []
    return render(
        request,
        "issuance/progress.html",
        {
            "form": form,
            "root": root,
            "by_status": by_status,
            "by_week": by_week,
            "totals": totals,
            "grand_total": sum(totals),
            "status_labels": [STATUS_LABELS[s] for s in STAGES],
            "week_labels": [STATUS_LABELS[s] for s in WEEK_STAGES],
            "query": request.GET.urlencode(),
        },
    )


# --- hardship workers first (seed 004) ---------------------------------------------------------
@login_required
def hardship_report(request):
    """Coverage of the hardship members under a union (all carded by the year's end), the ones
    still without a card, and the card-number report for the union above (audited download)."""
    form, root = _report_root(request)
    if request.GET.get("format") == "xlsx":
        return attachment(
            hardship.hardship_cards_export(root=root, actor=request.user),
            f"困难职工卡号-{root.name}-{timezone.localdate():%Y%m%d}.xlsx",
        )
    rows, total = hardship.hardship_coverage(root=root)
    today = timezone.localdate()
    return render(
        request,
        "issuance/hardship.html",
        {
            "form": form,
            "root": root,
            "rows": rows,
            "total": total,
            "without": hardship.hardship_without_card(root=root),
            "year_end": today.replace(month=12, day=31),
            "days_left": (today.replace(month=12, day=31) - today).days,
        },
    )
