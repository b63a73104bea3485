"""Builders for the feed tests: a partner with its feeds, cards with numbers, merchants with MIDs,
feed files, and an import run the way a user starts it (service, task inline)."""

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile

from merchants.usage import services
from merchants.usage.models import MerchantMID, PartnerFeed, TxnImport
from tests.factories import ROLE, make_member, make_staff
from tests.issuance.factories import make_partner
from tests.merchants.factories import give_card, make_merchant

HEADER = [
    "交易参考号",
    "卡号",
    "交易时间",
    "交易金额",
    "商户号",
    "商户名称",
    "MCC",
    "渠道",
    "交易类型",
    "原交易参考号",
]


class World:
    def __init__(self, tree):
        self.tree = tree
        self.bank = make_partner()
        self.feed = PartnerFeed.objects.create(
            partner=self.bank, code="daily", name="日交易明细", base="bank"
        )
        self.fixed = PartnerFeed.objects.create(
            partner=self.bank, code="fixed", name="定长", base="bank_fixed"
        )
        self.transit_partner = make_partner("bus", "沧州公交")
        self.transit = PartnerFeed.objects.create(
            partner=self.transit_partner, code="rides", name="乘车", base="transit"
        )
        self.card_a = give_card(make_member(tree.unit_a1, name="甲"))
        self.card_b = give_card(make_member(tree.unit_b1, name="乙"))
        self.lost = give_card(make_member(tree.unit_a1, name="丙"), to_status="issued")
        self.lost.status = "lost"
        self.lost.save(update_fields=["status"])
        self.shop = make_merchant(tree.county_a, name="好药房")
        MerchantMID.objects.create(merchant=self.shop, partner=self.bank, mid="104310000000001")
        self.operator = make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")


def row(
    ref,
    card,
    at="2026-11-15 12:00:00",
    amount="100.00",
    mid="104310000000001",
    kind="消费",
    original="",
    channel="POS",
):
    number = card if isinstance(card, str) else card.number
    return [ref, number, at, amount, mid, "好药房", "5411", channel, kind, original]


def csv_bytes(rows, header=HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def run_import(feed, content: bytes, name: str, actor, capture) -> TxnImport:
    """Upload and import as the page does (the task runs inline once the upload commits)."""
    with capture(execute=True):
        imp = services.import_create(feed=feed, upload=SimpleUploadedFile(name, content), actor=actor)
    imp.refresh_from_db()
    return imp
