"""The idempotency key of a transaction as (partner, txn_at, reference) instead of (partner,
reference, txn_at): the same uniqueness and the same `ON CONFLICT` arbiter, but a day's import adds
its keys side by side in the index instead of one by one all over it (references need not sort
by time). The new constraint is built before the old one goes, so no moment is without one. On
PostgreSQL `ADD CONSTRAINT … UNIQUE` on the partitioned parent builds the index of every
partition (about a minute for a 15 M-row month)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0003_merchant_card_month"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="cardtransaction",
            constraint=models.UniqueConstraint(
                fields=("partner", "txn_at", "reference"), name="usage_txn_partner_at_ref"
            ),
        ),
        migrations.RemoveConstraint(
            model_name="cardtransaction",
            name="usage_txn_partner_ref",
        ),
    ]
