"""我的信息 (phone change, consent, correction requests) and 消息: the signed-in member's pages.

What a person may do with their own data under PIPL (see docs/members-site.md): see it
(masked), have it corrected, change the phone it reaches them on, and say whether they agree to
card issuance. Every write is a service call; every read is of `request.member`'s own rows."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cardportal.audit import client_ip
from cardportal.errors import ApplicationError
from members import corrections
from members.models import CorrectionRequest, MemberConsent

from . import selectors, services
from .auth import PHONE_KEY, member_required

PHONE_CHALLENGE_KEY = "_member_phone_challenge"


def _profile_context(member, **extra) -> dict:
    return {
        "member": member,
        "tab": "profile",
        "consent": corrections.consent_current(member=member),
        "consent_statement": corrections.CONSENT_STATEMENT,
        "corrections": list(corrections.correction_list_for_member(member=member)[:10]),
        "correction_fields": CorrectionRequest.Field.choices,
        **extra,
    }


@member_required
def me_profile(request):
    return render(request, "membersite/me_profile.html", _profile_context(request.member))


@member_required
def me_phone(request):
    """Step 1 of a phone change: the new number; a code is texted to it."""
    error = None
    if request.method == "POST":
        try:
            challenge = services.phone_change_request(
                member=request.member, phone=request.POST.get("phone", ""), ip=client_ip(request)
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            request.session[PHONE_CHALLENGE_KEY] = challenge.pk
            return redirect("membersite:phone_code")
    return render(
        request,
        "membersite/me_phone.html",
        {"member": request.member, "tab": "profile", "error": error, "phone": request.POST.get("phone", "")},
        status=400 if error else 200,
    )


@member_required
def me_phone_code(request):
    """Step 2: the code from the SMS to the new number."""
    challenge_id = request.session.get(PHONE_CHALLENGE_KEY)
    if challenge_id is None:
        return redirect("membersite:phone")
    error = None
    if request.method == "POST":
        try:
            member = services.phone_change_confirm(
                member=request.member,
                challenge_id=challenge_id,
                code=request.POST.get("code", ""),
                ip=client_ip(request),
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            # This session goes on with the new number; every other one ends (auth.py).
            request.session[PHONE_KEY] = member.phone_hash
            request.session.pop(PHONE_CHALLENGE_KEY, None)
            messages.success(request, f"手机号已更换为{member.masked_phone}，原号码会收到一条变更提醒短信。")
            return redirect("membersite:profile")
    return render(
        request,
        "membersite/me_phone_code.html",
        {"member": request.member, "tab": "profile", "error": error},
        status=400 if error else 200,
    )


@require_POST
@member_required
def me_consent(request):
    answer = request.POST.get("agreed")
    if answer not in ("yes", "no"):
        return render(
            request,
            "membersite/me_profile.html",
            _profile_context(request.member, consent_error="请选择“同意”或“不同意”"),
            status=400,
        )
    corrections.consent_record(
        member=request.member, agreed=answer == "yes", via=MemberConsent.Via.MEMBER_SITE
    )
    messages.success(
        request, "已记录您的办卡意愿。" if answer == "yes" else "已记录：您不同意办理工会会员卡。"
    )
    return redirect("membersite:profile")


@member_required
def me_correction(request):
    """GET: the form; POST: send the request to the clerks of the member's union."""
    error = None
    if request.method == "POST":
        try:
            corrections.correction_request_create(
                member=request.member,
                field=request.POST.get("field", ""),
                details=request.POST.get("details", ""),
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            messages.success(request, f"更正申请已提交给{request.member.union.name}的工会经办人。")
            return redirect("membersite:profile")
    return render(
        request,
        "membersite/me_correction.html",
        {
            "member": request.member,
            "tab": "profile",
            "error": error,
            "fields": CorrectionRequest.Field.choices,
            "field": request.POST.get("field", ""),
            "details": request.POST.get("details", ""),
        },
        status=400 if error else 200,
    )


@member_required
def me_notices(request):
    """消息: the member's notices, newest first; opening the page marks them read."""
    member = request.member
    notices = selectors.member_notice_list(member=member)
    from benefits.drops.reminders import upcoming_for_member  # same floor; drops reads membersite

    page = render(
        request,
        "membersite/me_notices.html",
        {"member": member, "tab": "notices", "notices": notices, "upcoming": upcoming_for_member(member)},
    )
    services.member_notices_mark_read(member=member, notice_ids=[n.pk for n in notices if n.unread])
    return page
