import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cardportal.audit import audit_record
from cardportal.models import AuditEntry
from members.models import Union
from members.services import member_reveal_id, member_set_status

from ..conftest import login, nav_to
from ..factories import make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_city_staff_finds_a_reveal_opens_it_and_exports_the_log(
    live_server, page, screenshot, tree, city_staff, reviewer
):
    # Given a reveal and a status change with a hostile note in the city, and a reveal elsewhere
    member = make_member(tree.unit_a1, name="李四", id_number="11010519491231002X", phone="13912345678")
    member_reveal_id(member=member, actor=reviewer, ip="10.1.2.3")
    member_set_status(
        member=member,
        status="left",
        note='=HYPERLINK("http://evil.example") 11010519491231002X',
        actor=reviewer,
    )
    elsewhere = Union.objects.create(
        code="C1310", name="邻市总工会", level=Union.Level.CITY, parent=tree.province
    )
    audit_record(actor=None, verb="member.id_revealed", target=elsewhere, union=elsewhere, label="邻市会员")

    # When city staff open the audit log from the top bar and pick 查看完整身份证号
    login(page, live_server, "city")
    nav_to(page, "审计日志")
    page.select_option("select[name=family]", "reveal")
    page.wait_for_url("**family=reveal**")
    table = page.inner_text("#audit-table table")
    screenshot("list")

    # Then only the reveal in their city is listed, masked
    assert "李四（110105********002X）" in table and "reviewer-a" in table and "10.1.2.3" in table
    assert "邻市会员" not in table and "会籍状态变更" not in table

    page.get_by_role("link", name="详情").first.click()
    page.wait_for_url("**/audit/*/")
    assert page.locator("h1").inner_text() == "查看完整身份证号"
    screenshot("detail")
    # Back shows the whole page again, not the bare table htmx fetched for the same URL
    page.go_back()
    assert page.locator("select[name=family]").input_value() == "reveal"

    page.select_option("select[name=family]", "other")
    page.wait_for_url("**family=other**")
    assert "会籍状态变更" in page.inner_text("#audit-table table")
    with page.expect_download() as info:
        page.get_by_role("link", name="导出 Excel").click()
    path = Path(info.value.path())
    rows = list(load_workbook(io.BytesIO(path.read_bytes())).active.iter_rows(values_only=True))
    assert [(r[3], r[7]) for r in rows[2:]] == [("会籍状态变更", "李四（110105********002X）")]
    assert (
        rows[2][10]
        == '{"note": "=HYPERLINK(\\"http://evil.example\\") 110105********002X", "status": "left"}'
    )
    assert AuditEntry.objects.get(verb="audit.exported").data == {"filters": {"family": "other"}, "rows": 1}
