"""Issued documents as hash chains, one per number series (DOMAIN.md R19, billing/chain.py).

- ``Invoice.chain_hash``: the document's link, written by the issuing transaction from now on.
- Documents issued before this migration are chained here, per series in number order, and an
  audit record (``chain.started``) names each series' head then, so that the review can tell a
  document issued by Kortfaktura (named by an audit record) from one written into the database.

The guards of ``billing/0005`` (and the stored documents' of ``documents/0001``) are dropped for
that and created again afterwards: SQLite rebuilds ``billing_invoice`` to add the column, and the
issued documents' rows refuse UPDATE.
"""

from importlib import import_module

from django.db import migrations, models
from django.utils import timezone

from kortfaktura.audit import chain as audit_chain
from kortfaktura.billing import chain

GUARDS = import_module("kortfaktura.billing.migrations.0005_internal_charges")


def drop_guards(apps, schema_editor):
    GUARDS.drop_guards(apps, schema_editor)


def create_guards(apps, schema_editor):
    GUARDS.create_guards(apps, schema_editor)


def chain_issued_documents(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        anchors = chain.chain_existing(cursor)
    if not anchors:
        return
    record = apps.get_model("audit", "AuditRecord")
    at = timezone.now()
    details = {"chain": [anchor.as_json() for anchor in anchors]}
    entry = record.objects.create(
        at=at,
        actor="system",
        action="chain.started",
        object="kedjorna",
        details=details,
        content_hash=audit_chain.content_hash(at, "system", "chain.started", "kedjorna", details),
    )
    if schema_editor.connection.vendor != "postgresql":
        audit_chain.append_link(entry.pk, entry.content_hash)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0007_cycle_run_drafted_by"),
        ("audit", "0002_chain"),
        ("documents", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(drop_guards, create_guards),
        migrations.AddField(
            model_name="invoice",
            name="chain_hash",
            field=models.CharField(blank=True, db_default="", max_length=64),
        ),
        migrations.RunPython(chain_issued_documents, migrations.RunPython.noop),
        migrations.RunPython(create_guards, drop_guards),
    ]
