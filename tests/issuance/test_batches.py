import io

import pytest
from openpyxl import load_workbook

from cardportal.errors import ApplicationError
from cardportal.models import AuditEntry
from issuance.lifecycle import recount_union_months, stored_union_months
from issuance.models import BankBatch, Card
from issuance.services.batches import batch_create
from issuance.services.handoff import batch_handoff_open

from ..factories import ROLE, make_staff
from .factories import make_card

pytestmark = pytest.mark.django_db
S = Card.Status


@pytest.fixture
def batch_with_file(tree, partner, city_staff, run_tasks_inline, django_capture_on_commit_callbacks):
    make_card(tree.unit_a1, name="普通甲", id_number="11010519491231002X", phone="13800001111")
    make_card(tree.unit_a2, name="困难乙", is_hardship=True)
    make_card(tree.unit_b1, name="乙县丙")
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_create(partner=partner, union=tree.county_a, actor=city_staff)
    batch.refresh_from_db()
    return batch


def test_batch_takes_applied_cards_of_the_subtree_hardship_first_and_writes_the_handoff(
    batch_with_file, tree
):
    batch = batch_with_file
    # then the county's two cards are in the batch, the other county's card is not
    assert batch.card_count == 2 and batch.hardship_count == 1
    assert set(Card.objects.filter(batch=batch).values_list("status", flat=True)) == {S.IN_BATCH}
    assert Card.objects.get(member__name="乙县丙").status == S.APPLIED
    assert batch.job_status == "done"
    assert batch.status == BankBatch.BatchStatus.HANDED_OFF
    # and the file is the 批量办理借记卡明细清单 with full ID numbers, hardship worker first
    data = batch.handoff_file.read()
    assert batch.handoff_rows == 2 and len(batch.handoff_sha256) == 64
    import hashlib

    assert hashlib.sha256(data).hexdigest() == batch.handoff_sha256
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet.title == "批量办理借记卡明细清单"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == ("序号", "姓名", "证件类型", "证件号码", "性别", "手机号码")
    assert rows[1][1] == "困难乙" and rows[1][8] == "是"
    assert rows[2][:6] == (2, "普通甲", "居民身份证", "11010519491231002X", "女", "13800001111")
    assert batch.manifest()["rows"] == 2
    assert stored_union_months() == recount_union_months()


def test_partner_layout_changes_columns_sheet_and_format(
    tree, partner, city_staff, run_tasks_inline, django_capture_on_commit_callbacks
):
    partner.handoff_layout = {
        "format": "csv",
        "filename": "{batch}_开卡",
        "columns": [{"title": "身份证", "field": "id_number"}, {"title": "名字", "field": "name"}],
    }
    partner.save()
    make_card(tree.unit_a1, name="张三", id_number="11010519491231002X")
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_create(partner=partner, union=tree.unit_a1, actor=city_staff)
    batch.refresh_from_db()
    assert batch.handoff_name == f"{batch.code}_开卡.csv"
    assert batch.handoff_file.read().decode("utf-8-sig").splitlines() == [
        "身份证,名字",
        "11010519491231002X,张三",
    ]


def test_batch_limit_takes_hardship_workers_first(tree, partner, city_staff):
    make_card(tree.unit_a1, name="先申请")
    make_card(tree.unit_a1, name="困难", is_hardship=True)
    batch = batch_create(partner=partner, union=tree.city, actor=city_staff, limit=1)
    assert list(Card.objects.filter(batch=batch).values_list("member__name", flat=True)) == ["困难"]


def test_clerk_cannot_create_a_batch_and_nothing_changes(tree, partner, clerk):
    make_card(tree.unit_a1)
    with pytest.raises(ApplicationError) as err:
        batch_create(partner=partner, union=tree.unit_a1, actor=clerk)
    assert err.value.code == "forbidden"
    assert not BankBatch.objects.exists()
    assert Card.objects.get().status == S.APPLIED


def test_empty_scope_is_refused(tree, partner, city_staff):
    with pytest.raises(ApplicationError) as err:
        batch_create(partner=partner, union=tree.city, actor=city_staff)
    assert err.value.code == "nothing_to_batch"
    assert not BankBatch.objects.exists()


def test_handoff_download_is_audited(batch_with_file, bank_user):
    handle = batch_handoff_open(batch=batch_with_file, actor=bank_user, ip="10.0.0.7")
    assert handle.read()[:2] == b"PK"
    entry = AuditEntry.objects.get(verb="batch.handoff_downloaded")
    assert (entry.actor, entry.target_id, entry.ip) == (bank_user, str(batch_with_file.pk), "10.0.0.7")
    assert entry.data["rows"] == 2


@pytest.mark.parametrize("role", [ROLE.CLERK, ROLE.COUNTY_REVIEWER, ROLE.PROVINCE_STAFF])
def test_other_roles_cannot_download_the_handoff_and_nothing_is_logged(batch_with_file, tree, role):
    user = make_staff(role, tree.city)
    with pytest.raises(ApplicationError):
        batch_handoff_open(batch=batch_with_file, actor=user)
    assert not AuditEntry.objects.filter(verb="batch.handoff_downloaded").exists()


def test_download_view_serves_the_file_to_city_staff_and_404s_outside_scope(client, batch_with_file, tree):
    outsider = make_staff(ROLE.CITY_STAFF, tree.county_b, username="county-b-staff")
    client.force_login(outsider)
    assert client.get(f"/issuance/batches/{batch_with_file.pk}/handoff/").status_code == 404
    bank = make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank2")
    client.force_login(bank)
    response = client.get(f"/issuance/batches/{batch_with_file.pk}/handoff/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:2] == b"PK"
    assert "attachment" in response["Content-Disposition"]
    assert AuditEntry.objects.filter(verb="batch.handoff_downloaded", actor=bank).count() == 1
