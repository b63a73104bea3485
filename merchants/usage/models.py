"""Card usage: merchant numbers (MIDs), transaction-feed imports, the transactions themselves
(partitioned by month on PostgreSQL, see migrations/0001 and `partitions.py`) and the roll-ups the
pages read: the shape the feed, the subsidies and the analytics share (docs/usage.md).

CardTransaction's references to cards, unions, merchants, categories, partners and imports are
plain indexed integers in the database (`db_constraint=False`): the importer fills them from a
join against those tables in the same transaction, and a foreign-key check per row would cost a
third of a 500,000-row day's import. Cards, unions and merchants are never deleted (PROTECT).
No card number, name or ID number is stored with a transaction.
"""

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cardportal.jobs import Job


class MerchantMID(models.Model):
    """A merchant number as an acquirer knows it (商户号). A merchant may have several."""

    merchant = models.ForeignKey(
        "merchants.Merchant", verbose_name=_("商户"), on_delete=models.CASCADE, related_name="mids"
    )
    partner = models.ForeignKey(
        "issuance.IssuingPartner", verbose_name=_("收单/发卡机构"), on_delete=models.PROTECT, related_name="+"
    )
    mid = models.CharField(_("商户号"), max_length=32)

    class Meta:
        verbose_name = _("商户号")
        verbose_name_plural = _("商户号")
        constraints = [
            models.UniqueConstraint(fields=["partner", "mid"], name="usage_mid_unique_per_partner")
        ]

    def __str__(self) -> str:
        return self.mid


class TxnImport(Job):
    """One transaction file from an issuing partner (交易明细文件), imported in the `bank` queue."""

    job_phases = {"import": ("导入交易明细", "merchants.usage.tasks.txn_import_task")}

    partner = models.ForeignKey(
        "issuance.IssuingPartner", verbose_name=_("机构"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("文件格式"), max_length=20, default="bank")
    file = models.FileField(_("文件"), upload_to="usage/imports/")
    file_name = models.CharField(_("文件名"), max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    rows = models.PositiveIntegerField(_("行数"), default=0)
    inserted = models.PositiveIntegerField(_("新增交易"), default=0)
    duplicates = models.PositiveIntegerField(_("重复交易"), default=0)
    unknown_card = models.PositiveIntegerField(_("未知卡号"), default=0)
    card_not_live = models.PositiveIntegerField(_("非有效卡"), default=0)
    unknown_mid = models.PositiveIntegerField(_("非特约商户"), default=0)
    rejected = models.PositiveIntegerField(_("格式错误"), default=0)
    report = models.JSONField(_("对账结果"), default=dict, blank=True)
    imported_at = models.DateTimeField(_("导入时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("交易明细导入")
        verbose_name_plural = _("交易明细导入")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.file_name

    def get_absolute_url(self) -> str:
        return reverse("usage:import_detail", args=[self.pk])

    @property
    def progress_url(self) -> str:
        return reverse("usage:import_progress", args=[self.pk])


def _ref(model: str, verbose: str, *, null: bool = False, db_index: bool = True):
    return models.ForeignKey(
        model,
        verbose_name=verbose,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=db_index,
        null=null,
        blank=null,
        related_name="+",
    )


class CardTransaction(models.Model):
    """One card transaction. PostgreSQL: partitioned by RANGE (txn_at), one partition a month;
    the primary key there is (id, txn_at). Idempotency: unique (partner, txn_at, reference), in
    that order so a day's new keys sit together in the index (migration 0004); nothing looks a
    transaction up by its reference alone."""

    class Channel(models.TextChoices):
        POS = "pos", _("POS刷卡")
        ONLINE = "online", _("线上")
        ATM = "atm", _("ATM")
        TRANSIT = "transit", _("公共交通")

    class Kind(models.TextChoices):
        PURCHASE = "purchase", _("消费")
        REFUND = "refund", _("退货")
        REVERSAL = "reversal", _("冲正")

    id = models.BigAutoField(primary_key=True)
    txn_at = models.DateTimeField(_("交易时间"))
    partner = _ref("issuance.IssuingPartner", _("机构"))
    reference = models.CharField(_("交易参考号"), max_length=40)
    card = _ref("issuance.Card", _("会员卡"))
    union = _ref("members.Union", _("所属工会"))
    merchant = _ref("merchants.Merchant", _("特约商户"), null=True)
    mid = models.CharField(_("商户号"), max_length=32, blank=True)
    category = _ref("merchants.MerchantCategory", _("类别"), null=True)
    mcc = models.CharField(_("MCC"), max_length=4, blank=True)
    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices)
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    kind = models.CharField(_("类型"), max_length=8, choices=Kind.choices, default=Kind.PURCHASE)
    original_reference = models.CharField(_("原交易参考号"), max_length=40, blank=True)
    txn_import = _ref("usage.TxnImport", _("导入"))

    class Meta:
        verbose_name = _("刷卡交易")
        verbose_name_plural = _("刷卡交易")
        db_table = "usage_cardtransaction"
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "txn_at", "reference"], name="usage_txn_partner_at_ref"
            ),
        ]
        indexes = [
            models.Index(fields=["txn_import"], name="usage_txn_import"),
        ]

    def __str__(self) -> str:
        return self.reference


