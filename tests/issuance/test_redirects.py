"""Finding 6 (issue 10): `next` parameters never send a user off-site."""

import pytest

from issuance.models import CardNotice
from issuance.services.cards import card_report_lost

from .factories import S, make_card

pytestmark = pytest.mark.django_db


@pytest.fixture
def notice(tree, clerk):
    card_report_lost(card=make_card(tree.unit_a1, status=S.ACTIVATED), actor=clerk)
    return CardNotice.objects.get()


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "http://evil.example/issuance/",
        "javascript:alert(1)",
        "https:/\\evil.example/",
        "http://testserver.evil.example/",
    ],
)
def test_notice_ack_never_redirects_off_site(client, clerk, notice, target):
    client.force_login(clerk)
    response = client.post(f"/issuance/notices/{notice.pk}/ack/", {"next": target})
    assert response.status_code == 302
    assert response["Location"] == "/issuance/"
    notice.refresh_from_db()
    assert notice.read_by == clerk  # the acknowledgement itself still counts


def test_notice_ack_follows_a_path_on_this_site(client, clerk, notice):
    client.force_login(clerk)
    response = client.post(
        f"/issuance/notices/{notice.pk}/ack/", {"next": f"/issuance/unions/{notice.union_id}/"}
    )
    assert response["Location"] == f"/issuance/unions/{notice.union_id}/"


@pytest.mark.parametrize("url", ["/account/second-factor/verify/", "/account/second-factor/enrol/"])
def test_second_factor_pages_drop_an_off_site_next(client, tree, url):
    from ..conftest import login_password_only
    from ..factories import ROLE, make_staff

    login_password_only(client, make_staff(ROLE.CLERK, tree.unit_a1))  # needs no second factor
    assert client.get(f"{url}?next=https://evil.example/")["Location"] == "/"


def test_login_drops_an_off_site_next(client, clerk):
    response = client.post(
        "/staff/login/?next=https://evil.example/", {"username": "clerk-a1", "password": "pw-Cardportal-1"}
    )
    assert response["Location"] == "/"
