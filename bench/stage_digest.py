"""Digest of what an import stages, to check that a change to the pipeline stages exactly what it
did before: a seeded 50,000-row "messy" CSV (every kind of problem, duplicates inside a chunk and
across chunks, 3 % of rows people already in the registry, 序号 and the optional columns) is
imported and the staged rows are hashed in row order. Tokens are random (AES-GCM nonces), so
they are not hashed; instead a sample is decrypted and must give the row's keyed hash back.

    DEBUG=1 DATABASE_URL=postgres://…/cp_x python bench/stage_digest.py [--rows 50000] [--in-transaction]

`--in-transaction` runs the import inside `transaction.atomic` (on PostgreSQL this takes the
spooled path, as the tests do; without it the streamed one). Needs the 1,000,000-member registry
of `bench_registration.py` (the registered people are taken from it: region 110101). The others
are region 320102, apart from the benchmark sheets' people (130902), whom a benchmark running
meanwhile may have registered or left pending: the digest must not depend on that."""

import argparse
import csv
import hashlib
import io
import os
import random
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardportal.settings")

import django  # noqa: E402

django.setup()

from django.db import transaction  # noqa: E402

from bench.common import SMOKE_HELP, smoke_requested  # noqa: E402
from cardportal import crypto  # noqa: E402
from members.idcard import make_id_number  # noqa: E402
from members.models import RegistrationSheet, SheetRow, Union  # noqa: E402
from members.registration import sheet_import, sheet_upload  # noqa: E402

HEADER = ["序号", "身份证号", "姓名", "性别", "手机号码", "所属单位", "用工类型", "按时交纳会费", "困难职工"]


def _opposite_gender(row: dict) -> dict:
    return {**row, "gender": "女" if int(row["number"][16]) % 2 else "男"}


def _untidy(number: str) -> str:
    return number[:17] + "x" if number.endswith("X") else " " + number + " "


# One kind of problem per row kind (the rest are clean rows): check digit, 15 digits, Excel's
# float, empty ID, no name, gender against the ID, bad phone, no unit, lower-case x or spaces
# (normalised), the ID in the name column, a unit with a backslash and a tab (COPY escaping).
SPOIL = {
    6: lambda r: {**r, "number": r["number"][:17] + ("0" if r["number"][17] != "0" else "1")},
    7: lambda r: {**r, "number": r["number"][:15]},
    8: lambda r: {**r, "number": "4.1090219800101E+17"},
    9: lambda r: {**r, "number": ""},
    10: lambda r: {**r, "name": ""},
    11: _opposite_gender,
    12: lambda r: {**r, "phone": "12345"},
    13: lambda r: {**r, "unit": ""},
    14: lambda r: {**r, "number": _untidy(r["number"])},
    15: lambda r: {**r, "name": r["number"]},
    16: lambda r: {**r, "unit": "a\\b\tc"},
}


def _filler_number(k: int) -> str:
    """The k-th member of the benchmark's filler registry (`bench_registration.ensure_registry`)."""
    return make_id_number(
        "110101", date(1950, 1, 1) + timedelta(days=k // 500 % 18_000), k % 500 * 2 + 1, male=True
    )


def messy_rows(n: int, seed: int = 16):
    rng = random.Random(seed)
    people: list[str] = []
    for i in range(n):
        birth = date(1960, 1, 1) + timedelta(days=rng.randrange(14_000))
        row = {
            "number": make_id_number("320102", birth, rng.randrange(1, 999, 2), male=rng.random() < 0.5),
            "name": "张" + "伟芳娜敏静"[i % 5],
            "gender": "",
            "phone": f"13{rng.randrange(10**9):09d}",
            "unit": f"第{i % 40}车间",
        }
        extra = [
            rng.choice(["", "", "合同制", "劳务派遣"]),
            rng.choice(["", "是", "否"]),
            rng.choice(["", "是", "否"]),
        ]
        if rng.random() < 0.01:  # an employment type or a dues answer the rules refuse
            extra[rng.randrange(2)] = "也许"
        kind = rng.randrange(100)
        if kind < 3:  # already a member
            row["number"] = _filler_number(rng.randrange(1_000_000))
        elif kind < 6 and people:  # the same person again: nearby (same chunk) or anywhere earlier
            row["number"] = people[-rng.randrange(1, 50)] if kind < 5 else rng.choice(people)
        elif kind == 17:
            yield [""] * len(HEADER)
            continue
        row = SPOIL.get(kind, dict)(row)
        if row["number"]:
            people.append(row["number"].strip())
        yield [i + 1, row["number"], row["name"], row["gender"], row["phone"], row["unit"], *extra]


def digest(sheet: RegistrationSheet) -> tuple[str, int]:
    sha = hashlib.sha256()
    columns = [
        "row_number", "outcome", "reason", "field", "message", "name", "gender", "birth_date", "id_hash",
        "id_region", "id_last4", "phone_hash", "phone_prefix", "phone_last4", "work_unit", "is_hardship",
        "seq", "employment_type", "dues_paid",
    ]  # fmt: skip
    staged = SheetRow.objects.filter(sheet=sheet).order_by("row_number")
    for values in staged.values_list(*columns).iterator(chunk_size=5000):
        sha.update(repr(values).encode())
    checked = 0
    sample = staged.filter(outcome="accept").values_list(
        "id_hash", "id_encrypted", "phone_hash", "phone_encrypted"
    )
    for id_hash, id_token, phone_hash, phone_token in sample[:: max(1, sheet.rows_accepted // 2000)][:2000]:
        assert crypto.keyed_hash(crypto.decrypt(id_token)) == id_hash
        assert crypto.keyed_hash(crypto.decrypt(phone_token)) == phone_hash
        checked += 1
    return sha.hexdigest(), checked


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--in-transaction", action="store_true")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if smoke_requested(args):
        args.rows = 2_000
    from django.contrib.auth import get_user_model

    root, _ = Union.objects.get_or_create(
        code="BENCH", defaults={"name": "基准测试市总工会", "level": "city"}
    )
    union, _ = Union.objects.get_or_create(
        code="BENCH-DIGEST", defaults={"name": "基准测试校验工会", "level": "grassroots", "parent": root}
    )
    actor, _ = get_user_model().objects.get_or_create(
        username="bench-migrator", defaults={"is_superuser": True, "is_staff": True}
    )
    RegistrationSheet.objects.filter(union=union).delete()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(messy_rows(args.rows))
    sheet, _ = sheet_upload(
        union=union, filename="messy.csv", content=buffer.getvalue().encode(), actor=actor, enqueue=False
    )
    if args.in_transaction:
        with transaction.atomic():
            sheet = sheet_import(sheet_id=sheet.pk)
    else:
        sheet = sheet_import(sheet_id=sheet.pk)
    sheet.refresh_from_db()
    rows_digest, checked = digest(sheet)
    reasons = dict(
        SheetRow.objects.filter(sheet=sheet).values_list("reason").annotate(n=django.db.models.Count("id"))
    )
    print(
        f"status {sheet.status}, accepted {sheet.rows_accepted}, rejected {sheet.rows_rejected}, skipped {sheet.rows_skipped}"
    )
    print(f"reasons {sorted(reasons.items())}")
    print(f"digest {rows_digest} ({checked} tokens decrypted to their hashes)")
    RegistrationSheet.objects.filter(union=union).delete()


if __name__ == "__main__":
    main()
