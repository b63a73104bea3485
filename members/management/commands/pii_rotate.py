from django.core.management.base import BaseCommand
from django.db import transaction

from cardportal import crypto
from members.models import Member


class Command(BaseCommand):
    help = (
        "Re-encrypt every member's ID number and phone under the first key of PII_KEYS "
        "(put the new key first, keep the old one after it, run this, then drop the old key). "
        "With --rehash, also recompute the keyed hashes under the current PII_HASH_KEY."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rehash", action="store_true", help="recompute id_hash/phone_hash (new PII_HASH_KEY)"
        )
        parser.add_argument("--chunk", type=int, default=2000)

    def handle(self, *args, rehash: bool, chunk: int, **options):
        last_pk, done = 0, 0
        while True:
            with transaction.atomic():
                batch = list(
                    Member.objects.select_for_update()
                    .filter(pk__gt=last_pk)
                    .order_by("pk")
                    .only("pk", "id_encrypted", "phone_encrypted", "id_hash", "phone_hash")[:chunk]
                )
                if not batch:
                    break
                for member in batch:
                    member.id_encrypted = crypto.rotate(member.id_encrypted)
                    member.phone_encrypted = crypto.rotate(member.phone_encrypted)
                    if rehash:
                        member.id_hash = crypto.keyed_hash(crypto.decrypt(member.id_encrypted))
                        member.phone_hash = crypto.keyed_hash(crypto.decrypt(member.phone_encrypted))
                fields = ["id_encrypted", "phone_encrypted"] + (["id_hash", "phone_hash"] if rehash else [])
                Member.objects.bulk_update(batch, fields)
            last_pk = batch[-1].pk
            done += len(batch)
            self.stdout.write(f"  {done} members re-encrypted", ending="\r")
        self.stdout.write(self.style.SUCCESS(f"完成：{done} 名会员的个人信息已用当前主密钥重新加密。"))
