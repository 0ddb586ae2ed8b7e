"""Import of orders (beställningar) and of what an earlier system invoiced (tidigare fakturerat).

Rows are validated by the pure parsers in ``orders.parsing`` (in a helper process for large
files); this module writes the validated records in chunks through ``imports.bulk``.
"""

from operator import itemgetter
from typing import Any, ClassVar

from django.utils import timezone

from kortfaktura.billing.selectors import invoiced_order_pks
from kortfaktura.catalog.models import Product
from kortfaktura.customers.models import Customer
from kortfaktura.imports import bulk
from kortfaktura.imports.engine import ChunkedImporter
from kortfaktura.imports.models import ImportBatch, ImportKind
from kortfaktura.imports.values import parse_local_date
from kortfaktura.orders import parsing
from kortfaktura.orders.models import (
    BILLING_RELEVANT_FIELDS,
    Order,
    OrderChange,
    PreviouslyInvoiced,
)

ORDER_TABLE = Order._meta.db_table
CHANGE_TABLE = OrderChange._meta.db_table
BILLED_TABLE = PreviouslyInvoiced._meta.db_table

# The file column behind each compared field; a field whose column the file lacks is left as is.
# The order date is derived from ``ordered_at`` and follows it.
COMPARED_FIELDS = (
    "ordered_at",
    "orgnr",
    "unit_code",
    "product_code",
    "holder_name",
    "holder_hsa_id",
    "status",
    "status_at",
)
INSERT_COLUMNS = (
    "order_id",
    "ordered_at",
    "order_date",
    "orgnr",
    "unit_code",
    "product_code",
    "customer_id",
    "product_id",
    "holder_name",
    "holder_hsa_id",
    "status",
    "status_at",
    "first_batch_id",
    "last_batch_id",
)


def _pending_values(
    order_pks: set[int],
) -> tuple[dict[tuple[int, str], str], set[tuple[int, str, str, str]]]:
    """The newest waiting value per (order, field), and the changes (order, field, old, new)
    that a person rejected: the same file again does not ask for the same decision twice."""
    waiting: dict[tuple[int, str], str] = {}
    rejected: set[tuple[int, str, str, str]] = set()
    for order_pk, name, old, new, status in (
        OrderChange.objects.filter(
            order_id__in=order_pks,
            status__in=[OrderChange.Status.PENDING, OrderChange.Status.REJECTED],
        )
        .order_by("id")
        .values_list("order_id", "field", "old_value", "new_value", "status")
    ):
        if status == OrderChange.Status.PENDING:
            waiting[(order_pk, name)] = new
        else:
            rejected.add((order_pk, name, old, new))
    return waiting, rejected


# Changes listed one by one in an import's audit record; the rest are counted.
AUDITED_CHANGES = 1000


