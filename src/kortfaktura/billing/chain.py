"""Issued documents as hash chains, one per number series (DOMAIN.md R11, R17, R19).

Each issued document is a link: ``chain_hash = sha256(previous link's hash + content hash)`` over
the two hex strings, in number order within its series (invoices and credit notes; internal
charges and internal credits), the first document's previous hash being "". The *content hash*
is SHA-256 over two parts joined by a newline:

- the canonical JSON (sorted keys, no spaces, UTF-8; decimals and dates as text) of
  ``{"document": {the header: id, number, kind, run, credited invoice, account, customer, OCR,
  title, legacy, period, issue and due date, currency, net, VAT, rounding, payable, reason,
  seller and buyer as issued, the stored Peppol document's SHA-256 and its validation},
  "lines": [[position, order month, product id, product code, product name, quantity, unit
  price, VAT rate, net, revenue account], … by position]}``;
- the items, one per line (joined by newlines), in the order of their line's position and then
  their order's row id, each the compact JSON array (as Python's ``json.dumps`` with
  ``ensure_ascii=False, separators=(",", ":")`` writes it) ``[line position (null, and first,
  when the item's line is not one of its document's), order row id,
  order id, order date (YYYY-MM-DD), product code, unit code, holder name, holder HSA-id, unit
  price in öre, 1 for a credit note's item else 0]``.

The database writes each item's JSON (without the position, which Python takes from the lines
and puts first, ordering the items itself): a run has a million items, and encoding them in
Python, or joining and sorting them in SQLite, would cost seconds. So a changed amount, line,
item, buyer or stored document, a deleted or inserted document, all break the chain from there
on. Whether an item was credited later is not part of it (it changes when a credit note is
issued, which is a link of its own).

The chain is extended inside the issuing transaction (``services.issue_run``, credit notes),
which holds the series row's lock: links are written one series at a time, in number order.
The same reading (``read_documents``) serves issuing, the migration that chained the documents
issued before, and the review, so the three always compute the same hash.
"""

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from kortfaktura.audit import chain as audit_chain
from kortfaktura.billing.core import cents
from kortfaktura.billing.numbering import INTERNAL_SERIES, SERIES

GENESIS = ""
INVOICES = "billing_invoice"
LINES = "billing_invoiceline"
ITEMS = "billing_invoiceitem"
ORDERS = "orders_order"
CHUNK = 200
SERIES_KINDS: dict[str, tuple[str, ...]] = {
    SERIES: ("invoice", "credit_note"),
    INTERNAL_SERIES: ("internal_charge", "internal_credit"),
}
SERIES_LABELS = {SERIES: "fakturor och kreditfakturor", INTERNAL_SERIES: "interna dokument"}
AUDIT = "audit"
AUDIT_LABEL = "granskningsloggen"
HEADER_COLUMNS = (
    "id", "number", "kind", "run_id", "credits_id", "account_id", "customer_id", "ocr", "title",
    "is_legacy", "period_start", "period_end", "issue_date", "due_date", "currency", "net", "vat",
    "rounding", "payable", "reason", "seller", "buyer", "content_sha256", "validation",
    "vat_breakdown",
)  # fmt: skip
MONEY = frozenset({"net", "vat", "rounding", "payable"})
DATES = frozenset({"period_start", "period_end", "issue_date", "due_date"})
JSON = frozenset({"seller", "buyer", "vat_breakdown"})


def series_of(kind: str) -> str:
    return INTERNAL_SERIES if kind in SERIES_KINDS[INTERNAL_SERIES] else SERIES


def _day(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]


def _money(value: Any) -> str | None:
    return None if value is None else str(cents(value))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass
