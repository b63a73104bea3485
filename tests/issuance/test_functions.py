"""A card function a second partner enables (seeds 002/003, Harbin: the bank issues the card, the
transit company adds the transit function): its lifecycle, the partner's hand-off file, the
reconciliation of its return file, and who may see and do what."""

import io

import pytest
from django.contrib.messages import get_messages
from openpyxl import load_workbook

from cardportal.audit import AuditEntry
from cardportal.errors import ApplicationError
from issuance.lifecycle import cards_transition
from issuance.models import BankFileImport, Card, CardFunction, IssuingPartner
from issuance.services.bankfiles import import_create
from issuance.services.batches import batch_create
from issuance.services.functions import function_handoff_open, functions_request

from ..factories import ROLE, make_staff
from .factories import card_number, make_card, make_partner, xlsx_bytes

pytestmark = pytest.mark.django_db
S = Card.Status
F = CardFunction.Status
IDS = ["11010519491231002X", "110105198506150014", "110105198506150030", "110105198506150057"]
HEADER = ["卡号", "姓名", "开通结果", "未开通原因"]


def make_transit(code="hrb-transit", name="哈尔滨城市通智能卡有限公司") -> IssuingPartner:
    return IssuingPartner.objects.create(
        code=code, name=name, is_primary=False, role=IssuingPartner.Role.FUNCTION, function_kind="transit"
    )


@pytest.fixture
def transit(db):
    return make_transit()


@pytest.fixture
def batch(tree, partner, city_staff, run_tasks_inline, django_capture_on_commit_callbacks):
    """A bank batch of four cards: three issued by the bank, one refused by it."""
    for i, id_number in enumerate(IDS):
        make_card(tree.unit_a1, name=f"会员{i}", id_number=id_number)
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_create(partner=partner, union=tree.unit_a1, actor=city_staff)
    cards = list(Card.objects.filter(batch=batch).order_by("id"))
    cards_transition(
        cards=[c.pk for c in cards[:3]],
        to_status=S.ISSUED,
        updates={c.pk: {"number": card_number()} for c in cards[:3]},
    )
    cards_transition(cards=[cards[3].pk], to_status=S.REJECTED_BY_BANK)
    batch.refresh_from_db()
    return batch


def numbers(batch) -> list[str]:
    return list(
        Card.objects.filter(batch=batch, number__isnull=False).order_by("id").values_list("number", flat=True)
    )


def read_xlsx(data: bytes) -> list[list]:
    return [list(r) for r in load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True)]


def upload(batch, partner, actor, data, capture, name="交通回盘.xlsx") -> BankFileImport:
    with capture(execute=True):
        imp = import_create(
            kind="function",
            union=batch.union,
            batch=batch,
            partner=partner,
            file_name=name,
            data=data,
            actor=actor,
        )
    imp.refresh_from_db()
    return imp


def test_handoff_lists_the_issued_cards_with_full_number_and_masked_id_and_marks_them_sent(
    batch, transit, bank_user
):
    name, data = function_handoff_open(batch=batch, partner=transit, actor=bank_user)
    rows = read_xlsx(data)
    assert name.startswith("哈尔滨城市通智能卡有限公司_交通功能开通清单_") and name.endswith(".xlsx")
    assert rows[0] == ["序号", "卡号", "姓名", "证件号码", "基层工会"]
    assert [r[1] for r in rows[1:]] == numbers(batch)  # the bank-refused card is not in it
    assert [r[2] for r in rows[1:]] == ["会员0", "会员1", "会员2"]
    body = str(rows)
    assert not any(i in body for i in IDS)  # no full ID number, no phone
    assert rows[1][3].startswith("110105") and "*" in rows[1][3]
    assert set(CardFunction.objects.values_list("status", flat=True)) == {F.SENT}
    entry = AuditEntry.objects.get(verb="download.function_handoff")
    assert entry.actor == bank_user and entry.data == {"partner": "hrb-transit", "rows": 3}


def test_the_partners_own_layout_is_used(batch, transit, bank_user):
    transit.handoff_layout = {
        "format": "csv",
        "columns": [{"title": "会员卡号", "field": "card_number"}, {"title": "持卡人", "field": "name"}],
    }
    transit.save()
    _name, data = function_handoff_open(batch=batch, partner=transit, actor=bank_user)
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == "会员卡号,持卡人" and len(lines) == 4


