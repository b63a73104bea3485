"""Demo merchants: about 30 partner merchants across Cangzhou's counties with realistic offers
(000 附件2 Q5: 体检8.5折, 车险5折, 电影票5折…), a few suspended/exited ones, and some reviews."""

import random
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from issuance.lifecycle import cards_apply, cards_transition
from issuance.models import Card
from members.demo import plan_years
from members.models import Member, StaffRole, Union

from .models import Merchant, MerchantCategory, MerchantEvaluation, MerchantReview, Offer
from .services import merchant_exit, merchant_scores_refresh_all, period_of

# (name, category, [(offer, terms)])
CATALOGUE = [
    ("沧州市中心医院体检中心", "医疗保健", [("健康体检套餐", "8.5折"), ("入职体检", "9折")]),
    ("沧州眼科医院", "医疗保健", [("配镜", "7.8折"), ("隐形眼镜", "9折")]),
    ("石药大药房", "医疗保健", [("非处方药品", "9.5折")]),
    ("仁和口腔诊所", "医疗保健", [("洁牙", "5折"), ("种植牙", "8折")]),
    ("博纳国际影城", "文化影视", [("电影票", "5折")]),
    ("奥斯卡电影城", "文化影视", [("电影票", "5折"), ("观影套餐", "7折")]),
    ("恒大影院", "文化影视", [("电影票", "6折")]),
    ("新华书店", "文化影视", [("图书", "8.8折")]),
    ("狮城驾校", "教育培训", [("C1驾照培训", "立减300元")]),
    ("职工技能培训学校", "教育培训", [("电工、焊工培训", "7折")]),
    ("新东方英语", "教育培训", [("成人英语课程", "8折")]),
    ("超越健身", "健身休闲", [("年卡", "6折"), ("游泳次卡", "8折")]),
    ("全民健身中心", "健身休闲", [("羽毛球场地", "5折")]),
    ("名人山庄温泉", "健身休闲", [("温泉门票", "7折")]),
    ("北国商城", "旅游购物", [("会员专场购物", "9折"), ("储值卡", "满1000赠50")]),
    ("红星美凯龙", "旅游购物", [("家具建材", "9.2折")]),
    ("盛邦汽车集团", "旅游购物", [("购车维修保养一条龙", "工时费8折")]),
    ("太平财险沧州中心支公司", "旅游购物", [("汽车保险", "最低5折")]),
    ("平安车险", "旅游购物", [("汽车保险", "最低5折")]),
    ("太平洋车险", "旅游购物", [("汽车保险", "最低5折")]),
    ("中国国旅沧州营业部", "旅游购物", [("国内跟团游", "9折")]),
    ("吴桥杂技大世界", "旅游购物", [("景区门票", "6折")]),
    ("百隆烟酒商行", "旅游购物", [("烟酒", "7折")]),
    ("巴莎酒业", "旅游购物", [("葡萄酒", "8折")]),
    ("沧州狮城宾馆", "餐饮住宿", [("客房", "6.8折"), ("会议室", "8折")]),
    ("运河人家饭庄", "餐饮住宿", [("堂食", "8.8折")]),
    ("驴肉火烧老字号", "餐饮住宿", [("堂食", "9折")]),
    ("泊头鸭梨酒店", "餐饮住宿", [("客房", "7折")]),
    ("任丘华北宾馆", "餐饮住宿", [("客房", "7.5折"), ("自助早餐", "5折")]),
    ("黄骅海鲜城", "餐饮住宿", [("海鲜宴", "8.5折")]),
    ("献县汉城公园", "健身休闲", [("门票", "5折")]),
    ("河间驴肉馆", "餐饮住宿", [("堂食", "9折")]),
]
STREETS = ["解放路", "永济路", "北京路", "浮阳大道", "新华路", "黄河路", "长芦大道", "运河路"]
COMMENTS = {
    5: "优惠实在，服务很好",
    4: "不错，出示工会卡即可",
    3: "一般",
    2: "店员不清楚优惠政策",
    1: "拒绝使用工会卡优惠",
}


