"""Who made or last regenerated a draft (DOMAIN.md R25, dual control): that person may not
issue it. (Issue 19, the monthly cycle.)

A nullable column without a default: SQLite adds it in place (``ALTER TABLE … ADD COLUMN``)
instead of rebuilding ``billing_billingrun``, so the guards of ``billing/0003`` stay as they are.
Existing runs keep it null; their maker is ``created_by`` (``BillingRun.drafter``).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0006_credit_note_vat_breakdown"),
    ]

    operations = [
        migrations.AddField(
            model_name="billingrun",
            name="drafted_by",
            field=models.CharField(
                blank=True, max_length=150, null=True, verbose_name="utkastet gjort av"
            ),
        ),
    ]
