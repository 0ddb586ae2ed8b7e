"""The review (genomlysning, DOMAIN.md R18): every order of the period in exactly one state.

Each state is counted on its own, from its own evidence in the database, never as a total less
the other states:

- *invoiced* from the invoice items: uncredited items of issued invoices, by the order month of
  the specification as issued, without looking at the orders at all;
- *previously invoiced*, *not billable* and *in a draft* from the orders, the first that applies;
- *held back* and *unbilled* by the billing core itself, over the orders that are in none of the
  states before, so that the review holds back exactly what a run would.

The orders received per month are counted separately again. A month balances when its states
add up to its orders and its invoiced net equals the sum of its issued documents' lines. When a
month does not balance, the review looks for the orders behind it (on two uncredited invoices,
invoiced but no longer in the database, invoiced under another month) and names them.
"""

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from kortfaktura import swedish
from kortfaktura.accounting.selectors import booked_totals, exports_overlapping
from kortfaktura.accounting.vouchers import BookingError
from kortfaktura.billing import core
from kortfaktura.billing.changes import list_changes
from kortfaktura.billing.core import HELD_BACK_LABELS, BillingRequest, OrderFacts
from kortfaktura.billing.facts import (
    ACTIVE_ITEM,
    account_facts,
    catalogue_facts,
    day_parser,
    order_fact_columns,
    pending_change_orders,
)
from kortfaktura.billing.models import (
    INTERNAL_KINDS,
    Invoice,
    InvoiceItem,
    InvoiceLine,
    InvoiceNumberSeries,
)
from kortfaktura.billing.numbering import INTERNAL_SERIES, SERIES
from kortfaktura.catalog.models import Product
from kortfaktura.customers.identifiers import format_orgnr
from kortfaktura.customers.models import Customer
from kortfaktura.imports.models import ImportBatch
from kortfaktura.orders.models import Order, PreviouslyInvoiced
from kortfaktura.review.checks import customer_data_problems
from kortfaktura.review.integrity import ExpectedHead, check_integrity
from kortfaktura.review.report import (
    STATES,
    CustomerRow,
    Discrepancy,
    ExportRow,
    MonthRow,
    OrderFinding,
    PaymentsRow,
    PendingChange,
    Review,
)
from kortfaktura.swedish import counted

ORDERS = Order._meta.db_table
ITEMS = InvoiceItem._meta.db_table
LINES = InvoiceLine._meta.db_table
INVOICES = Invoice._meta.db_table
EARLIER = PreviouslyInvoiced._meta.db_table
PRODUCTS = Product._meta.db_table
CUSTOMERS = Customer._meta.db_table
FETCH_ROWS = 20_000
UNBILLED = "unbilled"
# The kinds of document that bill orders (internal charges join them with issue 10).
BILLING_KINDS = ("invoice", "internal_charge")
DOCUMENT_KINDS = ("invoice", "credit_note", "internal_charge", "internal_credit")


@dataclass(frozen=True)
class Period:
    start: dt.date | None
    end: dt.date | None

    def clause(self, column: str) -> tuple[str, list[dt.date]]:
        parts, params = [], []
        if self.start is not None:
            parts.append(f"{column} >= %s")
            params.append(self.start)
        if self.end is not None:
            parts.append(f"{column} <= %s")
            params.append(self.end)
        return (" AND " + " AND ".join(parts) if parts else ""), params

    def covers_month(self, month: str) -> bool:
        """Whether every day of ``month`` (YYYY-MM) is inside the period."""
        first = dt.date.fromisoformat(f"{month}-01")
        return (self.start is None or self.start <= first) and (
            self.end is None or core.month_end(first) <= self.end
        )


def month_of(column: str) -> str:
    """SQL for the YYYY-MM of a date column."""
    if connection.vendor == "postgresql":
        return f"to_char({column}, 'YYYY-MM')"
    return f"substr({column}, 1, 7)"


def money_sum(expression: str) -> str:
    """SQL for an exact sum of a money column: SQLite keeps decimals as floating point, whose
    sum over a million rows can drift by öre, so it sums whole öre there."""
    if connection.vendor == "postgresql":
        return f"SUM({expression})"
    return f"SUM(CAST(ROUND(({expression}) * 100) AS INTEGER))"


def money(value: object) -> Decimal:
    """A ``money_sum`` as kronor and öre."""
    if connection.vendor == "postgresql":
        return core.cents(value)
    return (Decimal(int(str(value or 0))) / 100).quantize(core.CENT)


