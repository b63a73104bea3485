"""The feed's staff pages: who may upload, the report, the problem rows (masked)."""

import pytest

from merchants.usage.models import TxnImport
from tests.factories import ROLE, make_staff

from .helpers import World, csv_bytes, row

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tree, settings, tmp_path, run_tasks_inline):
    settings.MEDIA_ROOT = tmp_path / "media"
    return World(tree)


def test_bank_operator_uploads_and_reads_the_report(client, world, django_capture_on_commit_callbacks):
    import io

    content = csv_bytes(
        [row("R1", world.card_a), row("R2", "6222020000000012345"), row("R3", world.card_b, at="明天")]
    )
    upload = io.BytesIO(content)
    upload.name = "银行日交易明细.csv"
    client.force_login(world.operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/usage/imports/", {"feed": world.feed.pk, "file": upload})
    imp = TxnImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/usage/imports/{imp.pk}/"

    page = client.get(f"/usage/imports/{imp.pk}/").content.decode()
    assert "共 3 行：新增交易 1" in page
    assert "622202*********2345" in page and "6222020000000012345" not in page
    assert "第4行" not in page and "交易时间" in page

    problems = client.get(f"/usage/imports/{imp.pk}/problems.csv")
    text = problems.content.decode("utf-8-sig")
    assert problems["Content-Type"].startswith("text/csv")
    assert "未知卡号,3,卡号,622202*********2345,R2" in text
    assert "格式错误,4,交易时间" in text
    assert "6222020000000012345" not in text
    assert client.get("/usage/imports/").status_code == 200


def test_a_grassroots_clerk_may_not_import(client, world, tree):
    client.force_login(make_staff(ROLE.CLERK, tree.unit_a1, username="clerk"))
    assert client.get("/usage/imports/").status_code == 403


def test_usage_selectors_keep_to_the_users_scope(world, tree, django_capture_on_commit_callbacks):
    from datetime import date

    from merchants.usage import selectors

    from .helpers import run_import

    content = csv_bytes([row("R1", world.card_a), row("R2", world.card_b)])  # unions a1 and b1
    run_import(world.feed, content, "d.csv", world.operator, django_capture_on_commit_callbacks)
    reviewer_a = make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="rev-a")
    days = selectors.usage_days_for_user(user=reviewer_a, start=date(2026, 11, 1), end=date(2026, 11, 30))
    assert set(days.values_list("union_id", flat=True)) == {world.card_a.union_id}
    city = make_staff(ROLE.CITY_STAFF, tree.city, username="city-x")
    assert selectors.card_usage_for_user(user=city).count() == 2
    assert selectors.merchant_months_for_user(user=reviewer_a, month=date(2026, 11, 15)).count() == 1