def test_lifecycle_request_once_then_sent_then_enabled_or_refused(
    batch, transit, bank_user, django_capture_on_commit_callbacks
):
    assert functions_request(batch=batch, partner=transit, actor=bank_user) == 3
    assert functions_request(batch=batch, partner=transit, actor=bank_user) == 0  # unique per card
    assert set(CardFunction.objects.values_list("status", flat=True)) == {F.REQUESTED}
    with pytest.raises(ApplicationError) as refused:  # not sent yet: no return can apply
        upload(batch, transit, bank_user, xlsx_bytes([HEADER]), django_capture_on_commit_callbacks)
    assert refused.value.code == "not_sent" and "尚未向哈尔滨城市通" in refused.value.message
    function_handoff_open(batch=batch, partner=transit, actor=bank_user)
    n0, n1, n2 = numbers(batch)
    imp = upload(
        batch,
        transit,
        bank_user,
        xlsx_bytes([HEADER, [n0, "会员0", "已开通", ""], [n1, "会员1", "未开通", "卡片芯片不支持交通应用"]]),
        django_capture_on_commit_callbacks,
    )
    assert imp.job_status == "done", imp.job_message
    by_number = {f.card.number: f for f in CardFunction.objects.select_related("card")}
    assert by_number[n0].status == F.ENABLED and by_number[n0].enabled_at and by_number[n0].decided_by == imp
    assert by_number[n1].status == F.REFUSED and by_number[n1].refused_reason == "卡片芯片不支持交通应用"
    assert by_number[n2].status == F.SENT
    # a later return may enable a refused one; an enabled one is never refused by a row
    imp2 = upload(
        batch,
        transit,
        bank_user,
        xlsx_bytes([HEADER, [n1, "会员1", "已开通", ""], [n0, "会员0", "未开通", "重复办理"]]),
        django_capture_on_commit_callbacks,
    )
    assert imp2.report["counts"]["enabled"] == 1 and imp2.report["counts"]["conflict"] == 1
    assert imp2.report["lists"]["conflict"][0]["reason"] == "合作方报“未开通”，但该卡功能当前为“已开通”"
    assert CardFunction.objects.get(card__number=n1).status == F.ENABLED


def test_return_reconciliation_reports_every_row_with_row_and_column(
    batch, transit, bank_user, tree, django_capture_on_commit_callbacks
):
    other = make_transit("other-transit", "另一家公交公司")
    function_handoff_open(batch=batch, partner=transit, actor=bank_user)
    n0, n1, n2 = numbers(batch)
    CardFunction.objects.filter(card__number=n2).update(partner=other)  # n2 was asked of the other one
    elsewhere = make_card(tree.unit_a1, status=S.ISSUED)
    rows = [
        ["交通功能开通结果"],  # a title row above the header
        HEADER,
        [n0, "会员0", "已开通", ""],
        [n1, "会员1", "未开通", "证件信息不符"],
        [elsewhere.number, "陌生人", "已开通", ""],
        [n2, "会员2", "已开通", ""],
        ["6222", "会员x", "已开通", ""],
        [n0[:-1] + str((int(n0[-1]) + 1) % 10), "会员y", "已开通", ""],
        ["", "会员z", "已开通", ""],
    ]
    imp = upload(batch, transit, bank_user, xlsx_bytes(rows), django_capture_on_commit_callbacks)
    counts, lists = imp.report["counts"], imp.report["lists"]
    assert counts["rows"] == 7
    assert (counts["enabled"], counts["declined"], counts["unknown_card"], counts["wrong_partner"]) == (
        1,
        1,
        1,
        1,
    )
    assert counts["invalid"] == 3  # too short; bad check digit; empty
    assert lists["invalid"][2] == {"row": 9, "number": "", "reason": "“卡号”列为空"}
    assert lists["unknown_card"] == [{"row": 5, "number": elsewhere.number, "reason": "该卡号不在本批次中"}]
    assert lists["wrong_partner"][0]["row"] == 6
    assert lists["wrong_partner"][0]["reason"] == "该卡未向哈尔滨城市通智能卡有限公司申请交通功能"
    assert lists["invalid"][0]["row"] == 7 and lists["invalid"][0]["reason"].startswith("“卡号”列：")
    assert lists["declined"] == [{"row": 4, "number": n1, "reason": "证件信息不符"}]
    assert "已开通 1，未开通 1" in imp.job_message
    assert CardFunction.objects.get(card__number=n2).status == F.SENT  # untouched
    entry = AuditEntry.objects.get(verb="import.function_applied")
    assert entry.data["enabled"] == 1 and entry.data["partner"] == "hrb-transit"


