from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from benefits.services.member_claims import claim_proof_read, claim_submit_by_member
from benefits.subsidies.selectors import member_subsidy_list
from cardportal.audit import audit_record, client_ip
from cardportal.downloads import private_file
from cardportal.errors import ApplicationError
from cardportal.pagination import paginate
from cardportal.params import positive_int, query_text
from cardportal.uploads import raise_if_refused
from cardportal.views import dashboard
from issuance.services.cards import card_report_lost
from issuance.services.functions import member_function_line
from merchants.selectors import directory_categories
from merchants.services import member_holds_card, merchant_review_create

from . import selectors, services
from .auth import member_required, member_session_end, member_session_start
from .forms import MemberClaimForm, ReviewForm

CHALLENGE_KEY = "_member_signin_challenge"


def home(request):
    """`/`: the work dashboard for a signed-in staff user, the members' landing page for everyone else."""
    if request.user.is_authenticated:
        return dashboard(request)
    return landing(request)


def landing(request):
    return render(request, "membersite/landing.html", {"hotline": settings.MEMBER_LOSS_HOTLINE})


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/me/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return target
    return reverse("membersite:home")


def signin(request):
    """Step 1: the ID number. The same answer whether or not the number is registered."""
    if request.member is not None:
        return redirect("membersite:home")
    error = None
    if request.method == "POST":
        try:
            challenge = services.signin_code_request(
                id_number=request.POST.get("id_number", ""), ip=client_ip(request)
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            request.session[CHALLENGE_KEY] = challenge.pk
            return redirect(f"{reverse('membersite:signin_code')}?{urlencode({'next': _next_url(request)})}")
    return render(
        request,
        "membersite/signin.html",
        {"error": error, "id_number": request.POST.get("id_number", ""), "next": _next_url(request)},
        status=400 if error else 200,
    )


def signin_code(request):
    """Step 2: the code from the SMS."""
    if request.member is not None:
        return redirect("membersite:home")
    challenge_id = request.session.get(CHALLENGE_KEY)
    if challenge_id is None:
        return redirect("membersite:login")
    error = None
    if request.method == "POST":
        try:
            member = services.signin_code_verify(
                challenge_id=challenge_id, code=request.POST.get("code", ""), ip=client_ip(request)
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            target = _next_url(request)
            member_session_start(request, member)
            return redirect(target)
    return render(
        request,
        "membersite/signin_code.html",
        {"error": error, "next": _next_url(request)},
        status=400 if error else 200,
    )


@require_POST
def signout(request):
    if request.member is not None:
        audit_record(actor=None, verb="member.signed_out", target=request.member, ip=client_ip(request))
    member_session_end(request)
    return redirect("membersite:login")


def _card_context(member, card):
    return {
        "card": card,
        "timeline": selectors.card_timeline(card),
        "next_step": selectors.next_step(card, member),
        "may_report_lost": selectors.member_may_report_lost(card),
        "functions": [member_function_line(fn) for fn in card.functions.all()],
    }


@member_required
def me_home(request):
    member = request.member
    cards = selectors.member_card_list(member=member)
    current = cards[0] if cards else None
    context = {"member": member, "cards": cards, "hotline": settings.MEMBER_LOSS_HOTLINE, "tab": "card"}
    if current is not None:
        context.update(_card_context(member, current))
    return render(request, "membersite/me_card.html", context)


@member_required
def me_card(request, pk):
    member = request.member
    cards = selectors.member_card_list(member=member)
    card = selectors.member_card_get(member=member, pk=pk, cards=cards)  # the same two queries
    context = {
        "member": member,
        "cards": cards,
        "hotline": settings.MEMBER_LOSS_HOTLINE,
        "single": True,
        "tab": "card",
    }
    context.update(_card_context(member, card))
    return render(request, "membersite/me_card.html", context)


@member_required
def me_card_lost(request, pk):
    """GET: confirm; POST: report the card lost through the clerk's own service."""
    member = request.member
    card = selectors.member_card_get(member=member, pk=pk)
    error = None
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            error = "请勾选“我确认这张卡已丢失或被盗”"
        else:
            try:
                card_report_lost(
                    card=card, actor=member, note=query_text(request.POST.get("note"), max_length=200)
                )
            except ApplicationError as exc:
                error = exc.message
            else:
                messages.success(
                    request,
                    "已挂失，补办的新卡已申请，将随下一批次制卡。请同时拨打银行客服电话办理紧急止付。",
                )
                return redirect("membersite:home")
    return render(
        request,
        "membersite/me_card_lost.html",
        {
            "member": member,
            "card": card,
            "may_report_lost": selectors.member_may_report_lost(card),
            "error": error,
            "hotline": settings.MEMBER_LOSS_HOTLINE,
            "tab": "card",
        },
        status=400 if error else 200,
    )


# --- 我的权益, 到卡资金, 特约商户 ----------------------------------------------------------------
@member_required
def me_benefits(request):
    member = request.member
    rows = selectors.member_benefit_list(member=member)
    claims = [claim for row in rows for claim in row.claims]
    claims.sort(key=lambda c: (c.created_at, c.pk), reverse=True)
    return render(
        request,
        "membersite/me_benefits.html",
        {"member": member, "rows": rows, "claims": claims, "tab": "benefits"},
    )


@member_required
def me_claim_new(request, programme_pk):
    """GET: the claim form (or why there is none); POST: the claim with its proof file."""
    member = request.member
    row = selectors.member_benefit_get(member=member, programme_pk=programme_pk)
    form = MemberClaimForm(request.POST or None, request.FILES or None)
    error = None
    if request.method == "POST":
        try:
            raise_if_refused(request)  # a file the upload handler stopped past the size limit
            if form.is_valid():
                upload = form.cleaned_data["proof"]
                claim = claim_submit_by_member(
                    programme=row.programme,
                    member=member,
                    incident_on=form.cleaned_data["incident_on"],
                    facts=form.cleaned_data["facts"],
                    proof=upload.read(),
                    ip=client_ip(request),
                )
                messages.success(request, f"申请已提交：{row.programme.name}，{claim.amount}元，等待工会审核")
                return redirect("membersite:claim", pk=claim.pk)
        except ApplicationError as exc:
            error = exc.message
    return render(
        request,
        "membersite/me_claim_new.html",
        {"member": member, "row": row, "form": form, "error": error, "tab": "benefits"},
        status=400 if (error or form.errors) else 200,
    )


@member_required
def me_claim(request, pk):
    claim = selectors.member_claim_get(member=request.member, pk=pk)
    return render(
        request, "membersite/me_claim.html", {"member": request.member, "claim": claim, "tab": "benefits"}
    )


@member_required
def me_claim_proof(request, pk, proof_pk):
    """The proof file of one of the member's own claims (404 otherwise), audited."""
    proof = selectors.member_proof_get(member=request.member, claim_pk=pk, pk=proof_pk)
    try:
        content, filename, content_type = claim_proof_read(
            proof=proof, member=request.member, ip=client_ip(request)
        )
    except ApplicationError as exc:  # removed under the retention rule
        messages.error(request, exc.message)
        return redirect("membersite:claim", pk=proof.claim_id)
    return private_file(content, filename, content_type, inline=proof.is_image)


@member_required
def me_aid(request):
    payments = selectors.member_aid_list(member=request.member)
    return render(
        request,
        "membersite/me_aid.html",
        {
            "member": request.member,
            "payments": payments,
            "paid_total": selectors.member_aid_total(payments),
            "subsidies": member_subsidy_list(member=request.member),
            "tab": "aid",
        },
    )


@member_required
def me_merchants(request):
    member = request.member
    q = query_text(request.GET.get("q"), max_length=50)
    category_id = positive_int(request.GET.get("category"))
    merchants, county = selectors.member_merchant_directory(member=member, q=q, category_id=category_id)
    page = paginate(request, merchants, per_page=20)
    reviewed = selectors.member_reviewed_this_period(member=member)
    for merchant in page:
        merchant.my_review = reviewed.get(merchant.pk)
    return render(
        request,
        "membersite/me_merchants.html",
        {
            "member": member,
            "page": page,
            "q": q,
            "category_id": category_id,
            "categories": directory_categories(),
            "county": county,
            "stars": range(5, 0, -1),
            "may_review": member_holds_card(member),
            "tab": "merchants",
        },
    )


@member_required
@require_POST
def me_merchant_review(request, pk):
    member = request.member
    merchant = selectors.member_merchant_get(member=member, pk=pk)
    form = ReviewForm(request.POST)
    back = request.POST.get("back", "")
    target = back if back.startswith("/me/merchants/") else reverse("membersite:merchants")
    if not form.is_valid():
        messages.error(request, "请选择1至5分后再提交评价")
        return redirect(target)
    try:
        merchant_review_create(
            merchant=merchant,
            member=member,
            rating=form.cleaned_data["rating"],
            comment=form.cleaned_data["comment"],
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已评价“{merchant.name}”：{form.cleaned_data['rating']}分，谢谢您的评价")
    return redirect(target)
