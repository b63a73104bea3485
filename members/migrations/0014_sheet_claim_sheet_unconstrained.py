# SheetClaim.sheet without its database constraint: see the field in members/models.py.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0013_sheet_row_index_not_accepted"),
    ]

    operations = [
        migrations.AlterField(
            model_name="sheetclaim",
            name="sheet",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="claims",
                to="members.registrationsheet",
                verbose_name="登记表",
            ),
        ),
    ]
