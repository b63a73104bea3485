"""Member sign-in by ID number + SMS code, and the member's own actions.

Limits (settings.MEMBER_SIGNIN, defaults in cardportal/settings.py): a code is 6 digits, valid
5 minutes, single use, 5 tries; at most 1 code a minute and 10 a day per ID number asked for and
per registry phone; per IP address a cap on codes asked for and on codes tried."""

import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cardportal import crypto
from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from members.idcard import _SHAPE, check_digit, normalise
from members.models import Member
from members.phones import is_mobile, normalise_phone

from . import throttle
from .models import PhoneChangeCode, SignInCode

BAD_CODE = "验证码不正确，请核对短信中的6位数字"
EXPIRED = "验证码已过期，请重新获取"
USED = "验证码已使用过，请重新获取"
TOO_MANY_TRIES = "验证码输入错误次数过多，请重新获取"
SLOW_DOWN = "操作过于频繁，请稍后再试"


def _limits() -> dict:
    return settings.MEMBER_SIGNIN


def _code_hash(salt: str, code: str) -> str:
    key = settings.PII_HASH_KEY.encode()
    return hmac.digest(key, f"member-signin:{salt}:{code}".encode(), "sha256").hex()


def parse_id_number(raw: str) -> str:
    value = normalise(raw or "")
    if not value:
        raise ApplicationError("请输入身份证号", code="id_missing")
    if not _SHAPE.match(value) or check_digit(value[:17]) != value[17]:
        raise ApplicationError(
            "身份证号格式不对：应为18位，最后一位是数字或X，请与身份证核对", code="id_format"
        )
    return value


def signin_code_request(*, id_number: str, ip: str | None) -> SignInCode:
    """Issue a sign-in challenge for an ID number and text its code to the registry phone.

    No member enumeration: a registered and an unregistered (well-formed) number go through the
    same steps (one look-up, one challenge row, one task enqueued after commit, holding the code
    encrypted) and get the same answer; whether a member and a phone exist is decided in the
    task. The per-ID limits count the number asked for, registered or not, so their refusals tell
    nothing either. Raises ApplicationError for a malformed number or a limit reached."""
    limits = _limits()
    if not throttle.allow(f"ip-request:{ip}", limit=limits["ip_requests_per_hour"], seconds=3600):
        raise ApplicationError(SLOW_DOWN, code="throttled_ip")
    value = parse_id_number(id_number)
    id_hash = crypto.keyed_hash(value)
    if not throttle.would_allow(f"id:{id_hash}", limit=1, seconds=60):
        raise ApplicationError("验证码已发送，请1分钟后再重新获取", code="throttled_minute")
    if not throttle.would_allow(f"id-day:{id_hash}", limit=limits["codes_per_day"], seconds=86400):
        raise ApplicationError("今天获取验证码的次数已达上限，请明天再试", code="throttled_day")
    throttle.allow(f"id:{id_hash}", limit=1, seconds=60)
    throttle.allow(f"id-day:{id_hash}", limit=limits["codes_per_day"], seconds=86400)
    member_id = Member.objects.filter(id_hash=id_hash).values_list("pk", flat=True).first()
    code, fields = _new_code(limits)
    with transaction.atomic():
        challenge = SignInCode.objects.create(member_id=member_id, ip=ip, **fields)
        from .tasks import signin_code_send_task

        sealed = crypto.encrypt(code)  # the broker sees ciphertext only
        transaction.on_commit(lambda: signin_code_send_task.delay(challenge.pk, sealed))
    return challenge


@transaction.atomic
def signin_code_send(*, challenge_id: int, sealed_code: str) -> int | None:
    """The task's half of `signin_code_request`: for a registered member whose phone is within
    its limits, put the code in the SMS outbox (which sends it). Returns the message id, or None
    when nothing is sent (no such member, phone limits). Idempotent: one message per challenge."""
    from members.sms.models import SmsMessage
    from members.sms.services import sms_queue

    challenge = (
        SignInCode.objects.select_for_update(of=("self",))
        .select_related("member")
        .filter(pk=challenge_id)
        .first()
    )
    if challenge is None or challenge.member is None or challenge.used_at is not None:
        return None
    member = challenge.member
    key = f"signin:{challenge.pk}"
    existing = SmsMessage.objects.filter(key=key).values_list("pk", flat=True).first()
    if existing is not None:
        return existing
    limits = _limits()
    phone = member.phone_hash
    # Per phone (several members may share one): silently not sent, so the answer stays the same.
    if not throttle.allow(f"phone:{phone}", limit=1, seconds=60) or not throttle.allow(
        f"phone-day:{phone}", limit=limits["codes_per_day"], seconds=86400
    ):
        return None
    message = sms_queue(
        member=member, template="member_signin_code", params={"code": crypto.decrypt(sealed_code)}, key=key
    )
    audit_record(
        actor=None,
        verb="member.signin_code_requested",
        target=member,
        ip=challenge.ip,
        data={"sms": message.pk},
    )
    return message.pk


