"""Import of orders (beställningar) and of what an earlier system invoiced (tidigare fakturerat).

Orders come by the million, so rows are validated in plain Python and written in chunks through
``imports.bulk`` rather than one ORM object at a time.
"""

import re
from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import Any, ClassVar, NamedTuple

from kortfaktura.catalog.models import Product
from kortfaktura.customers.identifiers import InvalidIdentifier, normalize_orgnr
from kortfaktura.customers.models import Customer
from kortfaktura.imports import bulk
from kortfaktura.imports.engine import Importer
from kortfaktura.imports.models import ImportKind
from kortfaktura.imports.values import InvalidValue, parse_date, parse_local_date, too_long
from kortfaktura.orders.models import Order, OrderChange, OrderStatus, PreviouslyInvoiced

CHUNK_ROWS = 5_000
STATUS_VALUES = frozenset(choice.value for choice in OrderStatus)
STATUS_LIST = ", ".join(choice.value for choice in OrderStatus)
PERSONAL_IDENTITY_NUMBER = re.compile(r"(19|20)?\d{6}[-+]?\d{4}")

ORDER_TABLE = Order._meta.db_table
CHANGE_TABLE = OrderChange._meta.db_table
BILLED_TABLE = PreviouslyInvoiced._meta.db_table


class OrderRow(NamedTuple):
    order_id: str
    ordered_at: str
    order_date: Any  # datetime.date; Any keeps the tuple cheap to compare
    orgnr: str
    unit_code: str
    product_code: str
    holder_name: str
    holder_hsa_id: str
    status: str
    status_at: str


# The file column behind each compared field; a field whose column the file lacks is left as is.
FIELD_SOURCE = {
    "ordered_at": "ordered_at",
    "orgnr": "orgnr",
    "unit_code": "unit_code",
    "product_code": "product_code",
    "holder_name": "holder_name",
    "holder_hsa_id": "holder_hsa_id",
    "status": "status",
    "status_at": "status_at",
}
COMPARED_FIELDS = tuple(FIELD_SOURCE)
FIELD_LIMITS = {
    "order_id": 64,
    "ordered_at": 40,
    "status_at": 40,
    "unit_code": 64,
    "product_code": 32,
    "holder_name": 200,
    "holder_hsa_id": 64,
}


def _length_problem(*values: str) -> str:
    names = (
        "order_id",
        "ordered_at",
        "status_at",
        "unit_code",
        "product_code",
        "holder_name",
        "holder_hsa_id",
    )
    for name, value in zip(names, values, strict=True):
        message = too_long(value, FIELD_LIMITS[name], name)
        if message:
            return message
    return "ett fält är för långt"


