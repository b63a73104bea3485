from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Quota(models.Model):
    """A county-level union's cumulative target for the end of one year (发卡任务), and the
    member base the plan set it from. The plan states counts rounded to hundreds; we keep the
    counts and show rates computed from them."""

    union = models.ForeignKey(
        "members.Union", verbose_name=_("县级工会"), on_delete=models.PROTECT, related_name="quotas"
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    target = models.PositiveIntegerField(_("累计发卡任务（张）"))
    new_in_year = models.PositiveIntegerField(_("本年新增任务（张）"), default=0)
    member_base = models.PositiveIntegerField(_("会员基数"))
    planned_rate = models.PositiveSmallIntegerField(_("规划发放率（%）"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("年度发卡任务")
        verbose_name_plural = _("年度发卡任务")
        ordering = ["year", "union__path"]
        constraints = [
            models.UniqueConstraint(fields=["union", "year"], name="quota_union_year"),
            models.CheckConstraint(condition=Q(year__gte=2000) & Q(year__lte=2100), name="quota_year_range"),
        ]

    def __str__(self) -> str:
        return f"{self.union} {self.year}年 {self.target}张"


class Bulletin(models.Model):
    """月通报: one per month. A draft is recomputed from the live counts whenever it is redrafted;
    publishing freezes its rows for good. A later correction to that month's cards shows in the
    next bulletin's `correction` columns, never by rewriting a published one."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        PUBLISHED = "published", _("已发布")

    month = models.DateField(_("月份"), unique=True, help_text=_("该月第一天"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    drafted_at = models.DateTimeField(_("生成时间"))
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发布人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.TextField(_("通报说明"), blank=True)
    previous = models.ForeignKey(
        "self",
        verbose_name=_("对比的上期通报"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("月通报")
        verbose_name_plural = _("月通报")
        ordering = ["-month"]
        constraints = [
            models.CheckConstraint(condition=Q(month__day=1), name="bulletin_month_first_day"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False),
                name="bulletin_published_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y年%m月}通报（{self.get_status_display()}）"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class BulletinRow(models.Model):
    """One county's figures in a bulletin, as drafted or as published (then frozen).

    `*_correction` = what the previous month's cumulative figure is now, minus what the previous
    published bulletin said: cards recorded late for earlier months."""

    bulletin = models.ForeignKey(Bulletin, on_delete=models.CASCADE, related_name="rows")
    union = models.ForeignKey("members.Union", verbose_name=_("县级工会"), on_delete=models.PROTECT)
    union_name = models.CharField(_("县级工会"), max_length=100)
    members = models.PositiveIntegerField(_("会员基数"))
    registered = models.PositiveIntegerField(_("已申请办卡会员"), default=0)
    target = models.PositiveIntegerField(_("年度累计任务"))
    issued = models.PositiveIntegerField(_("累计发卡"))
    issued_in_month = models.IntegerField(_("本月新增发卡"))
    issued_correction = models.IntegerField(_("往期更正（发卡）"), default=0)
    distributed = models.PositiveIntegerField(_("累计发放"))
    activated = models.PositiveIntegerField(_("累计激活"))
    activated_correction = models.IntegerField(_("往期更正（激活）"), default=0)
    completion = models.DecimalField(_("完成率（%）"), max_digits=7, decimal_places=2, null=True)
    activation_rate = models.DecimalField(_("激活率（%）"), max_digits=7, decimal_places=2, null=True)
    rank = models.PositiveSmallIntegerField(_("名次"))
    rank_change = models.IntegerField(_("名次变化"), null=True, help_text=_("正数为上升"))

    class Meta:
        verbose_name = _("月通报明细")
        verbose_name_plural = _("月通报明细")
        ordering = ["rank", "union_name"]
        constraints = [models.UniqueConstraint(fields=["bulletin", "union"], name="bulletin_row_union")]

    def __str__(self) -> str:
        return f"{self.bulletin_id} {self.union_name}"


class AssessmentInput(models.Model):
    """The parts of the annual assessment people judge (附件3 一.1–3) and the public criticisms
    recorded during the year (一.4). Entered by city staff; the rest is computed."""

    union = models.ForeignKey(
        "members.Union", verbose_name=_("县级工会"), on_delete=models.PROTECT, related_name="+"
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    leadership = models.DecimalField(_("领导重视（0–3分）"), max_digits=4, decimal_places=2, default=0)
    measures = models.DecimalField(_("措施有力（0–4分）"), max_digits=4, decimal_places=2, default=0)
    missed_reports = models.PositiveSmallIntegerField(_("漏报漏项次数"), default=0)
    public_criticisms = models.PositiveSmallIntegerField(_("点名通报批评次数"), default=0)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("年度考核评分录入")
        verbose_name_plural = _("年度考核评分录入")
        constraints = [
            models.UniqueConstraint(fields=["union", "year"], name="assessment_input_union_year"),
            models.CheckConstraint(
                condition=Q(leadership__gte=0) & Q(leadership__lte=3), name="assessment_leadership_0_3"
            ),
            models.CheckConstraint(
                condition=Q(measures__gte=0) & Q(measures__lte=4), name="assessment_measures_0_4"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.union} {self.year}"


class AssessmentSignoff(models.Model):
    """A year's assessment as the leading group approved it (附件3 三: 领导小组审议 … 主席会议审批).

    Signing freezes the result: the page shows `results` (every county's parts, total, place and
    award as they stood) and the inputs of that year can no longer change. One per year."""

    year = models.PositiveSmallIntegerField(_("年度"), unique=True)
    results = models.JSONField(_("审定结果"))
    approval = models.CharField(_("审批依据"), max_length=300)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("审定人"), on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(_("审定时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("年度考核审定")
        verbose_name_plural = _("年度考核审定")
        ordering = ["-year"]

    def __str__(self) -> str:
        return f"{self.year}年考核审定"


class CountyMonthCount(models.Model):
    """`issuance.UnionMonthCount` rolled up to county-level unions: per county, month and stage.

    Maintained by database triggers on the union counter table (migration 0002), so it changes in
    the same statement — and transaction — as the counters it sums, and the league table reads
    ~4,000 rows instead of ~350,000 at city scale. `quotas.rollup` rebuilds and checks it."""

    county = models.ForeignKey("members.Union", on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    metric = models.CharField(max_length=12)
    count = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("县级月度发卡统计")
        verbose_name_plural = _("县级月度发卡统计")
        constraints = [
            models.UniqueConstraint(fields=["county", "month", "metric"], name="county_month_metric")
        ]

    def __str__(self) -> str:
        return f"{self.county_id} {self.month:%Y-%m} {self.metric}={self.count}"


class WorkTeam(models.Model):
    """A campaign team of the federation (seed 002 三: 发行推进组, 商户推进组, 合作开发组, 管理服务组),
    which reports its week's work (四(二): 各推进小组每周汇报一次工作推进情况)."""

    owner = models.ForeignKey(
        "members.Union", verbose_name=_("所属工会"), on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(_("小组名称"), max_length=50)
    duties = models.CharField(_("职责"), max_length=200, blank=True)
    leader = models.CharField(_("组长"), max_length=30, blank=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("推进小组")
        verbose_name_plural = _("推进小组")
        ordering = ["order", "pk"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="workteam_owner_name")]

    def __str__(self) -> str:
        return self.name


class WeeklyReport(models.Model):
    """One team's written report for one week (Monday to Sunday); resubmitting the same week
    updates it (audited with the text before)."""

    team = models.ForeignKey(
        WorkTeam, verbose_name=_("推进小组"), on_delete=models.PROTECT, related_name="reports"
    )
    week = models.DateField(_("周一"))
    merchants_enrolled = models.PositiveIntegerField(_("本周新签约商户（家）"), default=0)
    members_developed = models.PositiveIntegerField(_("本周发展会员（人）"), default=0)
    progress = models.TextField(_("本周工作进展"), max_length=2000)
    problems = models.TextField(_("存在问题"), max_length=2000, blank=True)
    next_steps = models.TextField(_("下周计划"), max_length=2000, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("填报人"), on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("周工作汇报")
        verbose_name_plural = _("周工作汇报")
        ordering = ["-week", "team__order"]
        constraints = [models.UniqueConstraint(fields=["team", "week"], name="weeklyreport_team_week")]

    def __str__(self) -> str:
        return f"{self.team} {self.week:%Y-%m-%d}"
