"""Partner API tokens (issue 10, finding 3): stored as digests, expiring, rotated with the old one
revoked, only for partner roles, audited, shown by prefix only; and the API's rate limits."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.test import APIClient

from cardportal.models import ApiToken, AuditEntry
from members.models import StaffRole

from .factories import ROLE, make_staff

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Cardportal-1"


@pytest.fixture
def bank(tree):
    return make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")


def _token_for(username: str, **extra) -> APIClient:
    client = APIClient(**extra)
    response = client.post("/api/token/", {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def _with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_token_is_stored_as_a_digest_and_expires_in_90_days(bank):
    before = timezone.now()
    token = _token_for("bank")
    row = AuthToken.objects.get(user=bank)
    assert token.startswith("cp_") and len(token) == 3 + 64
    assert row.digest == hash_token(token) and row.token_key == token[:15]
    stored = " ".join(
        str(v)
        for v in AuthToken.objects.values_list("digest", "token_key", "user_id", "created", "expiry")[0]
    )
    assert token not in stored
    assert before + timedelta(days=90) <= row.expiry <= timezone.now() + timedelta(days=90)
    assert _with(token).get("/api/issuance/batches/").status_code == 200


def test_expired_token_is_refused_and_removed(bank):
    token = _token_for("bank")
    AuthToken.objects.filter(user=bank).update(expiry=timezone.now() - timedelta(seconds=1))
    response = _with(token).get("/api/issuance/batches/")
    assert response.status_code == 401
    assert not AuthToken.objects.filter(user=bank).exists()


def test_new_token_revokes_the_old_one_and_both_are_audited_by_prefix(bank):
    first = _token_for("bank")
    second = _token_for("bank")
    assert _with(first).get("/api/issuance/batches/").status_code == 401
    assert _with(second).get("/api/issuance/batches/").status_code == 200
    assert AuthToken.objects.filter(user=bank).count() == 1
    entries = list(AuditEntry.objects.filter(verb__startswith="api_token.").order_by("id"))
    assert [(e.verb, e.actor, e.data) for e in entries] == [
        ("api_token.issued", bank, {"prefix": first[:8], "via": "api", "expiry": entries[0].data["expiry"]}),
        ("api_token.revoked", bank, {"prefix": first[:8], "reason": "rotated"}),
        ("api_token.issued", bank, {"prefix": second[:8], "via": "api", "expiry": entries[2].data["expiry"]}),
    ]
    assert all(first not in str(e.data) and second not in str(e.data) for e in entries)


def test_wrong_password_gets_a_chinese_message_and_no_token(bank):
    response = APIClient().post("/api/token/", {"username": "bank", "password": "wrong"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "用户名或密码错误", "code": "invalid_credentials"}
    assert not AuthToken.objects.exists()


def test_token_stops_working_when_the_account_is_no_longer_a_partner(bank):
    token = _token_for("bank")
    StaffRole.objects.filter(user=bank).update(role=ROLE.CITY_STAFF)
    response = _with(token).get("/api/issuance/batches/")
    assert response.status_code == 401
    assert response.json()["detail"] == "该账号已不是合作机构经办账号，令牌不再有效"


def test_token_admin_lists_a_prefix_never_the_token(client, tree, bank):
    token = _token_for("bank")
    root = make_staff(ROLE.ADMIN, tree.province, username="admin-root")
    client.force_login(root)
    page = client.get(reverse("admin:cardportal_apitoken_changelist")).content.decode()
    assert f"{token[:8]}…" in page
    assert token not in page and token[:15] not in page
    row = ApiToken.objects.get()
    detail = client.get(reverse("admin:cardportal_apitoken_change", args=[row.pk])).content.decode()
    assert token[:15] not in detail
    # The page of the finding (DRF authtoken's list of keys in clear) and knox's own admin are gone.
    assert client.get("/admin/authtoken/tokenproxy/").status_code == 404
    assert client.get("/admin/knox/authtoken/").status_code == 404


def test_admin_action_issues_a_token_once_and_revokes_the_old(client, tree, bank):
    old = _token_for("bank")
    root = make_staff(ROLE.ADMIN, tree.province, username="admin-root")
    clerk = make_staff(ROLE.CLERK, tree.unit_a1, username="clerk-a1")
    client.force_login(root)
    response = client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "issue_api_token", "_selected_action": [bank.pk, clerk.pk]},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    new = response.context["issued"][0]["text"]
    assert [row["user"] for row in response.context["issued"]] == [bank]
    assert [(row["user"], row["reason"]) for row in response.context["refused"]] == [
        (clerk, "只有合作机构（银行）经办账号可以申请 API 令牌；工作人员请在浏览器中登录使用")
    ]
    assert new in response.content.decode()
    assert _with(old).get("/api/issuance/batches/").status_code == 401
    assert _with(new).get("/api/issuance/batches/").status_code == 200
    issued = AuditEntry.objects.filter(verb="api_token.issued", actor=root).get()
    assert issued.data["via"] == "admin" and issued.data["prefix"] == new[:8]
    # Shown once: nothing the admin can open later holds it.
    assert new not in client.get(reverse("admin:cardportal_apitoken_changelist")).content.decode()
    assert not AuthToken.objects.filter(user=clerk).exists()


def test_revoking_in_the_admin_is_audited(client, tree, bank):
    token = _token_for("bank")
    root = make_staff(ROLE.ADMIN, tree.province, username="admin-root")
    client.force_login(root)
    row = ApiToken.objects.get()
    response = client.post(
        reverse("admin:cardportal_apitoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    assert not AuthToken.objects.exists()
    assert AuditEntry.objects.get(verb="api_token.revoked").data == {"prefix": token[:8], "reason": "revoked"}
    assert _with(token).get("/api/issuance/batches/").status_code == 401


def test_management_command_rotates_and_revokes(bank):
    old = _token_for("bank")
    out, err = StringIO(), StringIO()
    call_command("api_token", "rotate", "bank", stdout=out, stderr=err)
    new = out.getvalue().strip()
    assert new.startswith("cp_") and new != old
    assert "令牌只显示这一次" in err.getvalue()
    assert _with(old).get("/api/issuance/batches/").status_code == 401
    assert _with(new).get("/api/issuance/batches/").status_code == 200
    listed = StringIO()
    call_command("api_token", "list", "bank", stdout=listed)
    assert listed.getvalue().startswith(f"{new[:8]}…") and new not in listed.getvalue()
    call_command("api_token", "revoke", "bank", stdout=StringIO())
    assert not AuthToken.objects.exists()
    assert list(AuditEntry.objects.filter(actor=None).values_list("verb", flat=True).order_by("id")) == [
        "api_token.revoked",
        "api_token.issued",
        "api_token.revoked",
    ]


def test_management_command_refuses_a_staff_account(tree):
    make_staff(ROLE.CITY_STAFF, tree.city, username="city")
    with pytest.raises(Exception, match="只有合作机构（银行）经办账号可以申请 API 令牌"):
        call_command("api_token", "rotate", "city", stdout=StringIO())
    assert not AuthToken.objects.exists()


# --- throttles --------------------------------------------------------------------------------
@pytest.fixture
def rates(settings):
    def set_rates(**rates):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }

    return set_rates


def test_signed_in_user_past_the_rate_gets_429_in_chinese(client, clerk, rates):
    rates(user="3/min")
    client.force_login(clerk)
    codes = [client.get("/api/members/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/members/")
    assert response.json()["detail"].startswith("请求过于频繁，请 ") and response.json()["detail"].endswith(
        " 秒后再试"
    )
    assert 0 < int(response["Retry-After"]) <= 60


def test_anonymous_requests_are_counted_per_ip(rates):
    rates(anon="2/min")
    here, there = APIClient(REMOTE_ADDR="198.51.100.7"), APIClient(REMOTE_ADDR="198.51.100.8")
    codes = [here.get("/api/schema/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert there.get("/api/schema/").status_code == 200


def test_token_requests_are_throttled_per_username_across_ips(bank, rates):
    rates(token_username="3/hour")
    codes = [
        APIClient(REMOTE_ADDR=f"203.0.113.{n}")
        .post("/api/token/", {"username": "BANK", "password": "wrong"}, format="json")
        .status_code
        for n in range(4)
    ]
    assert codes == [400, 400, 400, 429]
    # The right password does not get through either while the account's window is spent.
    right = APIClient(REMOTE_ADDR="203.0.113.99").post(
        "/api/token/", {"username": "bank", "password": PASSWORD}, format="json"
    )
    assert right.status_code == 429
    assert not AuthToken.objects.exists()


def test_token_requests_are_throttled_per_ip_across_usernames(bank, rates):
    rates(token_ip="3/hour")
    client = APIClient(REMOTE_ADDR="203.0.113.5")
    codes = [
        client.post("/api/token/", {"username": f"guess{n}", "password": "x"}, format="json").status_code
        for n in range(4)
    ]
    assert codes == [400, 400, 400, 429]
    assert (
        APIClient(REMOTE_ADDR="203.0.113.6")
        .post("/api/token/", {"username": "bank", "password": PASSWORD}, format="json")
        .status_code
        == 200
    )


def test_a_forged_forwarded_for_header_does_not_open_a_new_window(bank, rates):
    rates(token_ip="2/hour")
    codes = [
        APIClient(REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
        .post("/api/token/", {"username": f"guess{n}", "password": "x"}, format="json")
        .status_code
        for n in range(3)
    ]
    assert codes == [400, 400, 429]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_issues_leave_one_live_token(tree):
    """The account row is locked while its tokens are replaced: no second live token slips in."""
    import threading

    from django.db import connection

    from cardportal.api_tokens import api_token_issue

    bank = make_staff(ROLE.BANK_OPERATOR, tree.city, username="bank")
    start = threading.Barrier(2)
    texts = []

    def issue():
        try:
            start.wait()
            texts.append(api_token_issue(user=bank, actor=bank, via="api")[1])
        finally:
            connection.close()

    threads = [threading.Thread(target=issue) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(texts) == 2
    assert list(AuthToken.objects.values_list("digest", flat=True)) in (
        [hash_token(texts[0])],
        [hash_token(texts[1])],
    )
