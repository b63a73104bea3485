"""Small snapshots the analytics pages read, kept by `refresh.py` from the usage roll-ups.

The feed's roll-ups (merchants.usage: CardUsage, UsageDay, MerchantMonth) are per card and per
grassroots union and day; a city page over them would still group ~1.5 M card rows or ~500 k
union-days a request. These tables hold the same figures per grassroots union (and county) once:
a city page sums ~2,000 rows."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from cardportal.jobs import Job


def _union(name, related="+"):
    return models.ForeignKey(
        "members.Union",
        verbose_name=name,
        on_delete=models.CASCADE,
        related_name=related,
        db_constraint=False,
    )


class UnionActivity(models.Model):
    """Cards of one grassroots union as of `as_of`: activated, ever used, used in 30/90 days; and
    its active members, in all and per segment (segments.py: the segment page sums these)."""

    as_of = models.DateField(_("统计日期"))
    union = _union(_("工会"))
    county = _union(_("县级工会"))
    activated = models.PositiveIntegerField(_("已激活卡"), default=0)
    used_ever = models.PositiveIntegerField(_("用过的卡"), default=0)
    active30 = models.PositiveIntegerField(_("近30天用卡"), default=0)
    active90 = models.PositiveIntegerField(_("近90天用卡"), default=0)
    never_used = models.PositiveIntegerField(_("激活后从未使用"), default=0)
    members = models.PositiveIntegerField(_("在会会员"), default=0)
    hardship_unused = models.PositiveIntegerField(_("困难职工：卡从未使用"), default=0)
    activated_unused = models.PositiveIntegerField(_("会员：卡已激活从未使用"), default=0)
    lapsed = models.PositiveIntegerField(_("会员：90天未用卡"), default=0)

    class Meta:
        verbose_name = _("工会用卡活跃度")
        verbose_name_plural = _("工会用卡活跃度")
        constraints = [models.UniqueConstraint(fields=["union"], name="analytics_activity_union")]
        indexes = [models.Index(fields=["county"], name="analytics_activity_county")]

    def __str__(self) -> str:
        return f"{self.union_id} @ {self.as_of}"


class UnionSpendMonth(models.Model):
    """Spending of one grassroots union's cards in one month, per category and place."""

    month = models.DateField(_("月份"), help_text="first day of the month")
    union = _union(_("工会"))
    county = _union(_("县级工会"))
    category = models.ForeignKey(
        "merchants.MerchantCategory",
        null=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    at_union_merchant = models.BooleanField(_("特约商户"))
    txn_count = models.PositiveIntegerField(_("交易笔数"), default=0)
    amount = models.DecimalField(_("金额"), max_digits=16, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("工会月度消费")
        verbose_name_plural = _("工会月度消费")
        indexes = [models.Index(fields=["month", "county"], name="analytics_spend_month")]

    def __str__(self) -> str:
        return f"{self.union_id} {self.month:%Y-%m}"


class SegmentNotice(Job):
    """One SMS notice to a segment: what it says, whom it is for, how many got it. The Celery task
    writes the notices in chunks; each member's notice key is `seg:<pk>:<member>`-like and unique,
    so a retried run never texts anyone twice."""

    segment = models.CharField(_("分群"), max_length=40)
    params = models.JSONField(_("分群条件"), default=dict)
    title = models.CharField(_("通知内容"), max_length=60)
    when = models.CharField(_("时间地点"), max_length=40)
    key = models.CharField(_("通知键"), max_length=24, unique=True)
    scope_path = models.CharField(_("范围"), max_length=255)
    planned = models.PositiveIntegerField(_("预计人数"), default=0)
    sent = models.PositiveIntegerField(_("新发通知"), default=0)

    job_phases = {"send": ("发送分群通知", "quotas.analytics.tasks.segment_notice_task")}

    class Meta:
        verbose_name = _("分群通知")
        verbose_name_plural = _("分群通知")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.title}（{self.segment}）"
