import io

import pytest
from openpyxl import load_workbook

from cardportal.models import AuditEntry
from merchants.models import Merchant, MerchantCategory, MerchantEvaluation, Offer

from .factories import make_merchant, make_offer

pytestmark = pytest.mark.django_db
LIST = "/admin/merchants/merchant/"


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_list_shows_scoped_merchants_with_labels(admin_client, tree):
    make_merchant(tree.county_a, name="甲县眼科")
    make_merchant(tree.county_b, name="乙县影城")
    response = admin_client.get(LIST)
    body = response.content.decode()
    assert response.status_code == 200
    assert "甲县眼科" in body and "乙县影城" not in body  # admin of county A sees its subtree only
    assert "优惠项目数" in body and "评议标记" in body


def test_other_county_merchant_is_404(admin_client, tree):
    other = make_merchant(tree.county_b, name="乙县影城")
    assert admin_client.get(f"{LIST}{other.pk}/change/").status_code == 404


def test_search_and_filters(admin_client, tree):
    make_merchant(tree.county_a, name="甲县眼科", cat="医疗保健")
    film = make_merchant(tree.county_a, name="甲县影城", cat="文化影视")
    make_offer(film, description="电影票", terms="5折")
    make_merchant(tree.unit_a1, name="一中食堂", cat="餐饮住宿", status="suspended")

    def names(**params):
        response = admin_client.get(LIST, params)
        assert response.status_code == 200
        return sorted(m.name for m in response.context["cl"].result_list)

    assert names(q="电影票") == ["甲县影城"]
    assert names(q="眼科") == ["甲县眼科"]
    cat = MerchantCategory.objects.get(name="文化影视").pk
    assert names(category__id__exact=cat) == ["甲县影城"]
    assert names(status__exact="suspended") == ["一中食堂"]
    assert names(area=tree.county_a.pk) == ["一中食堂", "甲县影城", "甲县眼科"]


