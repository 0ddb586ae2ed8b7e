"""The invoice number series, and issued documents that the database refuses to change.

An issued invoice or credit note, its lines and its items never change (DOMAIN.md R12); the
only change allowed on an item of an issued invoice is marking it credited, once. SQLite and
PostgreSQL both get triggers; they raise an integrity error.
"""

from django.conf import settings
from django.db import migrations

MESSAGE = "issued_document_immutable: ett utfärdat dokument kan inte ändras"

SQLITE_FORWARD = [
    f"""CREATE TRIGGER invoice_issued_no_update BEFORE UPDATE ON billing_invoice
    WHEN OLD.status = 'issued'
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER invoice_issued_no_delete BEFORE DELETE ON billing_invoice
    WHEN OLD.status = 'issued'
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER invoice_line_issued_no_update BEFORE UPDATE ON billing_invoiceline
    WHEN (SELECT status FROM billing_invoice WHERE id = OLD.invoice_id) = 'issued'
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER invoice_line_issued_no_delete BEFORE DELETE ON billing_invoiceline
    WHEN (SELECT status FROM billing_invoice WHERE id = OLD.invoice_id) = 'issued'
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER invoice_item_issued_no_update
    BEFORE UPDATE OF invoice_id, line_id, order_id, unit_price, is_credit ON billing_invoiceitem
    WHEN (SELECT status FROM billing_invoice WHERE id = OLD.invoice_id) = 'issued'
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER invoice_item_credit_is_final BEFORE UPDATE OF credited ON billing_invoiceitem
    WHEN OLD.credited AND NOT NEW.credited
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER invoice_item_issued_no_delete BEFORE DELETE ON billing_invoiceitem
    WHEN (SELECT status FROM billing_invoice WHERE id = OLD.invoice_id) = 'issued'
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER {name}"
    for name in (
        "invoice_issued_no_update",
        "invoice_issued_no_delete",
        "invoice_line_issued_no_update",
        "invoice_line_issued_no_delete",
        "invoice_item_issued_no_update",
        "invoice_item_credit_is_final",
        "invoice_item_issued_no_delete",
    )
]

PG_FORWARD = [
    f"""CREATE FUNCTION billing_refuse_issued_change() RETURNS trigger AS $$
    DECLARE
        invoice_status text;
    BEGIN
        IF TG_TABLE_NAME = 'billing_invoice' THEN
            invoice_status := OLD.status;
        ELSE
            SELECT status INTO invoice_status FROM billing_invoice WHERE id = OLD.invoice_id;
        END IF;
        IF TG_TABLE_NAME = 'billing_invoiceitem' AND TG_OP = 'UPDATE' THEN
            IF OLD.credited AND NOT NEW.credited THEN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF NEW.invoice_id = OLD.invoice_id AND NEW.line_id = OLD.line_id
               AND NEW.order_id = OLD.order_id AND NEW.unit_price = OLD.unit_price
               AND NEW.is_credit = OLD.is_credit THEN
                RETURN NEW;
            END IF;
        END IF;
        IF invoice_status = 'issued' THEN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql""",
    *(
        f"""CREATE TRIGGER {table}_issued_immutable BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION billing_refuse_issued_change()"""
        for table in ("billing_invoice", "billing_invoiceline", "billing_invoiceitem")
    ),
]
PG_BACKWARD = [
    *(
        f"DROP TRIGGER {table}_issued_immutable ON {table}"
        for table in ("billing_invoice", "billing_invoiceline", "billing_invoiceitem")
    ),
    "DROP FUNCTION billing_refuse_issued_change()",
]


def forward(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for statement in PG_FORWARD if postgres else SQLITE_FORWARD:
        schema_editor.execute(statement)
    series = apps.get_model("billing", "InvoiceNumberSeries")
    series.objects.get_or_create(
        name="invoices", defaults={"next_number": settings.FIRST_INVOICE_NUMBER}
    )


def backward(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for statement in PG_BACKWARD if postgres else SQLITE_BACKWARD:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
