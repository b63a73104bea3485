"""Issue 10, finding 1: a county-level admin cannot promote themselves or anyone else above their
own rank, by the user page, the role page or the role inline; what they may do is audited."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from cardportal.models import AuditEntry
from members.models import StaffRole
from members.staffing import role_grant_error

from ..factories import ROLE, make_staff

pytestmark = pytest.mark.django_db
User = get_user_model()


def _user_row(user):
    return User.objects.filter(pk=user.pk).values(
        "username", "is_superuser", "is_staff", "is_active", "password", "first_name"
    )[0]


def _role_row(user):
    return StaffRole.objects.filter(user=user).values("role", "union_id")[0]


def _user_post(user, role: StaffRole, **changes):
    """What the change form of `user` posts (the scoped fields and the role inline)."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": "",
        "email": "",
        "is_active": "on",
        "staff-TOTAL_FORMS": "1",
        "staff-INITIAL_FORMS": "1",
        "staff-MIN_NUM_FORMS": "1",
        "staff-MAX_NUM_FORMS": "1",
        "staff-0-id": str(role.pk),
        "staff-0-user": str(user.pk),
        "staff-0-role": role.role,
        "staff-0-union": str(role.union_id),
    }
    data.update(changes)
    return data


def test_county_admin_cannot_tick_superuser_on_own_account(client, admin_user):
    client.force_login(admin_user)
    before = _user_row(admin_user)
    form = client.get(reverse("admin:auth_user_change", args=[admin_user.pk]))
    assert form.status_code == 200
    assert "is_superuser" not in form.context["adminform"].form.fields
    response = client.post(
        reverse("admin:auth_user_change", args=[admin_user.pk]),
        _user_post(admin_user, admin_user.staff, is_superuser="on", is_staff="on"),
    )
    assert response.status_code == 403
    assert _user_row(admin_user) == before


def test_county_admin_cannot_move_own_role_to_the_province_root(client, tree, admin_user):
    client.force_login(admin_user)
    role = admin_user.staff
    response = client.post(
        reverse("admin:members_staffrole_change", args=[role.pk]),
        {"role": "admin", "union": tree.province.pk},
    )
    assert response.status_code == 403
    assert _role_row(admin_user) == {"role": "admin", "union_id": tree.county_a.pk}


def test_county_admin_cannot_move_own_role_through_the_user_page_inline(client, tree, admin_user):
    client.force_login(admin_user)
    client.post(
        reverse("admin:auth_user_change", args=[admin_user.pk]),
        _user_post(admin_user, admin_user.staff, **{"staff-0-union": str(tree.province.pk)}),
    )
    assert _role_row(admin_user) == {"role": "admin", "union_id": tree.county_a.pk}
    assert not AuditEntry.objects.filter(verb="staff.role_changed").exists()


def test_county_admin_cannot_grant_the_admin_role_at_its_own_union(client, tree, admin_user):
    clerk = make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:members_staffrole_change", args=[clerk.staff.pk]),
        {"role": "admin", "union": tree.county_a.pk},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "系统管理员角色只能授予下级工会，不能授予本级工会"
    ]
    assert _role_row(clerk) == {"role": "clerk", "union_id": tree.unit_a1.pk}
    assert User.objects.get(pk=clerk.pk).is_staff is False
    assert not AuditEntry.objects.filter(verb="staff.role_changed").exists()


@pytest.mark.parametrize("role", ["city_staff", "province_staff"])
def test_federation_roles_are_not_offered_below_their_level(client, tree, admin_user, role):
    clerk = make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")
    client.force_login(admin_user)
    url = reverse("admin:members_staffrole_change", args=[clerk.staff.pk])
    offered = [value for value, _ in client.get(url).context["adminform"].form.fields["role"].choices]
    assert offered == ["", "clerk", "county_reviewer", "bank_operator", "admin"]
    response = client.post(url, {"role": role, "union": tree.county_a.pk})
    assert response.context["adminform"].form.errors["role"]
    assert _role_row(clerk) == {"role": "clerk", "union_id": tree.unit_a1.pk}


@pytest.mark.parametrize(
    ("role", "union", "error"),
    [
        ("clerk", "province", "只能在本级工会（甲县总工会）及其下级工会设置角色"),
        ("admin", "county_a", "系统管理员角色只能授予下级工会，不能授予本级工会"),
        ("city_staff", "county_a", "「市总工会工作人员」只能设在市总工会或省总工会"),
        ("province_staff", "unit_a1", "「省总工会工作人员」只能设在省总工会"),
        ("clerk", "unit_a1", None),
        ("admin", "unit_a2", None),
    ],
)
def test_the_grant_rule(tree, admin_user, role, union, error):
    """The rule behind the form's choices, which the admin asks again on save."""
    assert role_grant_error(actor=admin_user, role=role, union=getattr(tree, union)) == error


def test_out_of_scope_union_is_not_even_a_choice(client, tree, admin_user):
    clerk = make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:members_staffrole_change", args=[clerk.staff.pk]),
        {"role": "clerk", "union": tree.province.pk},
    )
    assert response.context["adminform"].form.errors["union"] == [
        "选择一个有效的选项： 该选择不在可用的选项中。"
    ]
    assert _role_row(clerk) == {"role": "clerk", "union_id": tree.unit_a1.pk}


