"""The transaction feed (issue 18): idempotent on the partner's reference, reconciled, rolled up."""

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.db import connection
from django.db.models import Sum

from merchants.usage import rollups
from merchants.usage.models import CardTransaction, CardUsage, MerchantMonth, UsageDay
from merchants.usage.signals import transactions_imported

from .helpers import World, csv_bytes, row, run_import

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def world(tree, settings, tmp_path, run_tasks_inline):
    settings.MEDIA_ROOT = tmp_path / "media"
    return World(tree)


def test_the_same_file_twice_counts_nothing_twice(world, django_capture_on_commit_callbacks):
    content = csv_bytes(
        [row("R1", world.card_a), row("R2", world.card_a), row("R3", world.card_b, amount="50.5")]
    )
    first = run_import(world.feed, content, "day.csv", world.operator, django_capture_on_commit_callbacks)
    again = run_import(world.feed, content, "day.csv", world.operator, django_capture_on_commit_callbacks)

    assert (first.job_status, first.rows, first.inserted, first.duplicates) == ("done", 3, 3, 0)
    assert (again.job_status, again.rows, again.inserted, again.duplicates) == ("done", 3, 0, 3)
    assert CardTransaction.objects.count() == 3
    assert UsageDay.objects.aggregate(n=Sum("txn_count"), a=Sum("amount")) == {"n": 3, "a": Decimal("250.50")}
    month = MerchantMonth.objects.get(merchant=world.shop, month=date(2026, 11, 1))
    assert (month.txn_count, month.amount, month.cards, month.repeat_cards) == (3, Decimal("250.50"), 2, 1)
    assert CardUsage.objects.get(card=world.card_a).txn_count == 2


def test_overlapping_files_store_each_transaction_once(world, django_capture_on_commit_callbacks):
    morning = csv_bytes([row("R1", world.card_a, at="2026-11-15 09:00:00"), row("R2", world.card_b)])
    whole_day = csv_bytes(
        [
            row("R1", world.card_a, at="2026-11-15 09:00:00"),
            row("R2", world.card_b),
            row("R3", world.card_b, at="2026-11-16 18:00:00"),
        ]
    )
    run_import(world.feed, morning, "am.csv", world.operator, django_capture_on_commit_callbacks)
    later = run_import(world.feed, whole_day, "day.csv", world.operator, django_capture_on_commit_callbacks)

    assert (later.inserted, later.duplicates) == (1, 2)
    assert CardTransaction.objects.count() == 3
    # card B bought twice at the shop this month, once per file: a repeat customer, counted once
    month = MerchantMonth.objects.get(merchant=world.shop)
    assert (month.txn_count, month.cards, month.repeat_cards) == (3, 2, 1)
    days = {(d.day, d.union_id): d.cards for d in UsageDay.objects.all()}  # one row per union
    assert days == {
        (date(2026, 11, 15), world.card_a.union_id): 1,
        (date(2026, 11, 15), world.card_b.union_id): 1,
        (date(2026, 11, 16), world.card_b.union_id): 1,
    }
    usage = CardUsage.objects.get(card=world.card_b)
    assert (usage.first_used_on, usage.last_used_on, usage.txn_count) == (
        date(2026, 11, 15),
        date(2026, 11, 16),
        2,
    )


def test_a_reference_twice_in_one_file_is_stored_once(world, django_capture_on_commit_callbacks):
    """The rows later than anything stored go in by a plain INSERT; a repeat inside the file
    makes it fail, and the whole file then goes the ON CONFLICT way, each row counted once."""
    stored = csv_bytes([row("R1", world.card_a, at="2026-11-15 09:00:00")])
    repeated = csv_bytes(
        [
            row("R1", world.card_a, at="2026-11-15 09:00:00"),  # stored already
            row("R2", world.card_b, at="2026-11-16 10:00:00"),
            row("R2", world.card_b, at="2026-11-16 10:00:00"),  # the bank sent it twice
            row("R3", world.card_a, at="2026-11-16 11:00:00"),
        ]
    )
    run_import(world.feed, stored, "a.csv", world.operator, django_capture_on_commit_callbacks)
    later = run_import(world.feed, repeated, "b.csv", world.operator, django_capture_on_commit_callbacks)

    assert (later.job_status, later.rows, later.inserted, later.duplicates) == ("done", 4, 2, 2)
    assert sorted(CardTransaction.objects.values_list("reference", flat=True)) == ["R1", "R2", "R3"]
    assert UsageDay.objects.filter(day=date(2026, 11, 16)).aggregate(n=Sum("txn_count")) == {"n": 2}
    assert CardUsage.objects.get(card=world.card_b).txn_count == 1
    assert CardUsage.objects.get(card=world.card_a).txn_count == 2


