"""The top bar offers each role the pages of its capabilities (members/access.py), and a page
outside them answers 403 even when typed into the address bar."""

import pytest

from ..conftest import login
from ..factories import ROLE, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVERY_STAFF = {
    "工作台",
    "会员",
    "工会组织",
    "发卡计划",
    "发卡进度",
    "困难职工持卡",
    "商户名录",
    "普惠服务",
    "帮扶资金",
}
LEAGUE = {"进度排名", "月通报", "季排队", "节点检查", "年度考核"}
ANALYTICS = {"活跃用卡", "特约商户消费", "商户排行", "帮扶与补贴", "会员分群"}


def _menu(page) -> set[str]:
    return set(page.eval_on_selector_all("nav.mainnav a", "links => links.map(a => a.textContent.trim())"))


@pytest.mark.parametrize(
    ("role", "union", "extra", "forbidden"),
    [
        (ROLE.CLERK, "unit_a1", {"登记表", "领卡发卡", "更正申请"}, "/quotas/league/"),
        (ROLE.COUNTY_REVIEWER, "county_a", {"登记表"} | LEAGUE | ANALYTICS, "/issuance/batches/"),
        (ROLE.BANK_OPERATOR, "city", {"银行批次", "激活导入", "交易明细"}, "/members/sheets/review/"),
    ],
    ids=["clerk", "county_reviewer", "bank_operator"],
)
def test_each_role_sees_the_menus_of_its_capabilities(
    live_server, page, screenshot, tree, role, union, extra, forbidden
):
    make_staff(role, getattr(tree, union), username="someone")
    login(page, live_server, "someone")
    page.hover("nav.mainnav .navgroup >> nth=0")
    screenshot("menu")
    assert _menu(page) == EVERY_STAFF | extra
    assert page.goto(f"{live_server.url}{forbidden}").status == 403
