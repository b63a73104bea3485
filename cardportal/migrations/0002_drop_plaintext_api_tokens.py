"""DRF's authtoken table kept every API key in clear; its app is gone (tokens are knox's now,
stored as digests). Drop the table and the keys in it: partners request a new token once
(docs/operations.md, "API tokens")."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("cardportal", "0001_initial")]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", reverse_sql=migrations.RunSQL.noop),
    ]
