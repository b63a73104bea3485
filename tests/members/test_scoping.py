"""A user outside a record's subtree gets 404 for it, by page, API or admin."""

import pytest
from django.urls import reverse

from ..factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def members(tree):
    return {
        "a1": make_member(tree.unit_a1, name="甲一会员"),
        "a2": make_member(tree.unit_a2, name="甲二会员"),
        "b1": make_member(tree.unit_b1, name="乙一会员"),
    }


def test_clerk_gets_404_for_another_unions_member_page(client, clerk, members):
    client.force_login(clerk)
    assert client.get(members["a1"].get_absolute_url()).status_code == 200
    assert client.get(members["a2"].get_absolute_url()).status_code == 404
    assert client.get(members["b1"].get_absolute_url()).status_code == 404


def test_clerk_gets_404_by_api(client, clerk, members):
    client.force_login(clerk)  # staff use the API with their session; tokens are for partners
    ok = client.get(reverse("api:member-detail", args=[members["a1"].pk]))
    assert ok.status_code == 200 and ok.json()["id_number"] == members["a1"].masked_id
    assert client.get(reverse("api:member-detail", args=[members["b1"].pk])).status_code == 404
    listed = client.get(reverse("api:member-list")).json()["results"]
    assert [m["name"] for m in listed] == ["甲一会员"]


def test_admin_user_gets_404_outside_its_subtree_in_the_admin(client, admin_user, members):
    client.force_login(admin_user)  # admin role attached to county A
    inside = client.get(reverse("admin:members_member_change", args=[members["a2"].pk]))
    outside = client.get(reverse("admin:members_member_change", args=[members["b1"].pk]))
    assert inside.status_code == 200
    assert members["a2"].masked_id in inside.content.decode()
    assert outside.status_code == 404
    changelist = client.get(reverse("admin:members_member_changelist")).content.decode()
    assert "甲一会员" in changelist and "乙一会员" not in changelist


def test_county_reviewer_sees_its_subtree_only(client, reviewer, members):
    client.force_login(reviewer)
    html = client.get(reverse("members:member_list")).content.decode()
    assert "甲一会员" in html and "甲二会员" in html and "乙一会员" not in html
    assert client.get(members["b1"].get_absolute_url()).status_code == 404


def test_city_staff_sees_the_whole_city(client, city_staff, members):
    client.force_login(city_staff)
    html = client.get(reverse("members:member_list")).content.decode()
    assert all(name in html for name in ("甲一会员", "甲二会员", "乙一会员"))


def test_union_pages_are_scoped_too(client, clerk, tree):
    client.force_login(clerk)
    assert client.get(tree.unit_a1.get_absolute_url()).status_code == 200
    assert client.get(tree.county_b.get_absolute_url()).status_code == 404


def test_anonymous_users_are_sent_to_login_and_the_api_refuses(client, members):
    assert client.get(reverse("members:member_list")).status_code == 302
    assert client.get(reverse("api:member-list")).status_code in (401, 403)


def test_openapi_schema_is_served(client, clerk):
    client.force_login(clerk)
    response = client.get(reverse("api:schema"))
    assert response.status_code == 200
    assert b"/api/members/" in response.content


def test_navigation_marks_only_the_current_page_and_hides_what_the_role_cannot_use(client, clerk, tree):
    client.force_login(clerk)
    html = client.get(reverse("members:sheet_list")).content.decode()
    assert html.count('class="active"') == 1
    assert 'href="/members/sheets/" class="active"' in html
    assert "/quotas/league/" not in html  # clerks have no league table
