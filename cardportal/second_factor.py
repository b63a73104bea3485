"""The second factor (TOTP via django-otp, recovery codes as django-otp static tokens).

Who needs it: every account that can reveal a full ID number, download a hand-off or bank file,
or open the admin (see SECOND_FACTOR_ROLES). The password alone gives such an account a session
that reaches nothing but the enrol/verify pages (cardportal.middleware.SecondFactorMiddleware).
The API token endpoint is for partner integrations and stays outside this step.
"""

import hashlib
import re
from base64 import b32encode

import segno
from django.db import transaction
from django.utils import timezone
from django.utils.safestring import mark_safe
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .audit import register_verbs
from .errors import ApplicationError
from .models import AuditEntry
from .scoping import access_for, can, staff_of

RECOVERY_CODE_COUNT = 10
TOTP_NAME = "身份验证器"
RECOVERY_NAME = "恢复码"
DEMO_TOTP_NAME = "演示身份验证器"

register_verbs(
    {
        "second_factor.enrolled": "启用二次验证",
        "second_factor.verified": "二次验证通过",
        "second_factor.failed": "二次验证码错误",
        "second_factor.recovery_used": "使用恢复码登录",
        "second_factor.reset": "重置二次验证",
    }
)


def second_factor_required(user) -> bool:
    """Whoever may see full ID numbers, bank files or payment files, or use the admin: the
    `account.second_factor` capability, derived from those in the access table (members.access).
    Only the grassroots clerk, who sees masked numbers of their own union, signs in without it."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or user.is_staff:
        return True
    return can(user, "account.second_factor")


def has_totp(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def _audit(*, verb: str, user, actor, ip: str | None, data: dict | None = None) -> AuditEntry:
    staff = staff_of(user)
    return AuditEntry.objects.create(
        actor=actor,
        verb=verb,
        target_type="auth.user",
        target_id=str(user.pk),
        target_label=user.get_username()[:200],
        union=staff.union if staff is not None else None,
        data=data or {},
        ip=ip,
    )


# --- enrolment --------------------------------------------------------------------------------
def totp_device_pending(*, user) -> TOTPDevice:
    """The unconfirmed device the enrolment page shows; the same secret on every reload until
    it is confirmed, so a person who scanned the code and reloads is not left with a dead entry."""
    if has_totp(user):
        raise ApplicationError("您已启用二次验证，请直接输入验证码。", code="already_enrolled")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def totp_secret(device: TOTPDevice) -> str:
    """The base32 secret an authenticator app takes when typed in, in groups of four."""
    secret = b32encode(device.bin_key).decode("ascii")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def totp_qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG (drawn here: the secret never leaves the server)."""
    svg = segno.make(device.config_url, error="m").svg_inline(scale=4, border=4)
    return mark_safe(svg)  # noqa: S308 - segno's own markup, no user text in it


def _clean(token: str) -> str:
    return re.sub(r"\s+", "", token or "").lower()


def second_factor_enrol(*, user, device: TOTPDevice, token: str, ip: str | None = None) -> list[str]:
    """Confirm the pending device with a code from the app; returns the recovery codes, which
    are shown once and only their stored copies remain (used ones are deleted).

    A wrong code is refused after its audit row and the device's throttle count are committed."""
    token = _clean(token)
    if not re.fullmatch(r"\d{6}", token):
        raise ApplicationError("请输入身份验证器上显示的 6 位数字验证码。", code="invalid_code")
    codes = None
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
        message = _throttle_message(device)
        if message:
            raise ApplicationError(message, code="throttled")
        if device.verify_token(token):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            codes = _recovery_codes_replace(user=user)
            _audit(
                verb="second_factor.enrolled",
                user=user,
                actor=user,
                ip=ip,
                data={"recovery_codes": len(codes)},
            )
        else:
            _audit(verb="second_factor.failed", user=user, actor=user, ip=ip, data={"step": "enrol"})
    if codes is None:
        raise ApplicationError("验证码不正确，请核对手机时间后输入当前显示的 6 位数字。", code="wrong_code")
    return codes


