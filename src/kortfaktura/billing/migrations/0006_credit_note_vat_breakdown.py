"""A credit note's VAT per rate as issued (DOMAIN.md R12): the credit notes of one invoice never
credit more VAT than it, so a credit note's VAT per rate is not always R10 on its own lines.

A nullable column without a default: SQLite adds it in place (``ALTER TABLE … ADD COLUMN``)
instead of rebuilding ``billing_invoice``, so the guards of ``billing/0003`` stay as they are.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_internal_charges"),
    ]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="vat_breakdown",
            field=models.JSONField(blank=True, null=True, verbose_name="moms per momssats"),
        ),
    ]