def signin_code_verify(*, challenge_id: int | None, code: str, ip: str | None) -> Member:
    """Check a code against its challenge and return the member. Every try counts (under a row
    lock, so parallel guesses cannot exceed the limit); the sixth is refused even if right. A
    challenge of an unregistered number fails exactly like a wrong code."""
    code = _check_code_shape(code, ip)
    if challenge_id is None:
        raise ApplicationError("请先输入身份证号获取验证码", code="no_challenge")
    refusal = _verify_locked(challenge_id=challenge_id, code=code, ip=ip)
    if isinstance(refusal, ApplicationError):
        raise refusal  # after the commit: the counted try must not roll back with the refusal
    return refusal


@transaction.atomic
def _verify_locked(*, challenge_id: int, code: str, ip: str | None) -> Member | ApplicationError:
    challenge = (
        SignInCode.objects.select_for_update(of=("self",))
        .select_related("member__union")  # the audit row reads the union
        .filter(pk=challenge_id)
        .first()
    )
    if challenge is None:
        return ApplicationError("请先输入身份证号获取验证码", code="no_challenge")
    refusal = _try_code(challenge, code, can_match=challenge.member is not None)
    if refusal is not None:
        return refusal
    audit_record(actor=None, verb="member.signed_in", target=challenge.member, ip=ip, data={"via": "sms"})
    return challenge.member


def _try_code(challenge, code: str, *, can_match: bool = True) -> ApplicationError | None:
    """Count one try of `code` against a challenge locked by the caller; None when it matches
    (the challenge is then used up). Used, exhausted (the sixth try is refused even when right)
    and expired challenges are refused before the try is counted."""
    limits = _limits()
    if challenge.used_at is not None:
        return ApplicationError(USED, code="code_used")
    if challenge.attempts >= limits["max_tries"]:
        return ApplicationError(TOO_MANY_TRIES, code="too_many_tries")
    if timezone.now() >= challenge.expires_at:
        return ApplicationError(EXPIRED, code="code_expired")
    challenge.attempts += 1
    matches = hmac.compare_digest(challenge.code_hash, _code_hash(challenge.salt, code))
    if not matches or not can_match:
        challenge.save(update_fields=["attempts"])
        left = limits["max_tries"] - challenge.attempts
        return ApplicationError(
            BAD_CODE + (f"（还可尝试{left}次）" if left else "；尝试次数已用完，请重新获取"),
            code="code_wrong",
        )
    challenge.used_at = timezone.now()
    challenge.save(update_fields=["attempts", "used_at"])
    return None


def _new_code(limits: dict) -> tuple[str, dict]:
    """A fresh 6-digit code and the challenge fields that keep only its keyed hash."""
    code = f"{secrets.randbelow(10**6):06d}"
    salt = secrets.token_hex(16)
    now = timezone.now()
    return code, {
        "salt": salt,
        "code_hash": _code_hash(salt, code),
        "created_at": now,
        "expires_at": now + timedelta(seconds=limits["code_ttl_seconds"]),
    }


def _check_code_shape(code: str, ip: str | None) -> str:
    if not throttle.allow(f"ip-verify:{ip}", limit=_limits()["ip_verifies_per_hour"], seconds=3600):
        raise ApplicationError(SLOW_DOWN, code="throttled_ip")
    code = normalise(code or "")
    if not (len(code) == 6 and code.isdigit()):
        raise ApplicationError("请输入短信中的6位数字验证码", code="code_format")
    return code


# --- change of phone -----------------------------------------------------------------------------


def parse_phone(raw: str) -> str:
    value = normalise_phone(raw or "")
    if not value:
        raise ApplicationError("请输入新的手机号", code="phone_missing")
    if not is_mobile(value):
        raise ApplicationError("手机号格式不对：应为11位手机号码，以1开头", code="phone_format")
    return value


