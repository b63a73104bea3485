from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Card(models.Model):
    """A membership card from application to activation. The database guards the lifecycle:
    one live card per member (partial unique index), a card number wherever the bank has issued
    one, and stage timestamps that are set once (see `issuance.lifecycle`)."""

    class Status(models.TextChoices):
        APPLIED = "applied", _("已申请")
        IN_BATCH = "in_batch", _("已报银行")
        ISSUED = "issued", _("银行已制卡")
        RECEIVED = "received", _("工会已领卡")
        DISTRIBUTED = "distributed", _("已发放")
        ACTIVATED = "activated", _("已激活")
        REJECTED_BY_BANK = "rejected_by_bank", _("银行退回")
        LOST = "lost", _("已挂失")
        CANCELLED = "cancelled", _("已注销")

    DEAD = ("lost", "cancelled")  # every other status is "live"
    WITH_NUMBER = ("issued", "received", "distributed", "activated", "lost")

    member = models.ForeignKey(
        "members.Member", verbose_name=_("会员"), on_delete=models.PROTECT, related_name="cards"
    )
    union = models.ForeignKey(
        "members.Union",
        verbose_name=_("基层工会"),
        on_delete=models.PROTECT,
        related_name="cards",
        help_text=_("申请时会员所在的基层工会（统计口径）"),
    )
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.APPLIED)
    number = models.CharField(_("卡号"), max_length=19, null=True, blank=True, unique=True)
    is_hardship = models.BooleanField(_("困难职工优先"), default=False)
    replaces = models.OneToOneField(
        "self",
        verbose_name=_("补办自"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_by",
    )
    partner = models.ForeignKey(
        "issuance.IssuingPartner", verbose_name=_("发卡机构"), null=True, blank=True, on_delete=models.PROTECT
    )
    bank_reason = models.CharField(_("银行退回原因"), max_length=200, blank=True)
    applied_at = models.DateTimeField(_("申请时间"), db_index=True)
    issued_at = models.DateTimeField(_("制卡时间"), null=True, blank=True)
    received_at = models.DateTimeField(_("领卡时间"), null=True, blank=True)
    distributed_at = models.DateTimeField(_("发放时间"), null=True, blank=True)
    activated_at = models.DateTimeField(_("激活时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("挂失/注销时间"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("会员卡")
        verbose_name_plural = _("会员卡")
        indexes = [
            models.Index(fields=["union", "status"], name="card_union_status"),
            models.Index(fields=["status", "-is_hardship", "id"], name="card_batch_order"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["member"],
                condition=~Q(status__in=["lost", "cancelled"]),
                name="card_one_live_per_member",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "applied",
                        "in_batch",
                        "issued",
                        "received",
                        "distributed",
                        "activated",
                        "rejected_by_bank",
                        "lost",
                        "cancelled",
                    ]
                ),
                name="card_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["issued", "received", "distributed", "activated"])
                | (Q(number__isnull=False) & Q(issued_at__isnull=False)),
                name="card_issued_has_number",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["received", "distributed", "activated"])
                | Q(received_at__isnull=False),
                name="card_received_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["distributed", "activated"]) | Q(distributed_at__isnull=False),
                name="card_distributed_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="activated") | Q(activated_at__isnull=False),
                name="card_activated_has_date",
            ),
            models.CheckConstraint(condition=Q(number__regex=r"^\d{16,19}$"), name="card_number_shape"),
        ]

    def __str__(self) -> str:
        return f"{self.number or '（未制卡）'} · {self.get_status_display()}"

    @property
    def is_live(self) -> bool:
        return self.status not in self.DEAD

    @property
    def number_tail(self) -> str:
        return self.number[-4:] if self.number else ""


class CardEvent(models.Model):
    """One row per transition: who, when, from, to, note."""

    card = models.ForeignKey(Card, verbose_name=_("会员卡"), on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(_("原状态"), max_length=20, blank=True)
    to_status = models.CharField(_("新状态"), max_length=20)
    at = models.DateTimeField(_("时间"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("经办人"), null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.CharField(_("说明"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("卡片状态变化")
        verbose_name_plural = _("卡片状态变化")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.card_id}: {self.from_status} → {self.to_status}"


class UnionMonthCount(models.Model):
    """Per grassroots union, per month (Asia/Shanghai), how many members' cards first reached a
    stage. Kept current by `issuance.lifecycle` in the same transaction as the card change, so a
    league table sums a few thousand rows instead of counting 1.5 million cards; `recount_union_months`
    rebuilds it and must always agree with it."""

    class Metric(models.TextChoices):
        APPLIED = "applied", _("申请")
        ISSUED = "issued", _("制卡")
        RECEIVED = "received", _("领卡")
        DISTRIBUTED = "distributed", _("发放")
        ACTIVATED = "activated", _("激活")

    union = models.ForeignKey("members.Union", on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="first day of the month")
    metric = models.CharField(max_length=12, choices=Metric.choices)
    count = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("月度发卡统计")
        verbose_name_plural = _("月度发卡统计")
        constraints = [
            models.UniqueConstraint(fields=["union", "month", "metric"], name="union_month_metric")
        ]

    def __str__(self) -> str:
        return f"{self.union_id} {self.month:%Y-%m} {self.metric}={self.count}"


class IssuingPartner(models.Model):
    """The bank (or transit/citizen-card company) that issues the cards."""

    code = models.SlugField(_("代码"), unique=True)
    name = models.CharField(_("名称"), max_length=100)
    is_primary = models.BooleanField(_("主发卡银行"), default=True)
    handoff_layout = models.JSONField(_("报送文件格式"), default=dict, blank=True)
    return_layout = models.JSONField(_("回盘文件格式"), default=dict, blank=True)

    class Meta:
        verbose_name = _("发卡机构")
        verbose_name_plural = _("发卡机构")

    def __str__(self) -> str:
        return self.name