def test_unknown_verdict_and_duplicates_name_the_row_and_column(
    batch, transit, bank_user, django_capture_on_commit_callbacks
):
    function_handoff_open(batch=batch, partner=transit, actor=bank_user)
    n0, n1, _n2 = numbers(batch)
    rows = [HEADER, [n0, "会员0", "办好了", ""], [n1, "会员1", "已开通", ""], [n1, "会员1", "已开通", ""]]
    imp = upload(batch, transit, bank_user, xlsx_bytes(rows), django_capture_on_commit_callbacks)
    lists = imp.report["lists"]
    assert lists["invalid"] == [
        {"row": 2, "number": n0, "reason": "“开通结果”列的值“办好了”无法识别，应为 已开通 或 未开通"}
    ]
    assert [d["row"] for d in lists["duplicate"]] == [3, 4]
    assert lists["duplicate"][0]["reason"] == "卡号重复（第3、4行）"
    assert not CardFunction.objects.filter(status=F.ENABLED).exists()


def test_a_file_without_the_header_is_refused_in_chinese(
    batch, transit, bank_user, django_capture_on_commit_callbacks
):
    function_handoff_open(batch=batch, partner=transit, actor=bank_user)
    imp = upload(
        batch, transit, bank_user, xlsx_bytes([["姓名"], ["会员0"]]), django_capture_on_commit_callbacks
    )
    assert imp.job_status == "failed" and imp.job_message == "文件中找不到表头（需要列：卡号、开通结果）"


def test_same_file_twice_changes_nothing(batch, transit, bank_user, django_capture_on_commit_callbacks):
    function_handoff_open(batch=batch, partner=transit, actor=bank_user)
    n0, n1, _n2 = numbers(batch)
    data = xlsx_bytes([HEADER, [n0, "会员0", "已开通", ""], [n1, "会员1", "未开通", "证件信息不符"]])
    first = upload(batch, transit, bank_user, data, django_capture_on_commit_callbacks)
    before = list(CardFunction.objects.order_by("id").values())
    second = upload(batch, transit, bank_user, data, django_capture_on_commit_callbacks)
    assert second.same_as == first
    assert second.report["counts"]["unchanged"] == 2 and second.report["counts"]["enabled"] == 0
    assert list(CardFunction.objects.order_by("id").values()) == before


def test_the_wrong_partner_or_a_bank_is_refused_at_upload(
    batch, transit, partner, bank_user, django_capture_on_commit_callbacks
):
    function_handoff_open(batch=batch, partner=transit, actor=bank_user)
    other = make_transit("other-transit", "另一家公交公司")
    for who, code in ((other, "not_sent"), (partner, "not_function_partner"), (None, "not_function_partner")):
        with pytest.raises(ApplicationError) as refused:
            upload(batch, who, bank_user, xlsx_bytes([HEADER]), django_capture_on_commit_callbacks)
        assert refused.value.code == code
    assert not BankFileImport.objects.exists()


