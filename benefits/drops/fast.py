"""The lean claim endpoint, POST /me/drops/<id>/grab/ (docs/drops.md, "The lean claim path").

The crowd's press does the minimum: no middleware stack, no session or member query, no page.

* **Who**: the drop page (a full Django request: session, member, eligibility) hands the member a
  claim token, `<member id>.<expiry>.<mac>`, the mac an HMAC-SHA256 (key derived from SECRET_KEY)
  over the drop, the member, the expiry and the member's session key. The press sends it in the
  `X-Claim-Token` header with the session cookie; it is checked in process memory: no database.
  A token is refused for another drop, another session (so another member's token or no session
  is refused), after its expiry, or when forged.
* **CSRF**: the token is the synchronizer token: bound to the member, the session and the drop,
  readable only by a page of our origin. The header also makes a cross-site request need a CORS
  pre-flight, which we never grant; and a press whose `Origin` or `Sec-Fetch-Site` says another
  site is refused.
* **One Redis round trip**: `store.grab` (GRAB_LUA) counts the per-member and per-IP throttles and
  decides duplicate / sold out / won atomically. The opening second and the end come from the
  process's drop snapshot (no Redis, no query). Only the winners (at most `tickets` + returns)
  touch PostgreSQL: their session is read (the member and phone must still match), their
  eligibility checked again, and `services.redis_winner_settle` writes the ticket (the
  authority); a refused winner's slot goes back to Redis. Winners' writes share one COMMIT per
  batch (winners.py, DROPS_BATCH_WINNERS): the drop row is held through each COMMIT.
* **Small answer**: JSON (`outcome`, `answer`, and for winners the ticket's links); the page's
  script renders it in place.

`wsgi_grab` serves it in front of Django (`settings.WSGI_EARLY_ROUTES`, cardportal/earlywsgi.py);
`grab_view` is the same through Django's URLconf (runserver, the live server of the browser tests).
Without Redis (embedded) the press takes the database path (`services.drop_claim`) after the same
token check, with the session and member read as a full request would.
"""

import base64
import hashlib
import hmac
import json
import time
from functools import lru_cache
from importlib import import_module
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db import close_old_connections
from django.http import Http404, JsonResponse
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from benefits.membersite.throttle import allow
from cardportal.audit import client_ip_of
from members.models import Member

from . import selectors, services, store, winners

TOKEN_HEADER = "X-Claim-Token"
ANSWERS = {
    services.WON: "抢到了",
    services.SOLD_OUT: "已抢完",
    services.DUPLICATE: "你已抢过",
    services.INELIGIBLE: "不符合条件",
    services.NOT_OPEN: "还没到开抢时间",
    services.CLOSED: "活动已结束",
    "throttled": "操作太频繁，请稍等几秒再试",
}
REFUSED = {
    "origin": "请求来源不符",
    "session": "请先登录",
    "token": "页面已过期，请刷新后再抢",
}


# --- the claim token ---------------------------------------------------------------------------------
@lru_cache(maxsize=2)
def _key(secret: str) -> bytes:
    return hashlib.sha256(f"cardportal.drops.claim-token:{secret}".encode()).digest()


