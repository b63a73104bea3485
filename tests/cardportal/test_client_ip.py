"""One trusted-proxy count (settings.PROXY_COUNT) decides the client's address for audit rows,
the member sign-in throttle and the API throttles; a forged X-Forwarded-For is never trusted."""

import pytest
from django.test import RequestFactory

from benefits.membersite.models import SignInCode
from cardportal.audit import client_ip
from cardportal.models import AuditEntry
from cardportal.throttling import AnonThrottle
from tests.factories import make_member
from tests.membersite.helpers import request_code

pytestmark = pytest.mark.django_db

BEHIND_NGINX = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9"}


@pytest.mark.parametrize(
    ("count", "expected"), [(0, "127.0.0.1"), (1, "203.0.113.9"), (2, "6.6.6.6"), (3, "127.0.0.1")]
)
def test_client_ip_takes_the_entry_the_trusted_proxies_added(settings, count, expected):
    settings.PROXY_COUNT = count

    assert client_ip(RequestFactory().get("/", **BEHIND_NGINX)) == expected


def test_forged_header_without_a_proxy_is_ignored(settings):
    settings.PROXY_COUNT = 0

    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="10.0.0.1")

    assert client_ip(request) == "198.51.100.7"
    assert AnonThrottle().get_ident(request) == "198.51.100.7"


def test_api_throttle_counts_under_the_same_address(settings):
    settings.PROXY_COUNT = 1

    assert AnonThrottle().get_ident(RequestFactory().get("/", **BEHIND_NGINX)) == "203.0.113.9"


@pytest.mark.parametrize(("count", "expected"), [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_audit_row_of_a_search_records_the_client_address(client, settings, clerk, tree, count, expected):
    settings.PROXY_COUNT = count
    member = make_member(tree.unit_a1, id_number="11010519491231002X")
    client.force_login(clerk)

    client.post("/members/", {"q": member.reveal_id_number()}, **BEHIND_NGINX)

    assert list(AuditEntry.objects.filter(verb__startswith="member.search").values_list("ip", flat=True)) == [
        expected
    ]


@pytest.mark.parametrize(("count", "expected"), [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_member_sign_in_records_and_throttles_the_client_address(
    client, settings, tree, django_capture_on_commit_callbacks, count, expected
):
    settings.PROXY_COUNT = count
    member = make_member(tree.unit_a1)

    request_code(client, django_capture_on_commit_callbacks, member.reveal_id_number(), **BEHIND_NGINX)

    assert list(SignInCode.objects.values_list("ip", flat=True)) == [expected]
