from django.core.management.base import BaseCommand
from django.db import models, transaction
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Left

from cardportal import crypto
from members.models import Member, SheetClaim, SheetRow

# Each ciphertext column and the keyed hash of the same value; SheetRow has the same columns,
# empty on rows that were not accepted.
PII_COLUMNS = (("id_encrypted", "id_hash"), ("phone_encrypted", "phone_hash"))


class Command(BaseCommand):
    help = (
        "Re-encrypt every member's ID number and phone, and those of staged sheet rows, under the "
        "first key of PII_KEYS (put the new key first, keep the old one after it, run this, then "
        "drop the old key). Tokens already under the first key are skipped, so a re-run is cheap. "
        "With --rehash, also recompute the keyed hashes (members, staged rows, claims of submitted "
        "sheets) under the current PII_HASH_KEY."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rehash", action="store_true", help="recompute id_hash/phone_hash (new PII_HASH_KEY)"
        )
        parser.add_argument("--chunk", type=int, default=2000)

    def handle(self, *args, rehash: bool, chunk: int, **options):
        members = self.rotate_table(Member, rehash=rehash, chunk=chunk)
        rows = self.rotate_table(SheetRow, rehash=rehash, chunk=chunk)
        if rehash:
            self.rehash_claims()
        self.stdout.write(
            self.style.SUCCESS(
                f"完成：{members} 名会员、{rows} 行登记表暂存数据的个人信息已用当前主密钥重新加密"
                f"{'，摘要已按当前摘要密钥重算' if rehash else ''}。"
            )
        )

    @staticmethod
    def rehash_claims() -> None:
        """A submitted sheet's claims copy its rows' id_hash (one person pending once): copy the
        recomputed ones, or the uniqueness check would compare hashes under two keys."""
        SheetClaim.objects.update(
            id_hash=Subquery(
                SheetRow.objects.filter(
                    sheet_id=OuterRef("sheet_id"), row_number=OuterRef("row_number")
                ).values("id_hash")[:1]
            )
        )

    def rotate_table(self, model: type[models.Model], *, rehash: bool, chunk: int) -> int:
        """Rewrite, chunk by chunk in pk order, the rows holding a token not under the first key
        (every row with a token, with `rehash`). Each chunk is locked and committed on its own,
        so the command can be stopped and run again."""
        prefix = crypto.current_prefix()
        # Left(...) = prefix rather than startswith: SQLite's LIKE ignores case, and a key id
        # differing only in case must not pass for the current one.
        heads = {f"{token_field}_head": Left(token_field, len(prefix)) for token_field, _ in PII_COLUMNS}
        pending = Q()
        for token_field, _ in PII_COLUMNS:
            has_token = ~Q(**{token_field: ""})
            pending |= has_token if rehash else has_token & ~Q(**{f"{token_field}_head": prefix})
        fields = [token_field for token_field, _ in PII_COLUMNS]
        if rehash:
            fields += [hash_field for _, hash_field in PII_COLUMNS]
        last_pk, done = 0, 0
        while True:
            with transaction.atomic():
                batch = list(
                    model.objects.select_for_update()
                    .alias(**heads)
                    .filter(pending, pk__gt=last_pk)
                    .order_by("pk")
                    .only("pk", *fields)[:chunk]
                )
                if not batch:
                    break
                self.rotate_rows(batch, prefix=prefix, rehash=rehash)
                model.objects.bulk_update(batch, fields)
            last_pk = batch[-1].pk
            done += len(batch)
            self.stdout.write(f"  {model._meta.model_name}: {done} re-encrypted", ending="\r")
        return done

    @staticmethod
    def rotate_rows(batch: list[models.Model], *, prefix: str, rehash: bool) -> None:
        stale = []
        for row in batch:
            for token_field, hash_field in PII_COLUMNS:
                token = getattr(row, token_field)
                if not token or (token.startswith(prefix) and not rehash):
                    continue
                value = crypto.decrypt(token)
                if not token.startswith(prefix):
                    stale.append((row, token_field, value))
                if rehash:
                    setattr(row, hash_field, crypto.keyed_hash(value))
        tokens = crypto.encrypt_many([value for _, _, value in stale])
        for (row, token_field, _), token in zip(stale, tokens, strict=True):
            setattr(row, token_field, token)
