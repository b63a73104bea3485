from django.db import models
from django.utils.translation import gettext_lazy as _


class CodeChallenge(models.Model):
    """A one-time SMS code. Only a keyed hash of the code is kept (HMAC over this row's random
    salt and the code), so a database dump does not give codes away."""

    salt = models.CharField(_("盐"), max_length=32)
    code_hash = models.CharField(_("验证码摘要"), max_length=64)
    attempts = models.PositiveSmallIntegerField(_("已尝试次数"), default=0)
    created_at = models.DateTimeField(_("创建时间"), db_index=True)
    expires_at = models.DateTimeField(_("过期时间"))
    used_at = models.DateTimeField(_("使用时间"), null=True, blank=True)
    ip = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"#{self.pk} {self.created_at:%Y-%m-%d %H:%M}"


class SignInCode(CodeChallenge):
    """One SMS sign-in challenge.

    A challenge is written for every well-formed ID number asked for, registered or not
    (`member` is then null and no code can ever match): the request does the same work and
    answers the same way either way, so the sign-in page does not tell who is a member."""

    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("会员"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )

    class Meta:
        verbose_name = _("登录验证码")
        verbose_name_plural = _("登录验证码")


class PhoneChangeCode(CodeChallenge):
    """A signed-in member's request to change their registry phone: the code goes to the NEW
    number (proving the member holds it); the number waits here encrypted until the code is
    entered. The same limits as sign-in codes (5 tries, 5 minutes, single use)."""

    member = models.ForeignKey(
        "members.Member", verbose_name=_("会员"), on_delete=models.CASCADE, related_name="+"
    )
    phone_encrypted = models.TextField(_("新手机号（密文）"), editable=False)
    phone_hash = models.CharField(_("新手机号摘要"), max_length=32, editable=False)

    class Meta:
        verbose_name = _("更换手机号验证码")
        verbose_name_plural = _("更换手机号验证码")


class MemberApiToken(models.Model):
    """A member's token for the member API (a future WeChat mini-program), issued after an SMS
    sign-in. Only a SHA-256 digest is stored. A member token is checked only by the member API's
    authentication (`MemberTokenAuthentication`); staff endpoints never look at this table, and
    the member API never looks at staff (knox) tokens."""

    member = models.ForeignKey(
        "members.Member", verbose_name=_("会员"), on_delete=models.CASCADE, related_name="+"
    )
    digest = models.CharField(_("令牌摘要"), max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("令牌前缀"), max_length=12, editable=False)
    phone_hash = models.CharField(_("签发时的手机号摘要"), max_length=32, editable=False)
    created_at = models.DateTimeField(_("签发时间"), auto_now_add=True)
    expires_at = models.DateTimeField(_("过期时间"))
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("会员接口令牌")
        verbose_name_plural = _("会员接口令牌")

    def __str__(self) -> str:
        return f"{self.prefix}… · {self.created_at:%Y-%m-%d}"
