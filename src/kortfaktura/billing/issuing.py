"""What is checked and fixed when a draft becomes final (DOMAIN.md R8, R11, R13).

- the issue date: never in the future, never before the latest issue date of the series;
- the period: only months that have ended by the issue date;
- every order of the draft, again: the pure core is run on the data as it is now, and each order
  must land exactly where the draft put it (account, month, product, price) — an order that
  meanwhile was cancelled, marked previously invoiced, moved or repriced stops the issue;
- the specification is copied from the orders onto the items (the snapshot);
- every document is rendered and validated before its number becomes final: the documents app
  registers that check here, so that billing does not import the layer above it.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Max
from django.utils import timezone

from kortfaktura.billing import core
from kortfaktura.billing.errors import BillingError, UsageError
from kortfaktura.billing.facts import (
    ITEMS,
    ORDERS,
    catalogue_facts,
    date_text,
    day_parser,
    order_fact_columns,
    pending_change_orders,
)
from kortfaktura.billing.models import Invoice, InvoiceLine
from kortfaktura.orders.models import PreviouslyInvoiced

INVOICES = Invoice._meta.db_table
LINES = InvoiceLine._meta.db_table
EARLIER = PreviouslyInvoiced._meta.db_table
SHOWN_ORDERS = 10


def latest_issue_date() -> dt.date | None:
    latest: dt.date | None = Invoice.objects.filter(status=Invoice.Status.ISSUED).aggregate(
        latest=Max("issue_date")
    )["latest"]
    return latest


def check_issue_date(day: dt.date, today: dt.date | None = None) -> None:
    """R11: numbers and issue dates rise together. Call it with the series row locked."""
    today = today or timezone.localdate()
    if day > today:
        raise UsageError(
            f"fakturadatumet {day.isoformat()} ligger i framtiden – ett dokument får dagens "
            f"datum ({today.isoformat()}) eller ett tidigare, aldrig ett senare"
        )
    latest = latest_issue_date()
    if latest is not None and day < latest:
        raise UsageError(
            f"fakturadatumet {day.isoformat()} ligger före det senast utfärdade dokumentets "
            f"datum {latest.isoformat()} – nummer och datum ska stiga tillsammans; använd "
            f"{latest.isoformat()} eller senare"
        )


def last_billable_day(issue_day: dt.date) -> dt.date:
    """R8: the last day of the month before the issue date."""
    return issue_day.replace(day=1) - dt.timedelta(days=1)


def check_period_ended(period_to: dt.date, issue_day: dt.date) -> None:
    last = last_billable_day(issue_day)
    if period_to > last:
        raise UsageError(
            f"perioden slutar {period_to.isoformat()}, men en månad faktureras först när den "
            f"är slut: med fakturadatum {issue_day.isoformat()} får perioden sluta senast "
            f"{last.isoformat()} – ange --to {last.isoformat()}"
        )


@dataclass(frozen=True)
class Placement:
    account_id: int
    order_month: dt.date
    product_id: int
    unit_price: Decimal
    vat_rate: Decimal


def stale_orders(
    run_id: int, request: core.BillingRequest, accounts: dict[int, core.AccountFacts]
) -> list[tuple[str, str]]:
    """Orders of the draft that the core, run on today's data, would not bill where the draft
    bills them, with the reason in Swedish. Empty when the draft still holds.

    The core decides each order on its own, so the draft's orders are checked in chunks: a
    million of them never need to be in memory at once."""
    pending = pending_change_orders()
    products, customers = catalogue_facts()
    day_of = day_parser()
    stale: list[tuple[str, str]] = []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {order_fact_columns()}, "
            f"EXISTS (SELECT 1 FROM {EARLIER} p WHERE p.order_id = o.order_id), "
            f"v.account_id, {date_text('l.order_month')}, l.product_id, l.unit_price, l.vat_rate "
            f"FROM {ITEMS} i JOIN {INVOICES} v ON v.id = i.invoice_id "
            f"JOIN {LINES} l ON l.id = i.line_id JOIN {ORDERS} o ON o.id = i.order_id "
            "WHERE v.run_id = %s AND v.status = 'draft'",
            [run_id],
        )
        while rows := cursor.fetchmany(CHECK_CHUNK):
            orders: list[core.OrderFacts] = []
            placed: dict[int, Placement] = {}
            for row in rows:
                (pk, order_id, day, customer, orgnr, unit, product, code, status, earlier,
                 account, month, line_product, price, rate) = row  # fmt: skip
                orders.append(
                    core.OrderFacts(pk, order_id, day_of(day), customer, orgnr, unit, product,
                                    code, status, bool(earlier), False, None, pk in pending)
                )  # fmt: skip
                placed[pk] = Placement(
                    account, day_of(month), line_product, core.cents(price), core.cents(rate)
                )
            stale.extend(_compare(orders, placed, products, customers, accounts, request))
    return sorted(stale)


CHECK_CHUNK = 50_000


def _compare(
    orders: list[core.OrderFacts],
    placed: dict[int, Placement],
    products: dict[int, core.ProductFacts],
    customers: dict[int, core.CustomerFacts],
    accounts: dict[int, core.AccountFacts],
    request: core.BillingRequest,
) -> list[tuple[str, str]]:
    proposal = core.propose_invoices(orders, products, customers, accounts, request)
    now: dict[int, Placement] = {}
    for invoice in proposal.invoices:
        for line in invoice.lines:
            placement = Placement(
                invoice.account_id, line.order_month, line.product_id, line.unit_price,
                line.vat_rate,
            )  # fmt: skip
            for pk in line.order_pks:
                now[pk] = placement
    held = {entry.order_pk: entry.detail for entry in proposal.held_back}
    stale = []
    for order in orders:
        reason = _why_not_as_drafted(order, placed[order.pk], now.get(order.pk), held, request)
        if reason:
            stale.append((order.order_id, reason))
    return stale


def _why_not_as_drafted(
    order: core.OrderFacts,
    drafted: Placement,
    now: Placement | None,
    held: dict[int, str],
    request: core.BillingRequest,
) -> str:
    if now == drafted:
        return ""
    if now is not None:
        if now.account_id != drafted.account_id:
            return "hör nu till en annan fakturamottagare"
        if now.order_month != drafted.order_month:
            return "har fått ett annat beställningsdatum"
        if now.product_id != drafted.product_id:
            return "har fått en annan artikel"
        return "har fått ett annat pris eller en annan momssats"
    if order.pk in held:
        return "hålls nu tillbaka: " + held[order.pk]
    if order.previously_invoiced:
        return "är nu markerad som fakturerad av det tidigare systemet"
    if order.status == "cancelled":
        return "är nu makulerad"
    if not request.period_from <= order.order_date <= request.period_to:
        return "har fått ett beställningsdatum utanför körningens period"
    return "hör nu till en kund som körningen inte omfattar"


def describe_stale(run_id: int, stale: list[tuple[str, str]]) -> str:
    shown = "; ".join(f"{order_id} {reason}" for order_id, reason in stale[:SHOWN_ORDERS])
    more = f" … och {len(stale) - SHOWN_ORDERS} till" if len(stale) > SHOWN_ORDERS else ""
    return (
        f"{len(stale)} av utkastets beställningar har ändrats sedan utkastet gjordes och kan "
        f"inte faktureras som det ser ut: {shown}{more}. Inget har utfärdats och inga nummer "
        f"har använts – kör kortfaktura run regenerate {run_id} och granska förslaget igen"
    )


def snapshot_specification(run_id: int) -> None:
    """R13: copy what the specification shows from the orders onto the run's items, once, in
    the issuing transaction (after ``stale_orders`` found each order with its own customer)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ITEMS} SET order_ref = o.order_id, order_date = o.order_date, "
            "product_code = o.product_code, unit_code = o.unit_code, "
            "holder_name = o.holder_name, holder_hsa_id = o.holder_hsa_id "
            f"FROM {ORDERS} o WHERE o.id = {ITEMS}.order_id AND {ITEMS}.invoice_id IN "
            f"(SELECT id FROM {INVOICES} WHERE run_id = %s AND status = 'draft')",
            [run_id],
        )


