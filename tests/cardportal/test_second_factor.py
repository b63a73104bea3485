"""Finding 3 (issue 10): a second factor for every role that can reveal full ID numbers,
download hand-off files or use the admin; recovery codes; a reset path."""

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from cardportal.models import AuditEntry
from cardportal.second_factor import (
    demo_devices_ensure,
    demo_totp_key,
    second_factor_required,
)
from members.access import Cap, roles_with

from ..conftest import login_password_only, second_factor_device, totp_code
from ..factories import ROLE, make_staff

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "required"),
    [
        (ROLE.CLERK, False),
        (ROLE.COUNTY_REVIEWER, True),
        (ROLE.CITY_STAFF, True),
        (ROLE.PROVINCE_STAFF, True),
        (ROLE.BANK_OPERATOR, True),
        (ROLE.ADMIN, True),
    ],
)
def test_which_roles_need_a_second_factor(tree, role, required):
    assert second_factor_required(make_staff(role, tree.city)) is required


def test_superusers_and_admin_site_users_need_it(db):
    User = get_user_model()
    assert second_factor_required(User.objects.create_superuser("root", password="x"))
    assert second_factor_required(User.objects.create_user("ops", password="x", is_staff=True))
    assert not second_factor_required(User.objects.create_user("nobody", password="x"))


def test_every_power_in_the_code_is_behind_the_second_factor(tree):
    powerful = (
        roles_with(Cap.MEMBER_REVEAL_ID)
        | roles_with(Cap.BANK_FILES)
        | roles_with(Cap.DISBURSEMENT_DOWNLOAD)
        | roles_with(Cap.ADMIN_SITE)
    )
    assert powerful == {
        ROLE.COUNTY_REVIEWER,
        ROLE.CITY_STAFF,
        ROLE.PROVINCE_STAFF,
        ROLE.BANK_OPERATOR,
        ROLE.ADMIN,
    }
    for role in powerful:
        assert second_factor_required(make_staff(role, tree.city)), role


def test_password_alone_reaches_only_the_enrolment_page(client, tree):
    reviewer = make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="reviewer-a")
    login_password_only(client, reviewer)
    response = client.get("/members/?page=2")
    assert response.status_code == 302
    assert response["Location"] == "/account/second-factor/enrol/?next=%2Fmembers%2F%3Fpage%3D2"
    assert client.get("/admin/")["Location"].startswith("/account/second-factor/enrol/")
    api = client.get("/api/members/")
    assert api.status_code == 403 and api.json()["code"] == "second_factor_required"
    htmx = client.get("/members/", headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx["HX-Redirect"].startswith("/account/second-factor/enrol/")


def test_password_alone_with_a_device_is_sent_to_verification(client, tree):
    city = make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    second_factor_device(city)
    login_password_only(client, city)
    assert client.get("/issuance/")["Location"] == "/account/second-factor/verify/?next=%2Fissuance%2F"


def test_clerk_signs_in_with_the_password_alone(client, tree):
    clerk = make_staff(ROLE.CLERK, tree.unit_a1)
    login_password_only(client, clerk)
    assert client.get("/members/").status_code == 200


def _enrol_page(client):
    response = client.get("/account/second-factor/enrol/")
    assert response.status_code == 200
    return response.content.decode()


def test_enrolment_wrong_code_then_right_code_shows_ten_recovery_codes_once(client, tree):
    reviewer = make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="reviewer-a")
    login_password_only(client, reviewer)
    page = _enrol_page(client)
    assert "<svg" in page and "二维码" in page
    device = TOTPDevice.objects.get(user=reviewer, confirmed=False)
    assert _enrol_page(client).count(re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page)[1]) == 1

    wrong = client.post(
        "/account/second-factor/enrol/", {"token": "000000" if totp_code(device) != "000000" else "111111"}
    )
    assert wrong.status_code == 400 and "验证码不正确" in wrong.content.decode()
    assert TOTPDevice.objects.get(pk=device.pk).confirmed is False
    assert client.get("/members/").status_code == 302  # still not verified
    device.throttle_reset()

    done = client.post("/account/second-factor/enrol/", {"token": totp_code(device), "next": "/members/"})
    assert done.status_code == 200
    codes = re.findall(r"<li>([a-z2-7]{8})</li>", done.content.decode())
    assert len(codes) == 10
    assert set(StaticToken.objects.filter(device__user=reviewer).values_list("token", flat=True)) == set(
        codes
    )
    assert TOTPDevice.objects.get(pk=device.pk).confirmed is True
    assert client.get("/members/").status_code == 200
    assert AuditEntry.objects.filter(verb="second_factor.enrolled", target_id=str(reviewer.pk)).count() == 1
    assert AuditEntry.objects.filter(verb="second_factor.failed").count() == 1
    # The enrolment page is closed once a device exists: the codes are never shown again.
    assert client.get("/account/second-factor/enrol/")["Location"] == "/"


def test_verify_accepts_a_code_once_and_a_recovery_code_once(client, tree):
    city = make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    device = second_factor_device(city)
    login_password_only(client, city)
    code = totp_code(device)
    assert (
        client.post("/account/second-factor/verify/", {"token": code, "next": "/issuance/batches/"})[
            "Location"
        ]
        == "/issuance/batches/"
    )
    assert client.get("/issuance/batches/").status_code == 200

    # A second session cannot replay the same code.
    from django.test import Client

    other = Client()
    login_password_only(other, city)
    replay = other.post("/account/second-factor/verify/", {"token": code})
    assert replay.status_code == 400 and "验证码不正确" in replay.content.decode()

    # A recovery code works once.
    from cardportal.second_factor import _recovery_codes_replace

    recovery = _recovery_codes_replace(user=city)[0]
    device.refresh_from_db()
    device.throttle_reset()
    third = Client()
    login_password_only(third, city)
    assert third.post("/account/second-factor/verify/", {"token": recovery.upper()}).status_code == 302
    assert third.get("/issuance/batches/").status_code == 200
    assert StaticToken.objects.filter(device__user=city).count() == 9
    fourth = Client()
    login_password_only(fourth, city)
    assert fourth.post("/account/second-factor/verify/", {"token": recovery}).status_code == 400
    assert AuditEntry.objects.filter(verb="second_factor.recovery_used").get().data == {"left": 9}


