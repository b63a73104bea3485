"""Synthetic registration sheets for the benchmark and the kill -9 test: distinct valid ID
numbers, a known share of rows with a bad phone (rejected), written as CSV or .xlsx."""

import csv
import io
from datetime import date, timedelta

from members.idcard import make_id_number

HEADER = ["序号", "身份证号", "姓名", "性别", "手机号码", "所属单位"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚"


def person(i: int, *, region: str = "130902", offset: int = 0) -> tuple[str, str, str]:
    """The i-th synthetic person: (id_number, name, phone). Distinct for distinct (i, offset)."""
    n = i + offset
    birth = date(1966, 1, 1) + timedelta(days=(n // 250) % 12_000)
    id_number = make_id_number(region, birth, (n % 250) * 2 + 1, male=n % 2 == 0)
    name = SURNAMES[n % 20] + GIVEN[(n // 20) % 20] + GIVEN[(n // 400) % 20]
    return id_number, name, f"139{n % 100_000_000:08d}"


def rows(n: int, *, bad_every: int = 0, offset: int = 0, region: str = "130902"):
    for i in range(n):
        id_number, name, phone = person(i, region=region, offset=offset)
        if bad_every and i % bad_every == bad_every - 1:
            phone = "12345"
        yield [i + 1, id_number, name, "", phone, f"第{i % 40 + 1}车间"]


def csv_bytes(n: int, **kwargs) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows(n, **kwargs))
    return buffer.getvalue().encode("utf-8")


def xlsx_bytes(n: int, **kwargs) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("会员卡信息登记表")
    sheet.append(["会员卡信息登记表", "", "", "", "", ""])  # as wide as the table (tablib needs it)
    sheet.append(HEADER)
    for row in rows(n, **kwargs):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
