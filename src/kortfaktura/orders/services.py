"""Writes on orders that other parts of the system trigger."""

from django.db import connection

from kortfaktura.catalog.models import Product
from kortfaktura.customers.models import Customer
from kortfaktura.orders.models import Order


def resolve_order_references() -> int:
    """Link orders kept with an unknown customer or product to one that now exists (R14).

    Returns the number of orders that got a reference. One statement per reference, so it costs
    the same for ten orders as for a million.
    """
    orders = Order._meta.db_table
    resolved = 0
    with connection.cursor() as cursor:
        for column, table, key, source in (
            ("customer_id", Customer._meta.db_table, "orgnr", "orgnr"),
            ("product_id", Product._meta.db_table, "code", "product_code"),
        ):
            cursor.execute(
                f"UPDATE {orders} SET {column} = "
                f"(SELECT t.id FROM {table} t WHERE t.{key} = {orders}.{source}) "
                f"WHERE {column} IS NULL AND EXISTS "
                f"(SELECT 1 FROM {table} t WHERE t.{key} = {orders}.{source})"
            )
            resolved += max(cursor.rowcount, 0)
    return resolved
