"""Demo card usage: the bank's and the bus company's feed layouts, a merchant number (or two) for
every demo merchant, and the last three weeks of transactions of the demo's live cards, imported
through the real importer (one bank file and one transit file), so the import list, the
subsidies and the analytics pages have something to show. Idempotent."""

import csv
import io
import random
from datetime import datetime, time, timedelta

from django.core.files.base import ContentFile
from django.utils import timezone

from cardportal.jobs import job_queue
from issuance.models import Card, IssuingPartner
from merchants.models import Merchant

from . import importer
from .layouts import FIELDS
from .models import MerchantMID, PartnerFeed, TxnImport

DAYS = 21
TRANSIT = ("cz-transit", "沧州公交集团")
HEADER = list(FIELDS.values())  # the bank layout's own column titles, in order


def load(*, stdout=None) -> None:
    bank = IssuingPartner.objects.filter(is_primary=True).order_by("id").first()
    if bank is None or TxnImport.objects.exists():
        return
    transit, _ = IssuingPartner.objects.get_or_create(
        code=TRANSIT[0], defaults={"name": TRANSIT[1], "is_primary": False}
    )
    PartnerFeed.objects.get_or_create(
        partner=bank, code="daily", defaults={"name": "日交易明细", "base": "bank"}
    )
    PartnerFeed.objects.get_or_create(
        partner=bank, code="fixed", defaults={"name": "日交易明细（定长）", "base": "bank_fixed"}
    )
    PartnerFeed.objects.get_or_create(
        partner=transit, code="rides", defaults={"name": "乘车明细", "base": "transit"}
    )
    merchants = list(Merchant.objects.order_by("id"))
    for i, merchant in enumerate(merchants):
        MerchantMID.objects.get_or_create(
            partner=bank, mid=f"10431{merchant.pk:010d}", defaults={"merchant": merchant}
        )
        if i % 4 == 0:  # a second till with its own number
            MerchantMID.objects.get_or_create(
                partner=bank, mid=f"10432{merchant.pk:010d}", defaults={"merchant": merchant}
            )
    numbers = list(Card.objects.numbered_live().order_by("id").values_list("number", flat=True))
    if not numbers:
        return
    mids = list(MerchantMID.objects.filter(partner=bank).values_list("mid", "merchant__name"))
    bank_csv, transit_txt = _files(random.Random(18), numbers, mids)
    for partner, code, name, content in (
        (bank, "daily", "银行日交易明细-演示.csv", bank_csv),
        (transit, "rides", "公交乘车明细-演示.txt", transit_txt),
    ):
        _import(partner, code, name, content)
    if stdout is not None:
        stdout.write(f"已导入演示刷卡交易：{TxnImport.objects.filter(job_status='done').count()} 个文件。")


def _files(rng: random.Random, numbers: list[str], mids: list[tuple[str, str]]) -> tuple[bytes, bytes]:
    today = timezone.localdate()
    out, rides = io.StringIO(), []
    writer = csv.writer(out)
    writer.writerow(HEADER)
    active = numbers[: max(1, len(numbers) * 2 // 3)]  # a third of the cards never used
    seq = 0
    for back in range(DAYS, 0, -1):
        day = today - timedelta(days=back)
        for _ in range(max(5, len(active) // 10)):
            seq += 1
            number = active[int(len(active) * rng.random() ** 2)]
            at = datetime.combine(day, time(8)) + timedelta(seconds=rng.randrange(0, 13 * 3600))
            stamp = at.strftime("%Y-%m-%d %H:%M:%S")
            ref = f"DEMO{day:%Y%m%d}{seq:06d}"
            if rng.random() < 0.45:
                mid, name = mids[int(len(mids) * rng.random() ** 1.5)]
                mcc, channel = "5411", "POS"
            else:
                mid, name, mcc = f"8{rng.randrange(10**13, 10**14)}", "其他商户", "5812"
                channel = rng.choice(["POS", "线上"])
            amount = f"{rng.lognormvariate(4.0, 0.8):.2f}"
            writer.writerow([ref, number, stamp, amount, mid, name, mcc, channel, "消费", ""])
            if rng.random() < 0.03:
                writer.writerow(
                    [ref + "R", number, stamp, f"-{amount}", mid, name, mcc, channel, "退货", ref]
                )
            if rng.random() < 0.3:
                rides.append(
                    f"BUS{day:%Y%m%d}{seq:06d}|{number}|{at:%Y%m%d%H%M%S}|2.00|TRANSIT0001|沧州公交|消费|"
                )
    return out.getvalue().encode("utf-8"), ("\n".join(rides) + "\n").encode("utf-8")


def _import(partner, code: str, name: str, content: bytes) -> None:
    imp = TxnImport(partner=partner, kind=code, file_name=name, sha256="demo")
    imp.file.save(f"demo-{code}{name[-4:]}", ContentFile(content), save=False)
    imp.save()
    job_queue(imp, phase="import")
    importer.run_import(import_id=imp.pk)
