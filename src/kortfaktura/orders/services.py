"""Writes on orders that other parts of the system trigger."""

from django.db import connection

from kortfaktura.catalog.models import Product
from kortfaktura.customers.models import Customer
from kortfaktura.imports.values import parse_local_date
from kortfaktura.orders.models import Order, OrderChange


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


def apply_pending_changes(order_pks: list[int]) -> int:
    """Carry out the import changes that waited because the orders were invoiced (R12, R14).

    Called when the orders are credited; the next run bills them with the corrected data.
    Returns the number of changes applied.
    """
    pending = list(
        OrderChange.objects.filter(order_id__in=order_pks, status=OrderChange.Status.PENDING)
        .select_related("order")
        .order_by("id")
    )
    latest: dict[int, dict[str, str]] = {}
    orders: dict[int, Order] = {}
    for change in pending:
        latest.setdefault(change.order_id, {})[change.field] = change.new_value
        orders[change.order_id] = change.order
    customers = dict(Customer.objects.values_list("orgnr", "id"))
    products = dict(Product.objects.values_list("code", "id"))
    for order_pk, fields in latest.items():
        order = orders[order_pk]
        for name, value in fields.items():
            if name == "order_date":
                continue
            setattr(order, name, value)
        if "ordered_at" in fields:
            order.order_date = parse_local_date(order.ordered_at, "ordered_at")
        order.customer_id = customers.get(order.orgnr)
        order.product_id = products.get(order.product_code)
        order.save()
    OrderChange.objects.filter(pk__in=[change.pk for change in pending]).update(
        status=OrderChange.Status.APPLIED
    )
    return len(pending)
