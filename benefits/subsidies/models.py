"""Subsidy campaigns and the subsidies card transactions earn under them (docs/subsidies.md).

Money is Decimal yuan with 2 places, rounded down to the cent (a rule never pays more than it
says). `SubsidyCampaign.spent` is the budget's counter: the sum of the positive, not cancelled
earnings; it only moves while the campaign row is locked (`engine.py`), and a check constraint
keeps it within the budget whatever writes it.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 12, "decimal_places": 2}


class SubsidyCampaign(models.Model):
    class Audience(models.TextChoices):
        ALL = "all", _("全部持卡会员")
        HARDSHIP = "hardship", _("困难职工")

    class Rule(models.TextChoices):
        PERCENT = "percent", _("按消费金额比例返还")
        FIXED = "fixed", _("每笔固定金额")

    name = models.CharField(_("活动名称"), max_length=100)
    union = models.ForeignKey(
        "members.Union",
        verbose_name=_("主办工会"),
        on_delete=models.PROTECT,
        related_name="subsidy_campaigns",
        help_text=_("本工会及下级工会的会员可享受"),
    )
    description = models.TextField(_("说明"), blank=True)
    merchants = models.ManyToManyField(
        "merchants.Merchant",
        verbose_name=_("限特约商户"),
        blank=True,
        related_name="+",
        help_text=_("商户和类别都不选：在任何工会特约商户刷卡都可享受"),
    )
    categories = models.ManyToManyField(
        "merchants.MerchantCategory", verbose_name=_("限商户类别"), blank=True, related_name="+"
    )
    audience = models.CharField(_("享受对象"), max_length=10, choices=Audience.choices, default=Audience.ALL)
    area = models.ForeignKey(
        "members.Union",
        verbose_name=_("限县区/工会"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("只限该工会及下级工会的会员；留空表示主办工会全部会员"),
    )
    rule = models.CharField(_("补贴方式"), max_length=10, choices=Rule.choices, default=Rule.PERCENT)
    percent = models.DecimalField(
        _("返还比例（%）"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))],
    )
    cap_per_txn = models.DecimalField(_("每笔上限（元）"), null=True, blank=True, **MONEY)
    cap_per_member_month = models.DecimalField(_("每人每月上限（元）"), null=True, blank=True, **MONEY)
    fixed_amount = models.DecimalField(_("每笔补贴（元）"), null=True, blank=True, **MONEY)
    min_spend = models.DecimalField(_("单笔最低消费（元）"), default=Decimal("0.00"), **MONEY)
    budget = models.DecimalField(_("预算（元）"), validators=[MinValueValidator(Decimal("0.01"))], **MONEY)
    spent = models.DecimalField(_("已使用预算（元）"), default=Decimal("0.00"), editable=False, **MONEY)
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    is_active = models.BooleanField(_("启用"), default=True)
    programme = models.OneToOneField(
        "benefits.BenefitProgramme",
        verbose_name=_("对应普惠项目"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="subsidy_campaign",
        help_text=_("发放批次挂在这个项目下（自动建立）"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("消费补贴活动")
        verbose_name_plural = _("消费补贴活动")
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(spent__gte=0) & Q(spent__lte=models.F("budget")),
                name="subsidy_spent_within_budget",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="subsidy_dates_ordered"
            ),
            models.CheckConstraint(
                condition=(Q(rule="percent") & Q(percent__isnull=False))
                | (Q(rule="fixed") & Q(fixed_amount__gt=0)),
                name="subsidy_rule_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("subsidies:detail", args=[self.pk])

    @property
    def remaining(self) -> Decimal:
        return self.budget - self.spent

    def rule_text(self) -> str:
        if self.rule == self.Rule.FIXED:
            text = f"每笔补贴{self.fixed_amount}元"
        else:
            text = f"返还消费金额的{self.percent.normalize():f}%"
            if self.cap_per_txn is not None:
                text += f"，每笔最多{self.cap_per_txn}元"
        if self.cap_per_member_month is not None:
            text += f"，每人每月最多{self.cap_per_member_month}元"
        if self.min_spend:
            text += f"（单笔满{self.min_spend}元）"
        return text


class SubsidyEarning(models.Model):
    """One subsidy a card transaction earned under a campaign (unique per campaign and
    transaction), or, with a negative amount, the part of a paid subsidy a later refund takes
    back (its `txn_id` is the refund's; `reverses` the earning it takes back)."""

    class Status(models.TextChoices):
        EARNED = "earned", _("待发放")
        BATCHED = "batched", _("已纳入发放批次")
        CANCELLED = "cancelled", _("已退款取消")

    campaign = models.ForeignKey(
        SubsidyCampaign, verbose_name=_("活动"), on_delete=models.PROTECT, related_name="earnings"
    )
    # usage_cardtransaction is partitioned by month: no foreign key can point at it. The partner,
    # card, member, union and merchant are copied from the transaction and its card by the same
    # statement that reads them; they are not checked again by deferred foreign-key triggers
    # (one per row and key at commit: minutes for a city's month), like usage's own references.
    txn_id = models.BigIntegerField(_("交易"))
    txn_at = models.DateTimeField(_("交易时间"))
    month = models.DateField(_("所属月份"), help_text="first day of the transaction's month (local time)")
    partner = models.ForeignKey(
        "issuance.IssuingPartner",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    reference = models.CharField(_("交易参考号"), max_length=40)
    card = models.ForeignKey(
        "issuance.Card", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    member = models.ForeignKey(
        "members.Member",
        verbose_name=_("会员"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    union = models.ForeignKey(
        "members.Union", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    merchant = models.ForeignKey(
        "merchants.Merchant",
        verbose_name=_("商户"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    txn_amount = models.DecimalField(_("消费金额（元）"), **MONEY)
    amount = models.DecimalField(_("补贴（元）"), **MONEY)
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="clawbacks", db_index=False
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.EARNED)
    # A take-back of a subsidy already in a batch: deducted from the member's next batch, and the
    # budget is not given back (the money is out). spent = sum of amounts not cancelled and not this.
    after_payout = models.BooleanField(_("发放后退款扣回"), default=False)
    cancelled_by_txn = models.BigIntegerField(_("退款交易"), null=True, blank=True)
    line = models.ForeignKey(
        "benefits.DisbursementLine",
        verbose_name=_("发放明细"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("计算时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("消费补贴明细")
        verbose_name_plural = _("消费补贴明细")
        ordering = ["-txn_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "txn_id"], name="subsidy_once_per_txn"),
            models.CheckConstraint(condition=~Q(amount=0), name="subsidy_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(amount__gt=0) | Q(reverses__isnull=False), name="subsidy_negative_is_clawback"
            ),
        ]
        indexes = [
            # the per-member monthly cap and the monthly batch
            models.Index(fields=["campaign", "member", "month"], name="subsidy_member_month"),
            models.Index(fields=["partner", "reference"], name="subsidy_txn_reference"),
            models.Index(fields=["member", "txn_at"], name="subsidy_member_time"),
            models.Index(fields=["campaign", "status", "month"], name="subsidy_campaign_status"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.amount}元"
