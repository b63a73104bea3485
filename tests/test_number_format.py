"""Counts and amounts on the pages are grouped by three with a comma in zh-hans (the templates ask
for it with `floatformat:"0g"` / `"2g"`; Django's own zh_Hans formats have no separator, so a
city's 1997978 accepted rows read as bare digits)."""

from decimal import Decimal

from django.template import Context, Template
from django.utils import translation


def render(value, spec: str) -> str:
    with translation.override("zh-hans"):
        return Template('{{ value|floatformat:"' + spec + '" }}').render(Context({"value": value}))


def test_counts_and_amounts_read_with_thousands_separators():
    assert render(1997978, "0g") == "1,997,978"
    assert render(Decimal("18010866.5"), "2g") == "18,010,866.50"
    assert render(999, "0g") == "999"


def test_a_number_without_the_g_flag_stays_bare():
    # inputs, ids and exports must not change: only the templates that ask for grouping get it
    assert render(1997978, "0") == "1997978"


def test_the_union_pages_group_the_planned_members(tree, client):
    from django.urls import reverse

    from tests.factories import ROLE, make_staff

    tree.city.declared_members = 1_500_000
    tree.city.save(update_fields=["declared_members"])
    client.force_login(make_staff(ROLE.CITY_STAFF, tree.city))

    detail = client.get(reverse("members:union_detail", args=[tree.city.pk])).content.decode()
    assert "<dt>规划会员数</dt><dd>1,500,000</dd>" in detail
    unplanned = client.get(reverse("members:union_detail", args=[tree.unit_a1.pk])).content.decode()
    assert "<dt>规划会员数</dt><dd>—</dd>" in unplanned
    assert '<td class="num">1,500,000</td>' in client.get(reverse("members:union_list")).content.decode()


def test_a_feed_imports_report_groups_its_counts(tree, client):
    """A day's 500,000 rows on the report and in the summary the import list shows."""
    from merchants.usage.importer import summary
    from merchants.usage.models import TxnImport
    from tests.usage.helpers import World

    world = World(tree)
    imp = TxnImport.objects.create(
        partner=world.bank, kind="daily", file_name="day.csv", sha256="x", rows=500_000, inserted=499_990,
        duplicates=0, unknown_card=10, unknown_mid=349_731, job_status=TxnImport.Status.DONE,
    )  # fmt: skip
    imp.job_message = summary(imp)
    imp.save(update_fields=["job_message"])
    client.force_login(world.operator)

    page = client.get(imp.get_absolute_url()).content.decode()
    assert '<div class="stat">500,000</div><div class="stat-label">文件行数</div>' in page
    assert '<div class="stat">349,731</div><div class="stat-label">非特约商户交易</div>' in page
    assert "共 500,000 行：新增交易 499,990，" in client.get("/usage/imports/").content.decode()