def build_review(
    period_from: dt.date | None = None,
    period_to: dt.date | None = None,
    *,
    made_by: str = "",
    expected_heads: list[ExpectedHead] | None = None,
) -> Review:
    """The review of the orders dated within the period (all orders when open). The history's
    integrity (R19: the hash chains, the stored documents against their rows, credits and
    invoiced orders) is checked over everything, whatever the period; ``expected_heads`` are
    chain heads copied out earlier, which the chains must still have."""
    period = Period(period_from, period_to)
    made_at = timezone.localtime()
    counts = _Counts()
    with connection.cursor() as cursor:
        _count_received(cursor, period, counts)
        _count_invoiced(cursor, period, counts)
        open_orders = _count_by_order_state(cursor, period, counts)
        documents_net = _documents_net(cursor, period, counts.months())
    names = dict(Customer.objects.values_list("orgnr", "name"))
    held_back, unbilled = _classify_open(open_orders, counts, names)
    integrity = check_integrity(expected_heads)
    review = Review(
        dual_control=settings.DUAL_CONTROL,
        period_from=period_from,
        period_to=period_to,
        made_at=made_at,
        made_by=made_by,
        checksum="",
        months=_month_rows(counts, documents_net),
        held_back=held_back,
        unbilled=unbilled,
        pending_changes=_pending_changes(),
        customer_data=customer_data_problems(
            period.clause("o.order_date"), counts.unknown_orgnrs(set(names))
        ),
        customers=_customer_rows(counts, names),
        gaps=numbering_gaps(),
        invalid_documents=integrity.problems,
        chains=integrity.chains,
    )
    review.discrepancies = [
        *find_discrepancies(review, period, len(open_orders), counts),
        *document_total_discrepancies(period),
        *integrity.discrepancies,
    ]
    review.exports, review.unbooked_documents, unbookable = bookkeeping()
    review.discrepancies.extend(unbookable)
    review.payments, unpaid = payments_review()
    review.discrepancies.extend(unpaid)
    review.checksum = data_checksum(review)
    return review


def bookkeeping() -> tuple[list[ExportRow], list[int], list[Discrepancy]]:
    """Every SIE export against the documents of its period as they are now (count, debit and
    each account's balance), the issued documents that no export covers (not yet booked), and
    the documents that cannot be booked at all."""
    exports = exports_overlapping(dt.date.min, dt.date.max)
    rows = []
    unbookable: dict[str, Discrepancy] = {}
    for export in exports:
        later = [
            other
            for other in exports
            if other.pk > export.pk
            and other.period_from <= export.period_from
            and export.period_to <= other.period_to
        ]
        try:
            now = booked_totals(export.period_from, export.period_to, export.pk)
            documents_now, debit_now = now.vouchers, now.debit
            exported = {a: Decimal(v) for a, v in export.by_account.items() if Decimal(v)}
            # Exports made before balances were stored compare by count and debit only.
            balances_match = not export.by_account or exported == {
                account: amount for account, amount in now.by_account.items() if amount
            }
        except BookingError as error:
            documents_now, debit_now, balances_match = -1, Decimal("0.00"), False
            unbookable[str(error)] = Discrepancy("", "", None, f"kan inte bokföras: {error}")
        rows.append(
            ExportRow(
                export.pk, timezone.localtime(export.made_at), export.made_by,
                export.period_from, export.period_to, export.file, export.sha256,
                export.vouchers, export.debit, documents_now, debit_now, balances_match,
                later[-1].pk if later else None,
            )
        )  # fmt: skip
    covered = [(export.period_from, export.period_to) for export in exports]
    unbooked = [
        number
        for number, day in Invoice.objects.filter(
            status=Invoice.Status.ISSUED, kind__in=DOCUMENT_KINDS
        )
        .order_by("number")
        .values_list("number", "issue_date")
        if number is not None
        and day is not None
        and not any(start <= day <= end for start, end in covered)
    ]
    return rows, unbooked, list(unbookable.values())


