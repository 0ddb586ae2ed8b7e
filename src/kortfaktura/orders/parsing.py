"""Validation of order rows and earlier-invoicing rows: pure Python, no database.

Runs in a helper process for large files (``imports.pipeline``), so it must not import Django.
A record is a plain tuple (cheap to send between processes) with the positions below.
"""

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

from kortfaktura.customers.identifiers import InvalidIdentifier, normalize_orgnr
from kortfaktura.imports.pipeline import QuarantineEntry, quarantine_entry
from kortfaktura.imports.values import (
    STOCKHOLM,
    InvalidValue,
    parse_date,
    parse_local_date,
    too_long,
)

CHUNK_ROWS = 5_000

# An order record: the values as they will be stored, the order date as ``YYYY-MM-DD``.
ORDER_FIELDS = (
    "order_id",
    "ordered_at",
    "order_date",
    "orgnr",
    "unit_code",
    "product_code",
    "holder_name",
    "holder_hsa_id",
    "status",
    "status_at",
)
ORDER_ID, ORDERED_AT, ORDER_DATE, ORGNR, UNIT_CODE, PRODUCT_CODE = range(6)
HOLDER_NAME, HOLDER_HSA_ID, STATUS, STATUS_AT = range(6, 10)

ORDER_STATUSES = (
    "ordered",
    "photographed",
    "produced",
    "collected",
    "expired",
    "revoked",
    "cancelled",
)
STATUS_LIST = ", ".join(ORDER_STATUSES)
PERSONAL_IDENTITY_NUMBER = re.compile(r"(19|20)?\d{6}[-+]?\d{4}")
control_character = re.compile(r"[\x00-\x1f\x7f]").search
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


def orgnr_lookup() -> Callable[[str], str]:
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


def _today(today: dt.date | None) -> dt.date:
    """The import's local date; the engine passes ``timezone.localdate()``."""
    return today if today is not None else dt.datetime.now(STOCKHOLM).date()


class OrderRowParser:
    def __init__(self, header: list[str], today: dt.date | None = None) -> None:
        self.today = _today(today).isoformat()
        self.header = header
        self.columns = {name: index for index, name in enumerate(header) if name}
        self.quarantined: list[QuarantineEntry] = []

    def chunks(self, rows: Iterator[tuple[int, list[str]]]) -> Iterator[list[tuple[Any, ...]]]:
        # The hot loop of the largest import: locals only, one try per row, cached org numbers.
        column = self.columns.get
        i_id, i_time = self.columns["order_id"], self.columns["ordered_at"]
        i_orgnr, i_product = self.columns["orgnr"], self.columns["product_code"]
        i_unit, i_name, i_hsa = column("unit_code"), column("holder_name"), column("holder_hsa_id")
        i_status, i_status_at = column("status"), column("status_at")
        orgnr_of = orgnr_lookup()
        statuses = frozenset(ORDER_STATUSES)
        seen: dict[str, int] = {}
        chunk: list[tuple[Any, ...]] = []
        header, quarantined, today = self.header, self.quarantined, self.today
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
                order_date = parse_local_date(ordered_at, "ordered_at").isoformat()
                if order_date > today:
                    raise InvalidValue(
                        f"ordered_at {ordered_at} ligger efter importdagen {today} – en "
                        "beställning kan inte ha lagts ännu; kontrollera datumet "
                        "i kortsystemets export"
                    )
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
                status = "ordered"
                if i_status is not None:
                    status = values[i_status].strip().lower() or "ordered"
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
                if control_character(
                    f"{order_id}{ordered_at}{unit_code}{product_code}{hsa_id}{status_at}"
                ):
                    raise InvalidValue(
                        "raden innehåller kontrolltecken (t.ex. tabb eller radbrytning) i ett "
                        "fält – kontrollera exporten från kortsystemet"
                    )
                first_line = seen.get(order_id)
                if first_line is not None:
                    raise InvalidValue(
                        f"order_id {order_id} förekommer redan på rad {first_line} i samma fil – "
                        "raden lästes inte in; rätta filen så att varje beställning finns en gång"
                    )
            except InvalidValue as error:
                quarantined.append(quarantine_entry(header, line, values, str(error)))
                continue
            seen[order_id] = line
            chunk.append(
                (
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
                yield chunk
                chunk = []
        if chunk:
            yield chunk


class BilledRowParser:
    """Records ``(order_id, invoice_number, invoice_date or None)``."""

    def __init__(self, header: list[str], today: dt.date | None = None) -> None:
        self.header = header
        self.columns = {name: index for index, name in enumerate(header) if name}
        self.quarantined: list[QuarantineEntry] = []

    def chunks(self, rows: Iterator[tuple[int, list[str]]]) -> Iterator[list[tuple[Any, ...]]]:
        i_id, i_number = self.columns["order_id"], self.columns["invoice_number"]
        i_date = self.columns.get("invoice_date")
        seen: dict[str, int] = {}
        chunk: list[tuple[Any, ...]] = []
        for line, values in rows:
            order_id, number = values[i_id].strip(), values[i_number].strip()
            date_text = values[i_date].strip() if i_date is not None else ""
            invoice_date = None
            try:
                if not order_id:
                    raise InvalidValue(
                        "order_id saknas – ange beställnings-id för den fakturerade beställningen"
                    )
                if not number:
                    raise InvalidValue(
                        "invoice_number saknas – ange numret på fakturan där beställningen "
                        "fakturerades"
                    )
                problem = too_long(order_id, 64, "order_id") or too_long(
                    number, 64, "invoice_number"
                )
                if problem:
                    raise InvalidValue(problem)
                if control_character(order_id):
                    raise InvalidValue("order_id innehåller kontrolltecken")
                if date_text:
                    invoice_date = parse_date(date_text, "invoice_date").isoformat()
                if order_id in seen:
                    raise InvalidValue(
                        f"order_id {order_id} förekommer redan på rad {seen[order_id]} i samma "
                        "fil – raden lästes inte in; en beställning kan bara ha fakturerats en gång"
                    )
            except InvalidValue as error:
                self.quarantined.append(quarantine_entry(self.header, line, values, str(error)))
                continue
            seen[order_id] = line
            chunk.append((order_id, number, invoice_date))
            if len(chunk) >= CHUNK_ROWS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