def test_usage_days_equal_a_recount_whether_a_file_brings_a_new_day_or_adds_to_one(
    world, django_capture_on_commit_callbacks
):
    """A new day is counted from the import's rows, a day already held is recounted from the table:
    card A swiping again on the 15th in the second file is still one card that day."""
    first = csv_bytes([row("R1", world.card_a, at="2026-11-15 09:00:00")])
    second = csv_bytes(
        [
            row("R2", world.card_a, at="2026-11-15 20:00:00", amount="20.00"),
            row("R3", world.card_a, at="2026-11-16 08:00:00"),
            row("R4", world.card_a, at="2026-11-16 09:00:00", amount="5.00"),
        ]
    )
    run_import(world.feed, first, "a.csv", world.operator, django_capture_on_commit_callbacks)
    run_import(world.feed, second, "b.csv", world.operator, django_capture_on_commit_callbacks)

    def usage_days():
        return {
            (d.day, d.txn_count, d.amount, d.cards) for d in UsageDay.objects.filter(union=world.card_a.union)
        }

    assert usage_days() == {
        (date(2026, 11, 15), 2, Decimal("120.00"), 1),
        (date(2026, 11, 16), 2, Decimal("105.00"), 1),
    }
    kept = usage_days()
    rollups.rebuild_days([date(2026, 11, 15), date(2026, 11, 16)])
    assert usage_days() == kept


def test_unknown_cards_cards_not_live_unknown_mids_and_bad_rows_are_reported(
    world, django_capture_on_commit_callbacks
):
    content = csv_bytes(
        [
            row("R1", world.card_a),
            row("R2", "6222020000000012345"),  # no such card: reported, not stored
            row("R3", world.lost),  # a lost card: stored and reported
            row("R4", world.card_b, mid="999999"),  # not a union merchant: stored, merchant empty
            row("R5", world.card_b, at="2026-13-01 10:00:00"),
            row("R6", world.card_b, amount="12,5元"),
        ]
    )
    imp = run_import(world.feed, content, "day.csv", world.operator, django_capture_on_commit_callbacks)

    assert (imp.rows, imp.inserted, imp.unknown_card, imp.card_not_live, imp.unknown_mid, imp.rejected) == (
        6,
        3,
        1,
        1,
        1,
        2,
    )
    assert set(CardTransaction.objects.values_list("reference", flat=True)) == {"R1", "R3", "R4"}
    assert CardTransaction.objects.get(reference="R4").merchant_id is None
    report = imp.report
    assert report["unknown_cards"] == [{"line": 3, "card": "622202*********2345", "reference": "R2"}]
    assert report["cards_not_live"][0]["status"] == "已挂失"
    assert report["unknown_mids"] == [{"mid": "999999", "count": 1}]
    errors = {r["line"]: (r["column"], r["error"]) for r in report["rejected_rows"]}
    assert errors[6][0] == "交易时间" and "无法识别" in errors[6][1] or "不是有效" in errors[6][1]
    assert errors[7][0] == "交易金额" and "应为数字" in errors[7][1]
    assert "6222020000000012345" not in str(report)
    assert imp.job_message.startswith("共 6 行：新增交易 3")


def test_a_refund_is_stored_negative_with_its_original_reference(world, django_capture_on_commit_callbacks):
    content = csv_bytes(
        [
            row("R1", world.card_a, amount="80.00"),
            row("R1-RF", world.card_a, amount="80.00", kind="退货", original="R1"),
        ]
    )
    run_import(world.feed, content, "day.csv", world.operator, django_capture_on_commit_callbacks)

    refund = CardTransaction.objects.get(reference="R1-RF")
    assert (refund.kind, refund.amount, refund.original_reference) == ("refund", Decimal("-80.00"), "R1")
    month = MerchantMonth.objects.get(merchant=world.shop)
    assert (month.amount, month.cards, month.repeat_cards) == (Decimal("0.00"), 1, 0)


def test_fixed_width_and_transit_text_files(world, django_capture_on_commit_callbacks):
    def fixed(ref, number, at, fen, mid, mcc, channel, kind, original, name):
        cells = [
            (ref, 24),
            (number, 19),
            (at, 14),
            (fen, 12),
            (mid, 15),
            (mcc, 4),
            (channel, 2),
            (kind, 2),
            (original, 24),
        ]
        line = b"".join(v.encode("gbk").ljust(w) for v, w in cells)
        return line + name.encode("gbk").ljust(40)

    lines = [
        b"HDR20261115",
        fixed(
            "F1",
            world.card_a.number,
            "20261115093000",
            "1250",
            "104310000000001",
            "5411",
            "01",
            "00",
            "",
            "好药房",
        ),
    ]
    imp = run_import(
        world.fixed,
        b"\r\n".join(lines) + b"\r\n",
        "day.txt",
        world.operator,
        django_capture_on_commit_callbacks,
    )
    assert (imp.job_status, imp.inserted) == ("done", 1), imp.job_message
    txn = CardTransaction.objects.get(reference="F1")
    assert (txn.amount, txn.channel, txn.merchant_id) == (Decimal("12.50"), "pos", world.shop.pk)

    rides = f"B1|{world.card_b.number}|20261115073000|2.00|BUS01|公交1路|消费|\n".encode()
    imp = run_import(world.transit, rides, "rides.txt", world.operator, django_capture_on_commit_callbacks)
    assert (imp.job_status, imp.inserted) == ("done", 1), imp.job_message
    assert CardTransaction.objects.get(reference="B1").channel == "transit"