def test_scope_and_roles(client, batch, transit, tree, clerk, django_capture_on_commit_callbacks):
    url = f"/issuance/batches/{batch.pk}/functions/{transit.pk}/handoff/"
    outsider = make_staff(ROLE.ADMIN, tree.county_b, username="admin-b")  # the batch is county A's
    client.force_login(outsider)
    assert client.post(url).status_code == 404
    with pytest.raises(ApplicationError):
        function_handoff_open(batch=batch, partner=transit, actor=clerk)  # no bank-file rights
    assert not CardFunction.objects.exists()
    # a bank is not a function partner: its id is a 404 on these pages
    client.force_login(make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank2"))
    assert (
        client.post(f"/issuance/batches/{batch.pk}/functions/{batch.partner_id}/handoff/").status_code == 404
    )
    response = client.post(url)
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")


def test_batch_page_and_card_panel_show_the_functions(
    client, batch, transit, bank_user, django_capture_on_commit_callbacks
):
    function_handoff_open(batch=batch, partner=transit, actor=bank_user)
    n0, n1, _n2 = numbers(batch)
    upload(
        batch,
        transit,
        bank_user,
        xlsx_bytes([HEADER, [n0, "会员0", "已开通", ""], [n1, "会员1", "未开通", "证件信息不符"]]),
        django_capture_on_commit_callbacks,
    )
    client.force_login(bank_user)
    html = client.get(f"/issuance/batches/{batch.pk}/").content.decode()
    assert "交通功能：哈尔滨城市通智能卡有限公司" in html and "下载交通功能开通清单" in html
    refused = Card.objects.get(number=n1)
    html = client.get(refused.member.get_absolute_url()).content.decode()
    assert "交通功能（哈尔滨城市通智能卡有限公司）" in html and "原因：证件信息不符" in html


def test_the_page_upload_shows_refusals(
    client, batch, transit, bank_user, django_capture_on_commit_callbacks
):
    client.force_login(bank_user)
    handle = io.BytesIO(xlsx_bytes([HEADER]))
    handle.name = "回盘.xlsx"
    response = client.post(f"/issuance/batches/{batch.pk}/functions/{transit.pk}/return/", {"file": handle})
    assert response.status_code == 302
    assert [m.message for m in get_messages(response.wsgi_request)] == [
        "该批次尚未向哈尔滨城市通智能卡有限公司报送开通清单，不能导入它的回盘文件"
    ]


def test_admin_checks_a_function_partners_layout(db):
    from issuance.admin import PartnerForm

    form = PartnerForm(
        data={
            "code": "t",
            "name": "公交",
            "role": "function",
            "function_kind": "",
            "handoff_layout": '{"columns": [{"title": "身份证号", "field": "id_number"}]}',
            "return_layout": "{}",
        }
    )
    assert not form.is_valid()
    assert form.errors["function_kind"] == ["功能合作方须选择它开通的功能"]
    assert "字段可选 seq, name, id_masked, card_number" in form.errors["handoff_layout"][0]


def test_make_partner_defaults_to_a_bank(db):
    assert make_partner().role == IssuingPartner.Role.ISSUER


def test_demo_has_a_transit_partner_and_cards_with_the_function():
    from issuance import demo as issuance_demo
    from issuance import layouts
    from members import demo as members_demo

    members_demo.load(members_total=300)
    result = issuance_demo.load()
    transit = IssuingPartner.objects.get(code="cz-transit")
    assert transit.role == IssuingPartner.Role.FUNCTION and transit.function_kind == "transit"
    assert layouts.handoff_layout(transit)["format"] == "csv"  # its own layout, valid for its role
    statuses = set(CardFunction.objects.values_list("status", flat=True))
    assert result["functions"] == CardFunction.objects.count() > 0
    assert {F.ENABLED, F.SENT} <= statuses
    assert not CardFunction.objects.exclude(card__status__in=Card.NUMBERED_LIVE + ("lost",)).exists()


def test_the_member_reads_each_state_of_the_function(
    client, batch, transit, bank_user, django_capture_on_commit_callbacks
):
    from ..membersite.helpers import sign_in

    function_handoff_open(batch=batch, partner=transit, actor=bank_user)
    n0, n1, n2 = numbers(batch)
    rows = [HEADER, [n0, "会员0", "已开通", ""], [n1, "会员1", "未开通", "证件信息不符"]]
    upload(batch, transit, bank_user, xlsx_bytes(rows), django_capture_on_commit_callbacks)
    for number, line in (
        (n0, "交通功能：已开通"),
        (n1, "交通功能：未开通（证件信息不符）"),
        (n2, "交通功能：办理中"),
    ):
        card = Card.objects.get(number=number)
        sign_in(client, django_capture_on_commit_callbacks, card.member)
        assert line in client.get("/me/").content.decode()
        client.logout()
