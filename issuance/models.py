"""Tables of the issuance app: cards and their events, issuing partners, bank batches and bank
files, notices, receipts, activation sessions, waves and the monthly counters.

Over 400 lines because Django keeps an app's models in one module (its migrations name them
here); most of the length is the constraints that keep a card's data consistent in the
database itself."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cardportal.jobs import Job
from cardportal.people import person


class CardQuerySet(models.QuerySet):
    """The one "live card" rule (issue 12): other apps ask these, never spell the statuses."""

    def live(self):
        """Cards not closed (lost, cancelled); a member holds at most one (card_one_live_per_member)."""
        return self.exclude(status__in=Card.DEAD)

    def numbered_live(self):
        """Live cards the bank has made: money can be paid into them and merchants accept them."""
        return self.filter(status__in=Card.NUMBERED_LIVE)


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
    # live and made by the bank (it has a number; the card_issued_has_number constraint)
    NUMBERED_LIVE = ("issued", "received", "distributed", "activated")
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
        db_index=False,  # card_union_status (union, status) serves every look-up by union
    )
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.APPLIED)
    # Unique through a constraint, not unique=True: on PostgreSQL that would add a second,
    # varchar_pattern_ops index that no query uses and every issued card must update.
    number = models.CharField(_("卡号"), max_length=19, null=True, blank=True)
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
        "issuance.IssuingPartner",
        verbose_name=_("发卡机构"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,  # never filtered on; one index fewer to write per transition
    )
    bank_reason = models.CharField(_("银行退回原因"), max_length=200, blank=True)
    batch = models.ForeignKey(
        "issuance.BankBatch",
        verbose_name=_("银行批次"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cards",
        help_text=_("最近一次报送银行的批次"),
        db_index=False,  # card_batch: only cards in a batch are indexed
    )
    applied_at = models.DateTimeField(_("申请时间"), db_index=True)
    issued_at = models.DateTimeField(_("制卡时间"), null=True, blank=True)
    received_at = models.DateTimeField(_("领卡时间"), null=True, blank=True)
    distributed_at = models.DateTimeField(_("发放时间"), null=True, blank=True)
    activated_at = models.DateTimeField(_("激活时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("挂失/注销时间"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = CardQuerySet.as_manager()

    class Meta:
        verbose_name = _("会员卡")
        verbose_name_plural = _("会员卡")
        indexes = [
            models.Index(fields=["union", "status"], name="card_union_status"),
            models.Index(fields=["batch"], condition=Q(batch__isnull=False), name="card_batch"),
            # The queue a batch takes from: only applied cards are in it, so moving a card on
            # through the lifecycle writes nothing here.
            models.Index(
                fields=["-is_hardship", "id"], condition=Q(status="applied"), name="card_applied_queue"
            ),
        ]
        constraints = [
            # Partial, as card_batch: a new application has neither a number nor a batch, and
            # registering 100,000 people need not add 100,000 NULLs to either index.
            models.UniqueConstraint(
                fields=["number"], condition=Q(number__isnull=False), name="card_number_unique"
            ),
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
    def is_numbered_live(self) -> bool:
        return self.status in self.NUMBERED_LIVE

    @property
    def number_tail(self) -> str:
        return self.number[-4:] if self.number else ""


class CardEvent(models.Model):
    """One row per transition: who, when, from, to, note.

    An append-only log written only by `issuance.lifecycle`, always with card ids it has just
    locked or inserted. Its two references are not database foreign keys: PostgreSQL checks a
    foreign key with one trigger call per inserted row at commit, which for a registration or a
    bank return of 100,000 cards was 0.7 s of the commit (two references × 0.35 s) for rows
    whose references cannot be wrong. Deleting a card or a user still cascades / nulls through
    Django (on_delete is Django's, not the database's), and the card_id index stays."""

    card = models.ForeignKey(
        Card,
        verbose_name=_("会员卡"),
        on_delete=models.CASCADE,
        related_name="events",
        db_constraint=False,
    )
    from_status = models.CharField(_("原状态"), max_length=20, blank=True)
    to_status = models.CharField(_("新状态"), max_length=20)
    at = models.DateTimeField(_("时间"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("经办人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
    )
    # Set instead of `actor` when the card's own member acted on the members' site (reported it
    # lost): members are not staff users, so they get a reference of their own.
    member_actor = models.ForeignKey(
        "members.Member",
        verbose_name=_("会员本人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    note = models.CharField(_("说明"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("卡片状态变化")
        verbose_name_plural = _("卡片状态变化")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.card_id}: {self.from_status} → {self.to_status}"

    @property
    def from_label(self) -> str:
        return Card.Status(self.from_status).label if self.from_status else ""

    @property
    def to_label(self) -> str:
        return Card.Status(self.to_status).label

    @property
    def actor_label(self) -> str:
        """Who moved the card, for pages: the member themself, a staff user, or the system."""
        if self.member_actor_id:
            return "会员本人（会员网站）"
        return person(self.actor) if self.actor_id else "系统"


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
    """The bank (or transit/citizen-card company) that issues the cards. Its file layouts are
    JSON edited in admin and merged over `issuance.layouts` defaults (批量办理借记卡明细清单)."""

    code = models.SlugField(_("代码"), unique=True)
    name = models.CharField(_("名称"), max_length=100)
    is_primary = models.BooleanField(_("主发卡银行"), default=True)

    class Role(models.TextChoices):
        ISSUER = "issuer", _("发卡银行（制卡）")
        FUNCTION = "function", _("功能合作方（在已制的卡上开通功能）")

    role = models.CharField(_("角色"), max_length=10, choices=Role.choices, default=Role.ISSUER)
    function_kind = models.CharField(
        _("开通的功能"),
        max_length=10,
        blank=True,
        choices=[("transit", _("交通功能"))],
        help_text=_("角色为功能合作方时必填：它在银行已制的会员卡上开通的功能"),
    )
    handoff_layout = models.JSONField(
        _("报送文件格式"),
        default=dict,
        blank=True,
        help_text=_(
            "留空用默认格式。键：sheet（工作表名）、filename（含 {partner} {batch} {date}）、"
            'format（xlsx/csv）、columns（[{"title": "序号", "field": "seq"}, ...]）'
        ),
    )
    return_layout = models.JSONField(
        _("回盘文件格式"),
        default=dict,
        blank=True,
        help_text=_("留空用默认格式。键：id_number/number/status/reason（各为表头别名列表）、success_values"),
    )

    class Meta:
        verbose_name = _("发卡机构")
        verbose_name_plural = _("发卡机构")

    def __str__(self) -> str:
        return self.name


class Wave(models.Model):
    """A planned issuance wave (发卡批次): a target count by a deadline over some unions' subtrees
    (Harbin: 300,000 before 1 May; Yangzhou: 100k / 400k / 600k by area)."""

    name = models.CharField(_("名称"), max_length=100)
    owner = models.ForeignKey(
        "members.Union",
        verbose_name=_("组织单位"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("制定计划的工会（市总），决定谁能看到"),
    )
    unions = models.ManyToManyField(
        "members.Union", verbose_name=_("覆盖范围"), related_name="waves", help_text=_("各工会及其下级")
    )
    partner = models.ForeignKey(
        IssuingPartner, verbose_name=_("发卡机构"), null=True, blank=True, on_delete=models.PROTECT
    )
    target = models.PositiveIntegerField(_("目标张数"))
    starts_on = models.DateField(_("开始日期"), null=True, blank=True)
    deadline = models.DateField(_("截止日期"))
    note = models.CharField(_("说明"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("发卡批次计划")
        verbose_name_plural = _("发卡批次计划")
        ordering = ["deadline", "id"]
        constraints = [models.CheckConstraint(condition=Q(target__gt=0), name="wave_target_positive")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("issuance:wave_detail", args=[self.pk])


class BankBatch(Job):
    """Applied cards handed to the bank in one 批量办理借记卡明细清单. The job part tracks the
    hand-off file's generation; `union` is the subtree it was built from (its scope)."""

    job_phases = {"handoff": ("生成报送银行文件", "issuance.tasks.batch_handoff_task")}

    # Not named Status: Job.Status (the job's own state machine) must stay reachable as self.Status.
    class BatchStatus(models.TextChoices):
        PREPARING = "preparing", _("生成报送文件中")
        HANDED_OFF = "handed_off", _("已报送银行")
        PARTLY_RETURNED = "partly_returned", _("部分回盘")
        RETURNED = "returned", _("已回盘")

    code = models.CharField(_("批次号"), max_length=32, unique=True)
    partner = models.ForeignKey(IssuingPartner, verbose_name=_("发卡机构"), on_delete=models.PROTECT)
    union = models.ForeignKey(
        "members.Union", verbose_name=_("范围"), on_delete=models.PROTECT, related_name="bank_batches"
    )
    wave = models.ForeignKey(
        Wave,
        verbose_name=_("发卡批次计划"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="batches",
    )
    status = models.CharField(
        _("状态"), max_length=20, choices=BatchStatus.choices, default=BatchStatus.PREPARING
    )
    card_count = models.PositiveIntegerField(_("卡片数"), default=0)
    hardship_count = models.PositiveIntegerField(_("其中困难职工"), default=0)
    handoff_file = models.FileField(_("报送文件"), upload_to="issuance/handoff/", blank=True)
    handoff_name = models.CharField(_("报送文件名"), max_length=200, blank=True)
    handoff_sha256 = models.CharField(_("报送文件 SHA-256"), max_length=64, blank=True)
    handoff_rows = models.PositiveIntegerField(_("报送行数"), default=0)
    handoff_at = models.DateTimeField(_("生成时间"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("银行批次")
        verbose_name_plural = _("银行批次")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.code

    def get_absolute_url(self) -> str:
        return reverse("issuance:batch_detail", args=[self.pk])

    @property
    def progress_url(self) -> str:
        return reverse("issuance:batch_progress", args=[self.pk])

    def manifest(self) -> dict:
        return {
            "batch": self.code,
            "partner": self.partner.name,
            "file": self.handoff_name,
            "rows": self.handoff_rows,
            "sha256": self.handoff_sha256,
            "generated_at": timezone.localtime(self.handoff_at).isoformat() if self.handoff_at else None,
        }


class BankFileImport(Job):
    """A file the bank sent back: a return file (ID, card number, status, reason) for one batch,
    or an activation file (card number, date). The reconciliation report is kept in `report`.
    `sha256` lets a re-upload of the same file be recognised; applying it again changes nothing."""

    job_phases = {"apply": ("导入银行文件", "issuance.tasks.import_apply_task")}

    class Kind(models.TextChoices):
        RETURN = "return", _("回盘文件")
        ACTIVATION = "activation", _("激活文件")
        FUNCTION = "function", _("功能开通回盘")

    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    batch = models.ForeignKey(
        BankBatch,
        verbose_name=_("银行批次"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="imports",
    )
    union = models.ForeignKey(
        "members.Union", verbose_name=_("范围"), on_delete=models.PROTECT, related_name="+"
    )
    partner = models.ForeignKey(  # a function partner's return (kind FUNCTION) only
        IssuingPartner,
        verbose_name=_("功能合作方"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    file = models.FileField(_("文件"), upload_to="issuance/imports/")
    file_name = models.CharField(_("文件名"), max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    same_as = models.ForeignKey(
        "self",
        verbose_name=_("与此前导入相同"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    report = models.JSONField(_("对账结果"), default=dict, blank=True)

    class Meta:
        verbose_name = _("银行文件导入")
        verbose_name_plural = _("银行文件导入")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.file_name}"

    def get_absolute_url(self) -> str:
        return reverse("issuance:import_detail", args=[self.pk])

    @property
    def progress_url(self) -> str:
        return reverse("issuance:import_progress", args=[self.pk])


class CardReceipt(models.Model):
    """The grassroots clerk signing for cards the bank delivered (领卡签收), with the physical
    count. A count that disagrees with the cards ticked is kept as a mismatch and moves nothing."""

    union = models.ForeignKey(
        "members.Union", verbose_name=_("基层工会"), on_delete=models.PROTECT, related_name="+"
    )
    batch = models.ForeignKey(
        BankBatch, verbose_name=_("银行批次"), null=True, blank=True, on_delete=models.PROTECT
    )
    expected = models.PositiveIntegerField(_("应领张数"))
    selected = models.PositiveIntegerField(_("勾选张数"))
    counted = models.PositiveIntegerField(_("清点张数"))
    accepted = models.BooleanField(_("已签收"), default=False)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("经办人"), null=True, on_delete=models.SET_NULL
    )
    at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("领卡签收")
        verbose_name_plural = _("领卡签收")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.union} {self.at:%Y-%m-%d} {self.counted}/{self.selected}"

    @property
    def mismatch(self) -> bool:
        return self.counted != self.selected


class ActivationSession(models.Model):
    """An on-site activation session (银行上门集中激活、修改密码)."""

    union = models.ForeignKey(
        "members.Union", verbose_name=_("工会"), on_delete=models.PROTECT, related_name="+"
    )
    held_on = models.DateField(_("日期"))
    place = models.CharField(_("地点"), max_length=100, blank=True)
    activated = models.PositiveIntegerField(_("激活张数"), default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("经办人"), null=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("集中激活")
        verbose_name_plural = _("集中激活")
        ordering = ["-held_on", "-id"]

    def __str__(self) -> str:
        return f"{self.union} {self.held_on}"


class CardNotice(models.Model):
    """Something the member's union must know about a card (004 §六.4): a loss, and the new
    number that replaces the old one. Shown on the union's issuance page until acknowledged."""

    class Kind(models.TextChoices):
        LOST = "lost", _("挂失补卡")
        NUMBER_CHANGED = "number_changed", _("卡号变更")

    union = models.ForeignKey(
        "members.Union", verbose_name=_("工会"), on_delete=models.CASCADE, related_name="+"
    )
    card = models.ForeignKey(Card, verbose_name=_("会员卡"), on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    message = models.CharField(_("内容"), max_length=300)
    created_at = models.DateTimeField(_("时间"))
    read_at = models.DateTimeField(_("已知悉时间"), null=True, blank=True)
    read_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("知悉人"), null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = _("卡片通知")
        verbose_name_plural = _("卡片通知")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["union", "read_at"], name="notice_union_unread")]

    def __str__(self) -> str:
        return self.message


class CardFunction(models.Model):
    """A function a second partner enables on a card the bank issued (Harbin, seeds 002/003: the
    transit company adds the transit function to the union card). Its own small lifecycle,
    `issuance.services.functions.FUNCTION_MOVES`: requested → sent (in the partner's hand-off
    file) → enabled | refused (the partner's return file, with its reason)."""

    class Kind(models.TextChoices):
        TRANSIT = "transit", _("交通功能")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("待报送")
        SENT = "sent", _("已报送，办理中")
        ENABLED = "enabled", _("已开通")
        REFUSED = "refused", _("未开通")

    card = models.ForeignKey(
        Card, verbose_name=_("会员卡"), on_delete=models.CASCADE, related_name="functions"
    )
    partner = models.ForeignKey(
        IssuingPartner, verbose_name=_("功能合作方"), on_delete=models.PROTECT, related_name="card_functions"
    )
    kind = models.CharField(_("功能"), max_length=10, choices=Kind.choices)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField(_("申请时间"))
    sent_at = models.DateTimeField(_("报送时间"), null=True, blank=True)
    enabled_at = models.DateTimeField(_("开通时间"), null=True, blank=True)
    refused_reason = models.CharField(_("未开通原因"), max_length=200, blank=True)
    decided_by = models.ForeignKey(  # the partner's return file that enabled or refused it
        BankFileImport,
        verbose_name=_("回盘文件"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("会员卡功能")
        verbose_name_plural = _("会员卡功能")
        constraints = [
            models.UniqueConstraint(fields=["card", "partner", "kind"], name="card_function_once"),
            models.CheckConstraint(
                condition=~Q(status="enabled") | Q(enabled_at__isnull=False), name="card_function_enabled_at"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.card_id} {self.get_kind_display()} {self.get_status_display()}"
