"""Internal charges for VGR's own units (DOMAIN.md R17): two more kinds of document, their own
number series, no VAT (a check constraint), and the revenue account kept on each line.

SQLite rebuilds ``billing_invoice`` and ``billing_invoiceline`` to alter them, which drops their
triggers: the guards of ``billing/0003`` and ``0004`` are dropped first and created again
afterwards, now accepting an internal credit as the credit of an internal charge.
"""

from importlib import import_module

from django.conf import settings
from django.db import migrations, models

GUARDS = import_module("kortfaktura.billing.migrations.0003_documents_guarded_and_snapshotted")
NO_REPLACE = import_module("kortfaktura.billing.migrations.0004_no_replace_on_sqlite")
# The stored documents' triggers name billing_invoice; SQLite cannot rename the rebuilt table
# while a trigger refers to the dropped one, so they are dropped and created again too.
STORED = import_module("kortfaktura.documents.migrations.0001_initial")
ONLY_CREDIT_NOTE = "c.kind = 'credit_note'"
EITHER_CREDIT = "c.kind IN ('credit_note', 'internal_credit')"


def drop_guards(apps, schema_editor):
    STORED.drop_guards(apps, schema_editor)
    NO_REPLACE.drop_guards(apps, schema_editor)
    GUARDS.drop_guards(apps, schema_editor)


def create_guards(apps, schema_editor):
    """The guards of billing/0003, with an internal credit crediting an internal charge."""
    if schema_editor.connection.vendor == "postgresql":
        for statement in [*GUARDS.PG_FUNCTIONS, *GUARDS.PG_TRIGGERS]:
            schema_editor.execute(statement.replace(ONLY_CREDIT_NOTE, EITHER_CREDIT))
    else:
        for name, body in GUARDS.SQLITE_TRIGGERS.items():
            schema_editor.execute(
                f"CREATE TRIGGER {name} {body.replace(ONLY_CREDIT_NOTE, EITHER_CREDIT)}"
            )
    NO_REPLACE.create_guards(apps, schema_editor)
    STORED.create_guards(apps, schema_editor)


def create_internal_series(apps, schema_editor):
    series = apps.get_model("billing", "InvoiceNumberSeries")
    series.objects.get_or_create(
        name="internal", defaults={"next_number": settings.FIRST_INTERNAL_NUMBER}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_no_replace_on_sqlite"),
        ("customers", "0002_billingaccount_cost_centre"),
        ("documents", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(drop_guards, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="invoice",
            name="credit_note_refers_to_invoice",
        ),
        migrations.AddField(
            model_name="invoiceline",
            name="revenue_account",
            field=models.CharField(
                blank=True, db_default="", max_length=10, verbose_name="intäktskonto"
            ),
        ),
        migrations.AlterField(
            model_name="invoice",
            name="kind",
            field=models.CharField(
                choices=[
                    ("invoice", "faktura"),
                    ("credit_note", "kreditfaktura"),
                    ("internal_charge", "intern debitering"),
                    ("internal_credit", "intern kreditering"),
                ],
                default="invoice",
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="invoice",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("kind__in", ("credit_note", "internal_credit")), ("credits__isnull", False)
                    ),
                    models.Q(
                        ("kind__in", ("invoice", "internal_charge")), ("credits__isnull", True)
                    ),
                    _connector="OR",
                ),
                name="credit_note_refers_to_invoice",
            ),
        ),
        migrations.AddConstraint(
            model_name="invoice",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind__in", ("internal_charge", "internal_credit")), _negated=True),
                    models.Q(("vat", 0), ("rounding", 0), ("payable", models.F("net"))),
                    _connector="OR",
                ),
                name="internal_charge_without_vat",
            ),
        ),
        migrations.RunPython(create_guards, drop_guards),
        migrations.RunPython(create_internal_series, migrations.RunPython.noop),
    ]
