"""Sheet pages: scoping, permissions, the error report download, submission-group states, panels."""

import io
from datetime import date, timedelta

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from members.models import RegistrationSheet, SubmissionGroup
from members.registration import sheet_import, sheet_submit, sheet_upload
from members.selectors import submission_states

from ..factories import ROLE, make_staff, next_id_number

pytestmark = pytest.mark.django_db
HEADER = "序号,身份证号,姓名,性别,手机号码,所属单位\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def sheet_for(union, *rows, actor=None):
    content = (HEADER + "".join(f"{r}\n" for r in rows)).encode()
    sheet, _ = sheet_upload(union=union, filename="表.csv", content=content, actor=actor, enqueue=False)
    return sheet_import(sheet_id=sheet.pk)


def test_a_clerk_cannot_open_another_unions_sheet(client, tree, clerk):
    other = sheet_for(tree.unit_a2, f"1,{next_id_number()},王芳,,13912345678,供电")
    client.force_login(clerk)
    assert client.get(other.get_absolute_url()).status_code == 404
    assert client.get(f"/members/sheets/{other.pk}/errors.xlsx").status_code == 404


def test_a_clerk_cannot_approve_through_the_page_and_nothing_changes(client, tree, clerk):
    sheet = sheet_for(tree.unit_a1, f"1,{next_id_number()},王芳,,13912345678,财务处")
    sheet_submit(sheet=sheet, actor=clerk)
    client.force_login(clerk)
    assert client.post(f"/members/sheets/{sheet.pk}/approve/").status_code == 403
    sheet.refresh_from_db()
    assert sheet.status == RegistrationSheet.Status.SUBMITTED and sheet.reviewed_by is None


def test_the_reviewer_sees_and_approves_a_submitted_sheet(
    client, tree, clerk, reviewer, run_tasks_inline, django_capture_on_commit_callbacks
):
    sheet = sheet_for(tree.unit_a1, f"1,{next_id_number()},王芳,,13912345678,财务处")
    sheet_submit(sheet=sheet, actor=clerk)
    client.force_login(reviewer)
    assert "表.csv" in client.get("/members/sheets/review/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/members/sheets/{sheet.pk}/approve/")
    assert response.status_code == 302
    sheet.refresh_from_db()
    assert (sheet.status, sheet.rows_registered) == (RegistrationSheet.Status.REGISTERED, 1)