def test_wrong_codes_are_throttled(client, tree):
    city = make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    device = second_factor_device(city)
    login_password_only(client, city)
    wrong = "000000" if totp_code(device) != "000000" else "111111"
    assert client.post("/account/second-factor/verify/", {"token": wrong}).status_code == 400
    response = client.post("/account/second-factor/verify/", {"token": totp_code(device)})
    assert response.status_code == 400 and "错误次数过多" in response.content.decode()
    assert client.get("/issuance/batches/").status_code == 302


def test_admin_site_needs_a_verified_session(client, tree):
    admin = make_staff(ROLE.ADMIN, tree.city, username="admin-city")
    login_password_only(client, admin)
    assert client.get("/admin/").status_code == 302
    client.force_login(admin)  # the full sign-in (conftest verifies the session)
    assert client.get("/admin/").status_code == 200


def test_higher_admin_resets_a_second_factor_and_it_is_audited(client, tree):
    admin = make_staff(ROLE.ADMIN, tree.city, username="admin-city")
    reviewer = make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="reviewer-a")
    second_factor_device(reviewer)
    reviewer_client = client.__class__()
    reviewer_client.force_login(reviewer)
    assert reviewer_client.get("/members/").status_code == 200

    client.force_login(admin)
    response = client.post("/account/security/", {"username": "reviewer-a", "action": "reset"})
    assert response.status_code == 302
    assert TOTPDevice.objects.filter(user=reviewer).count() == 0
    entry = AuditEntry.objects.get(verb="second_factor.reset")
    assert (entry.actor, entry.target_id, entry.union, entry.data) == (
        admin,
        str(reviewer.pk),
        tree.county_a,
        {"devices": 1},
    )
    # The reviewer's verified session loses its verification at once; next stop: enrolment again.
    assert reviewer_client.get("/members/")["Location"].startswith("/account/second-factor/enrol/")


def test_admin_of_the_same_union_or_outside_cannot_reset(client, tree):
    peer = make_staff(ROLE.ADMIN, tree.county_a, username="admin-a")
    victim = make_staff(ROLE.COUNTY_REVIEWER, tree.county_a, username="reviewer-a")
    other = make_staff(ROLE.ADMIN, tree.county_b, username="admin-b")
    second_factor_device(victim)
    for actor, message in ((peer, "只有上级工会的系统管理员"), (other, "没有用户名为“reviewer-a”的账号")):
        client.force_login(actor)
        response = client.post("/account/security/", {"username": "reviewer-a", "action": "reset"})
        assert response.status_code == 400 and message in response.content.decode()
    assert TOTPDevice.objects.filter(user=victim).count() == 1
    assert AuditEntry.objects.filter(verb="second_factor.reset").count() == 0
    clerk = make_staff(ROLE.CLERK, tree.county_a)
    client.force_login(clerk)
    assert client.get("/account/security/").status_code == 404


def test_superuser_resets_anyone_but_not_themselves(client, tree):
    root = get_user_model().objects.create_superuser("root", password="x")
    bank = make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    second_factor_device(bank)
    client.force_login(root)
    assert client.post("/account/security/", {"username": "bank", "action": "reset"}).status_code == 302
    assert TOTPDevice.objects.filter(user=bank).count() == 0
    assert client.post("/account/security/", {"username": "root", "action": "reset"}).status_code == 400
    assert TOTPDevice.objects.filter(user=root).count() == 1


def test_api_token_is_outside_the_second_factor(client, tree):
    bank = make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    from cardportal.api_tokens import api_token_issue

    _, token = api_token_issue(user=bank, actor=bank, via="test")
    response = client.get("/api/issuance/batches/", headers={"Authorization": f"Token {token}"})
    assert response.status_code == 200


def test_demo_accounts_get_published_secrets_and_the_command_prints_their_codes(tree):
    clerk = make_staff(ROLE.CLERK, tree.unit_a1, username="clerk")
    city = make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    assert [name for name, _secret in demo_devices_ensure([clerk, city])] == ["city"]
    demo_devices_ensure([clerk, city])  # idempotent
    device = TOTPDevice.objects.get(user=city)
    assert device.key == demo_totp_key("city")
    out = StringIO()
    call_command("demo_otp", stdout=out)
    assert re.search(r"^city\s+(\d{6})$", out.getvalue(), re.M)[1] == totp_code(device)
    # A device with a real secret is never printed.
    device.key = "ab" * 20
    device.save()
    out = StringIO()
    call_command("demo_otp", stdout=out)
    assert "city" not in out.getvalue()


def test_the_admin_shows_no_device_secrets(client, tree):
    from django.contrib import admin
    from django_otp.plugins.otp_static.models import StaticDevice

    assert not admin.site.is_registered(TOTPDevice)
    assert not admin.site.is_registered(StaticDevice)
    root = get_user_model().objects.create_superuser("root", password="x")
    client.force_login(root)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404


def test_a_verified_user_who_is_not_admin_staff_gets_403_from_the_admin(client, tree):
    client.force_login(make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank"))
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    assert response.redirect_chain == [("/admin/login/?next=/admin/", 302)]
