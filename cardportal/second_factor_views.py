"""The second-factor pages: enrol (QR code, secret, recovery codes once), verify; and the page
where a higher admin unlocks an account's sign-in or resets its second factor."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from . import second_factor as sf
from .audit import client_ip
from .errors import ApplicationError
from .params import query_text
from .redirects import safe_next
from .scoping import can, scope_queryset
from .signin import signin_unlock


def _next(request) -> str:
    return safe_next(request, reverse("dashboard"))


@login_required
@require_http_methods(["GET", "POST"])
def enrol(request):
    if not sf.second_factor_required(request.user) or request.user.is_verified():
        return redirect(_next(request))
    if sf.has_totp(request.user):
        return redirect(f"{reverse('second_factor_verify')}?{request.GET.urlencode()}")
    device = sf.totp_device_pending(user=request.user)
    error = None
    if request.method == "POST":
        try:
            codes = sf.second_factor_enrol(
                user=request.user, device=device, token=request.POST.get("token", ""), ip=client_ip(request)
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            device.refresh_from_db()
            request.session.cycle_key()  # a new session id for the elevated session
            otp_login(request, device)
            return render(
                request, "second_factor/recovery_codes.html", {"codes": codes, "next": _next(request)}
            )
    return render(
        request,
        "second_factor/enrol.html",
        {
            "qr_svg": sf.totp_qr_svg(device),
            "secret": sf.totp_secret(device),
            "error": error,
            "next": _next(request),
            "second_factor_pending": True,
        },
        status=400 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    if not sf.second_factor_required(request.user) or request.user.is_verified():
        return redirect(_next(request))
    if not sf.has_totp(request.user):
        return redirect(f"{reverse('second_factor_enrol')}?{request.GET.urlencode()}")
    error = None
    if request.method == "POST":
        try:
            device = sf.second_factor_verify(
                user=request.user, token=request.POST.get("token", ""), ip=client_ip(request)
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            if device is not None:
                request.session.cycle_key()  # a new session id for the elevated session
                otp_login(request, device)
                if device.persistent_id.startswith("otp_static"):
                    left = sf.recovery_codes_left(request.user)
                    messages.warning(
                        request,
                        f"您使用了一个恢复码（已作废），还剩 {left} 个。如手机丢失，请联系上级工会管理员重置二次验证。",
                    )
                return redirect(_next(request))
            error = "验证码不正确，请输入身份验证器上当前显示的 6 位数字，或一个未用过的恢复码。"
    return render(
        request,
        "second_factor/verify.html",
        {"error": error, "next": _next(request), "second_factor_pending": True},
        status=400 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def account_security(request):
    """Unlock another account's sign-in or reset its second factor (a superuser, or an admin of a
    higher union). The account is looked up inside the actor's own scope: outside it, it does
    not exist."""
    if not can(request.user, "admin.site"):
        raise Http404
    users = scope_queryset(get_user_model().objects.all(), request.user, union_field="staff__union")
    error = None
    username = query_text(request.POST.get("username"))
    action = request.POST.get("action")
    if request.method == "POST":
        target = users.filter(username=username).first()
        if target is None:
            error = f"在您管辖的范围内没有用户名为“{username}”的账号。"
        elif action not in ("unlock", "reset"):
            error = "请选择要执行的操作。"
        else:
            try:
                if action == "unlock":
                    cleared = signin_unlock(user=target, actor=request.user, ip=client_ip(request))
                    done = f"已解除 {username} 的登录锁定（清除 {cleared} 条失败记录）。"
                else:
                    removed = sf.second_factor_reset(user=target, actor=request.user, ip=client_ip(request))
                    done = f"已重置 {username} 的二次验证（移除 {removed} 个设备）。该用户下次登录时需重新绑定身份验证器。"
            except ApplicationError as exc:
                error = exc.message
            else:
                messages.success(request, done)
                return redirect(reverse("account_security"))
    return render(
        request,
        "second_factor/account_security.html",
        {"error": error, "username": username},
        status=400 if error else 200,
    )
