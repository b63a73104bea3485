"""The batch page shows the four-eyes state and offers only the buttons the user may press; a
denied POST changes nothing."""

from decimal import Decimal

import pytest

from benefits.models import Disbursement
from benefits.services.disbursements import (
    Entry,
    disbursement_add_entries,
    disbursement_create,
    disbursement_submit,
)
from cardportal.models import AuditEntry

from ..factories import make_member
from ..merchants.factories import give_card

pytestmark = pytest.mark.django_db

BUTTONS = {
    "submit": 'id="submit"',
    "approve": 'id="approve"',
    "return": 'id="return"',
    "export": 'id="export"',
    "confirm": "导入回盘</button>",
    "add": "加入名单</button>",
}


def offered(client, batch) -> set[str]:
    body = client.get(batch.get_absolute_url()).content.decode()
    return {name for name, marker in BUTTONS.items() if marker in body}


@pytest.fixture
def batch(tree, clerk):
    members = [make_member(tree.unit_a1, name=f"困难{i}", is_hardship=True) for i in range(2)]
    for m in members:
        give_card(m)
    batch = disbursement_create(name="2026年春节送温暖", kind="warmth", union=tree.unit_a1, actor=clerk)
    disbursement_add_entries(
        disbursement=batch,
        entries=[Entry(member=m, amount=Decimal("800"), where=m.name) for m in members],
        actor=clerk,
        source="t",
    )
    return batch


def state_of(batch):
    batch = Disbursement.objects.get(pk=batch.pk)
    return (batch.state, batch.approved_by_id, batch.lines.count(), AuditEntry.objects.count())


def test_each_step_is_offered_only_to_who_may_take_it(
    client, tree, batch, clerk, reviewer, bank_operator, run_tasks_inline, django_capture_on_commit_callbacks
):
    url = batch.get_absolute_url()
    client.force_login(clerk)
    assert offered(client, batch) == {"submit", "add"}
    body = client.get(url).content.decode()
    assert "草稿" in body and "每人不超过2,000.00元，每批合计不超过1,000,000.00元" in body
    client.force_login(reviewer)
    assert offered(client, batch) == set()  # the reviewer does not build the clerk's list

    client.force_login(clerk)
    client.post(f"{url}submit/")
    assert offered(client, batch) == set()
    body = client.get(url).content.decode()
    assert '<span class="tag warn" id="batch-state">待审批</span>' in body
    assert "经办人不能审批自己编制的批次" in body

    client.force_login(bank_operator)
    assert offered(client, batch) == set()
    client.force_login(reviewer)
    assert offered(client, batch) == {"approve", "return"}
    assert "审批通过（2 人，合计 1600.00 元）" in client.get(url).content.decode()
    client.post(f"{url}approve/")
    body = client.get(url).content.decode()
    assert 'id="batch-state">已审批</span>' in body and "reviewer-a" in body
    assert offered(client, batch) == {"export"}

    client.force_login(clerk)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{url}export/")
    body = client.get(url).content.decode()
    assert 'id="batch-state">已生成支付文件</span>' in body
    assert offered(client, batch) == set()  # the preparer does not confirm
    client.force_login(reviewer)
    assert offered(client, batch) == set()  # nor does the approver
    client.force_login(bank_operator)
    assert offered(client, batch) == {"confirm"}
    # the page's audit table carries the amounts
    assert "提交发放批次审批" in body and "2人，合计1600.00元" in body


def test_denied_posts_change_nothing(client, tree, batch, clerk, reviewer, bank_operator):
    url = batch.get_absolute_url()
    client.force_login(clerk)
    before = state_of(batch)
    response = client.post(f"{url}export/", follow=True)
    assert "批次须经审批后才能生成银行代发文件" in response.content.decode()
    client.force_login(reviewer)
    response = client.post(f"{url}submit/", follow=True)
    assert "只有本批次的经办人（创建人）可以修改名单和提交审批" in response.content.decode()
    assert state_of(batch) == before

    disbursement_submit(disbursement=batch, actor=clerk)
    before = state_of(batch)
    client.force_login(clerk)
    response = client.post(f"{url}approve/", follow=True)
    assert "经办人不能审批自己编制的批次，须由上级工会审批" in response.content.decode()
    client.force_login(bank_operator)
    response = client.post(f"{url}approve/", follow=True)
    assert "只有上级工会的审核人员可以审批发放批次" in response.content.decode()
    client.force_login(reviewer)
    response = client.post(f"{url}return/", {"reason": ""}, follow=True)
    assert "退回须填写理由" in response.content.decode()
    assert state_of(batch) == before


def test_list_page_offers_the_form_only_to_preparing_roles(client, tree, clerk, bank_operator):
    client.force_login(bank_operator)
    assert "新建批次" not in client.get("/benefits/disbursements/").content.decode()
    response = client.post("/benefits/disbursements/", {"name": "x", "kind": "warmth", "union": tree.city.pk})
    assert response.status_code == 200
    assert "只能为本级及下级工会建立发放批次" in response.content.decode()
    assert Disbursement.objects.count() == 0
    client.force_login(clerk)
    assert "新建批次" in client.get("/benefits/disbursements/").content.decode()


def test_the_dashboard_counts_batches_awaiting_approval(client, tree, batch, clerk, reviewer):
    disbursement_submit(disbursement=batch, actor=clerk)
    client.force_login(reviewer)
    body = client.get("/").content.decode()
    assert '<div class="stat">1</div><div class="stat-label">待审批发放批次</div>' in body
