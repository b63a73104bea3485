"""Staff sign-in throttling (django-axes) made visible: the Chinese lockout answer and audit rows.

Axes counts failures per username and per IP (settings.AXES_*) inside authenticate(), so the login
form, the admin and the API token endpoint are all covered by the same counts. What this module
adds: the lockout page/JSON says when to retry, and every failed sign-in and every lockout
becomes an AuditEntry the audit viewer can show (receivers on Django's and axes' signals: they
are the only hook authenticate() offers, so this is not business logic hidden in a signal).
"""

from datetime import datetime, timedelta

from axes.helpers import get_cool_off, get_failure_limit
from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone

from .audit import client_ip, register_verbs
from .errors import ApplicationError
from .models import AuditEntry
from .scoping import staff_of

register_verbs(
    {
        "auth.login": "登录成功",
        "auth.login_failed": "登录失败",
        "auth.locked_out": "登录失败次数过多，已锁定",
        "auth.unlocked": "解除登录锁定",
    }
)


def throttle_client_ip(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: the address sign-ins are counted under. Behind N trusted proxies
    (settings.PROXY_COUNT, e.g. 1 for nginx on the same host) it is the Nth address from the
    right of X-Forwarded-For (the ones to its left are whatever the client sent); with no proxy
    it is REMOTE_ADDR. Without this, every sign-in behind nginx would count under 127.0.0.1."""
    return client_ip(_http_request(request))


def _http_request(request):
    """DRF wraps the HttpRequest; axes' middleware reads its flags from the inner one."""
    return getattr(request, "_request", request)


def retry_at(request) -> datetime:
    cool_off = get_cool_off(request) or timedelta(0)
    return timezone.localtime(timezone.now() + cool_off)


def lockout_message(request) -> str:
    when = retry_at(request)
    return f"登录失败次数过多，账号或本机地址已被暂时锁定。请于 {when:%Y-%m-%d %H:%M} 之后再试，或联系上级工会管理员解锁。"


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: 429 with the time to retry; JSON for the API, a page otherwise."""
    request = _http_request(request)
    status = 429
    if request.path.startswith("/api/") or request.headers.get("x-requested-with") == "XMLHttpRequest":
        return JsonResponse(
            {
                "detail": lockout_message(request),
                "code": "locked_out",
                "retry_at": retry_at(request).isoformat(),
            },
            status=status,
        )
    return render(
        request,
        "registration/lockout.html",
        {"retry_at": retry_at(request), "message": lockout_message(request)},
        status=status,
    )


def _staff_union(user):
    staff = staff_of(user) if user is not None else None
    return staff.union if staff is not None else None


def _signin_audit(*, verb: str, username: str, request, data: dict, actor=None, ip=None) -> AuditEntry:
    """One audit row about a sign-in; the target is the account when it exists (its union makes
    the row visible to that union's federation staff), else the bare username tried."""
    user = get_user_model().objects.filter(username=username).select_related("staff__union").first()
    return AuditEntry.objects.create(
        actor=actor,
        verb=verb,
        target_type="auth.user",
        target_id=str(user.pk) if user else "",
        target_label=(username or "")[:200],
        union=_staff_union(user),
        data=data,
        ip=ip
        if request is None
        else (getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR")),
    )


@receiver(user_login_failed, dispatch_uid="cardportal.signin.login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    if request is None:
        return
    inner = _http_request(request)
    if inner is not request:
        # Pass axes' verdict to the HttpRequest so AxesMiddleware answers the API with a lockout too.
        for name in ("axes_locked_out", "axes_credentials"):
            if hasattr(request, name):
                setattr(inner, name, getattr(request, name))
    _signin_audit(
        verb="auth.login_failed",
        username=credentials.get("username", ""),
        request=request,
        data={"path": inner.path, "locked": bool(getattr(request, "axes_locked_out", False))},
    )


@receiver(user_locked_out, dispatch_uid="cardportal.signin.locked_out")
def _locked_out(sender, request, username, ip_address, **kwargs):
    # Axes signals this on every failure from the limit on; the lockout itself is the first one
    # (the later ones are already audited as failures with "locked": true).
    if getattr(request, "axes_failures_since_start", None) not in (None, get_failure_limit(request, None)):
        return
    _signin_audit(
        verb="auth.locked_out",
        username=username or "",
        request=request,
        data={"path": _http_request(request).path, "until": retry_at(request).isoformat()},
    )


@transaction.atomic
def signin_unlock(*, user, actor, ip: str | None = None) -> int:
    """Delete the failures recorded under `user`'s username (failures of other usernames from the
    same address still count against that address). Same rule as the second-factor reset: a
    superuser or an admin of a higher union."""
    from axes.utils import reset as axes_reset

    from .second_factor import can_reset_second_factor

    if not can_reset_second_factor(actor=actor, user=user):
        raise ApplicationError(
            "只有上级工会的系统管理员或超级管理员可以解除该账号的登录锁定。", code="forbidden"
        )
    cleared = axes_reset(username=user.get_username())
    _signin_audit(
        verb="auth.unlocked",
        username=user.get_username(),
        request=None,
        data={"attempts": cleared},
        actor=actor,
        ip=ip,
    )
    return cleared