def payments_review() -> tuple[PaymentsRow, list[Discrepancy]]:
    """The payments (R21, R22): each file's stored payments against the count and amount it
    recorded when it was read (and its deposits' counts), every payment matched, assigned or
    listed for a person, a settled payment naming an issued invoice, and the receivables per
    customer against the invoices' own sums."""
    from kortfaktura.payments import selectors as payments
    from kortfaktura.payments.models import Payment, PaymentFile

    row = PaymentsRow()
    problems: list[Discrepancy] = []
    stored = {
        file_id: (count, total or Decimal("0.00"))
        for file_id, count, total in Payment.objects.values_list("file_id")
        .annotate(n=Count("id"), t=Sum("amount"))
        .values_list("file_id", "n", "t")
    }
    for file in PaymentFile.objects.order_by("id"):
        row.files += 1
        count, total = stored.get(file.pk, (0, Decimal("0.00")))
        row.payments += count
        row.amount += total
        if (count, total) != (file.payments, file.amount):
            problems.append(Discrepancy("", "", None, (
                f"betalfil {file.pk} ({file.file_name}): {count} betalningar om {total:.2f} kr "
                f"finns sparade, men filen gav {file.payments} om {file.amount:.2f} kr när den "
                "lästes in – betalningar har ändrats eller tagits bort i databasen"
            )))  # fmt: skip
        deposited = [deposit.get("count") for deposit in file.deposits]
        if (
            deposited
            and all(isinstance(c, int) for c in deposited)
            and sum(deposited) != file.payments + file.duplicates
        ):
            problems.append(Discrepancy("", "", None, (
                f"betalfil {file.pk} ({file.file_name}): insättningarna anger "
                f"{sum(deposited)} betalningar men {file.payments} nya och {file.duplicates} "
                "redan inlästa sparades"
            )))  # fmt: skip
    for status, count, total in (
        Payment.objects.filter(status__in=(Payment.Status.UNMATCHED, Payment.Status.REFUND))
        .values_list("status")
        .annotate(n=Count("id"), t=Sum("amount"))
        .values_list("status", "n", "t")
    ):
        if status == Payment.Status.UNMATCHED:
            row.unmatched, row.unmatched_amount = count, total
        else:
            row.refund, row.refund_amount = count, total
    wrongly = Payment.objects.filter(status__in=payments.SETTLING).exclude(
        invoice__status=Invoice.Status.ISSUED, invoice__kind=Invoice.Kind.INVOICE
    )
    for pk, number in wrongly.values_list("pk", "invoice__number")[:50]:
        target = f"dokument {number}" if number else "inget dokument"
        problems.append(Discrepancy("", "", number, (
            f"betalning {pk} är bokad mot {target}, som inte är en utfärdad faktura"
        )))  # fmt: skip
    receivables = payments.receivables()
    row.total_open = receivables.total_open
    row.credit_balance = receivables.credit_balance
    row.overdue = sum((Decimal(c["overdue"]) for c in receivables.customers), Decimal("0.00"))
    problems.extend(_receivables_tie(receivables))
    return row, problems


def _receivables_tie(receivables: Any) -> list[Discrepancy]:
    """Each customer's open amount against its invoices' payable less its settling payments
    and credit notes, summed in the database (independent of the receivables' own loop)."""
    from kortfaktura.payments import selectors as payments
    from kortfaktura.payments.models import Payment

    issued = Invoice.objects.filter(status=Invoice.Status.ISSUED, issue_date__lte=receivables.at)
    expected: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for orgnr, total in (
        issued.filter(kind=Invoice.Kind.INVOICE)
        .values_list("customer__orgnr")
        .annotate(t=Sum("payable"))
        .values_list("customer__orgnr", "t")
    ):
        expected[orgnr] += total
    for orgnr, total in (
        issued.filter(kind=Invoice.Kind.CREDIT_NOTE, credits__kind=Invoice.Kind.INVOICE)
        .values_list("credits__customer__orgnr")
        .annotate(t=Sum("payable"))
        .values_list("credits__customer__orgnr", "t")
    ):
        expected[orgnr] += total  # a credit note's amount is negative
    for orgnr, total in (
        Payment.objects.filter(status__in=payments.SETTLING, paid_on__lte=receivables.at)
        .filter(invoice__status=Invoice.Status.ISSUED, invoice__issue_date__lte=receivables.at)
        .values_list("invoice__customer__orgnr")
        .annotate(t=Sum("amount"))
        .values_list("invoice__customer__orgnr", "t")
    ):
        expected[orgnr] -= total
    shown = {c["orgnr"]: Decimal(c["open"]) for c in receivables.customers}
    problems = []
    for orgnr in sorted(set(expected) | set(shown)):
        want, got = expected.get(orgnr, Decimal("0.00")), shown.get(orgnr, Decimal("0.00"))
        if want != got:
            problems.append(Discrepancy("", "", None, (
                f"kundreskontran för {orgnr} visar {got:.2f} kr öppet, men fakturor, "
                f"krediteringar och betalningar ger {want:.2f} kr"
            )))  # fmt: skip
    return problems