def _luhn(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def demo_card_holders(n: int, *, rng: random.Random) -> list[Member]:
    """Members with an activated card. Uses existing activated cards (the issuance demo makes
    them) and tops up with cards walked through the real lifecycle when there are too few."""
    have = list(Member.objects.filter(cards__status=Card.Status.ACTIVATED).distinct().order_by("id")[:n])
    if len(have) >= n:
        return have
    live = Card.objects.live().values("member_id")
    fresh = list(Member.objects.exclude(pk__in=live).order_by("id")[: n - len(have)])
    cards = cards_apply(members=fresh, note="演示：商户评议会员")
    ids = sorted({c.pk for c in cards})
    taken = set(Card.objects.filter(number__startswith="6217009").values_list("number", flat=True))
    numbers, seq = {}, 0
    for pk in ids:
        while True:
            seq += 1
            number = _luhn(f"6217009{seq:011d}")
            if number not in taken:
                break
        numbers[pk] = {"number": number}
    at = timezone.now() - timedelta(days=200)
    for status in ("in_batch", "issued", "received", "distributed", "activated"):
        cards_transition(
            cards=ids, to_status=status, at=at, updates=numbers if status == "issued" else None, strict=False
        )
        at += timedelta(days=7)
    return have + fresh


@transaction.atomic
def load(*, stdout) -> None:
    if Merchant.objects.exists():
        return
    rng = random.Random(2016)
    counties = list(
        Union.objects.filter(level__in=[Union.Level.COUNTY, Union.Level.INDUSTRY]).order_by("code")
    )
    city = Union.objects.filter(level=Union.Level.CITY).order_by("code").first()
    if not counties or city is None:
        return
    today = timezone.localdate()
    merchants = _merchants(rng, city=city, counties=counties, categories=_categories(), today=today)
    Merchant.objects.bulk_create(merchants)
    offers = [
        Offer(merchant=merchant, description=description, terms=terms, valid_from=merchant.contract_start)
        for merchant, (_, _, items) in zip(merchants, CATALOGUE, strict=True)
        for description, terms in items
    ]
    Offer.objects.bulk_create(offers)

    holders = demo_card_holders(24, rng=rng)
    admin = StaffRole.objects.filter(role=StaffRole.Role.ADMIN).select_related("user").first()
    admin_user = admin.user if admin else None
    reviews = _reviews_and_evaluations(
        rng, merchants=merchants, holders=holders, admin_user=admin_user, today=today
    )
    merchant_scores_refresh_all(on=today)
    gone = next(m for m in merchants if m.name == "恒大影院")
    merchant_exit(
        merchant=gone, reason="合约期内多次拒绝持卡优惠，会员评议不合格，按约退出", actor=admin_user
    )
    Merchant.objects.filter(name="新东方英语").update(status=Merchant.Status.SUSPENDED)
    stdout.write(f"特约商户：{len(merchants)} 家（{len(offers)} 项优惠），会员评议 {reviews} 条。")


def _categories() -> dict[str, MerchantCategory]:
    for order, name in enumerate(
        ["医疗保健", "文化影视", "教育培训", "健身休闲", "旅游购物", "餐饮住宿"], start=1
    ):
        MerchantCategory.objects.get_or_create(name=name, defaults={"order": order * 10})  # after a flush
    return {c.name: c for c in MerchantCategory.objects.all()}


def _merchants(rng: random.Random, *, city, counties, categories, today: date) -> list[Merchant]:
    """The catalogue's merchants, unsaved."""
    start = date(plan_years()[0], 3, 1)
    merchants = []
    for i, (name, category, _items) in enumerate(CATALOGUE):
        # Insurers, the department store and the cinemas are signed city-wide; the rest by a county.
        union = city if i in (4, 14, 17, 18, 19) else counties[i % len(counties)]
        merchants.append(
            Merchant(
                name=name,
                category=categories[category],
                union=union,
                address=f"{union.name.removesuffix('总工会')}{rng.choice(STREETS)}{rng.randrange(1, 300)}号",
                contact_person=rng.choice("王李张刘陈杨赵") + "经理",
                contact_phone=f"0317-{rng.randrange(2000000, 9999999)}",
                contract_start=start + timedelta(days=rng.randrange(0, 120)),
                contract_end=date(today.year + 1, 12, 31),
            )
        )
        if rng.random() < 0.7:
            merchants[-1].signage_issued, merchants[-1].signage_issued_on = True, start + timedelta(days=150)
    return merchants


def _reviews_and_evaluations(rng: random.Random, *, merchants, holders, admin_user, today: date) -> int:
    """Members' reviews and staff evaluations of each merchant; returns how many reviews."""
    reviews = []
    for merchant in merchants:
        # Most merchants do well; two are rated poorly (they become exit candidates).
        poor = merchant.name in ("百隆烟酒商行", "驴肉火烧老字号")
        for member in rng.sample(holders, min(len(holders), rng.randrange(3, 9))):
            rating = rng.choice([1, 2, 2, 3]) if poor else rng.choice([4, 4, 5, 5, 5, 3])
            day = today - timedelta(days=rng.randrange(1, 80))
            reviews.append(
                MerchantReview(
                    merchant=merchant,
                    member=member,
                    period=period_of(day),
                    rating=rating,
                    comment=COMMENTS[rating],
                    reviewed_on=day,
                )
            )
        if rng.random() < 0.5:
            MerchantEvaluation.objects.create(
                merchant=merchant,
                evaluator=admin_user,
                rating=2 if poor else rng.choice([4, 5]),
                note="日常考评：明码标价，优惠兑现" if not poor else "日常考评：未按约定给予优惠",
                evaluated_on=today - timedelta(days=rng.randrange(1, 60)),
            )
    MerchantReview.objects.bulk_create(reviews, ignore_conflicts=True)
    return len(reviews)
