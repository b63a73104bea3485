"""特约商户 for a signed-in member: their county first, search, category, and 评价 under the
merchants' review rule (one per merchant per quarter, live card only)."""

import pytest

from merchants.models import Merchant, MerchantReview
from merchants.services import period_of
from tests.factories import make_member
from tests.merchants.factories import give_card, make_merchant, make_offer

from .helpers import sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_tasks_inline")]


@pytest.fixture
def merchants(tree):
    made = {
        "b_clinic": make_merchant(tree.county_b, name="乙县口腔诊所", cat="医疗保健"),
        "a_cinema": make_merchant(tree.county_a, name="甲县影城", cat="文化影视"),
        "city_gym": make_merchant(tree.city, name="全市健身连锁", cat="健身休闲"),
        "a_clinic": make_merchant(tree.unit_a2, name="甲县体检中心", cat="医疗保健"),
        "gone": make_merchant(tree.county_a, name="甲县已退出商户", status=Merchant.Status.SUSPENDED),
    }
    make_offer(made["a_clinic"], description="入职体检", terms="8折")
    return made


@pytest.fixture
def holder(client, tree, django_capture_on_commit_callbacks):
    member = make_member(tree.unit_a1, name="王建国")
    give_card(member)
    sign_in(client, django_capture_on_commit_callbacks, member)
    return member


def names(response) -> list[str]:
    return [m.name for m in response.context["page"]]


def test_the_members_county_comes_first_then_city_wide_then_the_rest(client, merchants, holder):
    response = client.get("/me/merchants/")

    assert names(response) == ["甲县体检中心", "甲县影城", "全市健身连锁", "乙县口腔诊所"]
    html = response.content.decode()
    assert "甲县的商户排在前面" in html and html.count(">本县<") == 2


def test_search_and_category_keep_the_county_order(client, merchants, holder):
    clinics = merchants["a_clinic"].category  # 医疗保健, as the 乙县 clinic

    assert names(client.get("/me/merchants/", {"q": "体检"})) == ["甲县体检中心"]
    assert names(client.get("/me/merchants/", {"category": clinics.pk})) == ["甲县体检中心", "乙县口腔诊所"]
    assert "没有找到符合条件的商户" in client.get("/me/merchants/", {"q": "游泳"}).content.decode()


def test_a_card_holder_rates_a_merchant_once_a_quarter(client, merchants, holder):
    merchant = merchants["a_cinema"]

    response = client.post(f"/me/merchants/{merchant.pk}/review/", {"rating": "4", "comment": "服务热情"})

    assert response.status_code == 302 and response["Location"] == "/me/merchants/"
    review = MerchantReview.objects.get()
    assert (review.member, review.merchant, review.rating, review.comment) == (
        holder,
        merchant,
        4,
        "服务热情",
    )
    merchant.refresh_from_db()
    assert (merchant.score, merchant.rating_count) == (4, 1)
    page = client.get("/me/merchants/").content.decode()
    assert "您本季度已评价：4分，“服务热情”" in page

    again = client.post(f"/me/merchants/{merchant.pk}/review/", {"rating": "1"}, follow=True)

    assert (
        f"该会员本期（{period_of(review.reviewed_on)}）已评议过此商户，每期只能评议一次"
        in again.content.decode()
    )
    assert MerchantReview.objects.count() == 1


def test_a_member_without_a_card_in_hand_cannot_rate(
    client, tree, merchants, django_capture_on_commit_callbacks
):
    member = make_member(tree.unit_a1)
    give_card(member, to_status="applied")
    sign_in(client, django_capture_on_commit_callbacks, member)

    page = client.get("/me/merchants/").content.decode()
    response = client.post(f"/me/merchants/{merchants['a_cinema'].pk}/review/", {"rating": "5"}, follow=True)

    assert "评价这家商户" not in page and "领到工会卡后即可评价商户" in page
    assert "只有持卡会员可以评议商户" in response.content.decode()
    assert MerchantReview.objects.count() == 0


@pytest.mark.parametrize("rating", ["0", "6", "abc", ""])
def test_a_rating_outside_1_to_5_is_refused(client, merchants, holder, rating):
    response = client.post(
        f"/me/merchants/{merchants['a_cinema'].pk}/review/", {"rating": rating}, follow=True
    )

    assert "请选择1至5分后再提交评价" in response.content.decode()
    assert MerchantReview.objects.count() == 0


def test_a_suspended_or_missing_merchant_is_404(client, merchants, holder):
    assert client.post(f"/me/merchants/{merchants['gone'].pk}/review/", {"rating": "5"}).status_code == 404
    assert client.post("/me/merchants/999999/review/", {"rating": "5"}).status_code == 404
    assert MerchantReview.objects.count() == 0


def test_the_directory_needs_a_member_session(client, merchants):
    response = client.get("/me/merchants/")

    assert response.status_code == 302 and response["Location"].startswith("/me/login/")
