# SheetRow.sheet without its database constraint: see the field in members/models.py.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0011_sheet_letter_scan"),
    ]

    operations = [
        migrations.AlterField(
            model_name="sheetrow",
            name="sheet",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="rows",
                to="members.registrationsheet",
                verbose_name="登记表",
            ),
        ),
    ]