class DocumentRows:
    """One issued (or being issued) document as the database holds it, normalized so that
    SQLite and PostgreSQL give the same values."""

    header: dict[str, Any]
    lines: list[list[Any]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)  # each item's canonical text, in order

    @property
    def pk(self) -> int:
        return int(self.header["id"])

    @property
    def number(self) -> int:
        return int(self.header["number"])

    def content_hash(self) -> str:
        payload = {"document": self.header, "lines": self.lines}
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        digest = hashlib.sha256(text.encode("utf-8"))
        digest.update(b"\n")
        digest.update("\n".join(self.items).encode("utf-8"))
        return digest.hexdigest()


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def read_documents(ids: list[int]) -> list[DocumentRows]:
    """The documents with these ids (any status), with their lines and items, in the order of
    ``ids``."""
    found: dict[int, DocumentRows] = {}
    item_text = _item_text(connection.vendor)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            marks = _marks(len(chunk))
            cursor.execute(
                f"SELECT {', '.join(HEADER_COLUMNS)} FROM {INVOICES} WHERE id IN ({marks})", chunk
            )
            for row in cursor.fetchall():
                header = dict(zip(HEADER_COLUMNS, row, strict=True))
                for name in MONEY:
                    header[name] = _money(header[name])
                for name in DATES:
                    header[name] = _day(header[name])
                for name in JSON:
                    header[name] = _json(header[name])
                for name in ("id", "number", "run_id", "credits_id", "account_id", "customer_id"):
                    header[name] = _int(header[name])
                header["is_legacy"] = bool(header["is_legacy"])
                found[int(header["id"])] = DocumentRows(header)
            cursor.execute(
                "SELECT id, invoice_id, position, order_month, product_id, product_code, "
                "product_name, quantity, unit_price, vat_rate, net, revenue_account "
                f"FROM {LINES} WHERE invoice_id IN ({marks})",
                chunk,
            )
            positions: dict[int, tuple[int, int]] = {}  # line → (its invoice, position)
            for (line_id, invoice_id, position, month, product, code, name, quantity, price,
                 rate, net, account) in cursor.fetchall():  # fmt: skip
                positions[line_id] = (invoice_id, int(position))
                if invoice_id in found:
                    found[invoice_id].lines.append(
                        [int(position), _day(month), _int(product), code, name, int(quantity),
                         _money(price), _money(rate), _money(net), account]
                    )  # fmt: skip
            for pk in chunk:
                if pk in found:
                    found[pk].lines.sort(key=lambda line: line[0])
            # The items without a join or a sort in the database: the line's position comes
            # from the lines just read (of the item's own document), and Python orders them.
            cursor.execute(
                f"SELECT i.invoice_id, i.line_id, i.order_id, {item_text} FROM {ITEMS} i "
                f"WHERE i.invoice_id IN ({marks})",
                chunk,
            )
            items: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
            for invoice_id, line_id, order_pk, tail in cursor.fetchall():
                owner, position = positions.get(line_id, (None, -1))
                if owner != invoice_id:
                    position = -1
                items[invoice_id].append((position, order_pk, tail))
            for invoice_id, rows in items.items():
                if invoice_id in found:
                    rows.sort()
                    found[invoice_id].items = [
                        f"[{position if position >= 0 else 'null'},{tail[1:]}"
                        for position, _, tail in rows
                    ]
    return [found[pk] for pk in ids if pk in found]


def _item_text(vendor: str) -> str:
    """SQL for an item's canonical text without its line's position (``read_documents`` puts
    it first), the same on both databases: SQLite's ``json_array`` writes exactly that JSON, and
    PostgreSQL's ``to_json`` escapes text the same way (tests/test_tamper.py pins both to
    ``json.dumps``)."""
    if vendor != "postgresql":
        return (
            "json_array(i.order_id, i.order_ref, i.order_date, i.product_code, "
            "i.unit_code, i.holder_name, i.holder_hsa_id, "
            "CAST(ROUND(i.unit_price * 100) AS INTEGER), CASE WHEN i.is_credit THEN 1 ELSE 0 END)"
        )
    parts = (
        "i.order_id::text",
        "to_json(i.order_ref)::text",
        "COALESCE(to_json(i.order_date)::text, 'null')",
        "to_json(i.product_code)::text",
        "to_json(i.unit_code)::text",
        "to_json(i.holder_name)::text",
        "to_json(i.holder_hsa_id)::text",
        "(i.unit_price * 100)::bigint::text",
        "i.is_credit::int::text",
    )
    return "'[' || " + " || ',' || ".join(parts) + " || ']'"


def head_of(series: str) -> tuple[int, str] | None:
    """(number, chain hash) of the series' last issued document."""
    kinds = SERIES_KINDS[series]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT number, chain_hash FROM {INVOICES} WHERE status = 'issued' "
            f"AND kind IN ({_marks(len(kinds))}) ORDER BY number DESC LIMIT 1",
            list(kinds),
        )
        row = cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else None


@dataclass(frozen=True)
class Anchor:
    """What an audit record says about a stretch of a chain: documents ``first``…``last`` of
    ``series`` were issued, and the link of ``last`` was ``hash`` (audit details "chain")."""

    series: str
    first: int
    last: int
    hash: str

    def as_json(self) -> dict[str, Any]:
        return {"series": self.series, "first": self.first, "last": self.last, "hash": self.hash}