def _mac(drop_id: int, member_id: int, expires: int, session_key: str) -> str:
    message = f"{drop_id}.{member_id}.{expires}.{session_key}".encode()
    digest = hmac.new(_key(settings.SECRET_KEY), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def claim_token(*, drop_id: int, member_id: int, session_key: str, now: float | None = None) -> str:
    expires = int(now if now is not None else time.time()) + settings.DROPS_CLAIM_TOKEN_SECONDS
    return f"{member_id}.{expires}.{_mac(drop_id, member_id, expires, session_key)}"


def token_member(token: str, *, drop_id: int, session_key: str, now: float | None = None) -> int | None:
    """The member the token was issued to, or None (forged, expired, another drop or session)."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or not session_key:
        return None
    member_id, expires = int(parts[0]), int(parts[1])
    if expires < (now if now is not None else time.time()):
        return None
    if not hmac.compare_digest(parts[2], _mac(drop_id, member_id, expires, session_key)):
        return None
    return member_id


# --- the press ---------------------------------------------------------------------------------------
def same_origin(*, origin: str | None, fetch_site: str | None, host: str) -> bool:
    """Browsers send Origin on a POST and Sec-Fetch-Site on every request; a press from another
    site is refused whatever its token. Tools that send neither are judged by the token alone."""
    if fetch_site and fetch_site not in ("same-origin", "none"):
        return False
    if origin is None:
        return True
    return urlsplit(origin).netloc == host


def grab(*, drop_id: int, token: str, session_key: str | None, ip: str | None) -> tuple[int, dict]:
    """(HTTP status, JSON answer) of one press; the origin is checked by the caller."""
    if not session_key:
        return 403, _refused("session")
    member_id = token_member(token, drop_id=drop_id, session_key=session_key)
    if member_id is None:
        return 403, _refused("token")
    try:
        snap = selectors.drop_snapshot(drop_id)
    except Http404:
        return 404, {"outcome": "not_found", "answer": "活动不存在"}
    now = time.time()
    if now < snap.opens_at.timestamp():
        return 425, _answer(services.NOT_OPEN)
    if now >= snap.ends_at.timestamp():
        return 200, _answer(services.CLOSED)
    if store.enabled():
        try:
            held = store.grab(
                drop_key=snap.key,
                member_id=member_id,
                limit=snap.per_member_limit,
                ip=ip or "-",
                throttle=settings.DROPS_THROTTLE,
                reload=lambda: services.reload_state(snap),
            )
        except redis.RedisError:
            return _via_database(snap, member_id, session_key, ip)
        if held == store.THROTTLED:
            return 429, _answer("throttled")
        if held == store.DUPLICATE:
            return 200, _answer(services.DUPLICATE, tickets=reverse("medrops:tickets"))
        if held == store.SOLD_OUT:
            _expire_lazily()
            return 200, _answer(services.SOLD_OUT)
        if settings.DROPS_BATCH_WINNERS:
            result = winners.settle(winners.Claim(snap, member_id, session_key, ip))
            return (403, _refused("session")) if result == winners.REFUSED else _result(result)
        return _settle_winner(snap, member_id, session_key, ip)
    return _via_database(snap, member_id, session_key, ip)


def _answer(outcome: str, **extra) -> dict:
    return {"outcome": outcome, "answer": ANSWERS[outcome], **extra}


def _refused(why: str) -> dict:
    return {"outcome": "refused", "answer": REFUSED[why], "refresh": True}


def session_member(member_id: int, session_key: str) -> Member | None:
    """The member whose session this is, read as MemberMiddleware would: for the winners only."""
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    member = Member.objects.select_related("union").filter(pk=member_id).first()
    return member if member is not None and winners.session_signs_in(data, member) else None


def _settle_winner(snap, member_id: int, session_key: str, ip: str | None) -> tuple[int, dict]:
    try:
        member = session_member(member_id, session_key)
        reason = selectors.eligibility_reason(snap, member) if member else ""
    except Exception:
        store.release(drop_key=snap.key, member_id=member_id)
        raise
    if member is None:
        store.release(drop_key=snap.key, member_id=member_id)
        return 403, _refused("session")
    if reason:
        store.release(drop_key=snap.key, member_id=member_id)
        return 200, _answer(services.INELIGIBLE, reason=reason)
    return _result(services.redis_winner_settle(snap, member, ip))


def _via_database(snap, member_id: int, session_key: str, ip: str | None) -> tuple[int, dict]:
    """No Redis: the database path with the full request's throttles."""
    member = session_member(member_id, session_key)
    if member is None:
        return 403, _refused("session")
    limits = settings.DROPS_THROTTLE
    if not allow(f"drop-claim-m:{member_id}", limit=limits["member"], seconds=limits["seconds"]) or not allow(
        f"drop-claim-ip:{ip or '-'}", limit=limits["ip"], seconds=limits["seconds"]
    ):
        return 429, _answer("throttled")
    result = services.drop_claim(drop_id=snap.id, member=member, ip=ip)
    if result.outcome == services.SOLD_OUT:
        _expire_lazily()
    return _result(result)


def _result(result: services.ClaimResult) -> tuple[int, dict]:
    extra: dict = {}
    if result.reason:
        extra["reason"] = result.reason
    ticket = result.ticket
    if ticket is not None:
        extra["ticket"] = reverse("medrops:ticket", args=[ticket.pk])
        if ticket.status == ticket.Status.PENDING:
            extra["pay"] = reverse("medrops:pay", args=[ticket.pk])
            extra["pay_by"] = ticket.pay_by.astimezone(_tz()).strftime("%H:%M")
            extra["price"] = str(ticket.drop.price)
    elif result.outcome == services.DUPLICATE:
        extra["tickets"] = reverse("medrops:tickets")
    return 200, _answer(result.outcome, **extra)


def _tz():
    from django.utils import timezone

    return timezone.get_current_timezone()


_next_expiry = [0.0]


def _expire_lazily() -> None:
    """A sold-out answer may bring due tickets back (services.tickets_expire_lazily); this process
    asks at most every DROPS_LAZY_EXPIRY_SECONDS, so the crowd's answers cost no round trip."""
    now = time.monotonic()
    if now >= _next_expiry[0]:
        _next_expiry[0] = now + settings.DROPS_LAZY_EXPIRY_SECONDS
        services.tickets_expire_lazily()


# --- the two doors: WSGI in front of Django, and Django's URLconf -------------------------------------
HEADERS = [
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
]
REASONS = {200: "OK", 403: "Forbidden", 404: "Not Found", 425: "Too Early", 429: "Too Many Requests"}


def wsgi_grab(environ, start_response, drop_id: str):
    """The press as a bare WSGI application (routed before Django by cardportal.earlywsgi)."""
    host = environ.get("HTTP_HOST", "")
    status, body = 403, _refused("origin")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if 0 < length <= 4096:
            environ["wsgi.input"].read(length)  # nothing in the body is used: drain it
        if validate_host(split_domain_port(host)[0], settings.ALLOWED_HOSTS) and same_origin(
            origin=environ.get("HTTP_ORIGIN"), fetch_site=environ.get("HTTP_SEC_FETCH_SITE"), host=host
        ):
            cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
            status, body = grab(
                drop_id=int(drop_id),
                token=environ.get("HTTP_X_CLAIM_TOKEN", ""),
                session_key=cookies.get(settings.SESSION_COOKIE_NAME),
                ip=client_ip_of(environ),
            )
    finally:
        close_old_connections()  # what Django does at the end of a request (winners used the database)
    payload = json.dumps(body, ensure_ascii=False).encode()
    start_response(
        f"{status} {REASONS.get(status, 'Error')}", [*HEADERS, ("Content-Length", str(len(payload)))]
    )
    return [payload]


@csrf_exempt  # the claim token bound to member, session and drop is the CSRF token (see the top)
@require_POST
def grab_view(request, pk):
    from cardportal.audit import client_ip

    if not same_origin(
        origin=request.headers.get("Origin"),
        fetch_site=request.headers.get("Sec-Fetch-Site"),
        host=request.get_host(),
    ):
        status, body = 403, _refused("origin")
    else:
        status, body = grab(
            drop_id=pk,
            token=request.headers.get(TOKEN_HEADER, ""),
            session_key=request.COOKIES.get(settings.SESSION_COOKIE_NAME),
            ip=client_ip(request),
        )
    response = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response
