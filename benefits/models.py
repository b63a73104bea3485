"""Benefit programmes (普惠服务项目), claims under them, and aid disbursement batches paid to cards.

Eligibility is data on the programme (which card stage, in service, hardship, model worker,
early cards) plus amount tiers (by unit type, by dues); `benefits.eligibility` evaluates it
against the registry and explains every check. Money is Decimal yuan with 2 places throughout.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cardportal.jobs import Job

MONEY = {"max_digits": 12, "decimal_places": 2}


class BenefitProgramme(models.Model):
    class Kind(models.TextChoices):
        PROTECTION = "protection", _("保障")
        SUBSIDY = "subsidy", _("补贴")
        AID = "aid", _("救助")
        BONUS = "bonus", _("开卡奖励")
        SERVICE = "service", _("免费服务")

    class CardRequirement(models.TextChoices):
        NONE = "none", _("不要求持卡")
        LIVE = "live", _("持有效工会卡（已制卡且未挂失注销）")
        ACTIVATED = "activated", _("工会卡已激活")

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("项目名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    union = models.ForeignKey(
        "members.Union",
        verbose_name=_("主办工会"),
        on_delete=models.PROTECT,
        related_name="benefit_programmes",
        help_text=_("本工会及下级工会的会员可享受"),
    )
    description = models.TextField(_("说明"), blank=True)
    valid_from = models.DateField(_("保障期起"))
    valid_until = models.DateField(_("保障期止"), null=True, blank=True, help_text=_("留空表示长期"))
    is_active = models.BooleanField(_("启用"), default=True)
    card_requirement = models.CharField(
        _("持卡要求"), max_length=10, choices=CardRequirement.choices, default=CardRequirement.LIVE
    )
    requires_in_service = models.BooleanField(_("须在职在岗（在会）"), default=True)
    employment_types = models.JSONField(
        _("限用工类型"),
        default=list,
        blank=True,
        help_text=_("留空表示不限；否则为会员登记的用工类型之一（在编、劳务派遣、农民工……）"),
    )
    requires_hardship = models.BooleanField(_("限困难职工"), default=False)
    requires_model_worker = models.BooleanField(_("限劳模"), default=False)
    card_applied_before = models.DateField(
        _("限此日期前申请的卡"), null=True, blank=True, help_text=_("“前期办卡会员”专享项目用")
    )
    once_per_member = models.BooleanField(_("每人限领一次"), default=False)
    member_may_claim = models.BooleanField(
        _("会员可在线申请"),
        default=False,
        help_text=_("会员可在会员网站上传凭证自行申请；否则由基层工会经办人登记"),
    )
    how_to_claim = models.TextField(
        _("申领方式"), blank=True, help_text=_("会员在“我的权益”里看到的办理方法，如需带哪些材料、找谁")
    )
    # Amount rules of the batches tied to this programme (benefits/limits.py: blank = default).
    max_per_member = models.DecimalField(
        _("每人每批上限（元）"),
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("留空表示按最高金额档次"),
        **MONEY,
    )
    max_per_batch = models.DecimalField(
        _("每批合计上限（元）"),
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("留空表示按发放类别的默认上限"),
        **MONEY,
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("普惠服务项目")
        verbose_name_plural = _("普惠服务项目")
        ordering = ["union__path", "kind", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_per_member__isnull=True) | Q(max_per_member__gte=0),
                name="programme_max_per_member_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(max_per_batch__isnull=True) | Q(max_per_batch__gte=0),
                name="programme_max_per_batch_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("benefits:programme_detail", args=[self.pk])

    def is_valid_on(self, day) -> bool:
        return (
            self.is_active
            and self.valid_from <= day
            and (self.valid_until is None or day <= self.valid_until)
        )


class AmountTier(models.Model):
    """One amount with its conditions; the first matching tier (lowest `order`) applies.
    Empty conditions match everyone. A programme without tiers is a free service (amount 0)."""

    programme = models.ForeignKey(
        BenefitProgramme, verbose_name=_("项目"), on_delete=models.CASCADE, related_name="tiers"
    )
    order = models.PositiveSmallIntegerField(_("顺序"), default=10)
    label = models.CharField(_("档次说明"), max_length=60)
    amount = models.DecimalField(_("金额（元）"), validators=[MinValueValidator(Decimal("0"))], **MONEY)
    unit_types = models.JSONField(
        _("限单位性质"),
        default=list,
        blank=True,
        help_text=_("留空表示不限；否则为所属基层工会的单位性质之一"),
    )
    requires_dues_paid = models.BooleanField(_("限按时交纳会费"), default=False)

    class Meta:
        verbose_name = _("金额档次")
        verbose_name_plural = _("金额档次")
        ordering = ["programme_id", "order", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="tier_amount_not_negative")]

    def __str__(self) -> str:
        return f"{self.label}：{self.amount}元"


class Claim(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("待审核")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已驳回")

    programme = models.ForeignKey(
        BenefitProgramme, verbose_name=_("项目"), on_delete=models.PROTECT, related_name="claims"
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("会员"), on_delete=models.PROTECT, related_name="benefit_claims"
    )
    union = models.ForeignKey(
        "members.Union",
        verbose_name=_("基层工会"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("登记时会员所在的基层工会（权限范围）"),
    )
    incident_on = models.DateField(_("事由日期"))
    facts = models.CharField(_("事由"), max_length=300)
    amount = models.DecimalField(_("金额（元）"), **MONEY)
    tier_label = models.CharField(_("适用档次"), max_length=60, blank=True)
    explanation = models.JSONField(_("资格审查"), default=list)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登记人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    by_member = models.BooleanField(
        _("会员本人在线申请"), default=False, help_text=_("会员在会员网站提交（没有登记人）")
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    review_note = models.CharField(_("审核意见"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("理赔/补贴申请")
        verbose_name_plural = _("理赔/补贴申请")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "programme"], name="claim_status_programme")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="claim_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(reviewed_at__isnull=False), name="claim_reviewed_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.programme} · {self.member.name} · {self.amount}元"

    def get_absolute_url(self) -> str:
        return reverse("benefits:claim_detail", args=[self.pk])


def proof_upload_to(instance: "ClaimProof", filename: str) -> str:
    """A random name under proofs/<year>/: nothing of the member's (name, file name) in the path."""
    import secrets

    from django.utils import timezone

    extension = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
    return f"proofs/{timezone.localdate():%Y}/{secrets.token_hex(16)}.{extension}"


