"""SQLite: refuse ``INSERT OR REPLACE`` over an existing row of the guarded billing tables.

SQLite carries out REPLACE by deleting the conflicting row without firing its delete triggers
(unless ``recursive_triggers`` is on, which a sqlite3 shell does not set), so
``REPLACE INTO billing_invoice …`` could turn an issued invoice back into a draft. A BEFORE
INSERT trigger sees the old row before the conflict is resolved. PostgreSQL has no REPLACE; its
``ON CONFLICT DO UPDATE`` fires the update guards of ``billing/0003``.
"""

from django.db import migrations

MESSAGE = "issued_document_immutable: en rad kan inte ersättas (INSERT OR REPLACE)"
TABLES = (
    "billing_billingrun",
    "billing_invoice",
    "billing_invoiceline",
    "billing_invoiceitem",
    "billing_invoicenumberseries",
)


def create_guards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id) "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def drop_guards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_documents_guarded_and_snapshotted")]

    operations = [migrations.RunPython(create_guards, drop_guards)]