class OrderImporter(Importer):
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

    def __init__(self, batch: Any, header: list[str]) -> None:
        super().__init__(batch, header)
        self.customer_ids = dict(Customer.objects.values_list("orgnr", "id"))
        self.product_ids = dict(Product.objects.values_list("code", "id"))
        self.fields = tuple(name for name in COMPARED_FIELDS if self.has(FIELD_SOURCE[name]))
        self.new_values = itemgetter(*(OrderRow._fields.index(name) for name in self.fields))

    def process(self, rows: Iterator[tuple[int, list[str]]]) -> None:
        # The hot loop of the largest import: locals only, one try per row, cached org numbers.
        column = self.columns.get
        i_id, i_time, i_orgnr, i_product = (
            self.columns["order_id"],
            self.columns["ordered_at"],
            self.columns["orgnr"],
            self.columns["product_code"],
        )
        i_unit, i_name, i_hsa = column("unit_code"), column("holder_name"), column("holder_hsa_id")
        i_status, i_status_at = column("status"), column("status_at")
        orgnr_of = self._orgnr_lookup()
        statuses = STATUS_VALUES
        default_status = OrderStatus.ORDERED.value
        seen: dict[str, int] = {}
        chunk: list[OrderRow] = []
        write = self._write
        for line, values in rows:
            try:
                order_id = values[i_id].strip()
                if not order_id:
                    raise InvalidValue(
                        "order_id saknas – varje beställning måste ha kortsystemets beställnings-id"
                    )
                ordered_at = values[i_time].strip()
                if not ordered_at:
                    raise InvalidValue(
                        "ordered_at saknas – ange när beställningen gjordes, "
                        "t.ex. 2020-03-31 eller 2020-03-31 14:05"
                    )
                order_date = parse_local_date(ordered_at, "ordered_at")
                orgnr = orgnr_of(values[i_orgnr])
                product_code = values[i_product].strip()
                if not product_code:
                    raise InvalidValue("product_code saknas – ange artikelkoden, t.ex. ETK")
                unit_code = values[i_unit].strip() if i_unit is not None else ""
                holder_name = " ".join(values[i_name].split()) if i_name is not None else ""
                hsa_id = values[i_hsa].strip() if i_hsa is not None else ""
                if hsa_id and hsa_id[0].isdigit() and PERSONAL_IDENTITY_NUMBER.fullmatch(hsa_id):
                    raise InvalidValue(
                        "holder_hsa_id ser ut som ett personnummer – personnummer lagras "
                        "inte; ange kortinnehavarens HSA-id (t.ex. SE2321000131-P000000012345) "
                        "eller lämna fältet tomt"
                    )
                status = default_status
                if i_status is not None:
                    status = values[i_status].strip().lower() or default_status
                    if status not in statuses:
                        raise InvalidValue(
                            f"status '{values[i_status].strip()}' är okänd – tillåtna värden: "
                            f"{STATUS_LIST}"
                        )
                status_at = values[i_status_at].strip() if i_status_at is not None else ""
                if status_at:
                    parse_local_date(status_at, "status_at")
                if (
                    len(order_id) > 64
                    or len(ordered_at) > 40
                    or len(status_at) > 40
                    or len(unit_code) > 64
                    or len(product_code) > 32
                    or len(holder_name) > 200
                    or len(hsa_id) > 64
                ):
                    raise InvalidValue(
                        _length_problem(
                            order_id,
                            ordered_at,
                            status_at,
                            unit_code,
                            product_code,
                            holder_name,
                            hsa_id,
                        )
                    )
                first_line = seen.get(order_id)
                if first_line is not None:
                    raise InvalidValue(
                        f"order_id {order_id} förekommer redan på rad {first_line} i samma fil – "
                        "raden lästes inte in; rätta filen så att varje beställning finns en gång"
                    )
            except InvalidValue as error:
                self.quarantine(line, values, str(error))
                continue
            seen[order_id] = line
            chunk.append(
                OrderRow(
                    order_id,
                    ordered_at,
                    order_date,
                    orgnr,
                    unit_code,
                    product_code,
                    holder_name,
                    hsa_id,
                    status,
                    status_at,
                )
            )
            if len(chunk) >= CHUNK_ROWS:
                write(chunk)
                chunk = []
        write(chunk)

    @staticmethod
    def _orgnr_lookup() -> Callable[[str], str]:
        """``normalize_orgnr`` with the outcome of each distinct text remembered."""
        known: dict[str, str | InvalidValue] = {}

        def orgnr_of(text: str) -> str:
            outcome = known.get(text)
            if outcome is None:
                if not text.strip():
                    outcome = InvalidValue(
                        "orgnr saknas – ange den beställande organisationens organisationsnummer"
                    )
                else:
                    try:
                        outcome = normalize_orgnr(text)
                    except InvalidIdentifier as error:
                        outcome = InvalidValue(f"orgnr: {error}")
                known[text] = outcome
            if isinstance(outcome, InvalidValue):
                raise InvalidValue(str(outcome))
            return outcome

        return orgnr_of

    def _write(self, chunk: list[OrderRow]) -> None:
        if not chunk:
            return
        existing = {
            row[0]: row[1:]
            for row in bulk.select_by_keys(
                ORDER_TABLE, "order_id", ("id", *self.fields), [row.order_id for row in chunk]
            )
        }
        batch_id = self.batch.pk
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        changes: list[tuple[Any, ...]] = []
        new_values_of = self.new_values
        for row in chunk:
            current = existing.get(row.order_id)
            if current is None:
                inserts.append(
                    (
                        row.order_id,
                        row.ordered_at,
                        row.order_date.isoformat(),
                        row.orgnr,
                        row.unit_code,
                        row.product_code,
                        self.customer_ids.get(row.orgnr),
                        self.product_ids.get(row.product_code),
                        row.holder_name,
                        row.holder_hsa_id,
                        row.status,
                        row.status_at,
                        batch_id,
                        batch_id,
                    )
                )
                continue
            order_pk = current[0]
            new_values = new_values_of(row)
            if new_values == current[1:]:
                self.unchanged += 1
                continue
            changes.extend(self._changes(order_pk, current[1:], new_values, row))
            updates.append((*self._update_values(row), batch_id, order_pk))
        self.imported += len(inserts)
        self.updated += len(updates)
        bulk.insert_rows(
            ORDER_TABLE,
            (
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
            ),
            inserts,
        )
        bulk.update_rows(ORDER_TABLE, "id", (*self._update_columns(), "last_batch_id"), updates)
        bulk.insert_rows(
            CHANGE_TABLE,
            ("order_id", "batch_id", "field", "old_value", "new_value", "status"),
            changes,
        )

    def _changes(
        self, order_pk: int, old_values: tuple[Any, ...], new_values: tuple[Any, ...], row: OrderRow
    ) -> list[tuple[Any, ...]]:
        batch_id = self.batch.pk
        changes = []
        for name, old, new in zip(self.fields, old_values, new_values, strict=True):
            if old != new:
                changes.append((order_pk, batch_id, name, _text(old), _text(new), "applied"))
                if name == "ordered_at":
                    old_date = parse_local_date(old, "ordered_at")
                    if old_date != row.order_date:
                        changes.append(
                            (
                                order_pk,
                                batch_id,
                                "order_date",
                                old_date.isoformat(),
                                row.order_date.isoformat(),
                                "applied",
                            )
                        )
        return changes

    def _update_columns(self) -> tuple[str, ...]:
        columns = list(self.fields)
        if "ordered_at" in self.fields:
            columns.append("order_date")
        if "orgnr" in self.fields:
            columns.append("customer_id")
        if "product_code" in self.fields:
            columns.append("product_id")
        return tuple(columns)

    def _update_values(self, row: OrderRow) -> tuple[Any, ...]:
        values: list[Any] = [getattr(row, name) for name in self.fields]
        if "ordered_at" in self.fields:
            values.append(row.order_date.isoformat())
        if "orgnr" in self.fields:
            values.append(self.customer_ids.get(row.orgnr))
        if "product_code" in self.fields:
            values.append(self.product_ids.get(row.product_code))
        return tuple(values)