def link_new(
    documents: Iterable[tuple[int, int, str]], overrides: dict[int, dict[str, Any]] | None = None
) -> tuple[dict[int, str], list[Anchor]]:
    """Chain hashes for documents being issued, given as (id, number, kind), inside the issuing
    transaction with the series locked (their rows written, their status still draft).
    ``overrides`` are header values written in the same statement as the status (the stored
    document's hash and validation). Returns the hash per id, and per series an anchor for the
    audit record of the issue."""
    by_series: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for pk, number, kind in documents:
        by_series[series_of(kind)].append((number, pk))
    hashes: dict[int, str] = {}
    anchors = []
    for series, numbered in sorted(by_series.items()):
        numbered.sort()
        last = head_of(series)
        previous = last[1] if last else GENESIS
        if last is not None and numbered[0][0] <= last[0]:
            raise RuntimeError(f"document {numbered[0][0]} is not after the head {last[0]}")
        rows = read_documents([pk for _, pk in numbered])
        for document in rows:
            document.header.update((overrides or {}).get(document.pk, {}))
            previous = audit_chain.link_hash(previous, document.content_hash())
            hashes[document.pk] = previous
        anchors.append(Anchor(series, numbered[0][0], numbered[-1][0], previous))
    return hashes, anchors


def chain_existing(cursor: Any) -> list[Anchor]:
    """Migration: chain every issued document that has no link yet, per series in number order
    (the guards must be off). Returns the head of each series that has documents."""
    anchors = []
    for series, kinds in SERIES_KINDS.items():
        cursor.execute(
            f"SELECT id, number FROM {INVOICES} WHERE status = 'issued' "
            f"AND kind IN ({_marks(len(kinds))}) ORDER BY number",
            list(kinds),
        )
        numbered = [(int(pk), int(number)) for pk, number in cursor.fetchall()]
        previous = GENESIS
        for start in range(0, len(numbered), CHUNK):
            chunk = numbered[start : start + CHUNK]
            updates = []
            for document in read_documents([pk for pk, _ in chunk]):
                previous = audit_chain.link_hash(previous, document.content_hash())
                updates.append((previous, document.pk))
            cursor.executemany(f"UPDATE {INVOICES} SET chain_hash = %s WHERE id = %s", updates)
        if numbered:
            anchors.append(Anchor(series, numbered[0][1], numbered[-1][1], previous))
    return anchors


@dataclass(frozen=True)
class Head:
    """The end of a chain, to be kept outside the system (SIE export, review report, notice):
    ``review --expect-head`` checks a later chain against it."""

    chain: str  # "invoices" | "internal" | "audit"
    label: str  # Swedish
    number: int  # the last document's number; for the audit trail the last record's id
    hash: str

    @property
    def expect(self) -> str:
        """The argument of ``kortfaktura review --expect-head``."""
        prefix = "audit:" if self.chain == AUDIT else ""
        return f"{prefix}{self.number}:{self.hash}"

    def as_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "label": self.label,
            "number": self.number,
            "hash": self.hash,
            "expect": self.expect,
        }


def chain_heads() -> list[Head]:
    """The heads of the document chains and of the audit trail as they are now (for the SIE
    export, the review's reports and the nightly notice)."""
    heads = []
    for series in SERIES_KINDS:
        found = head_of(series)
        if found is not None:
            heads.append(Head(series, SERIES_LABELS[series], found[0], found[1]))
    audit = audit_chain.head()
    if audit is not None:
        heads.append(Head(AUDIT, AUDIT_LABEL, audit[0], audit[1]))
    return heads


def heads_text(heads: list[Head]) -> str:
    """One line for a file or a notice: ``fakturor och kreditfakturor 104863:ab12…; …``."""
    if not heads:
        return "Kortfaktura: inga utfärdade dokument eller poster i granskningsloggen ännu"
    return "Kortfaktura kedjor (kontrollera med kortfaktura review --expect-head): " + "; ".join(
        f"{head.label} {head.expect}" for head in heads
    )


def documents_in_order(series: str) -> Iterator[list[tuple[int, int, str]]]:
    """The series' issued documents as (id, number, chain hash), in number order, in chunks."""
    kinds = SERIES_KINDS[series]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, number, chain_hash FROM {INVOICES} WHERE status = 'issued' "
            f"AND kind IN ({_marks(len(kinds))}) ORDER BY number",
            list(kinds),
        )
        rows = [(int(pk), int(number), str(hash_ or "")) for pk, number, hash_ in cursor.fetchall()]
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]
