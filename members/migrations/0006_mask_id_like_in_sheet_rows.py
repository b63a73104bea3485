"""Mask ID-like numbers already stored in rejected sheet rows (issue 10 finding 4).

Rows staged before the row rules masked them keep a 17-digit typo, an ID typed into the phone,
name or unit column, in clear in `message`, `name` or `work_unit`. Only rows whose text holds a
run of at least twelve digits are read (a regular expression in the database), so the migration
touches the few rejected rows concerned, not the whole table."""

from django.db import migrations
from django.db.models import Q

DIGIT_RUN = r"[0-9０-９][0-9０-９ ]{11,}"


def mask_rows(apps, schema_editor):
    from members.idcard import mask_id_like

    SheetRow = apps.get_model("members", "SheetRow")
    candidates = SheetRow.objects.exclude(outcome="accept").filter(
        Q(message__regex=DIGIT_RUN) | Q(name__regex=DIGIT_RUN) | Q(work_unit__regex=DIGIT_RUN)
    )
    changed = []
    for row in candidates.only("id", "message", "name", "work_unit").iterator(chunk_size=2000):
        masked = [mask_id_like(row.message), mask_id_like(row.name)[:30], mask_id_like(row.work_unit)[:100]]
        if masked != [row.message, row.name, row.work_unit]:
            row.message, row.name, row.work_unit = masked
            changed.append(row)
        if len(changed) >= 2000:
            SheetRow.objects.bulk_update(changed, ["message", "name", "work_unit"])
            changed = []
    SheetRow.objects.bulk_update(changed, ["message", "name", "work_unit"])


class Migration(migrations.Migration):
    dependencies = [("members", "0005_job_owner_and_lease")]

    operations = [migrations.RunPython(mask_rows, migrations.RunPython.noop, elidable=True)]
