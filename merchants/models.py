"""Partner merchants (特约商户), their offers (优惠项目), and how they are evaluated.

A merchant belongs to the county-level union that signed it (or to the city federation for a
city-wide merchant). Its score over a rolling window of member reviews and staff evaluations is
kept on the row by `merchants.services.merchant_score_refresh`, so the admin can sort and filter
by it and the directory never computes it per request.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

RATING_VALIDATORS = [MinValueValidator(1), MaxValueValidator(5)]


class MerchantCategory(models.Model):
    name = models.CharField(_("名称"), max_length=30, unique=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=100)

    class Meta:
        verbose_name = _("商户类别")
        verbose_name_plural = _("商户类别")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class EvaluationPolicy(models.Model):
    """The thresholds of the evaluation (001 §三(二)3). One row, edited in the admin; without a
    row the defaults below apply."""

    window_days = models.PositiveSmallIntegerField(_("评分滚动窗口（天）"), default=365)
    min_ratings = models.PositiveSmallIntegerField(
        _("最少评价数"), default=3, help_text=_("评价数不足时不标记退出或推广")
    )
    exit_below = models.DecimalField(
        _("退出预警分数线"),
        max_digits=3,
        decimal_places=2,
        default=Decimal("2.50"),
        help_text=_("综合评分低于此分数的商户标记为“建议退出”"),
    )
    promote_at_least = models.DecimalField(
        _("联合推广分数线"),
        max_digits=3,
        decimal_places=2,
        default=Decimal("4.50"),
        help_text=_("综合评分不低于此分数的商户标记为“推荐联合推广”"),
    )
    unused_months = models.PositiveSmallIntegerField(
        _("无人刷卡预警（月）"),
        default=3,
        help_text=_("合作满这么多个月、且这期间没有会员刷卡的商户标记为“建议退出”；0 表示不看用卡"),
    )

    class Meta:
        verbose_name = _("评议规则")
        verbose_name_plural = _("评议规则")

    def __str__(self) -> str:
        return f"近{self.window_days}天 · 低于{self.exit_below}退出 · 不低于{self.promote_at_least}推广"

    @classmethod
    def current(cls) -> "EvaluationPolicy":
        return cls.objects.order_by("pk").first() or cls()


class Merchant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("合作中")
        SUSPENDED = "suspended", _("暂停")
        EXITED = "exited", _("已退出")

    class Flag(models.TextChoices):
        NONE = "", _("无标记")
        EXIT = "exit", _("建议退出")
        PROMOTE = "promote", _("推荐联合推广")

    name = models.CharField(_("商户名称"), max_length=100)
    category = models.ForeignKey(
        MerchantCategory, verbose_name=_("类别"), on_delete=models.PROTECT, related_name="merchants"
    )
    union = models.ForeignKey(
        "members.Union",
        verbose_name=_("签约工会（区域）"),
        on_delete=models.PROTECT,
        related_name="merchants",
        help_text=_("签约的县级工会；市总工会签约的为全市商户"),
    )
    address = models.CharField(_("地址"), max_length=200)
    contact_person = models.CharField(_("联系人"), max_length=30, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=30, blank=True)
    contract_start = models.DateField(_("合约开始"))
    contract_end = models.DateField(_("合约结束"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    signage_issued = models.BooleanField(_("已挂“特约商户”牌"), default=False)
    signage_issued_on = models.DateField(_("挂牌日期"), null=True, blank=True)
    exit_reason = models.CharField(_("退出原因"), max_length=300, blank=True)
    exited_on = models.DateField(_("退出日期"), null=True, blank=True)
    score = models.DecimalField(
        _("综合评分"), max_digits=3, decimal_places=2, null=True, blank=True, editable=False
    )
    rating_count = models.PositiveIntegerField(_("评价数"), default=0, editable=False)
    flag = models.CharField(
        _("评议标记"), max_length=10, choices=Flag.choices, default="", blank=True, editable=False
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("特约商户")
        verbose_name_plural = _("特约商户")
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["status", "union"], name="merchant_status_union")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["active", "suspended", "exited"]), name="merchant_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="exited") | (Q(exited_on__isnull=False) & ~Q(exit_reason="")),
                name="merchant_exit_has_reason_and_date",
            ),
            models.CheckConstraint(
                condition=Q(contract_end__isnull=True) | Q(contract_end__gte=models.F("contract_start")),
                name="merchant_contract_order",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Offer(models.Model):
    class Audience(models.TextChoices):
        ALL = "all", _("全体持卡会员")
        ACTIVATED = "activated", _("已激活持卡会员")
        HARDSHIP = "hardship", _("困难职工")
        MODEL_WORKER = "model_worker", _("劳模")

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("商户"), on_delete=models.CASCADE, related_name="offers"
    )
    description = models.CharField(_("优惠项目"), max_length=200, help_text=_("如：体检、车险、电影票"))
    terms = models.CharField(_("优惠条款"), max_length=200, help_text=_("如：8.5折、5折、满200减30"))
    valid_from = models.DateField(_("有效期起"))
    valid_until = models.DateField(_("有效期止"), null=True, blank=True, help_text=_("留空表示长期有效"))
    audience = models.CharField(_("适用会员"), max_length=20, choices=Audience.choices, default=Audience.ALL)

    class Meta:
        verbose_name = _("优惠项目")
        verbose_name_plural = _("优惠项目")
        ordering = ["merchant_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="offer_valid_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description} {self.terms}"

    def is_valid_on(self, day) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


def valid_on_q(day, prefix: str = "") -> Q:
    return Q(**{f"{prefix}valid_from__lte": day}) & (
        Q(**{f"{prefix}valid_until__isnull": True}) | Q(**{f"{prefix}valid_until__gte": day})
    )


class MerchantReview(models.Model):
    """A member's rating of a merchant: one per member, merchant and period (a quarter, "2016Q3")."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("商户"), on_delete=models.CASCADE, related_name="reviews"
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("会员"), on_delete=models.CASCADE, related_name="merchant_reviews"
    )
    period = models.CharField(_("评议期"), max_length=6, help_text=_("季度，如 2016Q3"))
    rating = models.PositiveSmallIntegerField(_("评分"), validators=RATING_VALIDATORS)
    comment = models.CharField(_("评价"), max_length=500, blank=True)
    reviewed_on = models.DateField(_("评价日期"))
    created_at = models.DateTimeField(_("提交时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("会员评议")
        verbose_name_plural = _("会员评议")
        ordering = ["-reviewed_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "member", "period"], name="review_once_per_period"),
            models.CheckConstraint(condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_5"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant} · {self.period} · {self.rating}分"


class MerchantEvaluation(models.Model):
    """Staff's routine evaluation (日常考评) of a merchant."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("商户"), on_delete=models.CASCADE, related_name="evaluations"
    )
    evaluator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("考评人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    rating = models.PositiveSmallIntegerField(_("评分"), validators=RATING_VALIDATORS)
    note = models.CharField(_("考评意见"), max_length=500, blank=True)
    evaluated_on = models.DateField(_("考评日期"))
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("日常考评")
        verbose_name_plural = _("日常考评")
        ordering = ["-evaluated_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="evaluation_rating_1_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant} · {self.evaluated_on} · {self.rating}分"
