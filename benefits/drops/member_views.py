"""The members' side of the ticket grab (/me/drops/): the drops with their countdown, the claim,
payment, and the member's vouchers (我的券) with code and QR image."""

import segno
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from benefits.membersite.auth import member_required
from benefits.membersite.throttle import allow
from cardportal.audit import client_ip
from cardportal.errors import ApplicationError

from . import fast, reminders, selectors, services, store
from .models import Ticket

ANSWERS = {
    services.WON: "抢到了",
    services.SOLD_OUT: "已抢完",
    services.DUPLICATE: "你已抢过",
    services.INELIGIBLE: "不符合条件",
    services.NOT_OPEN: "还没到开抢时间",
    services.CLOSED: "活动已结束",
}


def _ms(dt) -> int:
    return int(dt.timestamp() * 1000)


def _left(drop) -> int | None:
    """Tickets left as Redis counts them (one GET), else as the cached drop row says."""
    if store.enabled():
        try:
            left = store.left(drop_key=drop.key)
        except Exception:  # noqa: BLE001 - a count on a page is not worth an error page
            left = None
        if left is not None:
            return left
    return drop.tickets - drop.taken


@member_required
def drop_list(request):
    now = timezone.now()
    drops = selectors.drop_public_list()
    mine = {
        t.drop_id: t for t in selectors.member_tickets(member=request.member) if t.status in Ticket.HOLDING
    }
    rows = [
        {"drop": d, "open": d.is_open(now), "ticket": mine.get(d.pk), "opens_ms": _ms(d.opens_at)}
        for d in drops
    ]
    return render(
        request,
        "drops/member_list.html",
        {"rows": rows, "now_ms": _ms(now), "tab": "drops", "member": request.member},
    )


@member_required
def drop_page(request, pk):
    drop = selectors.drop_public_get(pk)
    now = timezone.now()
    tickets = [
        t for t in selectors.member_tickets(member=request.member, drop=drop) if t.status in Ticket.HOLDING
    ]
    ended = now >= drop.ends_at
    token = ""
    # Only an eligible member gets the lean press's token; the others press through the full view,
    # which names the reason (不符合条件：…).
    if (
        not ended
        and request.session.session_key
        and not selectors.eligibility_reason(selectors.drop_snapshot(drop.pk), request.member)
    ):
        token = fast.claim_token(
            drop_id=drop.pk, member_id=request.member.pk, session_key=request.session.session_key
        )
    return render(
        request,
        "drops/member_drop.html",
        {
            "drop": drop,
            "open": drop.is_open(now),
            "ended": ended,
            "claim_token": token,
            "reminded": not drop.has_opened(now)
            and reminders.member_reminded(drop=drop, member=request.member),
            "left": _left(drop) if drop.has_opened(now) else drop.tickets,
            "tickets": tickets,
            "now_ms": _ms(now),
            "opens_ms": _ms(drop.opens_at),
            "tab": "drops",
        },
    )


@member_required
@require_POST
def claim(request, pk):
    """立即抢票. Before the opening second the answer comes from the in-process snapshot alone;
    then the per-member and per-IP throttles; then services.drop_claim."""
    snap = selectors.drop_snapshot(pk)
    if timezone.now() < snap.opens_at:
        return _answer(request, pk, services.ClaimResult(services.NOT_OPEN), status=425)
    ip = client_ip(request) or "-"
    limits = settings.DROPS_THROTTLE
    if not allow(
        f"drop-claim-m:{request.member.pk}", limit=limits["member"], seconds=limits["seconds"]
    ) or not allow(f"drop-claim-ip:{ip}", limit=limits["ip"], seconds=limits["seconds"]):
        return render(
            request, "drops/claim_result.html", {"drop_id": pk, "throttled": True, "tab": "drops"}, status=429
        )
    result = services.drop_claim(drop_id=pk, member=request.member, ip=ip)
    if result.outcome == services.SOLD_OUT:
        services.tickets_expire_lazily()
    return _answer(request, pk, result)


def _answer(request, pk, result, status=200):
    return render(
        request,
        "drops/claim_result.html",
        {
            "drop_id": pk,
            "result": result,
            "answer": ANSWERS[result.outcome],
            "won": result.outcome == services.WON,
            "tab": "drops",
        },
        status=status,
    )


@member_required
def ticket_list(request):
    tickets = selectors.member_tickets(member=request.member)
    return render(request, "drops/member_tickets.html", {"tickets": tickets, "tab": "drops"})


@member_required
def ticket_page(request, pk):
    ticket = selectors.member_ticket_get(member=request.member, pk=pk)
    if services.expire_if_due(ticket):
        ticket.refresh_from_db()
    qr = None
    if ticket.status == Ticket.Status.VALID:
        # segno's own markup, no user text in it: the code is 12 digits.
        qr = mark_safe(segno.make(ticket.code, error="m").svg_inline(scale=8, border=2))  # noqa: S308
    return render(
        request,
        "drops/member_ticket.html",
        {"ticket": ticket, "qr": qr, "tab": "drops", "now_ms": _ms(timezone.now())},
    )


@member_required
@require_POST
def ticket_pay(request, pk):
    ticket = selectors.member_ticket_get(member=request.member, pk=pk)
    try:
        ticket = services.ticket_pay(ticket=ticket, member=request.member)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        if ticket.status == Ticket.Status.VALID:
            messages.success(request, "支付成功，电子券已生效")
    return redirect("medrops:ticket", pk=ticket.pk)


@member_required
@require_POST
def remind(request, pk):
    """提醒我: one SMS about ten minutes before the opening (reminders.py)."""
    drop = selectors.drop_public_get(pk)
    try:
        reminders.reminder_subscribe(drop=drop, member=request.member)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "已设置提醒：开抢前约 10 分钟短信提醒您")
    return redirect("medrops:drop", pk=pk)