def _text(value: object) -> str:
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text[:200]


class BilledImporter(Importer):
    """Records of orders that an earlier system invoiced, so they are not billed again (R7)."""

    kind = ImportKind.BILLED
    required_columns: ClassVar[tuple[str, ...]] = ("order_id", "invoice_number")
    optional_columns: ClassVar[tuple[str, ...]] = ("invoice_date",)

    def process(self, rows: Iterator[tuple[int, list[str]]]) -> None:
        i_id, i_number = self.columns["order_id"], self.columns["invoice_number"]
        i_date = self.columns.get("invoice_date")
        seen: dict[str, int] = {}
        chunk: list[tuple[str, str, Any]] = []
        for line, values in rows:
            order_id, number = values[i_id].strip(), values[i_number].strip()
            date_text = values[i_date].strip() if i_date is not None else ""
            problem = None
            invoice_date = None
            if not order_id:
                problem = "order_id saknas – ange beställnings-id för den fakturerade beställningen"
            elif not number:
                problem = (
                    "invoice_number saknas – ange numret på fakturan där beställningen fakturerades"
                )
            else:
                problem = too_long(order_id, 64, "order_id") or too_long(
                    number, 64, "invoice_number"
                )
            if problem is None and date_text:
                try:
                    invoice_date = parse_date(date_text, "invoice_date")
                except InvalidValue as error:
                    problem = str(error)
            if problem is None and order_id in seen:
                problem = (
                    f"order_id {order_id} förekommer redan på rad {seen[order_id]} i samma fil – "
                    "raden lästes inte in; en beställning kan bara ha fakturerats en gång"
                )
            if problem is not None:
                self.quarantine(line, values, problem)
                continue
            seen[order_id] = line
            chunk.append((order_id, number, invoice_date))
            if len(chunk) >= CHUNK_ROWS:
                self._write(chunk)
                chunk = []
        self._write(chunk)

    def _write(self, chunk: list[tuple[str, str, Any]]) -> None:
        if not chunk:
            return
        has_date = self.has("invoice_date")
        existing = {
            row[0]: row[1:]
            for row in bulk.select_by_keys(
                BILLED_TABLE,
                "order_id",
                ("id", "invoice_number", "invoice_date"),
                [row[0] for row in chunk],
            )
        }
        inserts, updates = [], []
        for order_id, number, invoice_date in chunk:
            current = existing.get(order_id)
            if current is None:
                inserts.append(
                    (
                        order_id,
                        number,
                        invoice_date.isoformat() if invoice_date else None,
                        self.batch.pk,
                    )
                )
                continue
            pk, old_number, old_date = current
            new_date = invoice_date if has_date else old_date
            if (number, new_date) == (old_number, old_date):
                self.unchanged += 1
                continue
            updates.append((number, new_date.isoformat() if new_date else None, self.batch.pk, pk))
        self.imported += len(inserts)
        self.updated += len(updates)
        bulk.insert_rows(
            BILLED_TABLE, ("order_id", "invoice_number", "invoice_date", "batch_id"), inserts
        )
        bulk.update_rows(
            BILLED_TABLE, "id", ("invoice_number", "invoice_date", "batch_id"), updates
        )
