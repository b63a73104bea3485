from django.db import models
from django.utils.translation import gettext_lazy as _


class SignInCode(models.Model):
    """One SMS sign-in challenge. Only a keyed hash of the code is kept (HMAC over this row's
    random salt and the code), so a database dump does not give codes away.

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
    salt = models.CharField(_("盐"), max_length=32)
    code_hash = models.CharField(_("验证码摘要"), max_length=64)
    attempts = models.PositiveSmallIntegerField(_("已尝试次数"), default=0)
    created_at = models.DateTimeField(_("创建时间"), db_index=True)
    expires_at = models.DateTimeField(_("过期时间"))
    used_at = models.DateTimeField(_("使用时间"), null=True, blank=True)
    ip = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)

    class Meta:
        verbose_name = _("登录验证码")
        verbose_name_plural = _("登录验证码")

    def __str__(self) -> str:
        return f"#{self.pk} {self.created_at:%Y-%m-%d %H:%M}"
