"""Members and staff are two kinds of account: a member session reaches no staff page or API, a
staff login is not a member login, and a member reaches only their own card."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from benefits.membersite.auth import MEMBER_KEY
from issuance.models import Card
from tests.factories import make_member
from tests.issuance.factories import make_card

from .helpers import sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]

# Pages anyone may open (a member sees exactly what an anonymous visitor sees there).
# The merchant directory and its API are public by design; drf-spectacular serves the schema and
# its Swagger shell to anyone (SERVE_PERMISSIONS default).
PUBLIC = {
    "/",
    "/healthz",
    "/health/live/",  # probes (issue 17): nothing but the checks' names and OK or not
    "/health/ready/",
    "/health/ready/web/",
    "/staff/login/",
    "/admin/login/",
    "/merchants/directory/",
    "/api/merchants/",
    "/api/merchants/categories/",
    "/api/schema/",
    "/api/docs/",
}


def _route(pattern) -> str:
    text = str(pattern.pattern)
    text = re.sub(r"<int:\w+>", "1", text)
    text = re.sub(r"<(?:\w+:)?\w+>", "x", text)
    text = re.sub(r"\(\?P<\w+>[^)]*\)", "x", text)  # admin's regex routes
    return text.lstrip("^").rstrip("$").replace("\\", "")


def all_urls(patterns=None, prefix="") -> list[str]:
    urls = []
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            urls += all_urls(p.url_patterns, prefix + _route(p))
        elif isinstance(p, URLPattern):
            urls.append("/" + prefix + _route(p))
    return sorted(set(urls))


def staff_urls() -> list[str]:
    return [u for u in all_urls() if not u.startswith(("/me/", "/api/me/")) and "static" not in u]


def test_url_walk_covers_every_app():
    urls = staff_urls()
    for expected in (
        "/members/1/",
        "/issuance/cards/1/lost/",
        "/sms/",
        "/api/members/",
        "/admin/",
        "/quotas/league/",
    ):
        assert expected in urls
    assert len(urls) > 80


def test_member_session_reaches_no_staff_url(client, tree, django_capture_on_commit_callbacks):
    member = make_member(tree.unit_a1)
    sign_in(client, django_capture_on_commit_callbacks, member)
    anonymous = client.__class__()
    checked, differing, answered = 0, [], []
    # the staff sign-out (which flushes any session, a member's too) last
    urls = [u for u in staff_urls() if u != "/logout/"] + ["/logout/"]
    for url in urls:
        if url == "/logout/":
            assert client.session[MEMBER_KEY] == member.pk  # every refusal so far was the page's
        for method in ("get", "post"):
            as_member = getattr(client, method)(url)
            as_nobody = getattr(anonymous, method)(url)
            if (as_member.status_code, as_member.get("Location")) != (
                as_nobody.status_code,
                as_nobody.get("Location"),
            ):
                differing.append(f"{method.upper()} {url}")
            if as_member.status_code == 200 and url not in PUBLIC:
                answered.append(f"{method.upper()} {url}")
            checked += 1
    assert (differing, answered) == ([], [])
    assert checked == 2 * len(staff_urls())


def test_member_session_gets_401_or_403_from_the_api(client, tree, django_capture_on_commit_callbacks):
    member = make_member(tree.unit_a1)
    sign_in(client, django_capture_on_commit_callbacks, member)

    assert client.get("/api/members/").status_code in (401, 403)
    assert client.get(f"/api/members/{member.pk}/").status_code in (401, 403)
    assert client.get("/members/").status_code == 302


def test_staff_login_is_not_a_member_login(client, clerk):
    client.force_login(clerk)

    response = client.get("/me/")

    assert response.status_code == 302 and response["Location"] == "/me/login/?next=%2Fme%2F"


def test_member_sign_in_ends_a_staff_session_in_that_browser(
    client, clerk, tree, django_capture_on_commit_callbacks
):
    member = make_member(tree.unit_a1)
    client.force_login(clerk)

    sign_in(client, django_capture_on_commit_callbacks, member)

    assert "_auth_user_id" not in client.session and client.session[MEMBER_KEY] == member.pk
    assert client.get("/members/")["Location"].startswith("/staff/login/")


def test_staff_dashboard_and_landing_at_root(client, clerk):
    anonymous = client.get("/")
    assert anonymous.status_code == 200 and "常见问题" in anonymous.content.decode()
    assert "400-612-9999" in anonymous.content.decode()
    client.force_login(clerk)
    staff = client.get("/")
    assert staff.status_code == 200 and "常见问题" not in staff.content.decode()
    assert "工作台" in staff.content.decode()


def test_old_login_address_redirects_to_staff_login(client):
    response = client.get("/login/?next=/members/")

    assert response.status_code == 302 and response["Location"] == "/staff/login/?next=/members/"
    assert client.get("/members/")["Location"].startswith("/staff/login/")


def test_member_cannot_open_or_report_lost_another_members_card(
    client, tree, django_capture_on_commit_callbacks
):
    mine = make_card(tree.unit_a1, status=Card.Status.ACTIVATED)
    theirs = make_card(tree.unit_a1, status=Card.Status.ACTIVATED)
    sign_in(client, django_capture_on_commit_callbacks, mine.member)

    assert client.get(f"/me/cards/{mine.pk}/").status_code == 200
    assert client.get(f"/me/cards/{theirs.pk}/").status_code == 404
    assert client.get(f"/me/cards/{theirs.pk}/lost/").status_code == 404
    response = client.post(f"/me/cards/{theirs.pk}/lost/", {"confirm": "yes"})

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Card.Status.ACTIVATED and Card.objects.count() == 2