def test_county_admin_grants_a_role_in_its_subtree_and_it_is_audited(client, tree, admin_user):
    clerk = make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:members_staffrole_change", args=[clerk.staff.pk]),
        {"role": "admin", "union": tree.unit_a2.pk},
    )
    assert response.status_code == 302
    assert _role_row(clerk) == {"role": "admin", "union_id": tree.unit_a2.pk}
    assert User.objects.get(pk=clerk.pk).is_staff is True  # the admin role opens the admin
    entry = AuditEntry.objects.get(verb="staff.role_changed")
    assert (entry.actor, entry.union, entry.data) == (
        admin_user,
        tree.unit_a2,
        {
            "user": "clerk-a1",
            "role": "admin",
            "union": "甲县供电公司工会",
            "previous_role": "clerk",
            "previous_union_id": tree.unit_a1.pk,
        },
    )


def test_role_inline_on_a_subordinate_cannot_go_above_the_subtree(client, tree, admin_user):
    clerk = make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:auth_user_change", args=[clerk.pk]),
        _user_post(clerk, clerk.staff, **{"staff-0-union": str(tree.city.pk), "staff-0-role": "city_staff"}),
    )
    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.errors[0]["union"]
    assert _role_row(clerk) == {"role": "clerk", "union_id": tree.unit_a1.pk}


def test_county_admin_creates_staff_only_with_a_role_in_its_subtree(client, tree, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:auth_user_add")
    base = {
        "username": "new-clerk",
        "usable_password": "true",
        "password1": "Cardportal-new-2026",
        "password2": "Cardportal-new-2026",
        "staff-TOTAL_FORMS": "1",
        "staff-INITIAL_FORMS": "0",
        "staff-MIN_NUM_FORMS": "1",
        "staff-MAX_NUM_FORMS": "1",
    }
    without_role = client.post(url, base)
    outside = client.post(url, {**base, "staff-0-role": "clerk", "staff-0-union": str(tree.unit_b1.pk)})
    assert without_role.status_code == outside.status_code == 200
    assert not User.objects.filter(username="new-clerk").exists()

    created = client.post(url, {**base, "staff-0-role": "clerk", "staff-0-union": str(tree.unit_a1.pk)})
    assert created.status_code == 302
    user = User.objects.get(username="new-clerk")
    assert (user.is_superuser, user.is_staff, _role_row(user)) == (
        False,
        False,
        {"role": "clerk", "union_id": tree.unit_a1.pk},
    )
    entries = AuditEntry.objects.filter(verb__startswith="staff.").order_by("id")
    assert [(e.verb, e.target_type, e.target_label, e.actor, e.union) for e in entries] == [
        ("staff.user_created", "auth.user", "new-clerk", admin_user, tree.unit_a1),
        ("staff.role_changed", "members.staffrole", str(user.staff), admin_user, tree.unit_a1),
    ]


def test_superuser_or_peer_admin_inside_the_county_cannot_be_taken_over(client, tree, admin_user):
    """A password reset on an account of equal or higher power would be a takeover of it."""
    root = make_staff(ROLE.CLERK, tree.unit_a1, username="root-a1")
    User.objects.filter(pk=root.pk).update(is_superuser=True)
    peer = make_staff(ROLE.ADMIN, tree.county_a, username="admin-a2")
    client.force_login(admin_user)
    for target in (root, peer):
        before = _user_row(target)
        password = client.post(
            reverse("admin:auth_user_password_change", args=[target.pk]),
            {"password1": "Cardportal-taken-1", "password2": "Cardportal-taken-1", "usable_password": "true"},
        )
        assert password.status_code == 404
        assert client.get(reverse("admin:auth_user_change", args=[target.pk])).status_code == 404
        assert _user_row(target) == before


def test_bulk_delete_that_includes_own_account_is_refused(client, tree, admin_user):
    clerk = make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [admin_user.pk, clerk.pk], "post": "yes"},
    )
    assert response.status_code == 403
    assert User.objects.filter(pk__in=[admin_user.pk, clerk.pk]).count() == 2


def test_county_admin_edits_a_subordinate_profile_but_not_its_privileges(client, tree, admin_user):
    clerk = make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")
    client.force_login(admin_user)
    url = reverse("admin:auth_user_change", args=[clerk.pk])
    refused = client.post(url, _user_post(clerk, clerk.staff, first_name="李", is_superuser="on"))
    assert refused.status_code == 403
    assert User.objects.get(pk=clerk.pk).first_name == ""
    saved = client.post(url, _user_post(clerk, clerk.staff, first_name="李"))
    assert saved.status_code == 302
    assert _user_row(clerk)["first_name"] == "李"
    assert AuditEntry.objects.get(verb="staff.user_changed").data == {"fields": ["first_name"]}


def test_password_reset_of_a_subordinate_is_audited(client, tree, admin_user):
    clerk = make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:auth_user_password_change", args=[clerk.pk]),
        {"password1": "Cardportal-reset-7", "password2": "Cardportal-reset-7", "usable_password": "true"},
    )
    assert response.status_code == 302
    assert User.objects.get(pk=clerk.pk).check_password("Cardportal-reset-7")
    entry = AuditEntry.objects.get(verb="staff.password_set")
    assert (entry.actor, entry.target_id, entry.union, entry.data) == (
        admin_user,
        str(clerk.pk),
        tree.unit_a1,
        {},
    )
