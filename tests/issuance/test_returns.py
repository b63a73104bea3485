import pytest

from cardportal.errors import ApplicationError
from issuance.cardnumbers import luhn_complete
from issuance.lifecycle import recount_union_months, stored_union_months
from issuance.models import BankBatch, BankFileImport, Card, CardEvent
from issuance.services.bankfiles import import_create
from issuance.services.batches import batch_create
from issuance.services.cards import cards_requeue

from .factories import card_number, csv_bytes, make_card, xlsx_bytes

pytestmark = pytest.mark.django_db
S = Card.Status
IDS = [
    "11010519491231002X",
    "110105198506150014",
    "110105198506150030",
    "110105198506150057",
    "110105198506150073",
]
HEADER = ["证件号码", "姓名", "卡号", "状态", "失败原因"]


@pytest.fixture
def batch(tree, partner, city_staff, run_tasks_inline, django_capture_on_commit_callbacks):
    for i, id_number in enumerate(IDS):
        make_card(tree.unit_a1, name=f"会员{i}", id_number=id_number)
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_create(partner=partner, union=tree.unit_a1, actor=city_staff)
    batch.refresh_from_db()
    return batch


def _import(batch, actor, data, name="回盘.xlsx", capture=None):
    with capture(execute=True):
        imp = import_create(
            kind="return", union=batch.union, batch=batch, file_name=name, data=data, actor=actor
        )
    imp.refresh_from_db()
    return imp


def test_return_file_reconciles_matches_failures_unknowns_duplicates_and_missing(
    batch, bank_user, django_capture_on_commit_callbacks
):
    taken = make_card(batch.union, status=S.ISSUED)  # a number already used elsewhere
    n0, n1 = card_number(), card_number()
    data = xlsx_bytes(
        [
            ["批量开卡结果"],  # a title row above the header
            HEADER,
            [IDS[0], "会员0", n0, "成功", ""],
            [IDS[1], "会员1", "", "失败", "证件已过期"],
            ["110105198001010016", "陌生人", card_number(), "成功", ""],
            [IDS[2], "会员2", n1, "成功", ""],
            [IDS[2], "会员2", n1, "成功", ""],
            [IDS[3], "会员3", n0[:-1] + str((int(n0[-1]) + 1) % 10), "成功", ""],
            [IDS[4], "会员4", taken.number, "成功", ""],
        ]
    )
    imp = _import(batch, bank_user, data, capture=django_capture_on_commit_callbacks)
    assert imp.job_status == "done", imp.job_message
    counts = imp.report["counts"]
    assert counts == {
        "issued": 1,
        "rejected": 1,
        "unknown": 1,
        "duplicate": 2,
        "invalid": 1,
        "conflict": 1,
        "missing": 0,
        "unchanged": 0,
        "rows": 7,
    }
    cards = {c.member.name: c for c in Card.objects.filter(batch=batch).select_related("member")}
    assert (cards["会员0"].status, cards["会员0"].number) == (S.ISSUED, n0)
    assert (cards["会员1"].status, cards["会员1"].bank_reason) == (S.REJECTED_BY_BANK, "证件已过期")
    assert {cards[f"会员{i}"].status for i in (2, 3, 4)} == {S.IN_BATCH}
    lists = imp.report["lists"]
    assert lists["unknown"][0]["id"] == "110105********0016" and lists["unknown"][0]["row"] == 5
    assert [d["row"] for d in lists["duplicate"]] == [6, 7]
    assert "校验位" in lists["invalid"][0]["reason"]
    assert lists["conflict"][0]["reason"] == "卡号已被其他会员卡使用"
    batch.refresh_from_db()
    assert batch.status == BankBatch.BatchStatus.PARTLY_RETURNED
    assert stored_union_months() == recount_union_months()


