"""One URL, two answers (the page, or to htmx the fragment it swaps in): every response says it
varies on HX-Request and a fragment is never stored, so Back after an htmx filter shows the page."""

import pytest

from tests.merchants.factories import make_merchant

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
RESTORE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}


def _vary(response) -> set[str]:
    return {v.strip().lower() for v in response.get("Vary", "").split(",")}


def test_member_list_page_and_fragment_vary_on_hx_request(client, clerk):
    client.force_login(clerk)

    page = client.get("/members/", {"status": "active"})
    fragment = client.get("/members/", {"status": "active"}, **HTMX)

    assert "hx-request" in _vary(page) and "hx-request" in _vary(fragment)
    assert "<html" in page.content.decode() and "<html" not in fragment.content.decode()
    assert "no-store" in fragment["Cache-Control"]


def test_member_list_filter_by_htmx_post_is_not_stored(client, clerk):
    client.force_login(clerk)

    fragment = client.post("/members/", {"status": "active"}, **HTMX)

    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
    assert "hx-request" in _vary(fragment) and "no-store" in fragment["Cache-Control"]


def test_public_directory_fragment_is_not_stored_and_history_restore_gets_the_page(client, tree):
    make_merchant(tree.county_a, name="甲县博纳影城", cat="文化影视")

    fragment = client.get("/merchants/directory/", {"q": "博纳"}, **HTMX)
    restored = client.get("/merchants/directory/", {"q": "博纳"}, **RESTORE)

    assert "hx-request" in _vary(fragment) and "no-store" in fragment["Cache-Control"]
    assert "<html" not in fragment.content.decode() and "甲县博纳影城" in fragment.content.decode()
    assert "<html" in restored.content.decode() and "甲县博纳影城" in restored.content.decode()


def test_member_list_history_restore_gets_the_whole_page(client, clerk):
    client.force_login(clerk)

    restored = client.get("/members/", {"status": "active"}, **RESTORE)

    assert "<html" in restored.content.decode()


def test_sheet_list_and_other_pages_vary_too(client, clerk):
    client.force_login(clerk)

    assert "hx-request" in _vary(client.get("/members/sheets/"))
    assert "hx-request" in _vary(client.get("/merchants/directory/"))