def test_an_xlsx_feed_and_a_card_number_excel_turned_into_a_number(
    world, tmp_path, django_capture_on_commit_callbacks
):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["交易参考号", "卡号", "交易时间", "交易金额", "商户号", "渠道"])
    sheet.append(["X1", world.card_a.number, "2026-11-15 10:00:00", 30, "104310000000001", "POS"])
    sheet.append(["X2", float(world.card_b.number), "2026-11-15 10:00:00", 30, "104310000000001", "POS"])
    path = tmp_path / "day.xlsx"
    book.save(path)
    imp = run_import(
        world.feed, path.read_bytes(), "day.xlsx", world.operator, django_capture_on_commit_callbacks
    )

    assert (imp.inserted, imp.rejected) == (1, 1)
    assert "存成了数字" in imp.report["rejected_rows"][0]["error"]


def test_transactions_imported_is_sent_on_commit(world, django_capture_on_commit_callbacks):
    seen = []

    def receiver(sender, txn_import_id, **kwargs):
        seen.append(txn_import_id)

    transactions_imported.connect(receiver)
    try:
        imp = run_import(
            world.feed,
            csv_bytes([row("R1", world.card_a)]),
            "d.csv",
            world.operator,
            django_capture_on_commit_callbacks,
        )
        again = run_import(
            world.feed,
            csv_bytes([row("R1", world.card_a)]),
            "d.csv",
            world.operator,
            django_capture_on_commit_callbacks,
        )
    finally:
        transactions_imported.disconnect(receiver)
    assert seen == [imp.pk]  # the second import stored nothing new
    assert again.inserted == 0


@pytest.mark.postgres
def test_month_partitions_are_created_for_new_months(world, django_capture_on_commit_callbacks):
    content = csv_bytes(
        [row("P1", world.card_a, at="2031-03-31 23:30:00"), row("P2", world.card_a, at="2031-04-01 00:30:00")]
    )
    run_import(world.feed, content, "d.csv", world.operator, django_capture_on_commit_callbacks)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reference, tableoid::regclass::text FROM usage_cardtransaction ORDER BY reference"
        )
        assert cursor.fetchall() == [
            ("P1", "usage_cardtransaction_y2031m03"),
            ("P2", "usage_cardtransaction_y2031m04"),
        ]


@pytest.mark.postgres
def test_a_new_months_partition_gets_statistics_and_a_small_day_leaves_them_to_autovacuum(
    world, django_capture_on_commit_callbacks
):
    """The planner must not take a month the import just filled for empty (the roll-ups and the
    subsidies plan their joins on it); a file growing a month by under a tenth is not worth an
    ANALYZE inside the import (0.7 s of a month of 15 M rows), autovacuum's own threshold."""

    def counted():
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'usage_cardtransaction_y2031m05'")
            return cursor.fetchone()[0]

    first = [row(f"M{i}", world.card_a, at=f"2031-05-{1 + i % 28:02d} 10:00:00") for i in range(30)]
    run_import(world.feed, csv_bytes(first), "may.csv", world.operator, django_capture_on_commit_callbacks)
    assert counted() == 30
    small = [
        row("M30", world.card_b, at="2031-05-29 10:00:00"),
        row("M31", world.card_b, at="2031-05-29 11:00:00"),
    ]
    run_import(world.feed, csv_bytes(small), "d29.csv", world.operator, django_capture_on_commit_callbacks)
    assert counted() == 30
    large = [row(f"N{i}", world.card_b, at="2031-05-30 10:00:00") for i in range(4)]
    run_import(world.feed, csv_bytes(large), "d30.csv", world.operator, django_capture_on_commit_callbacks)
    assert counted() == 36