class ClaimProof(models.Model):
    """A receipt or other proof a member uploaded with a claim (cardportal/proofs.py checked it:
    an image is re-encoded, a PDF parsed). Stored privately in MEDIA_ROOT, which is never served;
    the member and the claim's reviewers open it through a scoped, audited view."""

    claim = models.ForeignKey(Claim, verbose_name=_("申请"), on_delete=models.CASCADE, related_name="proofs")
    file = models.FileField(_("文件"), upload_to=proof_upload_to)
    content_type = models.CharField(_("类型"), max_length=40)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    pages = models.PositiveSmallIntegerField(_("页数"), default=1)
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("申请凭证")
        verbose_name_plural = _("申请凭证")
        ordering = ["claim_id", "id"]

    def __str__(self) -> str:
        return f"凭证 #{self.pk}"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class Disbursement(Job):
    """A batch of payments to members' cards, with four eyes (docs/security.md "Four eyes"):
    its creator (the preparer) builds the list and submits it; a reviewer of a higher union
    approves it (or returns it to draft); only then may the export job write the bank payment
    file; a third person uploads the bank's result file, which marks lines paid."""

    job_phases = {"export": ("生成代发文件", "benefits.tasks.disbursement_export_task")}

    class Kind(models.TextChoices):
        WARMTH = "warmth", _("送温暖")
        SCHOOL_AID = "school_aid", _("金秋助学")
        DAILY_RELIEF = "daily_relief", _("日常救助")
        MODEL_WORKER = "model_worker", _("困难劳模帮扶")
        PRIZE = "prize", _("竞赛奖金")
        CLAIMS = "claims", _("项目理赔/补贴")

    class State(models.TextChoices):
        DRAFT = "draft", _("草稿")
        SUBMITTED = "submitted", _("待审批")
        APPROVED = "approved", _("已审批")
        EXPORTING = "exporting", _("正在生成支付文件")
        EXPORTED = "exported", _("已生成支付文件")
        CLOSED = "closed", _("已确认")

    name = models.CharField(_("批次名称"), max_length=100)
    kind = models.CharField(_("类别"), max_length=16, choices=Kind.choices)
    union = models.ForeignKey(
        "members.Union", verbose_name=_("发放工会"), on_delete=models.PROTECT, related_name="disbursements"
    )
    programme = models.ForeignKey(
        BenefitProgramme,
        verbose_name=_("对应项目"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disbursements",
        help_text=_("选定后，名单中每人都须符合该项目的资格"),
    )
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.DRAFT)
    payment_file = models.FileField(_("银行代发文件"), upload_to="disbursements/", blank=True)
    manifest = models.JSONField(_("汇总清单"), default=dict, blank=True)
    exported_at = models.DateTimeField(_("生成时间"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("提交审批时间"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审批人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    # What the approver saw: the export refuses a list that no longer matches it.
    approved_count = models.PositiveIntegerField(_("审批人数"), null=True, blank=True)
    approved_total = models.DecimalField(_("审批金额（元）"), null=True, blank=True, **MONEY)
    return_reason = models.CharField(_("退回原因"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("帮扶资金发放批次")
        verbose_name_plural = _("帮扶资金发放批次")
        ordering = ["-created_at", "-id"]
        constraints = [
            # Four eyes in the database too: nobody approves a batch they created.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("created_by")),
                name="disbursement_approver_not_preparer",
            ),
            # No payment file is being written for a batch without an approval.
            models.CheckConstraint(
                condition=~Q(state__in=["approved", "exporting"]) | Q(approved_at__isnull=False),
                name="disbursement_approved_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("benefits:disbursement_detail", args=[self.pk])

    @property
    def progress_url(self) -> str:
        return reverse("benefits:disbursement_progress", args=[self.pk])


class DisbursementLine(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("待发放")
        PAID = "paid", _("已到账")
        FAILED = "failed", _("发放失败")

    disbursement = models.ForeignKey(
        Disbursement, verbose_name=_("批次"), on_delete=models.CASCADE, related_name="lines"
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("会员"), on_delete=models.PROTECT, related_name="+"
    )
    card = models.ForeignKey(
        "issuance.Card", verbose_name=_("会员卡"), on_delete=models.PROTECT, related_name="+"
    )
    card_number = models.CharField(_("卡号"), max_length=19)
    name = models.CharField(_("姓名"), max_length=30)
    amount = models.DecimalField(_("金额（元）"), **MONEY)
    claim = models.OneToOneField(
        Claim,
        verbose_name=_("对应申请"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disbursement_line",
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    paid_at = models.DateTimeField(_("到账时间"), null=True, blank=True)
    bank_reference = models.CharField(_("银行流水号"), max_length=40, blank=True)
    failure_reason = models.CharField(_("失败原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("发放明细")
        verbose_name_plural = _("发放明细")
        ordering = ["disbursement_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["disbursement", "member"], name="disbursement_member_once"),
            models.UniqueConstraint(fields=["disbursement", "card_number"], name="disbursement_card_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="disbursement_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_at__isnull=False), name="disbursement_paid_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.amount}元"

    @property
    def card_tail(self) -> str:
        return self.card_number[-4:]
