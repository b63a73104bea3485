from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cardportal import crypto
from cardportal.indexes import EqualityIndex
from cardportal.jobs import Job


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

    # What each role may do is the access door's table (members/access.py), not the model's.

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


class Member(models.Model):
    """One real person, system-wide. The ID number is never stored in clear: `id_hash` (HMAC)
    makes it unique and searchable, `id_encrypted` keeps it for the bank hand-off and audited
    reveals, and the non-secret parts (region, birth date, gender, last four) sit beside it."""

    class Gender(models.TextChoices):
        MALE = "M", _("男")
        FEMALE = "F", _("女")

    class EmploymentType(models.TextChoices):
        UNKNOWN = "unknown", _("未登记")  # a sheet without the column: never assumed 在编
        ESTABLISHED = "established", _("在编")
        NON_ESTABLISHED = "non_established", _("非在编")
        AGENCY = "agency", _("劳务派遣")
        TEMPORARY = "temporary", _("临时用工")
        MIGRANT = "migrant", _("农民工")

    class Status(models.TextChoices):
        ACTIVE = "active", _("在会")
        TRANSFERRED_OUT = "transferred_out", _("已转出")
        LEFT = "left", _("已离会")

    # Unique through a constraint and indexed through Meta.indexes, not unique=True/db_index=True:
    # on PostgreSQL those add a second, varchar_pattern_ops index per field that no query uses
    # (hashes are only compared whole) and that every registration must update at random places.
    id_hash = models.CharField(_("身份证号摘要"), max_length=32, editable=False)
    id_encrypted = models.TextField(_("身份证号（密文）"), editable=False)
    id_region = models.CharField(_("行政区划码"), max_length=6, editable=False)
    id_last4 = models.CharField(_("身份证号后四位"), max_length=4, editable=False)
    name = models.CharField(_("姓名"), max_length=30)
    gender = models.CharField(_("性别"), max_length=1, choices=Gender.choices)
    birth_date = models.DateField(_("出生日期"))
    phone_hash = models.CharField(_("手机号摘要"), max_length=32, editable=False)
    phone_encrypted = models.TextField(_("手机号（密文）"), editable=False)
    phone_prefix = models.CharField(_("手机号前三位"), max_length=3, editable=False)
    phone_last4 = models.CharField(_("手机号后四位"), max_length=4, editable=False)
    work_unit = models.CharField(_("所属单位"), max_length=100)
    union = models.ForeignKey(
        Union,
        verbose_name=_("基层工会"),
        on_delete=models.PROTECT,
        related_name="members",
        db_index=False,  # member_union_recent and member_union_hardship both start with union
    )
    employment_type = models.CharField(
        _("用工类型"), max_length=20, choices=EmploymentType.choices, default=EmploymentType.UNKNOWN
    )
    is_hardship = models.BooleanField(_("困难职工"), default=False)
    is_model_worker = models.BooleanField(_("劳模"), default=False)
    # None = not recorded: benefit rules that need dues paid treat it as not proven (seed 000 Q:
    # the 30,000 insurance tier is for members who pay their dues on time).
    dues_paid = models.BooleanField(_("按时交纳会费"), null=True, blank=True, default=None)
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
            EqualityIndex(fields=["phone_hash"], name="member_phone_hash_eq"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["id_hash"], name="member_id_hash_unique"),
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


