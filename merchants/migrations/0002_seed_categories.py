"""The six categories of 004 §二.2, present in every installation (admins may edit them)."""

from django.db import migrations

CATEGORIES = ["医疗保健", "文化影视", "教育培训", "健身休闲", "旅游购物", "餐饮住宿"]


def seed(apps, schema_editor):
    Category = apps.get_model("merchants", "MerchantCategory")
    for order, name in enumerate(CATEGORIES, start=1):
        Category.objects.get_or_create(name=name, defaults={"order": order * 10})


class Migration(migrations.Migration):
    dependencies = [("merchants", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