class _Counts:
    """Counts per (month, orgnr) for each state, each filled by its own query."""

    def __init__(self) -> None:
        self.received: dict[tuple[str, str], int] = defaultdict(int)
        self.states: dict[str, dict[tuple[str, str], int]] = {s: defaultdict(int) for s in STATES}
        self.invoiced_net: dict[tuple[str, str], Decimal] = defaultdict(Decimal)

    def months(self) -> list[str]:
        keys: set[str] = {month for month, _ in self.received}
        for state in self.states.values():
            keys.update(month for month, _ in state)
        return sorted(keys)

    def unknown_orgnrs(self, known: set[str]) -> dict[str, int]:
        """Orders per organisationsnummer that is not in the customer data."""
        found: dict[str, int] = defaultdict(int)
        for (_, orgnr), count in self.received.items():
            if orgnr not in known:
                found[orgnr] += count
        return dict(found)


def _count_received(cursor: Any, period: Period, counts: _Counts) -> None:
    """The orders received, per month and customer: one pass over the orders."""
    where, params = period.clause("o.order_date")
    cursor.execute(
        f"SELECT {month_of('o.order_date')}, o.orgnr, COUNT(*) "
        f"FROM {ORDERS} o WHERE 1 = 1{where} GROUP BY 1, 2",
        params,
    )
    for month, orgnr, count in cursor.fetchall():
        counts.received[month, orgnr] += count


def _count_invoiced(cursor: Any, period: Period, counts: _Counts) -> None:
    """Orders on issued, uncredited invoices, from the items alone (the order month of the
    specification as issued, the invoice's customer): a deleted order or one on two invoices
    still counts here, and so unbalances its month."""
    where, params = period.clause("i.order_date")
    kinds = ", ".join(f"'{kind}'" for kind in BILLING_KINDS)
    cursor.execute(
        f"SELECT {month_of('i.order_date')}, inv.customer_id, COUNT(*), "
        f"{money_sum('i.unit_price')} "
        f"FROM {ITEMS} i JOIN {INVOICES} inv ON inv.id = i.invoice_id "
        f"WHERE inv.status = 'issued' AND inv.kind IN ({kinds}) AND {ACTIVE_ITEM}{where} "
        "GROUP BY 1, 2",
        params,
    )
    orgnr_of = dict(Customer.objects.values_list("id", "orgnr"))
    for month, customer_id, count, net in cursor.fetchall():
        orgnr = orgnr_of[customer_id]
        counts.states["invoiced"][month, orgnr] += count
        counts.invoiced_net[month, orgnr] += money(net)


def _count_by_order_state(cursor: Any, period: Period, counts: _Counts) -> list[OrderFacts]:
    """Previously invoiced, not billable and in a draft, counted from the orders (the first
    that applies, after invoiced); returns the orders in none of these states, for the core."""
    where, params = period.clause("o.order_date")
    issued_item = (
        f"EXISTS (SELECT 1 FROM {ITEMS} i JOIN {INVOICES} inv ON inv.id = i.invoice_id "
        f"WHERE i.order_id = o.id AND {ACTIVE_ITEM} AND inv.status = 'issued')"
    )
    draft_item = (
        f"EXISTS (SELECT 1 FROM {ITEMS} i JOIN {INVOICES} inv ON inv.id = i.invoice_id "
        f"WHERE i.order_id = o.id AND {ACTIVE_ITEM} AND inv.status = 'draft')"
    )
    earlier = f"EXISTS (SELECT 1 FROM {EARLIER} p WHERE p.order_id = o.order_id)"
    cancelled = (
        "o.status = 'cancelled' AND NOT EXISTS (SELECT 1 FROM "
        f"{PRODUCTS} pr WHERE pr.id = o.product_id AND pr.cancelled_billable)"
    )
    # One pass: the orders that are on no issued invoice, each with the first state of the
    # three that applies, or open; the invoiced ones are counted from the items instead.
    state = (
        f"CASE WHEN {earlier} THEN 'previously_invoiced' WHEN {cancelled} THEN 'not_billable' "
        f"WHEN {draft_item} THEN 'in_draft' ELSE 'open' END"
    )
    cursor.execute(
        f"SELECT {order_fact_columns()}, {state} FROM {ORDERS} o WHERE NOT {issued_item}{where}",
        params,
    )
    day_of = day_parser()
    pending: set[int] | None = None
    orders = []
    states = counts.states
    while rows := cursor.fetchmany(FETCH_ROWS):
        for pk, order_id, day, customer, orgnr, unit, product, code, status, name in rows:
            order_date = day_of(day)
            if name != "open":
                states[name][order_date.strftime("%Y-%m"), orgnr] += 1
                continue
            if pending is None:
                pending = pending_change_orders()
            orders.append(
                OrderFacts(pk, order_id, order_date, customer, orgnr, unit, product, code, status,
                           pending_change=pk in pending)
            )  # fmt: skip
    return orders


