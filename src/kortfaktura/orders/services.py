"""Writes on orders that other parts of the system trigger."""

from django.db import connection
from django.utils import timezone

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


def apply_pending_changes(
    order_pks: list[int],
    *,
    decided_by: str = "",
    reason: str = "",
    invoice_number: int | None = None,
    credit_note_number: int | None = None,
) -> int:
    """Carry out the import changes that waited because the orders were invoiced (R12, R14).

    Called when the orders are credited: crediting an order accepts every change of it that
    waits, and the next run bills it with the corrected data. The changes are marked
    ``accepted`` with the decision (who, when, why, which invoice and credit note).
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
        status=OrderChange.Status.ACCEPTED,
        decided_at=timezone.now(),
        decided_by=decided_by,
        decision_reason=reason or "beställningen krediterades",
        invoice_number=invoice_number,
        credit_note_number=credit_note_number,
    )
    return len(pending)


def reject_pending_changes(
    invoice_numbers: dict[int, int | None], *, decided_by: str, reason: str
) -> list[int]:
    """Reject every waiting change of the orders (keys: order pks, values: the invoice that
    stands). The orders keep the data they were invoiced with. Returns the changes' ids."""
    rejected = []
    now = timezone.now()
    for order_pk, number in invoice_numbers.items():
        changes = OrderChange.objects.filter(order_id=order_pk, status=OrderChange.Status.PENDING)
        ids = list(changes.values_list("id", flat=True))
        changes.update(
            status=OrderChange.Status.REJECTED,
            decided_at=now,
            decided_by=decided_by,
            decision_reason=reason,
            invoice_number=number,
        )
        rejected.extend(ids)
    return sorted(rejected)
