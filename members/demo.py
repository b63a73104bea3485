"""Demo data: Hebei province, the Cangzhou city federation with the 22 county-level unions of the
2016–2018 plan (names and member counts exactly as in the plan), grassroots unions, synthetic
members with valid ID numbers, and one login per role."""

import csv
import random
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .idcard import make_id_number
from .models import Member, StaffRole, Union
from .services import member_build, staff_create

PLAN_CSV = Path(settings.BASE_DIR).parent / "shared" / "data" / "cangzhou_plan_2016_2018.csv"
BUNDLED_PLAN_CSV = Path(__file__).resolve().parent / "data" / "cangzhou_plan_2016_2018.csv"

# Administrative codes of Cangzhou's districts (used for union codes and synthetic ID regions);
# the development zones without a code of their own get 1309xx numbers outside the official range.
COUNTY_CODES = {
    "新华区总工会": "130902",
    "运河区总工会": "130903",
    "沧县总工会": "130921",
    "青县总工会": "130922",
    "东光县总工会": "130923",
    "海兴县总工会": "130924",
    "盐山县总工会": "130925",
    "肃宁县总工会": "130926",
    "南皮县总工会": "130927",
    "吴桥县总工会": "130928",
    "献县总工会": "130929",
    "孟村回族自治县总工会": "130930",
    "泊头市总工会": "130981",
    "任丘市总工会": "130982",
    "黄骅市总工会": "130983",
    "河间市总工会": "130984",
    "渤海新区总工会": "130971",
    "南大港管理区总工会": "130972",
    "中捷总工会": "130973",
    "沧州开发区总工会": "130974",
    "市产业及直属": "130975",
    "临港经济技术开发区总工会": "130976",
}
WORKPLACES = [
    ("人民医院", Union.UnitType.INSTITUTION),
    ("第一中学", Union.UnitType.INSTITUTION),
    ("供电公司", Union.UnitType.ENTERPRISE),
    ("机械制造有限公司", Union.UnitType.ENTERPRISE),
    ("人民政府机关", Union.UnitType.GOVERNMENT),
    ("化工集团", Union.UnitType.ENTERPRISE),
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强海燕红梅玉兰丹萍鹏辉玲宇浩然子轩欣怡雨涵博文晨曦佳琪"
PASSWORD = "Cardportal-2016"
LOGINS = [
    ("clerk", StaffRole.Role.CLERK, "grassroots"),
    ("reviewer", StaffRole.Role.COUNTY_REVIEWER, "county"),
    ("city", StaffRole.Role.CITY_STAFF, "city"),
    ("province", StaffRole.Role.PROVINCE_STAFF, "province"),
    ("bank", StaffRole.Role.BANK_OPERATOR, "city"),
    ("admin", StaffRole.Role.ADMIN, "province"),
]


DEMO_NAMES = {
    "clerk": "王芳",
    "reviewer": "李强",
    "city": "张丽华",
    "province": "刘建国",
    "bank": "陈静",
    "admin": "赵志刚",
}


def plan_years(today: date | None = None) -> tuple[int, int, int]:
    """The demo's three plan years, ending with the current one: the league table, the rankings,
    the checkpoints and the bulletins then run in the present, as they would for a federation
    using the portal (the Cangzhou plan's 2016-2018 stays loadable with `load_quotas`)."""
    year = (today or timezone.localdate()).year
    return (year - 2, year - 1, year)


def plan_rows() -> list[dict]:
    path = PLAN_CSV if PLAN_CSV.exists() else BUNDLED_PLAN_CSV
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def is_loaded() -> bool:
    return Union.objects.filter(code="130900").exists()


EMPLOYMENT = list(Member.EmploymentType.values)


def _name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


@transaction.atomic
def load(*, members_total: int = 3000, seed: int = 2016) -> dict:
    rng = random.Random(seed)
    province = Union.objects.create(code="130000", name="河北省总工会", level=Union.Level.PROVINCE)
    city = Union.objects.create(code="130900", name="沧州市总工会", level=Union.Level.CITY, parent=province)
    grassroots, first_county = _union_tree(city, rng)
    today = timezone.localdate()
    members = [_demo_member(rng, *grassroots[n % len(grassroots)], today) for n in range(members_total)]
    # Synthetic numbers can collide (same region, birth date and sequence): keep one of each.
    unique = {m.id_hash: m for m in members}
    Member.objects.bulk_create(unique.values(), batch_size=1000)
    _submission_groups(city, [unit for unit, _work in grassroots], today)
    anchors = {"grassroots": grassroots[0][0], "county": first_county, "city": city, "province": province}
    return {"members": len(unique), "logins": _demo_logins(anchors)}


def _union_tree(city: Union, rng: random.Random) -> tuple[list[tuple[Union, str]], Union]:
    """The plan's counties under `city`, three grassroots unions in each: [(unit, its work unit
    name)] and the first county."""
    grassroots: list[tuple[Union, str]] = []
    first_county = None
    for row in plan_rows():
        name = row["union_name"]
        level = Union.Level.INDUSTRY if name == "市产业及直属" else Union.Level.COUNTY
        county = Union.objects.create(
            code=COUNTY_CODES[name],
            name=name,
            level=level,
            parent=city,
            declared_members=int(row["members_2015"]),
        )
        first_county = first_county or county
        short = name.removesuffix("总工会")
        for i, (place, unit_type) in enumerate(rng.sample(WORKPLACES, 3), start=1):
            unit = Union.objects.create(
                code=f"{county.code}-{i:03d}",
                name=f"{short}{place}工会",
                level=Union.Level.GRASSROOTS,
                parent=county,
                unit_type=unit_type,
            )
            grassroots.append((unit, f"{short}{place}"))
    return grassroots, first_county


def _demo_member(rng: random.Random, unit: Union, work_unit: str, today: date) -> Member:
    birth = date(1966, 1, 1) + timedelta(days=rng.randrange(0, 365 * 36))
    return member_build(
        id_number=make_id_number(unit.code[:6], birth, rng.randrange(1000), male=rng.random() < 0.55),
        name=_name(rng),
        phone=f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
        work_unit=work_unit,
        union=unit,
        employment_type=rng.choices(EMPLOYMENT, weights=[10, 45, 18, 11, 7, 9])[0],  # unknown first
        is_hardship=rng.random() < 0.04,
        is_model_worker=rng.random() < 0.01,
        dues_paid=rng.choices([True, False, None], weights=[78, 12, 10])[0],
        joined_on=today - timedelta(days=rng.randrange(30, 365 * 20)),
        today=today,
    )


def _demo_logins(anchors: dict[str, Union]) -> list[tuple[str, str, str]]:
    logins = []
    for username, role, anchor in LOGINS:
        user = staff_create(username=username, password=PASSWORD, role=role, union=anchors[anchor])
        # Pages name people by their real names (a Chinese name whole in first_name, so
        # get_full_name() reads "王芳", not "芳 王").
        user.first_name = DEMO_NAMES[username]
        user.save(update_fields=["first_name"])
        if role == StaffRole.Role.ADMIN:
            user.is_superuser = True
            user.save(update_fields=["is_superuser"])
        logins.append((username, role.label, anchors[anchor].name))
    return logins


def _submission_groups(owner: Union, units: list[Union], today: date) -> None:
    """附件6-style groups: units in five groups, due dates a few weeks apart around today."""
    from .models import SubmissionGroup

    size = -(-len(units) // 5)
    for n in range(5):
        group = SubmissionGroup.objects.create(
            name=f"第{'一二三四五'[n]}组", due_date=today + timedelta(days=14 * n - 7), owner=owner
        )
        group.unions.set(units[n * size : (n + 1) * size])