def _classify_open(
    orders: list[OrderFacts], counts: _Counts, names: dict[str, str]
) -> tuple[list[OrderFinding], list[OrderFinding]]:
    """Held back or unbilled, decided by the billing core as a run would decide."""
    if not orders:
        return [], []
    products, customers = catalogue_facts()
    request = BillingRequest(dt.date.min, dt.date.max)
    proposal = core.propose_invoices(orders, products, customers, account_facts(), request)
    by_pk = {order.pk: order for order in orders}
    held_back = []
    for entry in proposal.held_back:
        order = by_pk[entry.order_pk]
        counts.states["held_back"][order.order_date.strftime("%Y-%m"), order.orgnr] += 1
        held_back.append(
            OrderFinding(
                order.order_id, order.order_date, format_orgnr(order.orgnr),
                names.get(order.orgnr, ""), str(entry.reason), HELD_BACK_LABELS[entry.reason],
                entry.detail,
            )
        )  # fmt: skip
    unbilled = []
    for pk in (pk for invoice in proposal.invoices for pk in invoice.order_pks):
        order = by_pk[pk]
        counts.states["unbilled"][order.order_date.strftime("%Y-%m"), order.orgnr] += 1
        unbilled.append(
            OrderFinding(
                order.order_id, order.order_date, format_orgnr(order.orgnr),
                names.get(order.orgnr, ""), UNBILLED, "ej fakturerad än",
                _release_action(order.order_date),
            )
        )  # fmt: skip
    unbilled.sort(key=lambda finding: (finding.order_date, finding.order_id))
    return held_back, unbilled


def _release_action(day: dt.date) -> str:
    first = day.replace(day=1)
    last = core.month_end(day)
    legacy_from, legacy_to = (dt.date.fromisoformat(d) for d in settings.LEGACY_PERIOD)
    if legacy_from <= day <= legacy_to:
        return (
            "faktureras av nästa separata körning för den äldre perioden: kortfaktura bill "
            f"--legacy --from {legacy_from.isoformat()} --to {legacy_to.isoformat()}"
        )
    return (
        "faktureras av nästa körning som täcker beställningsmånaden: kortfaktura bill "
        f"--from {first.isoformat()} --to {last.isoformat()}"
    )


def _documents_net(cursor: Any, period: Period, months: list[str]) -> dict[str, Decimal]:
    """The sum of the issued documents' lines per order month (credit notes negative). A month
    that the period cuts is summed over the lines' prices of the orders inside the period."""
    kinds = ", ".join(f"'{kind}'" for kind in DOCUMENT_KINDS)
    where, params = period.clause("l.order_month")
    if period.start is not None:
        # The line's order_month is the first of the month: widen to that month's first day.
        params[0] = period.start.replace(day=1)
    cursor.execute(
        f"SELECT {month_of('l.order_month')}, {money_sum('l.net')} FROM {LINES} l "
        f"JOIN {INVOICES} inv ON inv.id = l.invoice_id "
        f"WHERE inv.status = 'issued' AND inv.kind IN ({kinds}){where} GROUP BY 1",
        params,
    )
    totals = {month: money(net) for month, net in cursor.fetchall()}
    for month in {m for m in (*months, *totals) if not period.covers_month(m)}:
        first = dt.date.fromisoformat(f"{month}-01")
        start = max(first, period.start or first)
        end = min(core.month_end(first), period.end or core.month_end(first))
        cursor.execute(
            "SELECT "
            + money_sum("CASE WHEN i.is_credit THEN -l.unit_price ELSE l.unit_price END")
            + " "
            f"FROM {ITEMS} i JOIN {LINES} l ON l.id = i.line_id "
            f"JOIN {INVOICES} inv ON inv.id = i.invoice_id "
            f"WHERE inv.status = 'issued' AND inv.kind IN ({kinds}) "
            "AND i.order_date BETWEEN %s AND %s",
            [start, end],
        )
        total = cursor.fetchone()[0]
        totals[month] = money(total or 0)
    return totals