class OrderImporter(ChunkedImporter):
    kind = ImportKind.ORDERS
    required_columns: ClassVar[tuple[str, ...]] = (
        "order_id",
        "ordered_at",
        "orgnr",
        "product_code",
    )
    optional_columns: ClassVar[tuple[str, ...]] = (
        "unit_code",
        "holder_name",
        "holder_hsa_id",
        "status",
        "status_at",
    )
    row_parser = "kortfaktura.orders.parsing:OrderRowParser"
    tables = (ORDER_TABLE,)

    def __init__(self, batch: ImportBatch, header: list[str]) -> None:
        super().__init__(batch, header)
        self.customer_ids = dict(Customer.objects.values_list("orgnr", "id"))
        self.product_ids = dict(Product.objects.values_list("code", "id"))
        self.fields = tuple(name for name in COMPARED_FIELDS if self.has(name))
        # At least the three required columns, so itemgetter always returns a tuple.
        self.new_values = itemgetter(*(parsing.ORDER_FIELDS.index(name) for name in self.fields))
        # Changes of invoiced orders that wait for a decision (few, by the partial index): a file
        # that now gives another value – or the invoiced one again – supersedes them.
        self.waiting: dict[str, dict[str, tuple[int, str]]] = {}
        for order_id, order_pk, name, value in (
            OrderChange.objects.filter(status=OrderChange.Status.PENDING)
            .order_by("id")
            .values_list("order__order_id", "order_id", "field", "new_value")
        ):
            if name in self.fields:
                self.waiting.setdefault(order_id, {})[name] = (order_pk, value)
        self.changes_for_decision = 0
        self.changes_applied = 0
        bulk.prefer_index_lookups()

    def audit_details(self) -> dict[str, Any]:
        """The counts, and each change this import made to an existing order, field by field
        (the first ``AUDITED_CHANGES``; all of them stay in the order changes of the batch)."""
        changes = [
            {"order": order_id, "field": field, "before": old, "after": new, "status": status}
            for order_id, field, old, new, status in OrderChange.objects.filter(
                batch_id=self.batch.pk
            )
            .order_by("id")
            .values_list("order__order_id", "field", "old_value", "new_value", "status")[
                :AUDITED_CHANGES
            ]
        ]
        return {
            "changes_for_decision": self.changes_for_decision,
            "changes_applied": self.changes_applied,
            "changes": changes,
        }

    def write(self, records: list[tuple[Any, ...]]) -> None:
        new_values_of = self.new_values
        fingerprint = bulk.fingerprint
        new, changed_ids = bulk.new_and_changed(
            ORDER_TABLE,
            "order_id",
            self.fields,
            {record[0]: fingerprint(new_values_of(record)) for record in records},
        )
        batch_id = self.batch.pk
        customer_ids, product_ids = self.customer_ids, self.product_ids
        inserts: list[tuple[Any, ...]] = []
        changed: list[tuple[int, tuple[Any, ...]]] = []
        for record in records:
            order_id = record[0]
            if order_id in new:
                inserts.append(
                    (
                        *record[:6],
                        customer_ids.get(record[parsing.ORGNR]),
                        product_ids.get(record[parsing.PRODUCT_CODE]),
                        *record[6:],
                        batch_id,
                        batch_id,
                    )
                )
            elif order_id in changed_ids:
                changed.append((changed_ids[order_id], record))
        if self.waiting:
            self._supersede_waiting(records)
        self.imported += len(inserts)
        self.unchanged += len(records) - len(inserts) - len(changed)
        bulk.insert_rows(ORDER_TABLE, INSERT_COLUMNS, inserts)
        if changed:
            self._apply_changes(changed)

    def _supersede_waiting(self, records: list[tuple[Any, ...]]) -> None:
        """A waiting change whose field the file now gives another value for (e.g. the value
        that was invoiced, or a third one) no longer reflects the card system: it is marked
        superseded; a different new value is recorded as a new waiting change by
        ``_apply_changes``."""
        stale: dict[str, list[int]] = {}
        for record in records:
            waiting = self.waiting.get(record[0])
            if waiting is None:
                continue
            values = dict(zip(self.fields, self.new_values(record), strict=True))
            for name, (order_pk, value) in list(waiting.items()):
                if name != "order_date" and values[name][:200] != value:
                    stale.setdefault(name, []).append(order_pk)
                    del waiting[name]
                    if name == "ordered_at":
                        stale.setdefault("order_date", []).append(order_pk)
                        waiting.pop("order_date", None)
        for name, order_pks in stale.items():
            for start in range(0, len(order_pks), 500):
                OrderChange.objects.filter(
                    order_id__in=order_pks[start : start + 500],
                    field=name,
                    status=OrderChange.Status.PENDING,
                ).update(
                    status=OrderChange.Status.SUPERSEDED,
                    decided_at=timezone.now(),
                    decided_by=self.batch.created_by,
                    decision_reason=f"ersatt av import nr {self.batch.pk}: filen anger ett "
                    "annat värde",
                )

    def _apply_changes(self, changed: list[tuple[int, tuple[Any, ...]]]) -> None:
        """Apply and record field changes. For an order on an issued invoice, a change of its
        billing data is recorded as pending and not applied (DOMAIN.md R14)."""
        pks = [pk for pk, _ in changed]
        old_values = {
            found[0]: found[1:]
            for found in bulk.select_by_keys(ORDER_TABLE, "id", self.fields, pks)
        }
        invoiced = invoiced_order_pks(pks)
        waiting, rejected = _pending_values(invoiced)
        batch_id = self.batch.pk
        updates, changes = [], []
        for order_pk, record in changed:
            old_record = old_values[order_pk]
            merged = list(record)
            recorded = []
            for name, old, new in zip(
                self.fields, old_record, self.new_values(record), strict=True
            ):
                if old == new:
                    continue
                pending = order_pk in invoiced and name in BILLING_RELEVANT_FIELDS
                if pending:
                    merged[parsing.ORDER_FIELDS.index(name)] = old
                    if waiting.get((order_pk, name)) == new:
                        continue  # the same change already waits for a decision
                    if (order_pk, name, old[:200], new[:200]) in rejected:
                        continue  # the same change was rejected: the invoice stands
                status = "pending" if pending else "applied"
                recorded.append((order_pk, batch_id, name, old[:200], new[:200], status))
                if name == "ordered_at":
                    old_date = parse_local_date(old, "ordered_at").isoformat()
                    if old_date != record[parsing.ORDER_DATE]:
                        recorded.append(
                            (order_pk, batch_id, "order_date", old_date,
                             record[parsing.ORDER_DATE], status)
                        )  # fmt: skip
                    if pending:
                        merged[parsing.ORDER_DATE] = old_date
            if not recorded:
                self.unchanged += 1
                continue
            changes.extend(recorded)
            updates.append((*self._update_values(tuple(merged)), batch_id, order_pk))
        self.updated += len(updates)
        for change in changes:
            if change[5] == "pending":
                self.changes_for_decision += 1
            else:
                self.changes_applied += 1
        bulk.update_rows(ORDER_TABLE, "id", (*self._update_columns(), "last_batch_id"), updates)
        bulk.insert_rows(
            CHANGE_TABLE,
            ("order_id", "batch_id", "field", "old_value", "new_value", "status"),
            changes,
        )

    def _update_columns(self) -> tuple[str, ...]:
        columns = list(self.fields)
        if "ordered_at" in self.fields:
            columns.append("order_date")
        if "orgnr" in self.fields:
            columns.append("customer_id")
        if "product_code" in self.fields:
            columns.append("product_id")
        return tuple(columns)

    def _update_values(self, record: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(self.new_values(record))
        if "ordered_at" in self.fields:
            values.append(record[parsing.ORDER_DATE])
        if "orgnr" in self.fields:
            values.append(self.customer_ids.get(record[parsing.ORGNR]))
        if "product_code" in self.fields:
            values.append(self.product_ids.get(record[parsing.PRODUCT_CODE]))
        return tuple(values)


class BilledImporter(ChunkedImporter):
    """Records of orders that an earlier system invoiced, so they are not billed again (R7)."""

    kind = ImportKind.BILLED
    required_columns: ClassVar[tuple[str, ...]] = ("order_id", "invoice_number")
    optional_columns: ClassVar[tuple[str, ...]] = ("invoice_date",)
    row_parser = "kortfaktura.orders.parsing:BilledRowParser"
    tables = (BILLED_TABLE,)

    def __init__(self, batch: ImportBatch, header: list[str]) -> None:
        super().__init__(batch, header)
        bulk.prefer_index_lookups()

    def write(self, records: list[tuple[Any, ...]]) -> None:
        has_date = self.has("invoice_date")
        existing = {
            row[0]: row[1:]
            for row in bulk.select_by_keys(
                BILLED_TABLE,
                "order_id",
                ("id", "invoice_number", "invoice_date"),
                [record[0] for record in records],
            )
        }
        inserts, updates = [], []
        for order_id, number, invoice_date in records:
            current = existing.get(order_id)
            if current is None:
                inserts.append((order_id, number, invoice_date, self.batch.pk))
                continue
            pk, old_number, old_date = current
            old_text = old_date.isoformat() if old_date else None
            new_date = invoice_date if has_date else old_text
            if (number, new_date) == (old_number, old_text):
                self.unchanged += 1
                continue
            updates.append((number, new_date, self.batch.pk, pk))
        self.imported += len(inserts)
        self.updated += len(updates)
        bulk.insert_rows(
            BILLED_TABLE, ("order_id", "invoice_number", "invoice_date", "batch_id"), inserts
        )
        bulk.update_rows(
            BILLED_TABLE, "id", ("invoice_number", "invoice_date", "batch_id"), updates
        )
