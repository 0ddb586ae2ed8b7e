"""The audit trail (DOMAIN.md R19), append-only: the database refuses to change or delete it.

SQLite: ``BEFORE UPDATE`` and ``BEFORE DELETE`` triggers that abort. PostgreSQL: a plpgsql
function raising an exception, called by a row trigger before UPDATE or DELETE and a statement
trigger before TRUNCATE.

Note for later migrations: SQLite rebuilds a table to alter it and drops its triggers; a
migration that alters ``audit_auditrecord`` must create the triggers again.
"""

import django.core.serializers.json
import django.utils.timezone
from django.db import migrations, models

TABLE = "audit_auditrecord"
MESSAGE = "audit_append_only: granskningsloggen får inte ändras eller tas bort"
SQLITE_TRIGGERS = {
    "audit_record_no_update": f"BEFORE UPDATE ON {TABLE}",
    "audit_record_no_delete": f"BEFORE DELETE ON {TABLE}",
    # INSERT OR REPLACE deletes the old row without firing delete triggers (unless
    # recursive_triggers is on): refuse an insert that would replace a record.
    "audit_record_no_replace": f"BEFORE INSERT ON {TABLE} "
    f"WHEN EXISTS (SELECT 1 FROM {TABLE} WHERE id = NEW.id)",
}
PG_STATEMENTS = [
    f"""CREATE FUNCTION audit_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
    END $$ LANGUAGE plpgsql""",
    f"""CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()""",
    f"""CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()""",
]


def create_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in PG_STATEMENTS:
            schema_editor.execute(statement)
    else:
        for name, when in SQLITE_TRIGGERS.items():
            schema_editor.execute(
                f"CREATE TRIGGER {name} {when} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )


def drop_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS audit_refuse_change() CASCADE")
    else:
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    initial = True

    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="AuditRecord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="tid")),
                ("actor", models.CharField(max_length=150, verbose_name="vem")),
                ("action", models.CharField(max_length=64, verbose_name="vad")),
                ("object", models.CharField(max_length=300, verbose_name="objekt")),
                (
                    "details",
                    models.JSONField(
                        default=dict,
                        encoder=django.core.serializers.json.DjangoJSONEncoder,
                        verbose_name="detaljer",
                    ),
                ),
            ],
            options={
                "verbose_name": "post i granskningsloggen",
                "verbose_name_plural": "granskningslogg",
                "ordering": ["at", "id"],
                "indexes": [
                    models.Index(fields=["at"], name="audit_record_at"),
                    models.Index(fields=["object"], name="audit_record_object"),
                ],
            },
        ),
        migrations.RunPython(create_guards, drop_guards),
    ]
