from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cardportal import crypto


class Union(models.Model):
    """A node of the union tree. `path` is a materialized path ("130900/130902/…/"), so a
    subtree is one indexed prefix query (`path__startswith`)."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("省总工会")
        CITY = "city", _("市总工会")
        COUNTY = "county", _("县级工会")
        INDUSTRY = "industry", _("产业工会")
        GRASSROOTS = "grassroots", _("基层工会")
        SUB_BRANCH = "sub_branch", _("工会分会")

    class UnitType(models.TextChoices):
        ENTERPRISE = "enterprise", _("企业")
        ENTERPRISE_MANAGED = "enterprise_managed", _("企业化管理事业单位")
        GOVERNMENT = "government", _("机关")
        INSTITUTION = "institution", _("其他事业单位")
        OTHER = "other", _("其他")

    code = models.CharField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    level = models.CharField(_("层级"), max_length=16, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级工会"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(_("路径"), max_length=255, unique=True, editable=False)
    depth = models.PositiveSmallIntegerField(_("深度"), default=0, editable=False)
    unit_type = models.CharField(
        _("单位性质"), max_length=24, choices=UnitType.choices, default=UnitType.ENTERPRISE, blank=True
    )
    declared_members = models.PositiveIntegerField(
        _("会员数（规划口径）"), null=True, blank=True, help_text=_("上级下达任务时依据的会员人数")
    )

    class Meta:
        verbose_name = _("工会")
        verbose_name_plural = _("工会")
        ordering = ["path"]
        indexes = [models.Index(fields=["path"], name="union_path_prefix", opclasses=["varchar_pattern_ops"])]
        constraints = [
            models.CheckConstraint(condition=~Q(code__contains="/"), name="union_code_no_slash"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.path = f"{self.parent.path if self.parent_id else ''}{self.code}/"
        self.depth = self.path.count("/") - 1
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("members:union_detail", args=[self.pk])

    def is_within(self, other: "Union") -> bool:
        return self.path.startswith(other.path)

    def county(self) -> "Union | None":
        """The county-level union (县级/产业) this union belongs to, itself included."""
        node = self
        while node is not None and node.level not in (self.Level.COUNTY, self.Level.INDUSTRY):
            node = node.parent
        return node


class StaffRole(models.Model):
    """A staff user's role, attached to one union; the union's subtree is what the user sees."""

    class Role(models.TextChoices):
        CLERK = "clerk", _("基层工会经办人")
        COUNTY_REVIEWER = "county_reviewer", _("县级工会审核员")
        CITY_STAFF = "city_staff", _("市总工会工作人员")
        PROVINCE_STAFF = "province_staff", _("省总工会工作人员")
        BANK_OPERATOR = "bank_operator", _("银行经办员")
        ADMIN = "admin", _("系统管理员")

    # Who may see a full ID number (each reveal is audited).
    REVEAL_ROLES = frozenset({Role.COUNTY_REVIEWER, Role.CITY_STAFF, Role.PROVINCE_STAFF, Role.ADMIN})
    REVIEW_ROLES = frozenset({Role.COUNTY_REVIEWER, Role.CITY_STAFF, Role.PROVINCE_STAFF, Role.ADMIN})
    FEDERATION_ROLES = frozenset({Role.CITY_STAFF, Role.PROVINCE_STAFF, Role.ADMIN})

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="staff"
    )
    role = models.CharField(_("角色"), max_length=24, choices=Role.choices)
    union = models.ForeignKey(
        Union, verbose_name=_("所属工会"), on_delete=models.PROTECT, related_name="staff"
    )

    class Meta:
        verbose_name = _("工作人员角色")
        verbose_name_plural = _("工作人员角色")

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.union}"

    @property
    def can_reveal_pii(self) -> bool:
        return self.role in self.REVEAL_ROLES

    @property
    def can_review(self) -> bool:
        return self.role in self.REVIEW_ROLES

    @property
    def is_federation(self) -> bool:
        return self.role in self.FEDERATION_ROLES


class Member(models.Model):
    """One real person, system-wide. The ID number is never stored in clear: `id_hash` (HMAC)
    makes it unique and searchable, `id_encrypted` keeps it for the bank hand-off and audited
    reveals, and the non-secret parts (region, birth date, gender, last four) sit beside it."""

    class Gender(models.TextChoices):
        MALE = "M", _("男")
        FEMALE = "F", _("女")

    class EmploymentType(models.TextChoices):
        ESTABLISHED = "established", _("在编")
        NON_ESTABLISHED = "non_established", _("非在编")
        AGENCY = "agency", _("劳务派遣")
        TEMPORARY = "temporary", _("临时用工")
        MIGRANT = "migrant", _("农民工")

    class Status(models.TextChoices):
        ACTIVE = "active", _("在会")
        TRANSFERRED_OUT = "transferred_out", _("已转出")
        LEFT = "left", _("已离会")

    id_hash = models.CharField(_("身份证号摘要"), max_length=64, unique=True, editable=False)
    id_encrypted = models.TextField(_("身份证号（密文）"), editable=False)
    id_region = models.CharField(_("行政区划码"), max_length=6, editable=False)
    id_last4 = models.CharField(_("身份证号后四位"), max_length=4, editable=False)
    name = models.CharField(_("姓名"), max_length=30)
    gender = models.CharField(_("性别"), max_length=1, choices=Gender.choices)
    birth_date = models.DateField(_("出生日期"))
    phone_hash = models.CharField(_("手机号摘要"), max_length=64, db_index=True, editable=False)
    phone_encrypted = models.TextField(_("手机号（密文）"), editable=False)
    phone_prefix = models.CharField(_("手机号前三位"), max_length=3, editable=False)
    phone_last4 = models.CharField(_("手机号后四位"), max_length=4, editable=False)
    work_unit = models.CharField(_("所属单位"), max_length=100)
    union = models.ForeignKey(
        Union, verbose_name=_("基层工会"), on_delete=models.PROTECT, related_name="members"
    )
    employment_type = models.CharField(
        _("用工类型"), max_length=20, choices=EmploymentType.choices, default=EmploymentType.ESTABLISHED
    )
    is_hardship = models.BooleanField(_("困难职工"), default=False)
    is_model_worker = models.BooleanField(_("劳模"), default=False)
    dues_paid = models.BooleanField(_("按时交纳会费"), default=True)
    status = models.CharField(_("会籍状态"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    joined_on = models.DateField(_("入会日期"), null=True, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("会员")
        verbose_name_plural = _("会员")
        indexes = [
            models.Index(fields=["union", "-id"], name="member_union_recent"),
            models.Index(fields=["name"], name="member_name_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["union", "is_hardship"], name="member_union_hardship"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(id_region__regex=r"^\d{6}$"), name="member_id_region_6_digits"
            ),
            models.CheckConstraint(
                condition=Q(id_last4__regex=r"^\d{3}[0-9X]$"), name="member_id_last4_shape"
            ),
            models.CheckConstraint(condition=Q(gender__in=["M", "F"]), name="member_gender_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["active", "transferred_out", "left"]), name="member_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.masked_id}）"

    def get_absolute_url(self) -> str:
        return reverse("members:member_detail", args=[self.pk])

    @property
    def masked_id(self) -> str:
        return crypto.mask_id_parts(self.id_region, self.id_last4)

    @property
    def masked_phone(self) -> str:
        return f"{self.phone_prefix}****{self.phone_last4}" if self.phone_last4 else ""

    def set_id_number(self, id_number: str) -> None:
        self.id_hash = crypto.keyed_hash(id_number)
        self.id_encrypted = crypto.encrypt(id_number)
        self.id_region = id_number[:6]
        self.id_last4 = id_number[-4:]

    def set_phone(self, phone: str) -> None:
        self.phone_hash = crypto.keyed_hash(phone)
        self.phone_encrypted = crypto.encrypt(phone)
        self.phone_prefix = phone[:3]
        self.phone_last4 = phone[-4:]

    def reveal_id_number(self) -> str:
        """Decrypt the full number. Call only through `member_reveal_id` (it audits)."""
        return crypto.decrypt(self.id_encrypted)

    def reveal_phone(self) -> str:
        return crypto.decrypt(self.phone_encrypted)


class MemberTransfer(models.Model):
    """Membership history (会籍变化): every move between unions and every status change."""

    member = models.ForeignKey(
        Member, verbose_name=_("会员"), on_delete=models.CASCADE, related_name="transfers"
    )
    from_union = models.ForeignKey(
        Union, verbose_name=_("原工会"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_union = models.ForeignKey(
        Union, verbose_name=_("新工会"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_status = models.CharField(_("原状态"), max_length=20, blank=True)
    to_status = models.CharField(_("新状态"), max_length=20, blank=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("经办人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("会籍变化")
        verbose_name_plural = _("会籍变化")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_union} → {self.to_union}"

    @property
    def from_status_label(self) -> str:
        return Member.Status(self.from_status).label if self.from_status else ""

    @property
    def to_status_label(self) -> str:
        return Member.Status(self.to_status).label if self.to_status else ""