def test_a_mid_with_a_tab_or_backslash_is_stored_as_sent(world, django_capture_on_commit_callbacks):
    # The COPY text is written straight from the cells; a MID that would break that text takes
    # the escaping path, its neighbours in the file with it, and every row still arrives intact.
    content = csv_bytes(
        [row("T1", world.card_a, mid="AB\tC"), row("T2", world.card_a, mid="D\\E"), row("T3", world.card_b)]
    )
    imp = run_import(world.feed, content, "day.csv", world.operator, django_capture_on_commit_callbacks)

    assert (imp.job_status, imp.inserted, imp.rejected) == ("done", 3, 0), imp.job_message
    stored = dict(CardTransaction.objects.values_list("reference", "mid"))
    assert stored == {"T1": "AB\tC", "T2": "D\\E", "T3": "104310000000001"}
    assert CardTransaction.objects.get(reference="T3").merchant_id == world.shop.pk


def test_the_report_lists_at_most_its_cap_but_counts_every_row(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    from merchants.usage import importer

    monkeypatch.setattr(importer, "REPORT_CAP", 2)
    content = csv_bytes(
        [row(f"U{i}", f"62220200000000{i:05d}") for i in range(5)]
        + [row(f"M{i}", world.card_a, mid=f"99{i % 3}") for i in range(6)]
        + [row("L1", world.lost), row("L2", world.lost)]
    )
    imp = run_import(world.feed, content, "day.csv", world.operator, django_capture_on_commit_callbacks)

    assert (imp.rows, imp.inserted, imp.unknown_card, imp.unknown_mid, imp.card_not_live) == (13, 8, 5, 6, 2)
    report = imp.report
    assert [r["line"] for r in report["unknown_cards"]] == [2, 3]  # the first ones, by line
    assert len(report["unknown_mids"]) == 2 and report["unknown_mid_distinct"] == 3
    assert [r["line"] for r in report["cards_not_live"]] == [13, 14]
    assert imp.job_message.startswith("共 13 行：新增交易 8，重复（已导入过）0，未知卡号 5")


def test_the_last_days_of_a_month_are_taken_and_a_day_that_does_not_exist_is_refused(
    world, django_capture_on_commit_callbacks
):
    content = csv_bytes(
        [
            row("D1", world.card_a, at="2026-11-30 23:59:59"),
            row("D2", world.card_a, at="2026-12-31 00:00:01"),
            row("D3", world.card_a, at="2028-02-29 10:00:00"),  # a leap day
            row("D4", world.card_a, at="2026-11-31 10:00:00"),  # November has 30 days
            row("D5", world.card_a, at="2027-02-29 10:00:00"),  # not a leap year
        ]
    )
    imp = run_import(world.feed, content, "day.csv", world.operator, django_capture_on_commit_callbacks)

    assert (imp.inserted, imp.rejected) == (3, 2), imp.job_message
    local = {
        t.reference: t.txn_at.astimezone(SH).strftime("%Y-%m-%d %H:%M:%S")
        for t in CardTransaction.objects.all()
    }
    assert local == {"D1": "2026-11-30 23:59:59", "D2": "2026-12-31 00:00:01", "D3": "2028-02-29 10:00:00"}
    errors = {r["line"]: (r["column"], r["error"]) for r in imp.report["rejected_rows"]}
    assert errors[5] == ("交易时间", "交易时间“2026-11-31 10:00:00”不是有效的日期时间")
    assert errors[6] == ("交易时间", "交易时间“2027-02-29 10:00:00”不是有效的日期时间")


def test_roll_ups_take_the_local_day_either_side_of_midnight(world, django_capture_on_commit_callbacks):
    """The roll-ups group by the local day the file wrote (carried from the reader): 00:00:01 on
    1 December in Cangzhou is still 30 November in UTC, and counts for December. The leap day goes
    the reader's slow path (`stage`), the others its fast path."""
    content = csv_bytes(
        [
            row("M1", world.card_a, at="2026-11-30 23:59:59"),
            row("M2", world.card_a, at="2026-12-01 00:00:01"),
            row("M3", world.card_b, at="2028-02-29 00:30:00"),
        ]
    )
    imp = run_import(world.feed, content, "edge.csv", world.operator, django_capture_on_commit_callbacks)

    assert (imp.inserted, imp.rejected) == (3, 0), imp.job_message
    days = {(d.day, d.union_id): d.txn_count for d in UsageDay.objects.all()}
    assert days == {
        (date(2026, 11, 30), world.card_a.union_id): 1,
        (date(2026, 12, 1), world.card_a.union_id): 1,
        (date(2028, 2, 29), world.card_b.union_id): 1,
    }
    months = dict(MerchantMonth.objects.values_list("month", "txn_count"))
    assert months == {date(2026, 11, 1): 1, date(2026, 12, 1): 1, date(2028, 2, 1): 1}
    usage = CardUsage.objects.get(card=world.card_a)
    assert (usage.first_used_on, usage.last_used_on) == (date(2026, 11, 30), date(2026, 12, 1))
    assert CardUsage.objects.get(card=world.card_b).first_used_on == date(2028, 2, 29)
