"""The audit trail as a hash chain (DOMAIN.md R19, audit/chain.py).

- ``AuditRecord.content_hash`` and the table ``audit_auditlink`` (one link per record: position
  and chained hash), append-only like the trail: no UPDATE, DELETE, TRUNCATE (PostgreSQL) or
  INSERT OR REPLACE (SQLite).
- PostgreSQL: a ``DEFERRABLE INITIALLY DEFERRED`` constraint trigger appends the links of a
  transaction's records when it commits, under an advisory lock held only for the commit.
  SQLite: the application appends the link in the record's own transaction.
- Records that already exist get their content hash and are chained in id order, here. The
  trail's guards of ``audit/0001`` are dropped for that (SQLite also rebuilds the table to add
  the column, which drops its triggers) and created again afterwards.
"""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

from kortfaktura.audit import chain

INITIAL = import_module("kortfaktura.audit.migrations.0001_initial")
MESSAGE = "audit_append_only: granskningsloggens kedja får inte ändras eller tas bort"
LINKS = chain.LINKS
SQLITE_LINK_TRIGGERS = {
    "audit_link_no_update": f"BEFORE UPDATE ON {LINKS}",
    "audit_link_no_delete": f"BEFORE DELETE ON {LINKS}",
    # INSERT OR REPLACE over a taken position or record would delete the old link silently.
    "audit_link_no_replace": f"BEFORE INSERT ON {LINKS} WHEN EXISTS (SELECT 1 FROM {LINKS} "
    "WHERE record_id = NEW.record_id OR seq = NEW.seq)",
}
PG_STATEMENTS = [
    f"""CREATE FUNCTION audit_link_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
    END $$ LANGUAGE plpgsql""",
    f"""CREATE TRIGGER audit_link_append_only BEFORE UPDATE OR DELETE ON {LINKS}
        FOR EACH ROW EXECUTE FUNCTION audit_link_refuse_change()""",
    f"""CREATE TRIGGER audit_link_no_truncate BEFORE TRUNCATE ON {LINKS}
        FOR EACH STATEMENT EXECUTE FUNCTION audit_link_refuse_change()""",
    # Runs at commit, once per record of the transaction in the order they were written. The
    # advisory lock is taken last of all the transaction's locks and released by the commit a
    # moment later, so it cannot be part of a deadlock; READ COMMITTED reads the link that the
    # previous holder committed.
    f"""CREATE FUNCTION audit_chain_append() RETURNS trigger AS $$
    DECLARE
        last_seq bigint;
        last_hash text;
    BEGIN
        PERFORM pg_advisory_xact_lock({chain.ADVISORY_LOCK});
        SELECT seq, hash INTO last_seq, last_hash FROM {LINKS} ORDER BY seq DESC LIMIT 1;
        INSERT INTO {LINKS} (record_id, seq, hash) VALUES (
            NEW.id,
            COALESCE(last_seq, 0) + 1,
            encode(sha256(convert_to(COALESCE(last_hash, '') || NEW.content_hash, 'UTF8')), 'hex')
        );
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    f"""CREATE CONSTRAINT TRIGGER {chain.TRIGGER} AFTER INSERT ON {chain.RECORDS}
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION audit_chain_append()""",
]


def drop_trail_guards(apps, schema_editor):
    INITIAL.drop_guards(apps, schema_editor)


def create_trail_guards(apps, schema_editor):
    INITIAL.create_guards(apps, schema_editor)


def chain_existing_records(apps, schema_editor):
    """Every record written before the chain existed: content hash, then a link, in id order."""
    record = apps.get_model("audit", "AuditRecord")
    previous = chain.GENESIS
    rows = record.objects.order_by("id").values_list(
        "id", "at", "actor", "action", "object", "details"
    )
    hashes: list[tuple[str, int]] = []
    links: list[tuple[int, int, str]] = []

    def flush() -> None:
        with schema_editor.connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {chain.RECORDS} SET content_hash = %s WHERE id = %s", hashes
            )
            cursor.executemany(
                f"INSERT INTO {LINKS} (record_id, seq, hash) VALUES (%s, %s, %s)", links
            )
        hashes.clear()
        links.clear()

    for seq, (pk, at, actor, action, obj, details) in enumerate(
        rows.iterator(chunk_size=2000), start=1
    ):
        content = chain.content_hash(at, actor, action, obj, details)
        previous = chain.link_hash(previous, content)
        hashes.append((content, pk))
        links.append((pk, seq, previous))
        if len(links) >= 2000:
            flush()
    if links:
        flush()


def create_guards(apps, schema_editor):
    INITIAL.create_guards(apps, schema_editor)
    if schema_editor.connection.vendor == "postgresql":
        for statement in PG_STATEMENTS:
            schema_editor.execute(statement)
    else:
        for name, when in SQLITE_LINK_TRIGGERS.items():
            schema_editor.execute(
                f"CREATE TRIGGER {name} {when} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )


def drop_guards(apps, schema_editor):
    INITIAL.drop_guards(apps, schema_editor)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP FUNCTION IF EXISTS audit_chain_append(), audit_link_refuse_change() CASCADE"
        )
    else:
        for name in SQLITE_LINK_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunPython(drop_trail_guards, create_trail_guards),
        migrations.AddField(
            model_name="auditrecord",
            name="content_hash",
            field=models.CharField(blank=True, db_default="", max_length=64),
        ),
        migrations.CreateModel(
            name="AuditLink",
            fields=[
                (
                    "record",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="link",
                        serialize=False,
                        to="audit.auditrecord",
                    ),
                ),
                (
                    "seq",
                    models.PositiveBigIntegerField(unique=True, verbose_name="plats i kedjan"),
                ),
                ("hash", models.CharField(max_length=64)),
            ],
            options={
                "verbose_name": "länk i granskningsloggens kedja",
                "verbose_name_plural": "granskningsloggens kedja",
            },
        ),
        migrations.RunPython(chain_existing_records, migrations.RunPython.noop),
        migrations.RunPython(create_guards, drop_guards),
    ]