def phone_change_request(*, member: Member, phone: str, ip: str | None) -> PhoneChangeCode:
    """Text a code to the NEW number the signed-in member typed. The same code rules as the
    sign-in (6 digits, 5 minutes, 5 tries, single use); at most 1 code a minute and 10 a day per
    member and per new number (a member cannot use the portal to flood someone else's phone)."""
    from members.sms.services import sms_queue

    limits = _limits()
    if not throttle.allow(f"ip-request:{ip}", limit=limits["ip_requests_per_hour"], seconds=3600):
        raise ApplicationError(SLOW_DOWN, code="throttled_ip")
    value = parse_phone(phone)
    digest = crypto.keyed_hash(value)
    if digest == member.phone_hash:
        raise ApplicationError("这就是您现在登记的手机号，无需更换", code="phone_same")
    keys = [f"phone-change:{member.pk}", f"phone-change-to:{digest}"]
    if not all(throttle.would_allow(k, limit=1, seconds=60) for k in keys):
        raise ApplicationError("验证码已发送，请1分钟后再重新获取", code="throttled_minute")
    if not all(throttle.would_allow(k, limit=limits["codes_per_day"], seconds=86400) for k in keys):
        raise ApplicationError("今天获取验证码的次数已达上限，请明天再试", code="throttled_day")
    for k in keys:
        throttle.allow(k, limit=1, seconds=60)
        throttle.allow(k, limit=limits["codes_per_day"], seconds=86400)
    code, fields = _new_code(limits)
    with transaction.atomic():
        challenge = PhoneChangeCode.objects.create(
            member=member, phone_encrypted=crypto.encrypt(value), phone_hash=digest, ip=ip, **fields
        )
        sms_queue(
            member=member,
            template="member_phone_code",
            params={"code": code},
            key=f"phone-code:{challenge.pk}",
            phone=value,
        )
    return challenge


def phone_change_confirm(*, member: Member, challenge_id: int | None, code: str, ip: str | None) -> Member:
    """Check the code sent to the new number and, when it matches, make that number the
    registry phone (hash, ciphertext, masked parts), tell the OLD number by SMS, leave a notice,
    and audit the change. The member's other sessions and API tokens end (they were bound to
    the old number). Refusals are raised after the counted try is committed."""
    code = _check_code_shape(code, ip)
    if challenge_id is None:
        raise ApplicationError("请先输入新手机号获取验证码", code="no_challenge")
    result = _phone_change_locked(member=member, challenge_id=challenge_id, code=code, ip=ip)
    if isinstance(result, ApplicationError):
        raise result
    return result


@transaction.atomic
def _phone_change_locked(*, member: Member, challenge_id: int, code: str, ip: str | None):
    from members.sms.models import Notice
    from members.sms.notices import notice_send
    from members.sms.services import sms_queue

    challenge = (
        PhoneChangeCode.objects.select_for_update().filter(pk=challenge_id, member_id=member.pk).first()
    )
    if challenge is None:
        return ApplicationError("请先输入新手机号获取验证码", code="no_challenge")
    refusal = _try_code(challenge, code)
    if refusal is not None:
        return refusal
    member = (
        Member.objects.select_for_update(of=("self",))
        .select_related("union", "union__parent")
        .get(pk=member.pk)
    )
    old_masked = member.masked_phone
    new_phone = crypto.decrypt(challenge.phone_encrypted)
    new_masked = crypto.mask_phone(new_phone)
    # To the old number, before the registry forgets it: whoever holds it learns of the change.
    sms_queue(
        member=member,
        template="member_phone_changed",
        params={"new_phone": new_masked},
        key=f"phone-changed:{challenge.pk}",
    )
    member.set_phone(new_phone)
    member.save(update_fields=["phone_hash", "phone_encrypted", "phone_prefix", "phone_last4", "updated_at"])
    notice_send(
        member=member,
        kind=Notice.Kind.PHONE_CHANGED,
        key=f"phone-changed:{challenge.pk}",
        params={"new_phone": new_masked},
        sms=False,
    )
    audit_record(
        actor=None,
        verb="member.phone_changed",
        target=member,
        ip=ip,
        data={"by_member": member.pk, "from": old_masked, "to": new_masked},
    )
    return member


def signin_codes_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete challenges past their use (expired a day ago): they only ever held a hash, but
    nothing needs them once the daily limits have moved on. Returns how many were deleted."""
    deleted, _ = SignInCode.objects.filter(expires_at__lt=timezone.now() - older_than).delete()
    return deleted


def member_notices_mark_read(*, member: Member, notice_ids: list[int]) -> int:
    """Mark the member's notices just shown as read (only their own, only unread ones)."""
    from members.sms.models import Notice

    if not notice_ids:
        return 0
    return Notice.objects.filter(member=member, pk__in=notice_ids, read_at__isnull=True).update(
        read_at=timezone.now()
    )