def test_add_merchant_with_inline_offers_and_an_evaluation(admin_client, tree):
    data = {
        "name": "沧州博纳国际影城",
        "category": MerchantCategory.objects.get(name="文化影视").pk,
        "union": tree.county_a.pk,
        "address": "运河区解放路1号",
        "contact_person": "王经理",
        "contact_phone": "0317-1234567",
        "contract_start": "2016-05-01",
        "contract_end": "2018-04-30",
        "status": "active",
        "offers-TOTAL_FORMS": "2",
        "offers-INITIAL_FORMS": "0",
        "offers-0-description": "电影票",
        "offers-0-terms": "5折",
        "offers-0-valid_from": "2016-05-01",
        "offers-0-audience": "all",
        "offers-1-description": "爆米花套餐",
        "offers-1-terms": "8折",
        "offers-1-valid_from": "2016-05-01",
        "offers-1-valid_until": "2016-12-31",
        "offers-1-audience": "activated",
        "evaluations-TOTAL_FORMS": "1",
        "evaluations-INITIAL_FORMS": "0",
        "evaluations-0-evaluated_on": "2016-06-01",
        "evaluations-0-rating": "4",
        "evaluations-0-note": "服务规范，优惠兑现",
        "mids-TOTAL_FORMS": "0",  # the merchant numbers inline (merchants/usage): none yet
        "mids-INITIAL_FORMS": "0",
    }
    response = admin_client.post(f"{LIST}add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    merchant = Merchant.objects.get(name="沧州博纳国际影城")
    assert list(Offer.objects.filter(merchant=merchant).values_list("description", "terms", "audience")) == [
        ("电影票", "5折", "all"),
        ("爆米花套餐", "8折", "activated"),
    ]
    evaluation = MerchantEvaluation.objects.get(merchant=merchant)
    assert (evaluation.rating, evaluation.evaluator.username) == (4, "admin-a")
    merchant.refresh_from_db()
    assert (str(merchant.score), merchant.rating_count) == ("4.00", 1)
    assert AuditEntry.objects.filter(verb__in=["merchant.created", "merchant.evaluated"]).count() == 2


def test_status_field_cannot_exit(admin_client, tree):
    merchant = make_merchant(tree.county_a)
    form = admin_client.get(f"{LIST}{merchant.pk}/change/").context["adminform"].form
    assert [c[0] for c in form.fields["status"].choices] == ["active", "suspended"]


def test_bulk_exit_asks_for_a_reason_then_exits(admin_client, tree):
    a, b = make_merchant(tree.county_a, name="差评甲"), make_merchant(tree.county_a, name="差评乙")
    keep = make_merchant(tree.county_a, name="保留")
    selection = {"action": "exit_selected", "_selected_action": [a.pk, b.pk]}
    # when the action is chosen, an intermediate page asks for the reason; nothing changes yet
    response = admin_client.post(LIST, selection)
    assert response.status_code == 200 and "退出原因" in response.content.decode()
    assert set(Merchant.objects.values_list("status", flat=True)) == {"active"}
    # an empty reason is refused on that page
    response = admin_client.post(LIST, {**selection, "confirm": "1", "reason": "", "exited_on": "2016-09-30"})
    assert response.status_code == 200
    assert Merchant.objects.filter(status="exited").count() == 0
    # then confirmed with a reason
    response = admin_client.post(
        LIST,
        {**selection, "confirm": "1", "reason": "会员评议低于2.5分，按约退出", "exited_on": "2016-09-30"},
    )
    assert response.status_code == 302
    rows = dict(Merchant.objects.values_list("name", "status"))
    assert rows == {"差评甲": "exited", "差评乙": "exited", "保留": "active"}
    assert Merchant.objects.get(pk=a.pk).exit_reason == "会员评议低于2.5分，按约退出"
    assert AuditEntry.objects.filter(verb="merchant.exited").count() == 2
    assert keep.pk not in AuditEntry.objects.values_list("target_id", flat=True)


def test_bulk_signage_and_suspend(admin_client, tree):
    a = make_merchant(tree.county_a)
    admin_client.post(LIST, {"action": "mark_signage", "_selected_action": [a.pk]})
    admin_client.post(LIST, {"action": "suspend_selected", "_selected_action": [a.pk]})
    a.refresh_from_db()
    assert (a.signage_issued, a.signage_issued_on is not None, a.status) == (True, True, "suspended")


def test_export_excel_and_csv(admin_client, tree):
    m = make_merchant(tree.county_a, name="甲县眼科")
    make_offer(m, description="配镜", terms="7.8折")
    response = admin_client.post(LIST, {"action": "export_xlsx", "_selected_action": [m.pk]})
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("商户名称", "类别", "区域")
    assert rows[1][:3] == ("甲县眼科", "医疗保健", "甲县总工会") and rows[1][13] == "配镜 7.8折"
    csv_body = admin_client.post(LIST, {"action": "export_csv", "_selected_action": [m.pk]}).content.decode()
    assert csv_body.startswith("\ufeff商户名称,") and "甲县眼科" in csv_body


def test_clerk_has_no_admin(client, clerk, tree):
    make_merchant(tree.county_a)
    client.force_login(clerk)
    assert client.get(LIST).status_code == 302  # not staff: redirected to the admin login


def test_delete_is_not_offered_a_merchant_leaves_by_exit(admin_client, tree):
    merchant = make_merchant(tree.county_a, name="甲县眼科")
    assert admin_client.get(f"{LIST}{merchant.pk}/delete/").status_code == 403
    assert admin_client.post(f"{LIST}{merchant.pk}/delete/", {"post": "yes"}).status_code == 403
    changelist = admin_client.get(LIST).content.decode()
    assert "delete_selected" not in changelist and "exit_selected" in changelist
    admin_client.post(LIST, {"action": "delete_selected", "_selected_action": [merchant.pk], "post": "yes"})
    assert Merchant.objects.filter(pk=merchant.pk).exists()
    change = admin_client.get(f"{LIST}{merchant.pk}/change/").content.decode()
    assert f"{merchant.pk}/delete/" not in change  # no 删除 button on the merchant
