"""Finding 3 (issue 10): staff sign-in is throttled per account and per IP, on every door."""

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from knox.models import AuthToken

from cardportal.models import AuditEntry

from ..factories import ROLE, make_staff

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Cardportal-1"


@pytest.fixture
def clerk(tree):
    return make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")


def _post_login(client, username, password, ip="10.0.0.7"):
    return client.post("/staff/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_wrong_passwords_lock_the_account_and_the_right_one_is_then_refused(client, clerk):
    for _ in range(4):
        assert _post_login(client, "clerk-a1", "wrong").status_code == 200  # the form again
    assert _post_login(client, "clerk-a1", "wrong").status_code == 429  # the 5th locks
    response = _post_login(client, "clerk-a1", PASSWORD)
    assert response.status_code == 429
    body = response.content.decode()
    assert "登录失败次数过多" in body and "请于" in body and "之后再试" in body
    assert "_auth_user_id" not in client.session
    assert client.get("/members/").status_code == 302  # still signed out (a staff page)


def test_lockout_is_audited_once_under_the_accounts_union(client, tree, clerk):
    for _ in range(7):
        _post_login(client, "clerk-a1", "wrong")
    failed = AuditEntry.objects.filter(verb="auth.login_failed")
    assert failed.count() == 7
    assert set(failed.values_list("target_label", "union", "ip")) == {
        ("clerk-a1", tree.unit_a1.pk, "10.0.0.7")
    }
    assert failed.filter(data__locked=True).count() == 3  # the 5th failure locks; 6th and 7th come after
    locked = AuditEntry.objects.get(verb="auth.locked_out")
    assert (locked.target_id, locked.union_id) == (str(clerk.pk), tree.unit_a1.pk)


def test_one_ip_trying_many_accounts_is_locked_for_every_account(client, tree, clerk):
    for n in range(5):
        _post_login(client, f"nobody-{n}", "guess", ip="10.9.9.9")
    assert _post_login(client, "clerk-a1", PASSWORD, ip="10.9.9.9").status_code == 429
    # The account itself is not locked: from another address it signs in.
    response = _post_login(client, "clerk-a1", PASSWORD, ip="10.0.0.8")
    assert response.status_code == 302 and response["Location"] == "/"


def test_one_account_is_locked_from_every_ip(client, clerk):
    for n in range(5):
        _post_login(client, "clerk-a1", "wrong", ip=f"10.1.0.{n}")
    assert _post_login(client, "clerk-a1", PASSWORD, ip="10.2.0.1").status_code == 429


def test_success_before_the_limit_clears_the_count(client, clerk):
    for _ in range(4):
        _post_login(client, "clerk-a1", "wrong")
    assert _post_login(client, "clerk-a1", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        _post_login(client, "clerk-a1", "wrong")
    assert _post_login(client, "clerk-a1", PASSWORD).status_code == 302


def test_api_token_endpoint_is_locked_after_failures(client, tree, settings):
    # the API's own per-username throttle would answer first; this test is about the lockout
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "token_ip": "1000/hour", "token_username": "1000/hour"},
    }
    make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    for _ in range(30):
        response = client.post(
            "/api/token/", {"username": "bank", "password": "wrong"}, REMOTE_ADDR="10.0.0.5"
        )
        assert response.status_code in (400, 429)
    response = client.post("/api/token/", {"username": "bank", "password": PASSWORD}, REMOTE_ADDR="10.0.0.5")
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out" and "之后再试" in response.json()["detail"]
    assert AuthToken.objects.count() == 0


def test_admin_login_is_the_portal_login(client):
    response = client.get("/admin/login/?next=/admin/members/union/")
    assert response.status_code == 302
    assert response["Location"] == "/staff/login/?next=/admin/members/union/"
    assert client.get("/admin/login/?next=https://evil.example/")["Location"] == "/staff/login/?next=/admin/"


def test_admin_unlocks_an_account_with_the_management_command(client, clerk):
    for _ in range(5):
        _post_login(client, "clerk-a1", "wrong")
    assert AccessAttempt.objects.filter(username="clerk-a1").exists()
    call_command("axes_reset_username", "clerk-a1")
    assert AccessAttempt.objects.filter(username="clerk-a1").count() == 0
    assert _post_login(client, "clerk-a1", PASSWORD).status_code == 302


def test_behind_a_proxy_sign_ins_count_under_the_forwarded_address(client, settings, clerk):
    settings.PROXY_COUNT = 1
    for n in range(5):
        client.post(
            "/staff/login/",
            {"username": f"nobody-{n}", "password": "guess"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9",  # the client spoofed 1.2.3.4; nginx added .9
        )
    assert AuditEntry.objects.filter(verb="auth.login_failed", ip="203.0.113.9").count() == 5
    # Another client behind the same proxy is not locked out by the first one.
    ok = client.post(
        "/staff/login/",
        {"username": "clerk-a1", "password": PASSWORD},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.1",
    )
    assert ok.status_code == 302


def test_a_higher_admin_unlocks_an_account_and_it_is_audited(client, tree, clerk):
    for _ in range(5):
        _post_login(client, "clerk-a1", "wrong")
    county_admin = make_staff(ROLE.ADMIN, tree.county_a, username="admin-a")
    peer = make_staff(ROLE.ADMIN, tree.unit_a1, username="admin-unit")
    admin_client = client.__class__()

    admin_client.force_login(peer)
    refused = admin_client.post("/account/security/", {"username": "clerk-a1", "action": "unlock"})
    assert refused.status_code == 400 and "只有上级工会的系统管理员" in refused.content.decode()
    assert AccessAttempt.objects.filter(username="clerk-a1").exists()

    admin_client.force_login(county_admin)
    response = admin_client.post("/account/security/", {"username": "clerk-a1", "action": "unlock"})
    assert response.status_code == 302
    assert AccessAttempt.objects.filter(username="clerk-a1").count() == 0
    entry = AuditEntry.objects.get(verb="auth.unlocked")
    assert (entry.actor, entry.target_id, entry.union, entry.data) == (
        county_admin,
        str(clerk.pk),
        tree.unit_a1,
        {"attempts": 1},
    )
    assert _post_login(client, "clerk-a1", PASSWORD, ip="10.0.0.8").status_code == 302