def _recovery_codes_replace(*, user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
    return codes


# --- verification -----------------------------------------------------------------------------
def _throttle_message(device) -> str | None:
    allowed, info = device.verify_is_allowed()
    if allowed:
        return None
    until = (info or {}).get("locked_until")
    seconds = max(1, int((until - timezone.now()).total_seconds()) + 1) if until else 1
    return f"验证码错误次数过多，请 {seconds} 秒后再试。"


@transaction.atomic
def second_factor_verify(*, user, token: str, ip: str | None = None):
    """Check a 6-digit code (TOTP) or a recovery code; returns the device that accepted it.

    Devices are locked for update, so two requests cannot both use one code; a TOTP code is
    refused once used (django-otp keeps the last time step), a recovery code is deleted."""
    token = _clean(token)
    if not token:
        raise ApplicationError("请输入验证码。", code="invalid_code")
    is_totp = bool(re.fullmatch(r"\d{6}", token))
    model = TOTPDevice if is_totp else StaticDevice
    devices = list(model.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk"))
    for device in devices:
        message = _throttle_message(device)
        if message:
            raise ApplicationError(message, code="throttled")
    for device in devices:
        if device.verify_token(token):
            if is_totp:
                _audit(verb="second_factor.verified", user=user, actor=user, ip=ip)
            else:
                left = device.token_set.count()
                _audit(verb="second_factor.recovery_used", user=user, actor=user, ip=ip, data={"left": left})
            return device
    _audit(
        verb="second_factor.failed",
        user=user,
        actor=user,
        ip=ip,
        data={"kind": "totp" if is_totp else "recovery"},
    )
    return None


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --- reset ------------------------------------------------------------------------------------
def can_reset_second_factor(*, actor, user) -> bool:
    """A superuser, or a portal admin of a union strictly above the user's union. Nobody resets
    their own (that would make the second factor worthless once the password is known)."""
    if actor.pk == user.pk:
        return False
    if actor.is_superuser:
        return True
    if user.is_superuser:
        return False
    mine, theirs = access_for(actor), staff_of(user)
    return mine.can("admin.site") and theirs is not None and mine.governs(theirs.union)


@transaction.atomic
def second_factor_reset(*, user, actor, ip: str | None = None) -> int:
    """Remove every device of `user`: their verified sessions lose verification on the next
    request and they enrol again after the password. Returns the number of devices removed."""
    if not can_reset_second_factor(actor=actor, user=user):
        raise ApplicationError(
            "只有上级工会的系统管理员或超级管理员可以重置该账号的二次验证。", code="forbidden"
        )
    removed = 0
    for device in list(devices_for_user(user, confirmed=None)):
        device.delete()
        removed += 1
    _audit(
        verb="second_factor.reset",
        user=user,
        actor=actor if getattr(actor, "pk", None) else None,
        ip=ip,
        data={"devices": removed},
    )
    return removed


# --- the demo ---------------------------------------------------------------------------------
def demo_totp_key(username: str) -> str:
    """A fixed, published secret per demo account (hex, 20 bytes): the demo's logins are public."""
    return hashlib.sha1(f"cardportal-demo-totp:{username}".encode()).hexdigest()


def demo_devices_ensure(users) -> list[tuple[str, str]]:
    """Give each demo account that needs a second factor a confirmed device with its demo
    secret (idempotent); returns (username, base32 secret) pairs."""
    out = []
    for user in users:
        if not second_factor_required(user):
            continue
        device, _created = TOTPDevice.objects.get_or_create(
            user=user, name=DEMO_TOTP_NAME, defaults={"key": demo_totp_key(user.username), "confirmed": True}
        )
        out.append((user.username, totp_secret(device)))
    return out


def totp_now(device: TOTPDevice) -> str:
    """The code the device's app shows now (for the demo command and the tests)."""
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"
