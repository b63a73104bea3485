"""Drops (限量抢票活动) and the tickets members win in them.

PostgreSQL is the authority on who holds a ticket: `Drop.taken` only moves by a conditional update
(`taken < tickets`), and a member holds a given slot of a drop at most once (partial unique
constraint on drop, member, slot, ignoring tickets that expired unpaid). Redis (benefits.drops.store)
only decides fast who gets to try; it can be lost and rebuilt from these two tables."""

import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

PRICES = [(Decimal("0.00"), _("免费")), (Decimal("0.01"), _("1分钱"))]


def new_key() -> str:
    return secrets.token_hex(8)


def new_token() -> str:
    return secrets.token_urlsafe(18)


class Drop(models.Model):
    key = models.CharField(_("内部标识"), max_length=16, unique=True, default=new_key, editable=False)
    title = models.CharField(_("活动名称"), max_length=60)
    merchant = models.ForeignKey(
        "merchants.Merchant",
        verbose_name=_("合作商户"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="drops",
    )
    venue = models.CharField(_("使用地点"), max_length=100, help_text=_("景区、影院等场馆名称及地址"))
    picture = models.FileField(_("活动图片"), upload_to="drops/", blank=True)
    description = models.TextField(_("活动说明"), max_length=2000, blank=True)
    union = models.ForeignKey(
        "members.Union", verbose_name=_("发布工会"), on_delete=models.PROTECT, related_name="drops"
    )
    tickets = models.PositiveIntegerField(_("票数"))
    price = models.DecimalField(_("价格（元）"), max_digits=4, decimal_places=2, choices=PRICES)
    opens_at = models.DateTimeField(_("开抢时间"))
    closes_at = models.DateTimeField(_("结束时间"))
    per_member_limit = models.PositiveSmallIntegerField(_("每人限抢"), default=1)
    counties = models.ManyToManyField(
        "members.Union",
        verbose_name=_("限定县区"),
        blank=True,
        related_name="+",
        help_text=_("不选则全市会员均可参加"),
    )
    hardship_only = models.BooleanField(_("仅限困难职工"), default=False)
    taken = models.PositiveIntegerField(_("已抢出"), default=0, editable=False)
    venue_token = models.CharField(max_length=32, unique=True, default=new_token, editable=False)
    closed_early_at = models.DateTimeField(_("提前结束于"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("抢票活动")
        verbose_name_plural = _("抢票活动")
        ordering = ["-opens_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(taken__lte=F("tickets")), name="drop_taken_within_tickets"),
            models.CheckConstraint(condition=Q(tickets__gte=1), name="drop_has_tickets"),
            models.CheckConstraint(
                condition=Q(closes_at__gt=F("opens_at")), name="drop_closes_after_opening"
            ),
            models.CheckConstraint(condition=Q(per_member_limit__gte=1), name="drop_limit_positive"),
            models.CheckConstraint(
                condition=Q(price__in=[Decimal("0.00"), Decimal("0.01")]), name="drop_price_free_or_one_cent"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("drops:detail", args=[self.pk])

    @property
    def ends_at(self):
        return self.closed_early_at or self.closes_at

    def has_opened(self, now=None) -> bool:
        return (now or timezone.now()) >= self.opens_at

    def is_open(self, now=None) -> bool:
        now = now or timezone.now()
        return self.opens_at <= now < self.ends_at

    @property
    def needs_payment(self) -> bool:
        return self.price > 0

    def state_label(self, now=None) -> str:
        now = now or timezone.now()
        if now < self.opens_at:
            return "未开始"
        if now < self.ends_at:
            return "进行中"
        return "已提前结束" if self.closed_early_at else "已结束"


def new_code() -> str:
    """12 digits in three groups: read out at a ticket window, typed on a phone's number pad."""
    return f"{secrets.randbelow(10**12):012d}"


class Ticket(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("待支付")
        VALID = "valid", _("待使用")
        USED = "used", _("已使用")
        EXPIRED = "expired", _("超时未支付")

    HOLDING = (Status.PENDING, Status.VALID, Status.USED)  # count against the drop's tickets

    drop = models.ForeignKey(
        Drop, verbose_name=_("活动"), on_delete=models.PROTECT, related_name="ticket_set"
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("会员"), on_delete=models.PROTECT, related_name="drop_tickets"
    )
    slot = models.PositiveSmallIntegerField(_("第几张"), default=1)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices)
    code = models.CharField(_("券码"), max_length=12, unique=True, default=new_code, editable=False)
    claimed_at = models.DateTimeField(_("抢到时间"), default=timezone.now)
    pay_by = models.DateTimeField(_("支付截止"), null=True, blank=True)
    paid_at = models.DateTimeField(_("支付时间"), null=True, blank=True)
    payment_ref = models.CharField(_("支付流水号"), max_length=64, blank=True)
    used_at = models.DateTimeField(_("核销时间"), null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    used_at_venue = models.BooleanField(_("场馆核销"), default=False)

    class Meta:
        verbose_name = _("电子券")
        verbose_name_plural = _("电子券")
        constraints = [
            # The authority on "one member, one ticket" (slot 1 of a limit-1 drop): a second
            # insert fails whatever Redis said. Expired tickets went back to the pool.
            models.UniqueConstraint(
                fields=["drop", "member", "slot"],
                condition=~Q(status="expired"),
                name="ticket_one_per_member_slot",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "pay_by"], name="ticket_unpaid_due"),
            models.Index(fields=["member", "-claimed_at"], name="ticket_member_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.drop} · {self.code_display}"

    @property
    def code_display(self) -> str:
        return f"{self.code[:4]} {self.code[4:8]} {self.code[8:]}"


class Reminder(models.Model):
    """A member's 提醒我 on an upcoming drop: one SMS (and notice) about ten minutes before the
    opening (reminders.reminders_send, beat every minute). One per member and drop."""

    drop = models.ForeignKey(Drop, verbose_name=_("活动"), on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(
        "members.Member", verbose_name=_("会员"), on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(_("设置时间"), default=timezone.now)
    sent_at = models.DateTimeField(_("提醒时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("开抢提醒")
        verbose_name_plural = _("开抢提醒")
        constraints = [models.UniqueConstraint(fields=["drop", "member"], name="drop_reminder_once")]
        indexes = [models.Index(fields=["drop", "sent_at"], name="drop_reminder_due")]

    def __str__(self) -> str:
        return f"{self.drop} · {self.member_id}"