class CardUsage(models.Model):
    """One row per card ever used."""

    card = models.OneToOneField(
        "issuance.Card", primary_key=True, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    union = _ref("members.Union", _("所属工会"))
    first_used_on = models.DateField(_("首次使用"))
    # not indexed: every reader filters it within a scan by union or a lookup by card, and an index
    # on it made each import's upsert of a card's row a non-HOT update (migration 0005)
    last_used_on = models.DateField(_("最近使用"))
    txn_count = models.PositiveIntegerField(_("交易笔数"), default=0)
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("用卡情况")
        verbose_name_plural = _("用卡情况")

    def __str__(self) -> str:
        return f"{self.card_id}: {self.txn_count}"


class UsageDay(models.Model):
    """Per day, union, category, at-union-merchant and channel: count, amount, distinct cards."""

    day = models.DateField(_("日期"))
    union = _ref("members.Union", _("所属工会"))
    category = _ref("merchants.MerchantCategory", _("类别"), null=True)
    at_union_merchant = models.BooleanField(_("特约商户"))
    channel = models.CharField(_("渠道"), max_length=8, choices=CardTransaction.Channel.choices)
    txn_count = models.PositiveIntegerField(_("交易笔数"), default=0)
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2, default=0)
    cards = models.PositiveIntegerField(_("用卡人数"), default=0)

    class Meta:
        verbose_name = _("每日用卡汇总")
        verbose_name_plural = _("每日用卡汇总")
        indexes = [models.Index(fields=["day", "union"], name="usage_day_union")]

    def __str__(self) -> str:
        return f"{self.day} {self.union_id} {self.channel}"


class MerchantMonth(models.Model):
    """Per union merchant and month: count, amount, distinct cards, cards with ≥ 2 transactions."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    month = models.DateField(_("月份"), help_text="first day of the month")
    txn_count = models.PositiveIntegerField(_("交易笔数"), default=0)
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2, default=0)
    cards = models.PositiveIntegerField(_("服务会员"), default=0)
    repeat_cards = models.PositiveIntegerField(_("回头客"), default=0)

    class Meta:
        verbose_name = _("商户月度用卡")
        verbose_name_plural = _("商户月度用卡")
        constraints = [models.UniqueConstraint(fields=["merchant", "month"], name="usage_merchant_month")]
        indexes = [models.Index(fields=["month"], name="usage_mm_month")]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.month:%Y-%m}"


class PartnerFeed(models.Model):
    """A partner's transaction feed: which default layout it follows (`merchants.usage.layouts`)
    and the partner's own overrides (header titles, codes, widths), edited in the admin."""

    partner = models.ForeignKey(
        "issuance.IssuingPartner", verbose_name=_("机构"), on_delete=models.CASCADE, related_name="+"
    )
    code = models.SlugField(_("代码"), max_length=20)
    name = models.CharField(_("名称"), max_length=100)
    base = models.CharField(_("基础格式"), max_length=20, default="bank")
    layout = models.JSONField(_("格式调整"), default=dict, blank=True, help_text=_("覆盖基础格式的键，JSON"))

    class Meta:
        verbose_name = _("交易明细格式")
        verbose_name_plural = _("交易明细格式")
        constraints = [
            models.UniqueConstraint(fields=["partner", "code"], name="usage_feed_code_per_partner")
        ]

    def __str__(self) -> str:
        return f"{self.partner.name} · {self.name}"

    def clean(self) -> None:
        from .layouts import feed_layout

        feed_layout(self.base, self.layout)

    def resolved_layout(self) -> dict:
        from .layouts import feed_layout

        return feed_layout(self.base, self.layout)


class MerchantCardMonth(models.Model):
    """Per union merchant, month and card: its purchases there. The memory behind
    MerchantMonth's distinct and repeat customers, so a day's import adds to them exactly
    without re-reading the month (see rollups.py)."""

    # no index of their own: the unique (merchant, month, card) serves the merchant, and nothing
    # reads this table by card (each would be one more index entry per new pair an import adds)
    merchant = _ref("merchants.Merchant", _("特约商户"), db_index=False)
    month = models.DateField(_("月份"))
    card = _ref("issuance.Card", _("会员卡"), db_index=False)
    purchases = models.PositiveIntegerField(_("消费笔数"), default=0)

    class Meta:
        verbose_name = _("商户会员月度消费")
        verbose_name_plural = _("商户会员月度消费")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "month", "card"], name="usage_merchant_card_month")
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.month:%Y-%m} {self.card_id}"


class ImportRollup(models.Model):
    """One roll-up (`rollups.PARTS`) applied for an import's stored rows. The roll-ups run after
    the rows are committed, each in its own transaction on its own connection (the four in
    parallel), and each writes this row in that same transaction: applied exactly once, whatever
    happens to the worker in between; a missing one is applied by the import's retry or by the
    next import (`rollups.catch_up`)."""

    txn_import = models.ForeignKey(TxnImport, on_delete=models.CASCADE, related_name="rollups")
    part = models.CharField(max_length=20)

    class Meta:
        verbose_name = _("已汇总")
        verbose_name_plural = _("已汇总")
        constraints = [
            models.UniqueConstraint(fields=["txn_import", "part"], name="usage_import_rollup_once")
        ]

    def __str__(self) -> str:
        return f"{self.txn_import_id} {self.part}"