def test_rows_missing_from_the_return_are_listed(batch, bank_user, django_capture_on_commit_callbacks):
    data = csv_bytes([HEADER, [IDS[0], "会员0", card_number(), "成功", ""]])
    imp = _import(batch, bank_user, data, name="return.csv", capture=django_capture_on_commit_callbacks)
    assert imp.report["counts"]["missing"] == 4
    assert sorted(m["name"] for m in imp.report["lists"]["missing"]) == ["会员1", "会员2", "会员3", "会员4"]


def test_reimporting_the_same_file_changes_nothing(batch, bank_user, django_capture_on_commit_callbacks):
    rows = (
        [HEADER]
        + [[i, "", card_number(), "成功", ""] for i in IDS[:3]]
        + [[IDS[3], "", "", "失败", "照片不清"]]
    )
    data = xlsx_bytes(rows)
    first = _import(batch, bank_user, data, capture=django_capture_on_commit_callbacks)
    state = list(Card.objects.order_by("pk").values_list("status", "number", "bank_reason", "updated_at"))
    events, counters = CardEvent.objects.count(), stored_union_months()
    # when the same file is uploaded again
    second = _import(batch, bank_user, data, capture=django_capture_on_commit_callbacks)
    # then it is recognised, nothing moves, and the report says everything was already applied
    assert second.same_as == first and second.sha256 == first.sha256
    assert second.report["counts"]["unchanged"] == 4
    assert second.report["counts"]["issued"] == second.report["counts"]["rejected"] == 0
    assert (
        list(Card.objects.order_by("pk").values_list("status", "number", "bank_reason", "updated_at"))
        == state
    )
    assert CardEvent.objects.count() == events
    assert stored_union_months() == counters == recount_union_months()


def test_rejected_card_can_be_fixed_and_batched_again(
    batch, bank_user, city_staff, partner, django_capture_on_commit_callbacks
):
    _import(
        batch,
        bank_user,
        xlsx_bytes([HEADER, [IDS[0], "", "", "失败", "手机号不符"]]),
        capture=django_capture_on_commit_callbacks,
    )
    card = Card.objects.get(member__name="会员0")
    assert cards_requeue(cards=[card.pk], actor=city_staff) == 1
    with django_capture_on_commit_callbacks(execute=True):
        second = batch_create(partner=partner, union=batch.union, actor=city_staff)
    card.refresh_from_db()
    assert (card.status, card.batch_id) == (S.IN_BATCH, second.pk)


def test_file_without_the_id_column_fails_the_job_and_changes_nothing(
    batch, bank_user, django_capture_on_commit_callbacks
):
    imp = _import(
        batch,
        bank_user,
        xlsx_bytes([["姓名", "卡号"], ["会员0", luhn_complete("621226000000000001")]]),
        capture=django_capture_on_commit_callbacks,
    )
    assert imp.job_status == "failed" and "证件号码" in imp.job_message
    assert set(Card.objects.values_list("status", flat=True)) == {S.IN_BATCH}


def test_clerk_cannot_upload_a_return_file(batch, clerk):
    with pytest.raises(ApplicationError):
        import_create(
            kind="return", union=batch.union, batch=batch, file_name="a.csv", data=b"x", actor=clerk
        )
    assert not BankFileImport.objects.exists()


def test_reconciliation_report_page_and_excel(client, batch, bank_user, django_capture_on_commit_callbacks):
    data = xlsx_bytes([HEADER, [IDS[0], "", card_number(), "成功", ""], [IDS[1], "", "", "失败", "照片不清"]])
    imp = _import(batch, bank_user, data, capture=django_capture_on_commit_callbacks)
    client.force_login(bank_user)
    page = client.get(f"/issuance/imports/{imp.pk}/").content.decode()
    assert "照片不清" in page and "未回盘（3）" in page
    import io

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(client.get(f"/issuance/imports/{imp.pk}/report.xlsx").content))
    assert book.sheetnames == ["汇总", "制卡成功", "银行退回", "未回盘"]
    assert list(book["银行退回"].iter_rows(values_only=True))[2][3] == "照片不清"
