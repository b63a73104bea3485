"""Test data builders: a small union tree, staff users per role, members with valid ID numbers."""

import itertools
from dataclasses import dataclass
from datetime import date

from members.idcard import make_id_number
from members.models import Member, StaffRole, Union
from members.services import member_build, staff_create

_seq = itertools.count(1)


@dataclass
class Tree:
    province: Union
    city: Union
    county_a: Union
    county_b: Union
    unit_a1: Union
    unit_a2: Union
    unit_b1: Union


def make_tree() -> Tree:
    province = Union.objects.create(code="P13", name="测试省总工会", level=Union.Level.PROVINCE)
    city = Union.objects.create(code="C1309", name="测试市总工会", level=Union.Level.CITY, parent=province)
    county_a = Union.objects.create(code="K01", name="甲县总工会", level=Union.Level.COUNTY, parent=city)
    county_b = Union.objects.create(code="K02", name="乙县总工会", level=Union.Level.COUNTY, parent=city)
    unit_a1 = Union.objects.create(
        code="G011", name="甲县第一中学工会", level=Union.Level.GRASSROOTS, parent=county_a
    )
    unit_a2 = Union.objects.create(
        code="G012", name="甲县供电公司工会", level=Union.Level.GRASSROOTS, parent=county_a
    )
    unit_b1 = Union.objects.create(
        code="G021", name="乙县人民医院工会", level=Union.Level.GRASSROOTS, parent=county_b
    )
    return Tree(province, city, county_a, county_b, unit_a1, unit_a2, unit_b1)


def next_id_number(*, region: str = "130902", birth: date = date(1985, 6, 15), male: bool = True) -> str:
    n = next(_seq)
    return make_id_number(region, date(birth.year, birth.month, 1 + n % 28), n % 997, male=male)


def next_phone() -> str:
    return f"139{next(_seq):08d}"


def make_member(union: Union, *, id_number: str | None = None, name: str = "张三", **fields) -> Member:
    member = member_build(
        id_number=id_number or next_id_number(),
        name=name,
        phone=fields.pop("phone", None) or next_phone(),
        work_unit=fields.pop("work_unit", union.name.removesuffix("工会")),
        union=union,
        **fields,
    )
    member.save()
    return member


def make_staff(role: str, union: Union, *, username: str | None = None):
    return staff_create(
        username=username or f"{role}-{next(_seq)}", password="pw-Cardportal-1", role=role, union=union
    )


ROLE = StaffRole.Role


def approve_disbursement(batch, *, preparer, tree):
    """Submit `batch` as its preparer and approve it from the province (a union strictly above
    any preparer in the test tree), as the four-eyes rule requires before a payment file."""
    from benefits.services.disbursements import disbursement_approve, disbursement_submit

    disbursement_submit(disbursement=batch, actor=preparer)
    disbursement_approve(disbursement=batch, actor=make_staff(ROLE.PROVINCE_STAFF, tree.province))
    batch.refresh_from_db()
    return batch
