"""Four eyes on registrations (issue 10, finding 2): one reviewer uploaded, submitted and approved
the same sheet alone. A sheet is now approved by a reviewer of a union above the sheet's who
neither uploaded nor submitted it; the rule lives in the service and the page asks it."""

import pytest
from django.contrib.auth import get_user_model

from cardportal.errors import ApplicationError
from members.models import Member, RegistrationSheet
from members.registration import sheet_approve, sheet_import, sheet_return, sheet_submit, sheet_upload

from ..factories import ROLE, make_staff, next_id_number

pytestmark = pytest.mark.django_db
HEADER = "序号,身份证号,姓名,性别,手机号码,所属单位\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def submitted_sheet(union, *, uploader, submitter=None) -> RegistrationSheet:
    content = (HEADER + f"1,{next_id_number()},王芳,,13912345678,财务处\n").encode()
    sheet, _ = sheet_upload(union=union, filename="表.csv", content=content, actor=uploader, enqueue=False)
    sheet = sheet_import(sheet_id=sheet.pk)
    sheet_submit(sheet=sheet, actor=submitter or uploader)
    return sheet


def unchanged(sheet) -> tuple:
    sheet.refresh_from_db()
    return (sheet.status, sheet.reviewed_by_id, Member.objects.count())


def test_a_reviewer_cannot_approve_a_sheet_they_uploaded_and_submitted(tree, reviewer):
    sheet = submitted_sheet(tree.unit_a1, uploader=reviewer)
    with pytest.raises(ApplicationError) as exc:
        sheet_approve(sheet=sheet, actor=reviewer, enqueue=False)
    assert exc.value.message == "您上传或提交了这份登记表，须由另一位审核人员审核通过"
    assert unchanged(sheet) == ("submitted", None, 0)
    # a second reviewer of the same county may
    colleague = make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="reviewer-a2")
    sheet_approve(sheet=sheet, actor=colleague, enqueue=False)
    assert unchanged(sheet) == ("approved", colleague.pk, 0)


def test_the_submitter_cannot_approve_either(tree, clerk, reviewer):
    sheet = submitted_sheet(tree.unit_a1, uploader=clerk, submitter=reviewer)
    with pytest.raises(ApplicationError) as exc:
        sheet_approve(sheet=sheet, actor=reviewer, enqueue=False)
    assert exc.value.code == "forbidden"
    assert unchanged(sheet) == ("submitted", None, 0)


def test_a_superuser_cannot_approve_their_own_upload(tree, reviewer):
    root = get_user_model().objects.create_superuser("root", password="pw-Cardportal-1")
    sheet = submitted_sheet(tree.unit_a1, uploader=root)
    with pytest.raises(ApplicationError) as exc:
        sheet_approve(sheet=sheet, actor=root, enqueue=False)
    assert exc.value.message == "您上传或提交了这份登记表，须由另一位审核人员审核通过"
    assert unchanged(sheet) == ("submitted", None, 0)


@pytest.mark.parametrize("where", ["own_union", "other_county"])
def test_a_union_never_reviews_itself_nor_outside_its_subtree(tree, clerk, where):
    union = tree.unit_a1 if where == "own_union" else tree.county_b
    outsider = make_staff(ROLE.COUNTY_REVIEWER, union, username="outsider")
    sheet = submitted_sheet(tree.unit_a1, uploader=clerk)
    for call, kwargs in [(sheet_approve, {"enqueue": False}), (sheet_return, {"reason": "不合格"})]:
        with pytest.raises(ApplicationError) as exc:
            call(sheet=sheet, actor=outsider, **kwargs)
        assert exc.value.message == "您的角色不能审核登记表（须由上级工会审核）"
    assert unchanged(sheet) == ("submitted", None, 0)


def test_the_uploader_may_still_return_their_sheet(tree, reviewer):
    """Returning registers nobody; it is how a reviewer who uploaded takes the sheet back."""
    sheet = submitted_sheet(tree.unit_a1, uploader=reviewer)
    sheet_return(sheet=sheet, reason="上传错了", actor=reviewer)
    assert unchanged(sheet) == ("returned", reviewer.pk, 0)


def test_the_page_hides_approve_from_the_uploader_and_a_forced_post_changes_nothing(client, tree, reviewer):
    sheet = submitted_sheet(tree.unit_a1, uploader=reviewer)
    client.force_login(reviewer)
    body = client.get(sheet.get_absolute_url()).content.decode()
    assert 'id="approve"' not in body
    assert "您上传或提交了这份登记表，须由另一位审核人员审核通过" in body
    response = client.post(f"/members/sheets/{sheet.pk}/approve/", follow=True)
    assert "您上传或提交了这份登记表，须由另一位审核人员审核通过" in response.content.decode()
    assert unchanged(sheet) == ("submitted", None, 0)
    colleague = make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="reviewer-a2")
    client.force_login(colleague)
    assert 'id="approve"' in client.get(sheet.get_absolute_url()).content.decode()