def _month_rows(counts: _Counts, documents_net: dict[str, Decimal]) -> list[MonthRow]:
    rows = {month: MonthRow(month) for month in {*counts.months(), *documents_net}}
    for (month, _), count in counts.received.items():
        rows[month].orders += count
    for state, cells in counts.states.items():
        for (month, _), count in cells.items():
            setattr(rows[month], state, getattr(rows[month], state) + count)
    for (month, _), net in counts.invoiced_net.items():
        rows[month].invoiced_net += net
    for month, net in documents_net.items():
        rows[month].documents_net = net
    return [rows[month] for month in sorted(rows)]


def _customer_rows(counts: _Counts, names: dict[str, str]) -> list[CustomerRow]:
    rows: dict[str, CustomerRow] = {}

    def row(orgnr: str) -> CustomerRow:
        if orgnr not in rows:
            rows[orgnr] = CustomerRow(format_orgnr(orgnr), names.get(orgnr, ""))
        return rows[orgnr]

    for (_, orgnr), count in counts.received.items():
        row(orgnr).orders += count
    for state, cells in counts.states.items():
        for (_, orgnr), count in cells.items():
            setattr(row(orgnr), state, getattr(row(orgnr), state) + count)
    for (_, orgnr), net in counts.invoiced_net.items():
        row(orgnr).invoiced_net += net
    return sorted(rows.values(), key=lambda r: (r.name == "", r.name.casefold(), r.orgnr))


def _pending_changes() -> list[PendingChange]:
    return [
        PendingChange(
            change["id"],
            change["order_id"],
            int(change["invoice_number"]) if change["invoice_number"] else None,
            change["field"],
            change["old"],
            change["new"],
        )
        for change in list_changes("pending")
    ]


def numbering_gaps() -> list[int]:
    """Numbers of each series (invoices and credit notes; internal charges and credits) that no
    issued document carries, from its first issued number up to the last one handed out (R11,
    R17: no gaps)."""
    gaps: list[int] = []
    for series, kinds in ((SERIES, ("invoice", "credit_note")), (INTERNAL_SERIES, INTERNAL_KINDS)):
        numbers: list[int] = sorted(
            number
            for number in Invoice.objects.filter(
                status=Invoice.Status.ISSUED, kind__in=kinds
            ).values_list("number", flat=True)
            if number is not None
        )
        if not numbers:
            continue
        row = InvoiceNumberSeries.objects.filter(name=series).first()
        last = max(numbers[-1], (row.next_number - 1) if row else numbers[-1])
        present = set(numbers)
        gaps.extend(n for n in range(numbers[0], last + 1) if n not in present)
    return gaps


def find_discrepancies(
    review: Review, period: Period, open_count: int, counts: _Counts
) -> list[Discrepancy]:
    """Name what makes a month fail to balance; only searched for when one does."""
    found: list[Discrepancy] = []
    classified = len(review.held_back) + len(review.unbilled)
    if classified != open_count:
        found.append(
            Discrepancy("", "", None,
                        f"{counted(open_count, 'beställning', 'beställningar')} utan tillstånd, "
                        f"men {swedish.count(classified)} hölls tillbaka eller väntar på "
                        "fakturering")
        )  # fmt: skip
    bad_months = [month for month in review.months if not month.balanced]
    if not bad_months:
        return found
    where, params = period.clause("i.order_date")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.order_id, MIN(i.order_ref), {month_of('MIN(i.order_date)')}, COUNT(*) "
            f"FROM {ITEMS} i JOIN {INVOICES} inv ON inv.id = i.invoice_id "
            f"WHERE inv.status = 'issued' AND {ACTIVE_ITEM}{where} "
            "GROUP BY i.order_id HAVING COUNT(*) > 1",
            params,
        )
        for _, order_ref, month, count in cursor.fetchall():
            numbers = _numbers_with_order(cursor, order_ref)
            found.append(
                Discrepancy(month, order_ref, numbers[0] if numbers else None,
                            f"beställningen står på {count} okrediterade fakturor "
                            f"({', '.join(map(str, numbers))}) – kreditera alla utom en")
            )  # fmt: skip
        cursor.execute(
            f"SELECT i.order_ref, {month_of('i.order_date')}, inv.number "
            f"FROM {ITEMS} i JOIN {INVOICES} inv ON inv.id = i.invoice_id "
            f"WHERE inv.status = 'issued' AND {ACTIVE_ITEM}{where} "
            f"AND NOT EXISTS (SELECT 1 FROM {ORDERS} o WHERE o.id = i.order_id)",
            params,
        )
        for order_ref, month, number in cursor.fetchall():
            found.append(
                Discrepancy(month, order_ref, number,
                            f"beställningen är fakturerad på faktura {number} men finns inte "
                            "längre bland beställningarna – den har tagits bort ur databasen")
            )  # fmt: skip
        cursor.execute(
            f"SELECT i.order_ref, {month_of('i.order_date')}, "
            f"{month_of('o.order_date')}, inv.number "
            f"FROM {ITEMS} i JOIN {INVOICES} inv ON inv.id = i.invoice_id "
            f"JOIN {ORDERS} o ON o.id = i.order_id "
            f"WHERE inv.status = 'issued' AND {ACTIVE_ITEM}{where} "
            f"AND {month_of('i.order_date')} <> {month_of('o.order_date')}",
            params,
        )
        for order_ref, month, order_month, number in cursor.fetchall():
            found.append(
                Discrepancy(month, order_ref, number,
                            f"fakturerad under {month} på faktura {number} men beställningen är "
                            f"nu daterad {order_month}")
            )  # fmt: skip
    found.extend(_amount_discrepancies(review))
    for month in bad_months:
        if month.accounted != month.orders and not any(d.month == month.month for d in found):
            found.append(
                Discrepancy(month.month, "", None,
                            f"{counted(month.orders, 'beställning', 'beställningar')} men "
                            f"{swedish.count(month.accounted)} redovisade")
            )  # fmt: skip
    return found


