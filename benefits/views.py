"""Staff pages for benefits: programmes, claims and their review, disbursement batches."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from cardportal.audit import audit_for, client_ip
from cardportal.downloads import attachment, private_file
from cardportal.errors import ApplicationError
from cardportal.jobs import job_recover, render_job_progress
from cardportal.pagination import paginate
from cardportal.params import positive_int
from cardportal.uploads import raise_if_refused
from members.access import Cap, access_for, visible_unions
from members.models import Union
from members.selectors import member_get_for_user

from . import selectors
from .forms import ClaimForm, DisbursementForm, FilterForm, ReturnForm, ReviewForm, UploadForm
from .limits import limits_for
from .models import Claim
from .services import bankfiles, disbursements, four_eyes, member_claims, payment_sheets
from .services import claims as claims_services

MAX_UPLOAD = 10 * 1024 * 1024


def _error(request, exc: ApplicationError) -> None:
    messages.error(request, exc.message)


@login_required
def programme_list(request):
    programmes = selectors.programme_list_for_user(user=request.user)
    return render(request, "benefits/programme_list.html", {"programmes": programmes})


@login_required
def programme_detail(request, pk):
    programme = selectors.programme_get_for_user(user=request.user, pk=pk)
    claims = selectors.claim_list_for_user(user=request.user).filter(programme=programme)[:50]
    return render(request, "benefits/programme_detail.html", {"programme": programme, "claims": claims})


@login_required
@require_POST
def claim_create(request, member_pk):
    member = member_get_for_user(user=request.user, pk=member_pk)
    form = ClaimForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写事由日期和事由")
        return redirect(member.get_absolute_url())
    programme = selectors.programme_get_for_user(user=request.user, pk=form.cleaned_data["programme"])
    try:
        claim = claims_services.claim_create(
            programme=programme,
            member=member,
            incident_on=form.cleaned_data["incident_on"],
            facts=form.cleaned_data["facts"],
            actor=request.user,
        )
    except ApplicationError as exc:
        _error(request, exc)
        return redirect(member.get_absolute_url())
    messages.success(request, f"已登记申请：{programme.name}，{claim.amount}元，待审核")
    return redirect(claim.get_absolute_url())


@login_required
def claim_list(request):
    status = request.GET.get("status", "pending")
    status = status if status in Claim.Status.values or status == "" else "pending"
    page = paginate(request, selectors.claim_list_for_user(user=request.user, status=status))
    return render(
        request,
        "benefits/claim_list.html",
        {
            "page": page,
            "status": status,
            "statuses": Claim.Status.choices,
            "can_review": access_for(request.user).can(Cap.CLAIM_REVIEW),
        },
    )


@login_required
def claim_detail(request, pk):
    claim = selectors.claim_get_for_user(user=request.user, pk=pk)
    if request.method == "POST":
        form = ReviewForm(request.POST)
        if form.is_valid():
            try:
                if form.cleaned_data["decision"] == "approve":
                    claims_services.claim_approve(
                        claim=claim, actor=request.user, note=form.cleaned_data["note"]
                    )
                    messages.success(request, "已批准")
                else:
                    claims_services.claim_reject(
                        claim=claim, actor=request.user, reason=form.cleaned_data["note"]
                    )
                    messages.success(request, "已驳回")
            except ApplicationError as exc:
                _error(request, exc)
            return redirect(claim.get_absolute_url())
    can_review = access_for(request.user).can(Cap.CLAIM_REVIEW) and claim.status == Claim.Status.PENDING
    return render(request, "benefits/claim_detail.html", {"claim": claim, "can_review": can_review})


@login_required
def claim_proof(request, pk, proof_pk):
    """A member's proof of a claim in the user's scope (404 outside it), every view audited."""
    claim = selectors.claim_get_for_user(user=request.user, pk=pk)
    proof = get_object_or_404(claim.proofs, pk=proof_pk)
    try:
        content, filename, content_type = member_claims.claim_proof_read(
            proof=proof, actor=request.user, ip=client_ip(request)
        )
    except ApplicationError as exc:  # removed under the retention rule
        _error(request, exc)
        return redirect(claim.get_absolute_url())
    return private_file(content, filename, content_type, inline=proof.is_image)


@login_required
def disbursement_list(request):
    unions = visible_unions(request.user).filter(
        level__in=[
            Union.Level.PROVINCE,
            Union.Level.CITY,
            Union.Level.COUNTY,
            Union.Level.INDUSTRY,
            Union.Level.GRASSROOTS,
        ]
    )
    programmes = selectors.programme_list_for_user(user=request.user)
    form = DisbursementForm(request.POST or None, unions=unions, programmes=programmes)
    can_create = four_eyes.may_prepare(request.user)
    if request.method == "POST" and form.is_valid():
        try:
            batch = disbursements.disbursement_create(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            _error(request, exc)
        else:
            return redirect(batch.get_absolute_url())
    page = paginate(request, selectors.disbursement_list_for_user(user=request.user))
    return render(
        request, "benefits/disbursement_list.html", {"page": page, "form": form, "can_create": can_create}
    )


def _batch_context(request, batch):
    unions = visible_unions(request.user).filter(path__startswith=batch.union.path)
    approved = selectors.claim_list_for_user(user=request.user, status=Claim.Status.APPROVED).filter(
        disbursement_line__isnull=True, amount__gt=0, union__path__startswith=batch.union.path
    )
    if batch.programme_id:
        approved = approved.filter(programme_id=batch.programme_id)
    totals = disbursements.disbursement_totals(batch)
    can_prepare = not four_eyes.disbursement_prepare_refusal(batch, request.user)
    approve_refusal = four_eyes.disbursement_approve_refusal(batch, request.user)
    confirm_refusal = four_eyes.disbursement_confirm_refusal(batch, request.user)
    return {
        "batch": batch,
        "totals": totals,
        "limits": limits_for(batch),
        "page": paginate(request, selectors.disbursement_lines(disbursement=batch)),
        "filter_form": FilterForm(unions=unions),
        "upload_form": UploadForm(),
        "return_form": ReturnForm(),
        "approved_count": approved.count() if can_prepare else 0,
        "can_prepare": can_prepare,
        "can_submit": can_prepare and totals["count"] > 0,
        "can_approve": not approve_refusal,
        "approve_refusal": approve_refusal,
        "can_export": not four_eyes.disbursement_export_refusal(batch, request.user),
        "can_confirm": not confirm_refusal,
        "confirm_refusal": confirm_refusal,
        "can_download": not four_eyes.disbursement_download_refusal(request.user),
        "audit": [(entry, _audit_summary(entry.data)) for entry in audit_for(batch)[:30]],
    }


def _audit_summary(data: dict) -> str:
    """The amounts of one audit row of a batch, in words."""
    parts = []
    if "count" in data and "total" in data:
        parts.append(f"{data['count']}人，合计{data['total']}元")
    elif "count" in data:
        parts.append(f"{data['count']}人")
    if "amount" in data:
        parts.append(f"{data['amount']}元")
    if "paid" in data:
        parts.append(f"到账{data['paid']}笔 {data.get('paid_amount', '')}元")
    if "failed" in data:
        parts.append(f"失败{data['failed']}笔 {data.get('failed_amount', '')}元")
    if "lines" in data and "total" in data and "count" not in data:
        parts.append(f"{data['lines']}笔，合计{data['total']}元")
    if "per_member_limit" in data:
        parts.append(f"每人上限{data['per_member_limit']}元，每批上限{data['batch_limit']}元")
    if data.get("reason"):
        parts.append(f"理由：{data['reason']}")
    return "；".join(parts)


@login_required
def disbursement_detail(request, pk):
    batch = selectors.disbursement_get_for_user(user=request.user, pk=pk)
    job_recover(batch)  # its export's worker died: back to draft (or re-queued)
    return render(request, "benefits/disbursement_detail.html", _batch_context(request, batch))


@login_required
def disbursement_progress(request, pk):
    batch = selectors.disbursement_get_for_user(user=request.user, pk=pk)
    return render_job_progress(request, batch)


def _add_filtered(request, batch) -> None:
    unions = visible_unions(request.user).filter(path__startswith=batch.union.path)
    form = FilterForm(request.POST, unions=unions)
    if not form.is_valid():
        raise ApplicationError("请选择工会并填写金额", code="invalid")
    result = disbursements.disbursement_add_filtered(
        disbursement=batch, actor=request.user, **form.cleaned_data
    )
    messages.success(request, f"已加入 {result['added']} 人；跳过 {len(result['skipped'])} 人")
    for reason in result["skipped"][:10]:
        messages.warning(request, reason)


def _upload_list(request, batch) -> None:
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        raise ApplicationError("请选择文件", code="invalid")
    upload = form.cleaned_data["file"]
    if upload.size > MAX_UPLOAD:
        raise ApplicationError("文件超过10MB", code="file_too_large")
    n = payment_sheets.disbursement_import_sheet(
        disbursement=batch, data=upload.read(), filename=upload.name, actor=request.user
    )
    messages.success(request, f"已导入 {n} 人")


def _add_claims(request, batch) -> None:
    claims = selectors.claim_list_for_user(user=request.user, status=Claim.Status.APPROVED).filter(
        disbursement_line__isnull=True, amount__gt=0, union__path__startswith=batch.union.path
    )
    if batch.programme_id:
        claims = claims.filter(programme_id=batch.programme_id)
    n = disbursements.disbursement_add_claims(disbursement=batch, claims=list(claims), actor=request.user)
    messages.success(request, f"已加入 {n} 笔已批准申请")


def _submit(request, batch) -> None:
    disbursements.disbursement_submit(disbursement=batch, actor=request.user)
    messages.success(request, "已提交上级工会审批；审批前名单不能修改，也不能生成银行代发文件")


def _approve(request, batch) -> None:
    disbursements.disbursement_approve(disbursement=batch, actor=request.user)
    messages.success(request, "已审批，经办人现在可以生成银行代发文件")


def _return(request, batch) -> None:
    form = ReturnForm(request.POST)
    if not form.is_valid():
        raise ApplicationError("退回须填写理由", code="reason_required")
    disbursements.disbursement_return(
        disbursement=batch, reason=form.cleaned_data["reason"], actor=request.user
    )
    messages.success(request, "已退回经办人修改")


def _export(request, batch) -> None:
    bankfiles.disbursement_export(disbursement=batch, actor=request.user)
    messages.success(request, "正在生成银行代发文件")


def _confirm(request, batch) -> None:
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        raise ApplicationError("请选择银行回盘文件", code="invalid")
    upload = form.cleaned_data["file"]
    result = bankfiles.disbursement_confirm(
        disbursement=batch, data=upload.read(), filename=upload.name, actor=request.user
    )
    messages.success(
        request,
        f"回盘已导入：到账 {result['paid']} 笔，失败 {result['failed']} 笔，无变化 {result['unchanged']} 笔",
    )


def _remove_line(request, batch) -> None:
    line = batch.lines.filter(pk=positive_int(request.POST.get("line"))).first()
    if line is None:  # a stale page (removed already), a forged or missing id
        raise ApplicationError("要移出的名单行不存在或已移出，请刷新页面后重试", code="not_found")
    disbursements.disbursement_remove_line(line=line, actor=request.user)
    messages.success(request, f"已移出 {line.name}")


# The buttons of a batch's page: action (in the URL) -> its handler; each calls one service.
BATCH_ACTIONS = {
    "filter": _add_filtered,
    "upload": _upload_list,
    "claims": _add_claims,
    "submit": _submit,
    "approve": _approve,
    "return": _return,
    "export": _export,
    "confirm": _confirm,
    "remove": _remove_line,
}


@login_required
@require_POST
def disbursement_action(request, pk, action):
    batch = selectors.disbursement_get_for_user(user=request.user, pk=pk)
    try:
        raise_if_refused(request)  # a file the upload handler stopped past the size limit
        handler = BATCH_ACTIONS.get(action)
        if handler is None:
            raise ApplicationError("未知操作", code="invalid")
        handler(request, batch)
    except ApplicationError as exc:
        _error(request, exc)
        for detail in exc.extra.get("errors", [])[20:40]:
            messages.error(request, detail)
    return redirect(batch.get_absolute_url())


@login_required
def disbursement_download(request, pk, what):
    batch = selectors.disbursement_get_for_user(user=request.user, pk=pk)
    try:
        body, filename, content_type = bankfiles.disbursement_download(
            disbursement=batch, actor=request.user, what=what, ip=client_ip(request)
        )
    except ApplicationError as exc:
        _error(request, exc)
        return redirect(batch.get_absolute_url())
    return attachment(body, filename, content_type)
