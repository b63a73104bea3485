import pytest

from merchants.services import merchant_exit

from .factories import make_merchant, make_offer

pytestmark = pytest.mark.django_db


def test_public_merchant_api_lists_active_merchants_with_offers(client, tree, admin_user):
    shown = make_merchant(tree.county_a, name="沧州眼科医院")
    make_offer(shown, description="配镜", terms="7.8折")
    gone = make_merchant(tree.county_a, name="退出商户")
    merchant_exit(merchant=gone, reason="评议不合格", actor=admin_user)
    response = client.get("/api/merchants/")  # anonymous
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(m["name"], m["area"], [o["terms"] for o in m["offers"]]) for m in results] == [
        ("沧州眼科医院", "甲县总工会", ["7.8折"])
    ]
    assert client.get(f"/api/merchants/{gone.pk}/").status_code == 404
    assert client.get(f"/api/merchants/{shown.pk}/").json()["offers"][0]["description"] == "配镜"
    assert client.get("/api/merchants/", {"q": "无此商户"}).json()["results"] == []
    assert [c["name"] for c in client.get("/api/merchants/categories/").json()][:2] == [
        "医疗保健",
        "文化影视",
    ]
