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

from . import throttle
from .models import SignInCode

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
    code = f"{secrets.randbelow(10**6):06d}"
    salt = secrets.token_hex(16)
    now = timezone.now()
    with transaction.atomic():
        challenge = SignInCode.objects.create(
            member_id=member_id,
            salt=salt,
            code_hash=_code_hash(salt, code),
            created_at=now,
            expires_at=now + timedelta(seconds=limits["code_ttl_seconds"]),
            ip=ip,
        )
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
    limits = _limits()
    if not throttle.allow(f"ip-verify:{ip}", limit=limits["ip_verifies_per_hour"], seconds=3600):
        raise ApplicationError(SLOW_DOWN, code="throttled_ip")
    code = normalise(code or "")
    if not (len(code) == 6 and code.isdigit()):
        raise ApplicationError("请输入短信中的6位数字验证码", code="code_format")
    if challenge_id is None:
        raise ApplicationError("请先输入身份证号获取验证码", code="no_challenge")
    refusal = _verify_locked(challenge_id=challenge_id, code=code, ip=ip)
    if isinstance(refusal, ApplicationError):
        raise refusal  # after the commit: the counted try must not roll back with the refusal
    return refusal


@transaction.atomic
def _verify_locked(*, challenge_id: int, code: str, ip: str | None) -> Member | ApplicationError:
    limits = _limits()
    challenge = (
        SignInCode.objects.select_for_update(of=("self",))
        .select_related("member__union")  # the audit row reads the union
        .filter(pk=challenge_id)
        .first()
    )
    if challenge is None:
        return ApplicationError("请先输入身份证号获取验证码", code="no_challenge")
    if challenge.used_at is not None:
        return ApplicationError(USED, code="code_used")
    if challenge.attempts >= limits["max_tries"]:
        return ApplicationError(TOO_MANY_TRIES, code="too_many_tries")
    if timezone.now() >= challenge.expires_at:
        return ApplicationError(EXPIRED, code="code_expired")
    challenge.attempts += 1
    matches = hmac.compare_digest(challenge.code_hash, _code_hash(challenge.salt, code))
    if not matches or challenge.member is None:
        challenge.save(update_fields=["attempts"])
        left = limits["max_tries"] - challenge.attempts
        return ApplicationError(
            BAD_CODE + (f"（还可尝试{left}次）" if left else "；尝试次数已用完，请重新获取"),
            code="code_wrong",
        )
    challenge.used_at = timezone.now()
    challenge.save(update_fields=["attempts", "used_at"])
    audit_record(actor=None, verb="member.signed_in", target=challenge.member, ip=ip, data={"via": "sms"})
    return challenge.member


def signin_codes_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete challenges past their use (expired a day ago): they only ever held a hash, but
    nothing needs them once the daily limits have moved on. Returns how many were deleted."""
    deleted, _ = SignInCode.objects.filter(expires_at__lt=timezone.now() - older_than).delete()
    return deleted