@dataclass(frozen=True)
class DocumentVerdict:
    sha256: str
    validation: str  # "passed", or "unchecked" when the rules are absent and that is allowed
    problems: tuple[str, ...] = ()  # fatal findings, Swedish, with the rule named


DocumentCheck = Callable[[list[Invoice]], dict[int, DocumentVerdict]]
_document_checks: list[DocumentCheck] = []


def register_document_check(check: DocumentCheck) -> None:
    """Called by the documents app when it is ready."""
    if check not in _document_checks:
        _document_checks.append(check)


def check_documents(invoices: list[Invoice]) -> dict[int, DocumentVerdict]:
    """Every document rendered and validated with its final number (still uncommitted); refuses
    all of them if one fails, naming the documents and the rules."""
    verdicts: dict[int, DocumentVerdict] = {}
    for check in _document_checks:
        verdicts.update(check(invoices))
    failed = [
        (invoice, verdicts[invoice.pk])
        for invoice in invoices
        if invoice.pk in verdicts and verdicts[invoice.pk].problems
    ]
    if failed:
        shown = "; ".join(
            f"{invoice.number} ({invoice.account.code}): " + " · ".join(verdict.problems[:3])
            for invoice, verdict in failed[:SHOWN_ORDERS]
        )
        raise BillingError(
            f"{len(failed)} av {len(invoices)} dokument klarar inte Peppols valideringsregler "
            f"och skulle aldrig kunna skickas: {shown}. Inget har utfärdats och inga nummer "
            "har använts – rätta kunduppgifterna eller prislistan och kör run regenerate"
        )
    return verdicts
