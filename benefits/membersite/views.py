from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from cardportal.audit import audit_record, client_ip
from cardportal.errors import ApplicationError
from cardportal.params import query_text
from cardportal.views import dashboard
from issuance.services import card_report_lost

from . import selectors, services
from .auth import member_required, member_session_end, member_session_start

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
    card = selectors.member_card_get(member=member, pk=pk)
    cards = selectors.member_card_list(member=member)
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
