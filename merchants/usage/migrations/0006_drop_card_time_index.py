"""The transactions' (card, txn_at) index goes: no page, report, export or job reads transactions
by card (the pages read the roll-ups, the subsidies an import's own rows by `txn_import_id`, the
roll-ups a day by the BRIN index on `txn_at`), and every import paid for it: a day's 500,000 cards
are spread over the whole month's index, so each insert read and dirtied a page of it (70,202 of
the pages a day's insert read into a 15 M-row month, and most of its full-page images in the
WAL). A page that lists one card's transactions would bring it back with its query.

On PostgreSQL dropping the partitioned parent's index drops every partition's."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0005_rollup_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="cardtransaction", name="usage_txn_card_at"),
    ]
