"""API tokens for partner integrations (the bank / issuer), on django-rest-knox.

knox keeps only a SHA-512 digest of each token and the first characters as a look-up key, and
gives each an expiry (settings.REST_KNOX["TOKEN_TTL"], API_TOKEN_TTL_DAYS). On top of it:

* only holders of the `api.token` capability (partner roles, `members.access`) hold a token, checked when it is issued
  and again on every request (a bank account moved to another role stops working at once);
* one live token per account: issuing a token revokes the account's others, so issuing is also
  rotating, and the new token is shown once, to whoever issued it, never stored in clear;
* issuing and revoking write an audit row in the same transaction.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from knox.models import AuthToken

from .audit import audit_record, register_verbs
from .errors import ApplicationError
from .scoping import can, staff_of

# What the admin and the audit log show of a token: enough to tell two apart, useless to sign in.
PREFIX_LENGTH = 8

register_verbs(
    {
        "api_token.issued": "签发 API 令牌",
        "api_token.revoked": "作废 API 令牌",
    }
)


def token_prefix(token: AuthToken) -> str:
    return token.token_key[:PREFIX_LENGTH]


def _audit(*, actor, verb: str, token: AuthToken, data: dict | None = None) -> None:
    staff = staff_of(token.user)
    audit_record(
        actor=actor,
        verb=verb,
        target=token.user,
        union=staff.union if staff is not None else None,
        label=f"{token.user.get_username()} · {token_prefix(token)}…",
        data={"prefix": token_prefix(token), **(data or {})},
    )


@transaction.atomic
def api_token_issue(*, user, actor, via: str) -> tuple[AuthToken, str]:
    """A new token for a partner account, replacing (revoking) any it had. Returns the row and
    the token text, which exists nowhere else afterwards: show it once."""
    if not user.is_active or not can(user, "api.token"):
        raise ApplicationError(
            _("只有合作机构（银行）经办账号可以申请 API 令牌；工作人员请在浏览器中登录使用")
        )
    # Lock the account, not its tokens: with none yet there is no token row to lock, and two
    # concurrent requests would both leave a live token.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    for old in AuthToken.objects.filter(user=user).order_by("pk"):
        _revoke(token=old, actor=actor, reason="rotated")
    token, text = AuthToken.objects.create(user=user)
    _audit(
        actor=actor,
        verb="api_token.issued",
        token=token,
        data={"via": via, "expiry": token.expiry.isoformat()},
    )
    return token, text


def _revoke(*, token: AuthToken, actor, reason: str) -> None:
    _audit(actor=actor, verb="api_token.revoked", token=token, data={"reason": reason})
    token.delete()


@transaction.atomic
def api_token_revoke(*, token: AuthToken, actor, reason: str = "revoked") -> None:
    _revoke(token=token, actor=actor, reason=reason)


@transaction.atomic
def api_token_revoke_all(*, user, actor, reason: str = "revoked") -> int:
    tokens = list(AuthToken.objects.select_for_update().filter(user=user).order_by("pk"))
    for token in tokens:
        _revoke(token=token, actor=actor, reason=reason)
    return len(tokens)
