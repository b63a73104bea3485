from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SmsMessage(models.Model):
    """The SMS outbox: every message the portal sends, kept whatever the provider does.

    The number is stored as the registry stores it (ciphertext + masked form + keyed hash for the
    per-phone limits). Template parameters are split: `params` holds what any outbox reader may
    see, `secret_params` (encrypted JSON) what must reach the phone but not a staff page, such as
    a sign-in code; it is emptied once a real provider has accepted the message."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("待发送")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")

    phone_encrypted = models.TextField(_("手机号（密文）"), editable=False)
    phone_hash = models.CharField(_("手机号摘要"), max_length=32, editable=False)
    phone_masked = models.CharField(_("手机号"), max_length=11, editable=False)
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("会员"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    union = models.ForeignKey(
        "members.Union",
        verbose_name=_("所属工会"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("短信记录页按工会范围显示"),
    )
    template = models.CharField(_("模板"), max_length=40)
    # What this message is about ("signin:<challenge id>", later "card-ready:<card id>"): unique,
    # so a retried task or a repeated event queues it once.
    key = models.CharField(_("业务键"), max_length=64, null=True, blank=True, editable=False)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    secret_params = models.TextField(_("保密参数（密文）"), blank=True, editable=False)
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("发送次数"), default=0)
    gateway = models.CharField(_("通道"), max_length=100, blank=True)
    provider_id = models.CharField(_("通道消息编号"), max_length=100, blank=True)
    last_error = models.CharField(_("最近错误"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("短信")
        verbose_name_plural = _("短信记录")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["union", "-created_at"], name="sms_union_recent")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "sent", "failed"]), name="sms_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="sms_sent_has_time"
            ),
            # One message per business event: a retried task or a repeated event cannot queue twice.
            models.UniqueConstraint(fields=["key"], condition=Q(key__isnull=False), name="sms_key_once"),
        ]

    def __str__(self) -> str:
        return f"{self.phone_masked} · {self.template} · {self.get_status_display()}"


class Notice(models.Model):
    """A notice on the member's 消息 page (card ready to collect, card activated, aid paid, claim
    decided, an activity). Written where the event is written, in the same transaction, under a
    unique `key` naming the event ("card-ready:<card id>"); the SMS sent for it carries the same
    key in the outbox, so each event gives one notice and one SMS however often it is replayed.

    The text is not stored: `kind` and `params` (no personal data beyond a card's last four digits)
    are rendered by members/sms/notices.py, like an SMS template."""

    class Kind(models.TextChoices):
        CARD_READY = "card_ready", _("卡片已到工会")
        CARD_ACTIVATED = "card_activated", _("卡片已激活")
        AID_PAID = "aid_paid", _("资金已到卡")
        CLAIM_DECIDED = "claim_decided", _("申请已审核")
        ACTIVITY = "activity", _("工会活动")
        PHONE_CHANGED = "phone_changed", _("手机号已变更")

    member = models.ForeignKey(
        "members.Member", verbose_name=_("会员"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("类别"), max_length=20, choices=Kind.choices)
    key = models.CharField(_("业务键"), max_length=64, editable=False)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    created_at = models.DateTimeField(_("时间"), db_index=False)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("会员消息")
        verbose_name_plural = _("会员消息")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["member", "-created_at"], name="notice_member_recent")]
        constraints = [models.UniqueConstraint(fields=["key"], name="notice_key_once")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.created_at:%Y-%m-%d}"
