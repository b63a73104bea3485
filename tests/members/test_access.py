"""The access door (members/access.py): one table of capabilities per role, asked everywhere."""

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from cardportal import scoping
from cardportal.errors import ApplicationError
from members.access import (
    SUPERUSER,
    SYSTEM,
    Cap,
    access_for,
    capability_table_markdown,
    roles_with,
)
from members.models import StaffRole

from ..factories import ROLE, make_staff

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def test_the_documented_role_matrix_is_the_table_the_code_uses():
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(r"<!-- capability-table[^>]*-->\n(.*?)\n<!-- /capability-table -->", text, re.S)
    assert found is not None, "docs/architecture.md lost its capability table markers"
    assert found.group(1) == capability_table_markdown()


def test_every_role_and_the_superuser_have_a_column():
    header = capability_table_markdown().splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")][1:] == [*StaffRole.Role.values, SUPERUSER]


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        (
            ROLE.CLERK,
            {Cap.SHEET_UPLOAD, Cap.CARD_RECEIVE, Cap.UNION_DESK},
            {Cap.SHEET_REVIEW, Cap.MEMBER_REVEAL_ID},
        ),
        (ROLE.COUNTY_REVIEWER, {Cap.SHEET_REVIEW, Cap.LEAGUE_READ}, {Cap.AUDIT_READ, Cap.LEAGUE_MANAGE}),
        (ROLE.CITY_STAFF, {Cap.AUDIT_READ, Cap.BANK_FILES, Cap.WAVE_PLAN}, {Cap.ADMIN_SITE, Cap.API_TOKEN}),
        (ROLE.PROVINCE_STAFF, {Cap.AUDIT_READ, Cap.BATCH_MANAGE}, {Cap.BANK_FILES, Cap.CARD_RECEIVE}),
        (ROLE.BANK_OPERATOR, {Cap.API_TOKEN, Cap.BANK_FILES}, {Cap.MEMBER_REVEAL_ID, Cap.LEAGUE_READ}),
        (ROLE.ADMIN, {Cap.ADMIN_SITE, Cap.MEMBER_REVEAL_ID}, {Cap.AUDIT_READ, Cap.API_TOKEN, Cap.UNION_DESK}),
    ],
)
def test_a_role_holds_its_capabilities_and_no_others(tree, role, allowed, refused):
    access = access_for(make_staff(role, tree.city))
    assert {cap for cap in allowed | refused if access.can(cap)} == allowed


def test_a_superuser_holds_all_but_the_partner_token_and_the_clerks_desk(db):
    root = get_user_model().objects.create_superuser("root", password="x")
    assert {cap for cap in Cap if not access_for(root).can(cap)} == {Cap.API_TOKEN, Cap.UNION_DESK}


def test_nobody_without_a_role_and_no_inactive_account_holds_anything(tree):
    plain = get_user_model().objects.create_user("plain", password="x")
    gone = make_staff(ROLE.CITY_STAFF, tree.city, username="gone")
    gone.is_active = False
    assert not any(access_for(plain).can(cap) for cap in Cap)
    assert not any(access_for(gone).can(cap) for cap in Cap)
    assert access_for(gone).path is None


def test_a_service_refuses_with_the_capability_in_chinese_and_a_page_with_403(tree):
    from django.core.exceptions import PermissionDenied

    clerk = access_for(make_staff(ROLE.CLERK, tree.unit_a1))
    with pytest.raises(ApplicationError) as refused:
        clerk.require(Cap.MEMBER_REVEAL_ID)
    assert (refused.value.code, refused.value.message) == ("forbidden", "您的角色无权查看完整身份证号")
    with pytest.raises(PermissionDenied):
        clerk.permit(Cap.MEMBER_REVEAL_ID)
    SYSTEM.require(Cap.MEMBER_REVEAL_ID)  # the system itself (commands, jobs) is never refused
    assert access_for(None) is SYSTEM


def test_a_union_governs_only_the_unions_strictly_below_it(tree):
    county = access_for(make_staff(ROLE.COUNTY_REVIEWER, tree.county_a))
    assert county.governs(tree.unit_a1)
    assert not county.governs(tree.county_a)  # a union never reviews itself
    assert not county.governs(tree.county_b)
    assert not county.governs(tree.city)
    assert county.sees(tree.county_a) and not county.sees(tree.county_b)


def test_the_answer_is_computed_once_per_user_object(tree, django_assert_num_queries):
    make_staff(ROLE.CITY_STAFF, tree.city, username="city-1")
    user = get_user_model().objects.get(username="city-1")
    with django_assert_num_queries(1):  # the staff row; every later question is free
        for cap in Cap:
            access_for(user).can(cap)
        scoping.can(user, "audit.read")
    assert access_for(user) is access_for(user)


def test_a_role_changed_on_the_same_user_object_is_seen_at_once(tree):
    user = make_staff(ROLE.CLERK, tree.unit_a1, username="moved")
    assert not access_for(user).can(Cap.SHEET_REVIEW)
    user.staff.role = ROLE.COUNTY_REVIEWER
    user.staff.union = tree.county_a
    assert access_for(user).can(Cap.SHEET_REVIEW)
    assert access_for(user).path == tree.county_a.path


def test_roles_with_lists_the_staff_roles_of_a_capability():
    assert roles_with(Cap.AUDIT_READ) == {ROLE.CITY_STAFF, ROLE.PROVINCE_STAFF}
    assert roles_with(Cap.API_TOKEN) == {ROLE.BANK_OPERATOR}


def test_the_port_refuses_an_unknown_capability_name(tree):
    user = make_staff(ROLE.ADMIN, tree.city)
    assert scoping.can(user, "admin.site")
    with pytest.raises(ValueError):
        scoping.can(user, "admin.sight")
