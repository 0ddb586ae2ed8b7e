"""Issued documents that the database guards completely, and the specification as issued.

- Items get their foreign keys; ``credited`` can only become true together with an issued credit
  note of the same invoice that lists the same order (DOMAIN.md R4, R12).
- INSERT, UPDATE and DELETE on an issued invoice, its lines and items are refused, and so are an
  issued run changing and the number series going backwards; TRUNCATE on PostgreSQL too.
- Items keep the specification as issued (order id, date, product, unit, holder, HSA-id: R13);
  already issued documents get it from their orders once, here.

The triggers of billing/0002 are dropped first: on SQLite, altering a table rebuilds it.
"""

import django.db.models.deletion
from django.db import migrations, models

MESSAGE = "issued_document_immutable: ett utfärdat dokument kan inte ändras"
CREDIT_MESSAGE = (
    "credit_needs_credit_note: en fakturerad beställning blir krediterad bara genom en utfärdad "
    "kreditfaktura för samma faktura och beställning"
)
OLD_SQLITE_TRIGGERS = (
    "invoice_issued_no_update",
    "invoice_issued_no_delete",
    "invoice_line_issued_no_update",
    "invoice_line_issued_no_delete",
    "invoice_item_issued_no_update",
    "invoice_item_credit_is_final",
    "invoice_item_issued_no_delete",
)
OLD_PG = [
    *(
        f"DROP TRIGGER IF EXISTS {table}_issued_immutable ON {table}"
        for table in ("billing_invoice", "billing_invoiceline", "billing_invoiceitem")
    ),
    "DROP FUNCTION IF EXISTS billing_refuse_issued_change()",
]
SNAPSHOT_COLUMNS = (
    "order_ref",
    "order_date",
    "product_code",
    "unit_code",
    "holder_name",
    "holder_hsa_id",
)
ITEM_FIXED_COLUMNS = (
    "invoice_id",
    "line_id",
    "order_id",
    "unit_price",
    "is_credit",
    *SNAPSHOT_COLUMNS,
)


def _issued(expression):
    return f"(SELECT status FROM billing_invoice WHERE id = {expression}) = 'issued'"


