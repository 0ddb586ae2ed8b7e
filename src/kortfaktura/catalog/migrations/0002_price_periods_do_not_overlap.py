"""Price periods of one product must not overlap (INTERFACES.md prices), guarded by the database.

PostgreSQL: an exclusion constraint over the closed date range (btree_gist for the product
equality). SQLite has no exclusion constraints, so triggers refuse an overlapping insert or update.
"""

from django.db import migrations

PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """
    ALTER TABLE catalog_price ADD CONSTRAINT price_periods_do_not_overlap
    EXCLUDE USING gist (
        product_id WITH =,
        daterange(valid_from, valid_to, '[]') WITH &&
    )
    """,
]
PG_BACKWARD = ["ALTER TABLE catalog_price DROP CONSTRAINT price_periods_do_not_overlap"]

SQLITE_OVERLAP_CONDITION = """
    SELECT 1 FROM catalog_price other
    WHERE other.product_id = NEW.product_id
      AND other.id != COALESCE(NEW.id, -1)
      AND (other.valid_to IS NULL OR other.valid_to >= NEW.valid_from)
      AND (NEW.valid_to IS NULL OR other.valid_from <= NEW.valid_to)
"""
SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER price_periods_do_not_overlap_insert
    BEFORE INSERT ON catalog_price
    WHEN EXISTS ({SQLITE_OVERLAP_CONDITION})
    BEGIN
        SELECT RAISE(ABORT, 'price_periods_do_not_overlap: prisperioder för samma artikel får inte överlappa');
    END
    """,
    f"""
    CREATE TRIGGER price_periods_do_not_overlap_update
    BEFORE UPDATE ON catalog_price
    WHEN EXISTS ({SQLITE_OVERLAP_CONDITION})
    BEGIN
        SELECT RAISE(ABORT, 'price_periods_do_not_overlap: prisperioder för samma artikel får inte överlappa');
    END
    """,
]
SQLITE_BACKWARD = [
    "DROP TRIGGER price_periods_do_not_overlap_insert",
    "DROP TRIGGER price_periods_do_not_overlap_update",
]


def forward(apps, schema_editor):
    statements = PG_FORWARD if schema_editor.connection.vendor == "postgresql" else SQLITE_FORWARD
    for statement in statements:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    statements = PG_BACKWARD if schema_editor.connection.vendor == "postgresql" else SQLITE_BACKWARD
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