def document_total_discrepancies(period: Period) -> list[Discrepancy]:
    """Issued documents whose net, VAT, rounding or amount payable is not what their lines give
    (R10): the documents' totals tie to their lines, as the lines tie to the orders."""
    documents = Invoice.objects.filter(status=Invoice.Status.ISSUED, kind__in=DOCUMENT_KINDS)
    if period.start is not None:
        documents = documents.filter(period_end__gte=period.start)
    if period.end is not None:
        documents = documents.filter(period_start__lte=period.end)
    lines: dict[int, list[tuple[Decimal, Decimal]]] = defaultdict(list)
    for invoice_id, net, rate in InvoiceLine.objects.filter(
        invoice__in=documents.values("id")
    ).values_list("invoice_id", "net", "vat_rate"):
        lines[invoice_id].append((net, rate))
    found = []
    credited_invoices: set[int] = set()
    for pk, kind, number, net, vat, rounding, payable, first_day, breakdown, credits in (
        documents.values_list(
            "id", "kind", "number", "net", "vat", "rounding", "payable", "period_start",
            "vat_breakdown", "credits_id",
        )
    ):  # fmt: skip
        totals = (
            core.internal_totals(net for net, _ in lines.get(pk, []))
            if kind in INTERNAL_KINDS
            else core.compute_totals(lines.get(pk, []))
        )
        if breakdown is not None:
            # A credit note whose VAT and payable R12 held to its invoice's: its net is its
            # lines', its VAT the one it states per rate, and its amounts add up.
            stated = core.stated_vat_by_rate(lines.get(pk, []), breakdown)
            stated_vat = sum((tax for _, _, tax in stated), Decimal("0.00"))
            whole = rounding == payable - totals.net - stated_vat and payable % 1 == 0
            totals = core.Totals(
                totals.net, stated, stated_vat, rounding if whole else totals.rounding,
                payable if whole else totals.payable,
            )  # fmt: skip
        if kind == "credit_note" and credits is not None:
            credited_invoices.add(credits)
        stored = (net, vat, rounding, payable)
        if stored != (totals.net, totals.vat, totals.rounding, totals.payable):
            found.append(
                Discrepancy(
                    first_day.strftime("%Y-%m"), "", number,
                    f"dokument {number}: netto {swedish.money(net)}, moms {swedish.money(vat)}, "
                    f"att betala {swedish.money(payable)} – raderna ger netto "
                    f"{swedish.money(totals.net)}, moms {swedish.money(totals.vat)}, att betala "
                    f"{swedish.money(totals.payable)}",
                )
            )  # fmt: skip
    found.extend(_over_credited(credited_invoices))
    return found


