from datetime import date

import pytest
from django.urls import reverse

from merchants.selectors import service_items_by_county
from merchants.services import merchant_exit, merchants_set_status

from .factories import make_merchant, make_offer

pytestmark = pytest.mark.django_db
URL = "/merchants/directory/"


def test_directory_is_public_and_hides_exited_and_suspended(client, tree, admin_user):
    shown = make_merchant(tree.county_a, name="沧州眼科医院")
    make_offer(shown, description="配镜", terms="7.8折")
    gone = make_merchant(tree.county_a, name="退出的影城")
    make_offer(gone, description="电影票", terms="5折")
    paused = make_merchant(tree.county_b, name="暂停的健身房")
    merchant_exit(merchant=gone, reason="评议不合格", actor=admin_user)
    merchants_set_status(merchants=[paused], status="suspended", actor=admin_user)
    response = client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert "沧州眼科医院" in body and "7.8折" in body
    assert "退出的影城" not in body and "暂停的健身房" not in body
    assert reverse("merchants:directory") == URL


def test_directory_search_category_and_area(client, tree):
    make_merchant(tree.county_a, name="甲县人民医院体检中心", cat="医疗保健")
    make_merchant(tree.county_a, name="甲县博纳影城", cat="文化影视")
    make_merchant(tree.county_b, name="乙县影城", cat="文化影视")
    film = client.get(URL, {"category": _cat("文化影视")}).content.decode()
    assert "甲县博纳影城" in film and "乙县影城" in film and "体检中心" not in film
    area = client.get(URL, {"area": tree.county_b.pk}).content.decode()
    assert "乙县影城" in area and "甲县" not in area.split("merchant-list")[1]
    search = client.get(URL, {"q": "博纳"}).content.decode()
    assert "甲县博纳影城" in search and "乙县影城" not in search


def test_directory_shows_only_offers_valid_today(client, tree):
    merchant = make_merchant(tree.county_a, name="某药房")
    make_offer(merchant, description="过期的优惠", terms="6折", valid_until=date(2016, 12, 31))
    make_offer(merchant, description="长期优惠", terms="9折")
    body = client.get(URL).content.decode()
    assert "长期优惠" in body and "过期的优惠" not in body


def test_directory_queries_do_not_grow_with_merchants(client, tree, django_assert_num_queries):
    for i in range(20):
        make_offer(make_merchant(tree.county_a, name=f"商户{i:02d}"))
    # 5 (no sign-in): merchant count, categories, areas, the page of merchants, their offers
    with django_assert_num_queries(5):
        response = client.get(URL)
    assert response.content.decode().count('class="merchant-card"') == 20


def _cat(name):
    from merchants.models import MerchantCategory

    return MerchantCategory.objects.get(name=name).pk


def test_service_items_by_county(tree, admin_user):
    on = date(2016, 12, 31)
    a1 = make_merchant(tree.county_a)
    make_offer(a1, description="体检")
    make_offer(a1, description="配镜")
    make_offer(a1, description="已过期", valid_until=date(2016, 6, 30))
    make_offer(a1, description="未开始", valid_from=date(2017, 1, 1))
    below = make_merchant(tree.unit_a2)  # signed by a grassroots union: counts for its county
    make_offer(below)
    exited = make_merchant(tree.county_b)
    make_offer(exited)
    merchant_exit(merchant=exited, reason="评议不合格", actor=admin_user, on=date(2016, 10, 1))
    later_exit = make_merchant(tree.county_b)
    make_offer(later_exit)
    merchant_exit(merchant=later_exit, reason="合约到期", actor=admin_user, on=date(2017, 2, 1))
    city_wide = make_merchant(tree.city)
    make_offer(city_wide)
    counts = service_items_by_county(on=on)
    assert counts == {tree.county_a.pk: 3, tree.county_b.pk: 1}
    # after the later exit, it no longer counts
    assert service_items_by_county(on=date(2017, 3, 1)) == {tree.county_a.pk: 4, tree.county_b.pk: 0}
