"""Member authentication for the member API (/api/me/), apart from staff authentication.

Two ways in, both bound to one `Member`:
* `Authorization: Member <token>`: a token issued after an SMS sign-in through the API (the
  future WeChat mini-program). Only its SHA-256 digest is stored (`MemberApiToken`); it ends at
  its expiry, on sign-out, and when the registry phone changes (the token remembers the phone
  hash it was issued for, as a member session does).
* the member session of the members' site (`request.member`, set by `MemberMiddleware`), with
  DRF's CSRF check for unsafe methods.

The member API lists only these classes, so a staff session or a partner (knox) token is not
looked at there; the staff API lists only staff classes, which never read a member token or a
member session. `request.user` on the member API is a `MemberPrincipal`, never a staff user."""

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.throttling import SimpleRateThrottle

from cardportal.audit import audit_record
from cardportal.throttling import _LiveRate
from members.models import Member

from .models import MemberApiToken

KEYWORD = "Member"
TOKEN_PREFIX = "cpm_"
TOKEN_DAYS = 30


class MemberPrincipal:
    """What DRF's `request.user` is on the member API: the member, and nothing a staff check
    could mistake for a staff account (no is_staff, no staff role, no permissions)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, member: Member):
        self.member = member
        self.pk = f"member-{member.pk}"  # throttle keys never collide with a staff user's id

    def __str__(self) -> str:
        return f"member {self.member.pk}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@transaction.atomic
def member_token_issue(*, member: Member, ip: str | None = None) -> tuple[MemberApiToken, str]:
    """A new API token for the member (after their SMS code was checked). The text is returned
    once; only its digest is kept."""
    text = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = MemberApiToken.objects.create(
        member=member,
        digest=_digest(text),
        prefix=text[:12],
        phone_hash=member.phone_hash,
        expires_at=timezone.now() + timedelta(days=TOKEN_DAYS),
    )
    audit_record(actor=None, verb="member.api_token_issued", target=member, ip=ip, data={"token": token.pk})
    return token, text


def member_token_revoke(*, token: MemberApiToken) -> None:
    MemberApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


class MemberTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="replace") != KEYWORD:
            return None  # not a member token: another class (or none) decides
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("令牌格式不对")
        text = parts[1].decode(errors="replace")
        token = (
            MemberApiToken.objects.select_related("member", "member__union", "member__union__parent")
            .filter(digest=_digest(text))
            .first()
        )
        if (
            token is None
            or token.revoked_at is not None
            or token.expires_at <= timezone.now()
            or token.phone_hash != token.member.phone_hash
        ):
            raise exceptions.AuthenticationFailed("令牌无效或已过期，请重新登录")
        return MemberPrincipal(token.member), token

    def authenticate_header(self, request):
        return KEYWORD  # a refused request is a 401 with WWW-Authenticate: Member


class MemberSessionAuthentication(authentication.SessionAuthentication):
    """The members' site session (never a staff session: `request.member` is None while a staff
    user is signed in)."""

    def authenticate(self, request):
        member = getattr(request._request, "member", None)
        if member is None:
            return None
        self.enforce_csrf(request)
        return MemberPrincipal(member), None


class IsMember(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, MemberPrincipal)


class MemberRateThrottle(_LiveRate, SimpleRateThrottle):
    """Per member across the member API (the same rate as a staff user's)."""

    scope = "user"

    def get_cache_key(self, request, view):
        if not isinstance(request.user, MemberPrincipal):
            return None
        return self.cache_format % {"scope": "member", "ident": request.user.member.pk}


class MemberTokenScheme(OpenApiAuthenticationExtension):
    target_class = "benefits.membersite.api_auth.MemberTokenAuthentication"
    name = "memberToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "会员令牌：`Member cpm_…`（POST /api/me/signin/code/ 与 /api/me/signin/token/ 短信验证码登录获取，30 天有效）；只用于 /api/me/",
        }


class MemberSessionScheme(OpenApiAuthenticationExtension):
    target_class = "benefits.membersite.api_auth.MemberSessionAuthentication"
    name = "memberSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "会员网站的会员登录会话（不是工作人员会话）",
        }