def test_error_report_download(client, tree, clerk):
    sheet = sheet_for(
        tree.unit_a1, f"1,{next_id_number()},王芳,,,财务处", f"2,{next_id_number()},李娜,,13912345678,人事处"
    )
    client.force_login(clerk)
    response = client.get(f"/members/sheets/{sheet.pk}/errors.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    rows = [[c.value for c in row] for row in book.active.iter_rows()]
    assert rows[0][-1] == "错误原因"
    assert rows[1][-1] == "第2行（序号1）：手机号码为空（办卡需要本人手机号）" and rows[2][-1] is None


def test_sheet_list_query_count_does_not_grow_with_sheets(client, tree, clerk, django_assert_num_queries):
    for n in range(5):
        sheet_for(tree.unit_a1, f"{n},{next_id_number()},王芳,,13912345678,财务处")
    client.force_login(clerk)
    # 6: session, user, role, scope union; sheet count and the page of sheets
    with django_assert_num_queries(6):
        response = client.get("/members/sheets/")
    assert response.content.decode().count("表.csv") == 5


def test_upload_page_rejects_the_same_file_twice(
    client, tree, clerk, run_tasks_inline, django_capture_on_commit_callbacks
):
    client.force_login(clerk)
    content = (HEADER + f"1,{next_id_number()},王芳,,13912345678,财务处\n").encode()
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            upload = io.BytesIO(content)
            upload.name = "a.csv"
            response = client.post(
                "/members/sheets/upload/",
                {"file": upload, "union": tree.unit_a1.pk, "declared_members": 1, "declared_id_copies": 1},
                follow=True,
            )
    assert RegistrationSheet.objects.count() == 1
    first = RegistrationSheet.objects.get()
    # the time in the message is Shanghai's, as everywhere on the pages (not the stored UTC)
    shanghai = timezone.localtime(first.created_at).strftime("%Y-%m-%d %H:%M")
    assert f"这个文件已上传过（登记表 #{first.pk}，{shanghai}）" in response.content.decode()


def test_submission_states(tree, clerk):
    today = timezone.localdate()
    group = SubmissionGroup.objects.create(name="第一组", due_date=today - timedelta(days=1), owner=tree.city)
    group.unions.set([tree.unit_a1, tree.unit_a2, tree.unit_b1])
    sheet = sheet_for(tree.unit_a1, f"1,{next_id_number()},王芳,,13912345678,财务处")
    sheet_submit(sheet=sheet, actor=clerk)
    RegistrationSheet.objects.filter(pk=sheet.pk).update(submitted_at=timezone.now() - timedelta(days=3))
    states = {s.union.code: s.state for s in submission_states(group=group, today=today)}
    assert states == {"G011": "submitted", "G012": "late", "G021": "late"}
    later = submission_states(group=group, today=date(2000, 1, 1))
    assert {s.union.code: s.state for s in later}["G012"] == "waiting"


def test_dashboard_panels_per_role(client, tree, clerk, reviewer, city_staff):
    group = SubmissionGroup.objects.create(
        name="第二组", due_date=timezone.localdate() + timedelta(days=5), owner=tree.city
    )
    group.unions.set([tree.unit_a1])
    client.force_login(clerk)
    body = client.get("/").content.decode()
    assert "我的登记表" in body and "第二组" in body and "未报送" in body
    client.force_login(reviewer)
    assert "待审核的登记表" in client.get("/").content.decode()
    client.force_login(city_staff)
    body = client.get("/").content.decode()
    assert "报送分组进度" in body and "第二组" in body


def test_federation_creates_a_group_and_a_clerk_cannot(client, tree, clerk, city_staff):
    client.force_login(clerk)
    assert client.post("/members/sheets/groups/", {"name": "x"}).status_code == 403
    client.force_login(city_staff)
    response = client.post(
        "/members/sheets/groups/",
        {"name": "第三组", "due_date": "2026-06-09", "unions": [tree.unit_a1.pk, tree.unit_b1.pk]},
    )
    assert response.status_code == 302
    group = SubmissionGroup.objects.get()
    assert (group.name, str(group.due_date), group.owner) == ("第三组", "2026-06-09", tree.city)
    assert set(group.unions.values_list("code", flat=True)) == {"G011", "G021"}


def test_bank_operator_has_no_sheet_pages(client, tree):
    bank = make_staff(ROLE.BANK_OPERATOR, tree.city)
    client.force_login(bank)
    assert client.get("/members/sheets/upload/").status_code == 403


def test_a_stalled_import_can_be_retried_from_the_page(
    client, tree, clerk, run_tasks_inline, django_capture_on_commit_callbacks
):
    from cardportal.jobs import job_fail, job_start

    content = (HEADER + f"1,{next_id_number()},王芳,,13912345678,财务处\n").encode()
    sheet, _ = sheet_upload(union=tree.unit_a1, filename="a.csv", content=content, actor=clerk, enqueue=False)
    job_start(sheet, phase="import")
    RegistrationSheet.objects.filter(pk=sheet.pk).update(status=RegistrationSheet.Status.VALIDATING)
    job_fail(sheet, message="导入时发生内部错误", code="internal")
    client.force_login(clerk)
    assert "重新校验" in client.get(sheet.get_absolute_url()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/members/sheets/{sheet.pk}/retry/")
    sheet.refresh_from_db()
    assert (sheet.status, sheet.rows_accepted) == (RegistrationSheet.Status.VALIDATED, 1)


def test_downloads_name_chinese_files_the_way_browsers_read_them(client, clerk):
    client.force_login(clerk)
    response = client.get(reverse("members:sheet_template"))
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''%E4%BC%9A%E5%91%98%E5%8D%A1%E4%BF%A1%E6%81%AF%E7%99%BB%E8%AE%B0%E8%A1%A8"
        "%EF%BC%88%E6%A8%A1%E6%9D%BF%EF%BC%89.xlsx"
    )


def test_letter_counts_that_disagree_block_approval_until_a_reason_is_written(client, tree, clerk, reviewer):
    from cardportal.models import AuditEntry

    sheet = sheet_for(tree.unit_a1, f"1,{next_id_number()},王芳,,13912345678,财务处")
    RegistrationSheet.objects.filter(pk=sheet.pk).update(declared_members=2, declared_id_copies=1)
    sheet_submit(sheet=sheet, actor=clerk)
    client.force_login(reviewer)
    page = client.get(sheet.get_absolute_url()).content.decode()
    assert "写明理由后才能审核通过" in page
    response = client.post(f"/members/sheets/{sheet.pk}/approve/", follow=True)
    assert "确认书会员人数 2 人与通过的 1 人不符" in response.content.decode()
    assert RegistrationSheet.objects.get(pk=sheet.pk).status == RegistrationSheet.Status.SUBMITTED
    client.post(f"/members/sheets/{sheet.pk}/approve/", {"override_reason": "已电话核实，1人另行补交"})
    assert RegistrationSheet.objects.get(pk=sheet.pk).status == RegistrationSheet.Status.APPROVED
    entry = AuditEntry.objects.get(verb="sheet.approved")
    assert entry.data["override_reason"] == "已电话核实，1人另行补交"
    assert entry.data["letter_mismatch"] == ["确认书会员人数 2 人与通过的 1 人不符"]


def test_the_confirmation_letter_is_pre_filled_from_the_sheet(client, tree, clerk):
    sheet = sheet_for(tree.unit_a1, f"1,{next_id_number()},王芳,,13912345678,财务处", actor=clerk)
    RegistrationSheet.objects.filter(pk=sheet.pk).update(declared_members=None, declared_id_copies=None)
    client.force_login(clerk)
    page = client.get(f"/members/sheets/{sheet.pk}/letter/").content.decode()
    assert "身份证复印件确认书" in page and tree.unit_a1.name in page and "测试市总工会" in page
    assert "我单位共有工会会员 <u>&nbsp;1&nbsp;</u> 人" in page
    other = make_staff(ROLE.CLERK, tree.unit_b1)
    client.force_login(other)
    assert client.get(f"/members/sheets/{sheet.pk}/letter/").status_code == 404


def test_fix_and_reupload_only_the_rejected_rows_is_a_clean_round_trip(client, tree, clerk):
    good, bad = next_id_number(), next_id_number()
    sheet = sheet_for(
        tree.unit_a1, f"1,{good},王芳,,13912345678,财务处", f"2,{bad},李娜,,,人事处", actor=clerk
    )
    sheet_submit(sheet=sheet, actor=clerk)  # 王芳 is now pending review in this sheet
    client.force_login(clerk)
    page = client.get(sheet.get_absolute_url()).content.decode()
    assert "只含不通过的行" in page and "已通过的 1 行不要再上传" in page
    response = client.get(f"/members/sheets/{sheet.pk}/errors.xlsx?only=rejected")
    assert (
        "只含不通过的行" in response["Content-Disposition"] or "%E5%8F%AA" in response["Content-Disposition"]
    )
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    rows = [[c.value for c in row] for row in book.active.iter_rows()]
    assert rows[0][-1] == "错误原因" and len(rows) == 2  # the header and 李娜's row only
    assert rows[1][1] == bad and rows[1][-1] == "第3行（序号2）：手机号码为空（办卡需要本人手机号）"
    # the clerk types the phone into that file and uploads it again
    book.active.cell(row=2, column=5, value="13912345679")
    fixed = io.BytesIO()
    book.save(fixed)
    again, _ = sheet_upload(union=tree.unit_a1, filename="改正.xlsx", content=fixed.getvalue(), actor=clerk)
    again = sheet_import(sheet_id=again.pk)
    assert (again.rows_accepted, again.rows_rejected) == (1, 0)


def test_federation_staff_set_a_submission_group_through_the_service_and_a_reviewer_cannot(
    client, tree, city_staff, reviewer
):
    from cardportal.models import AuditEntry

    form = {"name": "第一组", "due_date": "2026-12-31", "unions": [tree.unit_a1.pk, tree.unit_b1.pk]}
    client.force_login(reviewer)
    assert client.post(reverse("members:submission_groups"), form).status_code == 403
    assert not SubmissionGroup.objects.exists()
    client.force_login(city_staff)
    assert client.post(reverse("members:submission_groups"), form).status_code == 302
    group = SubmissionGroup.objects.get()
    assert (group.name, group.owner, set(group.unions.all())) == (
        "第一组",
        tree.city,
        {tree.unit_a1, tree.unit_b1},
    )
    assert list(AuditEntry.objects.filter(verb="submission_group.created").values_list("actor", "union")) == [
        (city_staff.pk, tree.city.pk)
    ]


def test_the_sheet_names_its_uploader_and_submitter_by_their_real_names(client, tree, clerk, reviewer):
    """Users are shown by their names, not their sign-in names (issue 15, "Everyone")."""
    clerk.first_name = "王芳"  # the whole name in one field, as the staff admin and the demo keep it
    clerk.save()
    sheet = sheet_for(tree.unit_a1, f"1,{next_id_number()},李娜,,13912345678,财务处", actor=clerk)
    sheet_submit(sheet=sheet, actor=clerk)
    client.force_login(reviewer)
    page = client.get(sheet.get_absolute_url()).content.decode()
    assert "上传人 王芳" in page and "<dt>提交</dt><dd>王芳 ·" in page
    assert clerk.username not in page
    client.force_login(clerk)
    listing = client.get("/members/sheets/").content.decode()
    assert "<td>王芳</td>" in listing and clerk.username not in listing