def _over_credited(invoice_ids: set[int]) -> list[Discrepancy]:
    """Invoices whose credit notes together credit more than the invoice, or, once every order
    is credited, not exactly the invoice (R12)."""
    found = []
    credited: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    for invoice_id, net, vat, payable in Invoice.objects.filter(
        credits_id__in=invoice_ids, kind="credit_note", status=Invoice.Status.ISSUED
    ).values_list("credits_id", "net", "vat", "payable"):
        for index, value in enumerate((net, vat, payable)):
            credited[invoice_id][index] -= value
    open_items = set(
        InvoiceItem.objects.filter(invoice_id__in=credited, credited=False).values_list(
            "invoice_id", flat=True
        )
    )
    for pk, number, net, vat, payable, first_day in Invoice.objects.filter(
        pk__in=credited
    ).values_list("id", "number", "net", "vat", "payable", "period_start"):
        sums, charged = credited[pk], (net, vat, payable)
        over = any(part > whole for part, whole in zip(sums, charged, strict=True))
        short = pk not in open_items and tuple(sums) != charged
        if over or short:
            found.append(
                Discrepancy(
                    first_day.strftime("%Y-%m"), "", number,
                    f"faktura {number}: kreditfakturorna krediterar netto "
                    f"{swedish.money(sums[0])}, moms {swedish.money(sums[1])}, att betala "
                    f"{swedish.money(sums[2])} – fakturan är på netto {swedish.money(net)}, "
                    f"moms {swedish.money(vat)}, att betala {swedish.money(payable)}",
                )
            )  # fmt: skip
    return found


def _numbers_with_order(cursor: Any, order_ref: str) -> list[int]:
    cursor.execute(
        f"SELECT inv.number FROM {ITEMS} i JOIN {INVOICES} inv ON inv.id = i.invoice_id "
        f"WHERE i.order_ref = %s AND inv.status = 'issued' AND {ACTIVE_ITEM} ORDER BY 1",
        [order_ref],
    )
    return [number for (number,) in cursor.fetchall()]


def _amount_discrepancies(review: Review) -> list[Discrepancy]:
    """Months whose invoiced net differs from their documents' lines, with the documents whose
    lines no longer match their items."""
    found = []
    for month in review.months:
        if month.invoiced_net == month.documents_net:
            continue
        found.append(
            Discrepancy(month.month, "", None,
                        f"fakturerat netto {swedish.money(month.invoiced_net)} men dokumentens "
                        f"rader {swedish.money(month.documents_net)}")
        )  # fmt: skip
        first = dt.date.fromisoformat(f"{month.month}-01")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT inv.number, l.position, l.quantity, l.unit_price, l.net, "
                f"COUNT(i.id), {money_sum('i.unit_price')} FROM {LINES} l "
                f"JOIN {INVOICES} inv ON inv.id = l.invoice_id "
                f"LEFT JOIN {ITEMS} i ON i.line_id = l.id "
                "WHERE inv.status = 'issued' AND l.order_month = %s "
                "GROUP BY inv.number, l.id, l.position, l.quantity, l.unit_price, l.net",
                [first],
            )
            for number, position, quantity, raw_price, raw_net, items, raw_sum in cursor.fetchall():
                price, net = core.cents(raw_price), core.cents(raw_net)
                item_sum = money(raw_sum or 0)
                sign = -1 if quantity < 0 else 1
                if abs(quantity) != items or net != price * quantity or item_sum != price * items:
                    found.append(
                        Discrepancy(month.month, "", number,
                                    f"rad {position} på dokument {number}: {quantity} st à "
                                    f"{swedish.money(price)} = {swedish.money(net)}, men "
                                    f"{counted(items, 'beställning', 'beställningar')} för "
                                    f"{swedish.money(item_sum * sign)}")
                    )  # fmt: skip
    return found


def data_checksum(review: Review) -> str:
    """SHA-256 over what the review was made from: the imports (their files' checksums), the
    issued documents (numbers and content hashes), the drafts, and the counts per month."""
    digest = hashlib.sha256()

    def add(*values: object) -> None:
        digest.update(("\x1f".join(str(v) for v in values) + "\n").encode())

    add("period", review.period_from, review.period_to)
    for batch in (
        ImportBatch.objects.filter(status="completed")
        .order_by("id")
        .values_list("id", "kind", "sha256")
    ):
        add("import", *batch)
    for document in Invoice.objects.order_by("id").values_list(
        "id", "status", "number", "content_sha256"
    ):
        add("document", *document)
    for month in review.months:
        add("month", month.month, month.orders, *(getattr(month, s) for s in STATES),
            month.invoiced_net, month.documents_net)  # fmt: skip
    for change in review.pending_changes:
        add("change", change.id)
    return digest.hexdigest()


def orders_of(findings: Iterable[OrderFinding]) -> list[str]:
    return [finding.order_id for finding in findings]