# --- Registration sheets (信息登记表) ---------------------------------------------------------
class SubmissionGroup(models.Model):
    """A group of units that submit their sheets by one due date (附件6 任务时间表)."""

    name = models.CharField(_("分组名称"), max_length=50)
    due_date = models.DateField(_("报送截止日期"))
    owner = models.ForeignKey(
        Union, verbose_name=_("设置单位"), on_delete=models.PROTECT, related_name="submission_groups_owned"
    )
    unions = models.ManyToManyField(
        Union, verbose_name=_("单位"), related_name="submission_groups", blank=True
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("报送分组")
        verbose_name_plural = _("报送分组")
        ordering = ["due_date", "name"]

    def __str__(self) -> str:
        return f"{self.name}（{self.due_date:%Y-%m-%d}前）"


class SubmissionDelivery(models.Model):
    """One of the three things a unit of a group hands in on paper (附件6: the stamped ID-copy
    confirmation letter, the paper registration sheet, the ID copies), ticked off as received by
    the union that set the group."""

    class Item(models.TextChoices):
        LETTER = "letter", _("盖章确认书")
        PAPER_SHEET = "paper_sheet", _("纸质登记表")
        ID_COPIES = "id_copies", _("身份证复印件")

    group = models.ForeignKey(SubmissionGroup, on_delete=models.CASCADE, related_name="deliveries")
    union = models.ForeignKey(Union, verbose_name=_("单位"), on_delete=models.PROTECT, related_name="+")
    item = models.CharField(_("材料"), max_length=20, choices=Item.choices)
    received_on = models.DateField(_("收到日期"))
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("签收人"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("报送材料签收")
        verbose_name_plural = _("报送材料签收")
        constraints = [
            models.UniqueConstraint(fields=["group", "union", "item"], name="delivery_group_union_item")
        ]

    def __str__(self) -> str:
        return f"{self.union} {self.get_item_display()}"


def sheet_upload_to(instance, filename: str) -> str:
    return f"sheets/{instance.union_id}/{instance.sha256[:16]}-{filename[-80:]}"


class RegistrationSheet(Job):
    """One uploaded 会员卡信息登记表: the file as uploaded (kept, with its sha256), the counts the
    confirmation letter (确认书, 附件3) declares, and the review workflow. The Job fields track the
    task that is running for it (import, then registration)."""

    job_phases = {
        "import": ("读取和校验登记表", "members.tasks.sheet_import_task"),
        "register": ("登记会员", "members.tasks.sheet_register_task"),
    }

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("已上传")
        VALIDATING = "validating", _("校验中")
        REFUSED = "refused", _("文件被拒收")
        VALIDATED = "validated", _("已校验待提交")
        SUBMITTED = "submitted", _("已提交待审核")
        RETURNED = "returned", _("已退回")
        APPROVED = "approved", _("已审核待登记")
        REGISTERED = "registered", _("已登记")

    union = models.ForeignKey(
        Union, verbose_name=_("基层工会"), on_delete=models.PROTECT, related_name="registration_sheets"
    )
    file = models.FileField(_("登记表文件"), upload_to=sheet_upload_to, max_length=255)
    original_name = models.CharField(_("文件名"), max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.PositiveBigIntegerField(_("文件大小"), default=0)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.UPLOADED)
    declared_members = models.PositiveIntegerField(_("确认书会员人数"), null=True, blank=True)
    declared_id_copies = models.PositiveIntegerField(_("确认书身份证复印件份数"), null=True, blank=True)
    file_format = models.CharField(_("文件格式"), max_length=8, blank=True)
    header_row = models.PositiveIntegerField(_("表头所在行"), null=True, blank=True)
    rows_accepted = models.PositiveIntegerField(_("通过行数"), default=0)
    rows_rejected = models.PositiveIntegerField(_("不通过行数"), default=0)
    rows_skipped = models.PositiveIntegerField(_("跳过行数"), default=0)
    rows_registered = models.PositiveIntegerField(_("已登记人数"), default=0)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("提交人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    return_reason = models.CharField(_("退回原因"), max_length=500, blank=True)
    registered_at = models.DateTimeField(_("登记时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("信息登记表")
        verbose_name_plural = _("信息登记表")
        ordering = ["-id"]
        constraints = [
            # The same file uploaded twice to one union is one sheet (re-uploads are told so).
            models.UniqueConstraint(fields=["union", "sha256"], name="sheet_unique_file_per_union"),
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="sheet_sha256_hex"),
        ]
        indexes = [models.Index(fields=["status", "union"], name="sheet_status_union")]

    def __str__(self) -> str:
        return f"登记表 #{self.pk}（{self.original_name}）"

    def get_absolute_url(self) -> str:
        return reverse("members:sheet_detail", args=[self.pk])

    @property
    def progress_url(self) -> str:
        return reverse("members:sheet_progress", args=[self.pk])

    @property
    def members_count_mismatch(self) -> bool:
        return self.declared_members is not None and self.declared_members != self.rows_accepted

    @property
    def copies_count_mismatch(self) -> bool:
        return self.declared_id_copies is not None and self.declared_id_copies != self.rows_accepted

    @property
    def is_busy(self) -> bool:
        return self.status in (self.Status.UPLOADED, self.Status.VALIDATING, self.Status.APPROVED)


class SheetRow(models.Model):
    """One data row of a sheet after reading, normalising and validating. Personal data is kept
    as the member registry keeps it (keyed hash, ciphertext, non-secret parts), so registration
    copies these columns into `Member` with one INSERT … SELECT and nothing is re-encrypted."""

    class Outcome(models.TextChoices):
        ACCEPT = "accept", _("通过")
        REJECT = "reject", _("不通过")
        SKIP = "skip", _("跳过")

    sheet = models.ForeignKey(
        RegistrationSheet,
        verbose_name=_("登记表"),
        on_delete=models.CASCADE,
        related_name="rows",
        db_index=False,  # sheetrow_unique_row starts with sheet
        # No database constraint: its check (one look-up of the sheet's row per staged row, at
        # the staging COMMIT) was 0.3-0.4 s of the 100,000-row import's serial tail and ~8 s at
        # 1,000,000 rows. What it guarded holds without it: rows are written only by the staging
        # transaction, which holds its sheet FOR KEY SHARE from its first row to COMMIT, and a
        # sheet's deletion (the ORM's CASCADE) first waits for that transaction to end
        # (`registration.wait_for_staging`), so it deletes the rows staged meanwhile too.
        db_constraint=False,
    )
    row_number = models.PositiveIntegerField(_("行号"))
    outcome = models.CharField(_("结果"), max_length=6, choices=Outcome.choices)
    reason = models.CharField(_("原因代码"), max_length=24)
    field = models.CharField(_("列"), max_length=12, blank=True)
    message = models.CharField(_("说明"), max_length=500, blank=True)
    name = models.CharField(_("姓名"), max_length=30, blank=True)
    gender = models.CharField(_("性别"), max_length=1, blank=True)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    id_hash = models.CharField(_("身份证号摘要"), max_length=32, blank=True)
    id_encrypted = models.TextField(_("身份证号（密文）"), blank=True)
    id_region = models.CharField(_("行政区划码"), max_length=6, blank=True)
    id_last4 = models.CharField(_("身份证号后四位"), max_length=4, blank=True)
    phone_hash = models.CharField(_("手机号摘要"), max_length=32, blank=True)
    phone_encrypted = models.TextField(_("手机号（密文）"), blank=True)
    phone_prefix = models.CharField(_("手机号前三位"), max_length=3, blank=True)
    phone_last4 = models.CharField(_("手机号后四位"), max_length=4, blank=True)
    work_unit = models.CharField(_("所属单位"), max_length=100, blank=True)
    is_hardship = models.BooleanField(_("困难职工"), default=False)
    # The optional columns: 序号 as typed (the ID copies of 附件5 are numbered by it), and the
    # employment type and dues the member is registered with (blank in the sheet: unknown).
    seq = models.CharField(_("序号"), max_length=20, blank=True, default="")
    employment_type = models.CharField(
        _("用工类型"),
        max_length=20,
        choices=Member.EmploymentType.choices,
        default=Member.EmploymentType.UNKNOWN,
    )
    dues_paid = models.BooleanField(_("按时交纳会费"), null=True, blank=True, default=None)

    class Meta:
        verbose_name = _("登记表行")
        verbose_name_plural = _("登记表行")
        ordering = ["sheet", "row_number"]
        constraints = [
            models.UniqueConstraint(fields=["sheet", "row_number"], name="sheetrow_unique_row"),
            models.CheckConstraint(
                condition=Q(outcome__in=["accept", "reject", "skip"]), name="sheetrow_outcome_valid"
            ),
            models.CheckConstraint(
                condition=~Q(outcome="accept")
                | (
                    Q(id_region__regex=r"^\d{6}$")
                    & Q(id_last4__regex=r"^\d{3}[0-9X]$")
                    & Q(phone_last4__regex=r"^\d{4}$")
                    & Q(gender__in=["M", "F"])
                ),
                name="sheetrow_accepted_complete",
            ),
        ]
        indexes = [
            # The rejected and skipped rows only, as the clerk's pages list and count them by
            # reason: an accepted row (99 in 100) gave this index an entry for nothing, ~0.25 s
            # of the staging COPY's server CPU per 100,000 rows. The accepted rows are read with
            # the sheet's rows in row order (sheetrow_unique_row).
            models.Index(
                fields=["sheet", "outcome", "row_number"],
                condition=~Q(outcome="accept"),
                name="sheetrow_not_accepted",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sheet_id}:{self.row_number} {self.outcome} {self.reason}"

    @property
    def masked_id(self) -> str:
        return crypto.mask_id_parts(self.id_region, self.id_last4) if self.id_last4 else ""

    @property
    def masked_phone(self) -> str:
        return f"{self.phone_prefix}****{self.phone_last4}" if self.phone_last4 else ""

    @property
    def label(self) -> str:
        """The row as clerks name it: 第8行（序号5）."""
        return f"第{self.row_number}行（序号{self.seq}）" if self.seq else f"第{self.row_number}行"


def letter_scan_upload_to(instance, filename: str) -> str:
    """A random name: nothing of the union or the clerk's file name in the path."""
    import secrets

    extension = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
    return f"letters/{timezone.localdate():%Y}/{secrets.token_hex(16)}.{extension}"


class SheetLetterScan(models.Model):
    """The scan of a sheet's stamped confirmation letter (确认书, 000 附件3), optional. Read through
    the proof kernel (cardportal/proofs.py: content-checked, images re-encoded), stored privately
    in MEDIA_ROOT (never served) and opened through a scoped, audited view. A new upload replaces
    the old one."""

    sheet = models.OneToOneField(
        RegistrationSheet, verbose_name=_("登记表"), on_delete=models.CASCADE, related_name="letter_scan"
    )
    file = models.FileField(_("文件"), upload_to=letter_scan_upload_to)
    content_type = models.CharField(_("类型"), max_length=40)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    pages = models.PositiveSmallIntegerField(_("页数"), default=1)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("上传人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now=True)

    class Meta:
        verbose_name = _("确认书扫描件")
        verbose_name_plural = _("确认书扫描件")

    def __str__(self) -> str:
        return f"确认书扫描件（登记表 #{self.sheet_id}）"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class SheetClaim(models.Model):
    """A person held by a submitted sheet until it is registered or returned. The unique
    `id_hash` makes "one person pending in one sheet at a time" a database rule, as
    `Member.id_hash` makes "one member per person" one. A narrow table of its own, so claiming
    and releasing 100,000 people is an INSERT … SELECT / DELETE, not a rewrite of the wide rows."""

    id_hash = models.CharField(_("身份证号摘要"), max_length=32)
    sheet = models.ForeignKey(
        RegistrationSheet,
        verbose_name=_("登记表"),
        on_delete=models.CASCADE,
        related_name="claims",
        # No database constraint, as `SheetRow.sheet`: its check (one look-up of the sheet per
        # claim, at the submit's COMMIT) was 0.26 s of a 100,000-row submit's ~0.9 s in the
        # database. What it guarded holds without it: claims are written only by `sheet_submit`,
        # which holds its sheet FOR UPDATE to COMMIT, and removed with their sheet's registration
        # or return, under the same lock; a sheet's deletion (the ORM's CASCADE) first takes that
        # lock too (`registration.wait_for_staging`), so it deletes the claims a submit was writing.
        db_constraint=False,
    )
    row_number = models.PositiveIntegerField(_("行号"))

    class Meta:
        verbose_name = _("待审核人员占用")
        verbose_name_plural = _("待审核人员占用")
        # A constraint, not unique=True: that adds a varchar_pattern_ops twin on PostgreSQL.
        constraints = [models.UniqueConstraint(fields=["id_hash"], name="sheetclaim_id_hash_unique")]

    def __str__(self) -> str:
        return f"{self.sheet_id}:{self.row_number}"


class MemberConsent(models.Model):
    """A member's own record of agreeing to (or declining) card issuance: members agree to 办卡
    (seed 000 附件), and participation is voluntary (003 §三(三)). One row per statement, never
    edited: the latest row is the member's current answer, the earlier ones its history."""

    class Topic(models.TextChoices):
        CARD_ISSUANCE = "card_issuance", _("同意办理工会会员卡")

    class Via(models.TextChoices):
        MEMBER_SITE = "member_site", _("会员本人（会员网站）")
        CLERK = "clerk", _("工会经办人代为登记")

    member = models.ForeignKey(
        Member, verbose_name=_("会员"), on_delete=models.CASCADE, related_name="consents"
    )
    topic = models.CharField(_("事项"), max_length=20, choices=Topic.choices, default=Topic.CARD_ISSUANCE)
    agreed = models.BooleanField(_("是否同意"))
    statement = models.CharField(_("确认内容"), max_length=300, help_text=_("会员确认时看到的文字"))
    via = models.CharField(_("登记方式"), max_length=12, choices=Via.choices)
    at = models.DateTimeField(_("确认时间"))

    class Meta:
        verbose_name = _("办卡意愿确认")
        verbose_name_plural = _("办卡意愿确认")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["member", "topic", "-at"], name="consent_member_latest")]

    def __str__(self) -> str:
        return f"{self.member_id} · {'同意' if self.agreed else '不同意'} · {self.at:%Y-%m-%d}"


class CorrectionRequest(models.Model):
    """A member's request to correct their registry data (PIPL: a person may have their own
    data corrected), queued for the clerks of the member's union. What the member wrote may hold
    personal data (a right ID number, a name), so it is stored encrypted."""

    class Field(models.TextChoices):
        NAME = "name", _("姓名")
        GENDER = "gender", _("性别")
        ID_NUMBER = "id_number", _("身份证号")
        WORK_UNIT = "work_unit", _("工作单位")
        UNION = "union", _("所在工会")
        OTHER = "other", _("其他")

    class Status(models.TextChoices):
        OPEN = "open", _("待处理")
        HANDLED = "handled", _("已处理")

    member = models.ForeignKey(
        Member, verbose_name=_("会员"), on_delete=models.CASCADE, related_name="correction_requests"
    )
    union = models.ForeignKey(
        Union,
        verbose_name=_("基层工会"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("提出时会员所在的基层工会（由其经办人处理）"),
    )
    field = models.CharField(_("更正项目"), max_length=12, choices=Field.choices)
    details_encrypted = models.TextField(_("更正内容（密文）"), editable=False)
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(_("提交时间"), auto_now_add=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("处理人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    handled_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    reply = models.CharField(_("处理说明"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("信息更正申请")
        verbose_name_plural = _("信息更正申请")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["union", "status", "-created_at"], name="correction_union_queue")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "handled"]), name="correction_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(handled_at__isnull=False), name="correction_handled_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_field_display()} · {self.get_status_display()}"

    def get_absolute_url(self) -> str:
        return reverse("members:correction_detail", args=[self.pk])

    def reveal_details(self) -> str:
        return crypto.decrypt(self.details_encrypted)
