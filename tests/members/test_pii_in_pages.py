"""Issue 10 finding 4: ID numbers and phones stay out of URLs, are audited when searched for, and
an ID typed into the wrong column of a sheet is neither registered nor shown in clear."""

import importlib
import re

import pytest
from django.apps import apps

from cardportal import crypto
from cardportal.models import AuditEntry
from members.models import SheetRow
from members.registration import sheet_import, sheet_upload

from ..factories import make_member

pytestmark = pytest.mark.django_db
ID = "11010519491231002X"
MASKED = "110105********002X"
PHONE = "13712345678"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def target(tree):
    return make_member(tree.unit_a1, id_number=ID, phone=PHONE, name="欧阳娜娜")


def test_the_search_form_posts_so_the_number_stays_out_of_the_address(client, clerk, target):
    client.force_login(clerk)
    page = client.get("/members/").content.decode()
    assert re.search(r'<form class="filters" method="post"[^>]*hx-post="/members/"', page)
    assert "hx-push-url" not in page


def test_a_search_by_id_number_is_audited_with_its_hash_and_never_echoed(client, tree, clerk, target):
    client.force_login(clerk)
    response = client.post("/members/", {"q": ID.lower()}, REMOTE_ADDR="10.0.0.7")
    page = response.content.decode()
    assert response.status_code == 200 and "欧阳娜娜" in page
    assert ID not in page and ID.lower() not in page and f"按身份证号查询：{MASKED}" in page
    entry = AuditEntry.objects.get(verb="member.searched")
    assert (entry.actor, entry.union, entry.ip) == (clerk, tree.unit_a1, "10.0.0.7")
    assert entry.data == {"by": "id_number", "hash": target.id_hash, "matches": 1}
    assert entry.target_label == f"按身份证号查询：{MASKED}"
    assert ID not in str(entry.data) and ID not in entry.target_label


def test_a_phone_search_through_htmx_is_audited_and_not_pushed_into_the_history(client, clerk, target):
    client.force_login(clerk)
    response = client.post("/members/", {"q": "137-1234-5678"}, HTTP_HX_REQUEST="true")
    assert response["HX-Push-Url"] == "false" and "欧阳娜娜" in response.content.decode()
    assert PHONE not in response.content.decode()
    entry = AuditEntry.objects.get(verb="member.searched")
    assert entry.data == {"by": "phone", "hash": crypto.keyed_hash(PHONE), "matches": 1}
    assert entry.target_label == "按手机号查询：137****5678"


def test_a_name_search_stays_shareable_and_is_not_audited(client, clerk, target):
    client.force_login(clerk)
    response = client.post("/members/", {"q": "欧阳"}, HTTP_HX_REQUEST="true")
    assert response["HX-Push-Url"] == "?q=%E6%AC%A7%E9%98%B3" and "欧阳娜娜" in response.content.decode()
    assert "欧阳娜娜" in client.get("/members/", {"q": "欧阳"}).content.decode()
    assert not AuditEntry.objects.filter(verb="member.searched").exists()


def test_an_id_number_in_the_address_is_not_searched_nor_echoed(client, clerk, target, tree):
    other = make_member(tree.unit_a1, name="李白")
    client.force_login(clerk)
    page = client.get("/members/", {"q": ID}).content.decode()
    assert "号码不放在网址里，本次未按它查询" in page
    assert ID not in page and other.name in page  # the unfiltered list, not the search
    assert not AuditEntry.objects.filter(verb="member.searched").exists()


def test_a_17_digit_typo_finds_nothing_says_why_and_is_audited(client, clerk, target):
    client.force_login(clerk)
    page = client.post("/members/", {"q": ID[:17]}).content.decode()
    assert "这不是18位身份证号（位数不对）" in page and "欧阳娜娜" not in page and ID[:17] not in page
    assert AuditEntry.objects.get(verb="member.searched").data["by"] == "id_like"


def test_a_clerk_searching_for_someone_outside_their_union_finds_nothing_but_is_audited(client, clerk, tree):
    outsider = make_member(tree.unit_b1, id_number=ID, name="外单位")
    client.force_login(clerk)
    page = client.post("/members/", {"q": ID}).content.decode()
    assert "外单位" not in page
    assert AuditEntry.objects.get(verb="member.searched").data == {
        "by": "id_number",
        "hash": outsider.id_hash,
        "matches": 0,
    }