VALID_CREDIT_SQLITE = (
    "OLD.credited = 0 AND NEW.credited = 1 AND OLD.credited_by_id IS NULL "
    f"AND {_issued('OLD.invoice_id')} AND EXISTS (SELECT 1 FROM billing_invoice c "
    "JOIN billing_invoiceitem ci ON ci.invoice_id = c.id WHERE c.id = NEW.credited_by_id "
    "AND c.kind = 'credit_note' AND c.status = 'issued' AND c.credits_id = OLD.invoice_id "
    "AND ci.is_credit AND ci.order_id = OLD.order_id)"
)
SQLITE_TRIGGERS = {
    "invoice_born_draft": f"""BEFORE INSERT ON billing_invoice WHEN NEW.status = 'issued'
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    "invoice_issued_no_update": f"""BEFORE UPDATE ON billing_invoice WHEN OLD.status = 'issued'
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    "invoice_issued_no_delete": f"""BEFORE DELETE ON billing_invoice WHEN OLD.status = 'issued'
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    "invoice_line_issued_no_insert": f"""BEFORE INSERT ON billing_invoiceline
        WHEN {_issued("NEW.invoice_id")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    "invoice_line_issued_no_update": f"""BEFORE UPDATE ON billing_invoiceline
        WHEN {_issued("OLD.invoice_id")} OR {_issued("NEW.invoice_id")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    "invoice_line_issued_no_delete": f"""BEFORE DELETE ON billing_invoiceline
        WHEN {_issued("OLD.invoice_id")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    "invoice_item_issued_no_insert": f"""BEFORE INSERT ON billing_invoiceitem
        WHEN NEW.credited OR NEW.credited_by_id IS NOT NULL OR {_issued("NEW.invoice_id")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    "invoice_item_credit_needs_credit_note": f"""BEFORE UPDATE ON billing_invoiceitem
        WHEN (NEW.credited IS NOT OLD.credited OR NEW.credited_by_id IS NOT OLD.credited_by_id)
        AND NOT ({VALID_CREDIT_SQLITE})
        BEGIN SELECT RAISE(ABORT, '{CREDIT_MESSAGE}'); END""",
    "invoice_item_issued_no_update": f"""BEFORE UPDATE ON billing_invoiceitem
        WHEN ({_issued("OLD.invoice_id")} OR {_issued("NEW.invoice_id")})
        AND ({" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in ITEM_FIXED_COLUMNS)})
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    "invoice_item_issued_no_delete": f"""BEFORE DELETE ON billing_invoiceitem
        WHEN {_issued("OLD.invoice_id")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    "run_issued_no_update": f"""BEFORE UPDATE ON billing_billingrun WHEN OLD.status = 'issued'
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    "run_issued_no_delete": f"""BEFORE DELETE ON billing_billingrun WHEN OLD.status = 'issued'
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    "series_only_forward": f"""BEFORE UPDATE ON billing_invoicenumberseries
        WHEN NEW.next_number < OLD.next_number OR NEW.name IS NOT OLD.name
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    "series_no_delete": f"""BEFORE DELETE ON billing_invoicenumberseries
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
}

RAISE = f"RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation'"
RAISE_CREDIT = (
    f"RAISE EXCEPTION '{CREDIT_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation'"
)
ITEM_OLD = ", ".join(f"OLD.{c}" for c in ITEM_FIXED_COLUMNS)
ITEM_NEW = ", ".join(f"NEW.{c}" for c in ITEM_FIXED_COLUMNS)
PG_FUNCTIONS = [
    """CREATE FUNCTION billing_invoice_issued(invoice bigint) RETURNS boolean AS $$
        SELECT EXISTS (SELECT 1 FROM billing_invoice WHERE id = invoice AND status = 'issued')
    $$ LANGUAGE sql STABLE""",
    f"""CREATE FUNCTION billing_guard_invoice() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.status = 'issued' THEN {RAISE}; END IF;
            RETURN NEW;
        END IF;
        IF OLD.status = 'issued' THEN {RAISE}; END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    f"""CREATE FUNCTION billing_guard_run() RETURNS trigger AS $$
    BEGIN
        IF OLD.status = 'issued' THEN {RAISE}; END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    f"""CREATE FUNCTION billing_guard_series() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' OR NEW.next_number < OLD.next_number OR NEW.name <> OLD.name THEN
            {RAISE};
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    f"""CREATE FUNCTION billing_guard_line_row() RETURNS trigger AS $$
    BEGIN
        IF billing_invoice_issued(OLD.invoice_id) OR billing_invoice_issued(NEW.invoice_id) THEN
            {RAISE};
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    f"""CREATE FUNCTION billing_guard_item_row() RETURNS trigger AS $$
    BEGIN
        IF (NEW.credited, NEW.credited_by_id) IS DISTINCT FROM (OLD.credited, OLD.credited_by_id)
        THEN
            IF NOT (NOT OLD.credited AND NEW.credited AND OLD.credited_by_id IS NULL
                    AND billing_invoice_issued(OLD.invoice_id)
                    AND EXISTS (SELECT 1 FROM billing_invoice c
                                JOIN billing_invoiceitem ci ON ci.invoice_id = c.id
                                WHERE c.id = NEW.credited_by_id AND c.kind = 'credit_note'
                                  AND c.status = 'issued' AND c.credits_id = OLD.invoice_id
                                  AND ci.is_credit AND ci.order_id = OLD.order_id)) THEN
                {RAISE_CREDIT};
            END IF;
        END IF;
        IF (billing_invoice_issued(OLD.invoice_id) OR billing_invoice_issued(NEW.invoice_id))
           AND ({ITEM_NEW}) IS DISTINCT FROM ({ITEM_OLD}) THEN
            {RAISE};
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    # Inserts and deletes of lines and items come by the million (a draft, a discarded draft):
    # one check per statement over the transition table instead of one per row.
    f"""CREATE FUNCTION billing_guard_inserted() RETURNS trigger AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM changed_rows r JOIN billing_invoice v ON v.id = r.invoice_id
                   WHERE v.status = 'issued') THEN
            {RAISE};
        END IF;
        IF TG_TABLE_NAME = 'billing_invoiceitem' THEN
            IF EXISTS (SELECT 1 FROM changed_rows r
                       WHERE r.credited OR r.credited_by_id IS NOT NULL) THEN
                {RAISE_CREDIT};
            END IF;
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    f"""CREATE FUNCTION billing_refuse_truncate() RETURNS trigger AS $$
    BEGIN
        {RAISE};
    END $$ LANGUAGE plpgsql""",
]
PG_TRIGGERS = [
    """CREATE TRIGGER billing_invoice_guard BEFORE INSERT OR UPDATE OR DELETE ON billing_invoice
        FOR EACH ROW EXECUTE FUNCTION billing_guard_invoice()""",
    """CREATE TRIGGER billing_run_guard BEFORE UPDATE OR DELETE ON billing_billingrun
        FOR EACH ROW EXECUTE FUNCTION billing_guard_run()""",
    """CREATE TRIGGER billing_series_guard BEFORE UPDATE OR DELETE ON billing_invoicenumberseries
        FOR EACH ROW EXECUTE FUNCTION billing_guard_series()""",
    """CREATE TRIGGER billing_line_guard_update BEFORE UPDATE ON billing_invoiceline
        FOR EACH ROW EXECUTE FUNCTION billing_guard_line_row()""",
    """CREATE TRIGGER billing_item_guard_update BEFORE UPDATE ON billing_invoiceitem
        FOR EACH ROW EXECUTE FUNCTION billing_guard_item_row()""",
    *(
        f"""CREATE TRIGGER {table}_guard_{operation.lower()} AFTER {operation} ON {table}
        REFERENCING {"NEW" if operation == "INSERT" else "OLD"} TABLE AS changed_rows
        FOR EACH STATEMENT EXECUTE FUNCTION billing_guard_inserted()"""
        for table in ("billing_invoiceline", "billing_invoiceitem")
        for operation in ("INSERT", "DELETE")
    ),
    *(
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse_truncate()"""
        for table in (
            "billing_invoice",
            "billing_invoiceline",
            "billing_invoiceitem",
            "billing_billingrun",
            "billing_invoicenumberseries",
        )
    ),
]


def drop_old_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in OLD_PG:
            schema_editor.execute(statement)
    else:
        for name in OLD_SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


def snapshot_issued_items(apps, schema_editor):
    """Documents issued before this migration get their specification from their orders now."""
    schema_editor.execute(
        "UPDATE billing_invoiceitem SET order_ref = o.order_id, order_date = o.order_date, "
        "product_code = o.product_code, unit_code = o.unit_code, "
        "holder_name = CASE WHEN o.customer_id = v.customer_id THEN o.holder_name ELSE '' END, "
        "holder_hsa_id = CASE WHEN o.customer_id = v.customer_id THEN o.holder_hsa_id ELSE '' END "
        "FROM orders_order o, billing_invoice v "
        "WHERE o.id = billing_invoiceitem.order_id AND v.id = billing_invoiceitem.invoice_id "
        "AND v.status = 'issued'"
    )


def create_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in [*PG_FUNCTIONS, *PG_TRIGGERS]:
            schema_editor.execute(statement)
    else:
        for name, body in SQLITE_TRIGGERS.items():
            schema_editor.execute(f"CREATE TRIGGER {name} {body}")


def drop_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP FUNCTION IF EXISTS billing_invoice_issued(bigint), billing_guard_invoice(), "
            "billing_guard_run(), billing_guard_series(), billing_guard_line_row(), "
            "billing_guard_item_row(), billing_guard_inserted(), billing_refuse_truncate() CASCADE"
        )
    else:
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_series_and_immutable_documents"),
        ("orders", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(drop_old_guards, migrations.RunPython.noop),
        migrations.AddField(
            model_name="invoice",
            name="content_sha256",
            field=models.CharField(blank=True, db_default="", max_length=64),
        ),
        migrations.AddField(
            model_name="invoice",
            name="validation",
            field=models.CharField(blank=True, db_default="", max_length=16),
        ),
        migrations.AddField(
            model_name="invoiceitem",
            name="holder_hsa_id",
            field=models.CharField(blank=True, db_default="", max_length=64),
        ),
        migrations.AddField(
            model_name="invoiceitem",
            name="holder_name",
            field=models.CharField(blank=True, db_default="", max_length=200),
        ),
        migrations.AddField(
            model_name="invoiceitem",
            name="order_date",
            field=models.DateField(blank=True, null=True, verbose_name="beställningsdatum"),
        ),
        migrations.AddField(
            model_name="invoiceitem",
            name="order_ref",
            field=models.CharField(
                blank=True, db_default="", max_length=64, verbose_name="beställnings-id"
            ),
        ),
        migrations.AddField(
            model_name="invoiceitem",
            name="product_code",
            field=models.CharField(blank=True, db_default="", max_length=32),
        ),
        migrations.AddField(
            model_name="invoiceitem",
            name="unit_code",
            field=models.CharField(blank=True, db_default="", max_length=64),
        ),
        migrations.AlterField(
            model_name="invoiceitem",
            name="credited_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="billing.invoice",
            ),
        ),
        migrations.AlterField(
            model_name="invoiceitem",
            name="invoice",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="items",
                to="billing.invoice",
            ),
        ),
        migrations.AlterField(
            model_name="invoiceitem",
            name="line",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="items",
                to="billing.invoiceline",
            ),
        ),
        migrations.AlterField(
            model_name="invoiceitem",
            name="order",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="invoice_items",
                to="orders.order",
            ),
        ),
        migrations.AddConstraint(
            model_name="invoiceitem",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("credited", False), ("credited_by__isnull", True)),
                    models.Q(
                        ("credited", True), ("credited_by__isnull", False), ("is_credit", False)
                    ),
                    _connector="OR",
                ),
                name="credited_names_its_credit_note",
            ),
        ),
        migrations.RunPython(snapshot_issued_items, migrations.RunPython.noop),
        migrations.RunPython(create_guards, drop_guards),
    ]
