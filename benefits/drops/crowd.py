"""Many eligible members at once, for the concurrency tests, the load benchmark and the demo:
members with an activated card written in bulk (two bulk inserts per chunk), with placeholder
personal data (no real ID number or phone: `id_hash`/`phone_hash` are unique markers)."""

import zlib
from datetime import date

from django.db import transaction
from django.utils import timezone

from issuance.models import Card
from members.models import Member, Union

CHUNK = 2000


@transaction.atomic
def crowd_build(*, union: Union, count: int, tag: str, hardship: bool = False) -> list[int]:
    """`count` members of `union`, each with an activated card; returns their ids in order.
    `tag` keeps hashes and card numbers unique across calls (up to 8 characters)."""
    now = timezone.now()
    number_prefix = f"62{zlib.crc32(tag.encode()) % 10**8:08d}"  # + 9 digits: a 19-digit card number
    ids: list[int] = []
    for start in range(0, count, CHUNK):
        n = min(CHUNK, count - start)
        members = Member.objects.bulk_create(
            [
                Member(
                    id_hash=f"crowd-{tag}-{i}",
                    id_encrypted="-",
                    id_region="130902",
                    id_last4=f"{i % 10000:04d}",
                    name=f"会员{i}",
                    gender=Member.Gender.MALE,
                    birth_date=date(1985, 1, 1),
                    phone_hash=f"crowd-{tag}-{i}",
                    phone_encrypted="-",
                    phone_prefix="139",
                    phone_last4=f"{i % 10000:04d}",
                    work_unit=union.name,
                    union=union,
                    is_hardship=hardship,
                )
                for i in range(start, start + n)
            ]
        )
        Card.objects.bulk_create(
            [
                Card(
                    member=m,
                    union=union,
                    status=Card.Status.ACTIVATED,
                    number=f"{number_prefix}{i:09d}",
                    applied_at=now,
                    issued_at=now,
                    received_at=now,
                    distributed_at=now,
                    activated_at=now,
                )
                for i, m in enumerate(members, start=start)
            ]
        )
        ids += [m.pk for m in members]
    return ids