def test_api_refuses_an_id_number_in_the_url_and_searches_it_by_post(client, city_staff, target):
    client.force_login(city_staff)
    refused = client.get("/api/members/", {"q": ID})
    assert refused.status_code == 400 and "POST /api/members/search/" in refused.json()["q"][0]
    assert not AuditEntry.objects.filter(verb="member.searched").exists()
    response = client.post("/api/members/search/", {"q": ID}, content_type="application/json")
    assert response.status_code == 200
    assert [(m["name"], m["id_number"]) for m in response.json()["results"]] == [("欧阳娜娜", MASKED)]
    assert AuditEntry.objects.get(verb="member.searched").data["hash"] == target.id_hash
    by_name = client.post("/api/members/search/", {"q": "欧阳"}, content_type="application/json")
    assert [m["name"] for m in by_name.json()["results"]] == ["欧阳娜娜"]
    assert AuditEntry.objects.filter(verb="member.searched").count() == 1


# --- sheets --------------------------------------------------------------------------------------------
def sheet_for(union, clerk, *rows):
    content = ("序号,身份证号,姓名,性别,手机号码,所属单位\n" + "".join(f"{r}\n" for r in rows)).encode()
    sheet, _ = sheet_upload(union=union, filename="表.csv", content=content, actor=clerk, enqueue=False)
    return sheet_import(sheet_id=sheet.pk)


def test_ids_in_wrong_columns_are_rejected_and_stored_masked(client, tree, clerk):
    spaced = " ".join([ID[:6], ID[6:14], ID[14:]])
    sheet = sheet_for(
        tree.unit_a1,
        clerk,
        f"1,110105198506150014,王芳,,13912345678,{ID}",  # ID in 所属单位
        f"2,110105198506150030,{spaced},,13912345679,财务处",  # ID in 姓名
        f"3,110105198506150057,李娜,,{ID},财务处",  # ID in 手机号码
        f"4,{ID[:17]},赵六,,13912345670,财务处",  # 17-digit typo
    )
    rows = {r.row_number: r for r in SheetRow.objects.filter(sheet=sheet)}
    assert [(rows[n].outcome, rows[n].reason) for n in (2, 3, 4, 5)] == [
        ("reject", "unit_id_like"),
        ("reject", "name_id_like"),
        ("reject", "phone_invalid"),
        ("reject", "id_format"),
    ]
    assert rows[2].message.startswith(f"第2行（序号1）“所属单位”列填的是身份证号（{MASKED}）")
    assert (rows[2].work_unit, rows[3].name) == (MASKED, MASKED)
    stored = " | ".join(f"{r.message} {r.name} {r.work_unit}" for r in rows.values())
    assert re.findall(r"\d{12,}", stored) == []
    client.force_login(clerk)
    page = client.get(sheet.get_absolute_url()).content.decode()
    assert ID not in page and ID[:17] not in page and MASKED in page


def test_the_migration_masks_rows_stored_before(tree, clerk):
    sheet = sheet_for(tree.unit_a1, clerk, f"1,{ID[:17]},赵六,,13912345670,财务处")
    SheetRow.objects.filter(sheet=sheet).update(
        message=f"身份证号“{ID[:17]}”格式不对", name=ID, work_unit=f"财务处{ID}"
    )
    migration = importlib.import_module("members.migrations.0006_mask_id_like_in_sheet_rows")
    migration.mask_rows(apps, None)
    row = SheetRow.objects.get(sheet=sheet)
    assert (row.message, row.name, row.work_unit) == (
        "身份证号“110105*******1002”格式不对",
        MASKED,
        f"财务处{MASKED}",
    )


def test_the_search_api_refuses_anonymous_callers_and_audits_nothing(client, target):
    response = client.post("/api/members/search/", {"q": ID}, content_type="application/json")
    assert response.status_code in (401, 403)
    assert not AuditEntry.objects.filter(verb="member.searched").exists()
