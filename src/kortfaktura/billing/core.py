"""The billing core: a pure function from facts to proposed invoices (DOMAIN.md R2–R10).

No ORM, no clock, no I/O: the service loads the facts, calls ``propose_invoices`` and persists
what it returns in one transaction. A preview is the same call with nothing persisted.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum

CENT = Decimal("0.01")
ZERO_RATE = Decimal("0.00")
ZERO = Decimal("0.00")
KRONA = Decimal("1")
HUNDRED = Decimal("100")


class Grouping(StrEnum):
    MONTH = "month"  # one invoice per billing account and order month (the default, R6)
    RUN = "run"  # one invoice per billing account, one section per order month


class HeldBackReason(StrEnum):
    UNKNOWN_CUSTOMER = "unknown_customer"
    UNKNOWN_UNIT = "unknown_unit"
    UNKNOWN_PRODUCT = "unknown_product"
    NO_PRICE = "no_price"
    ACCOUNT_INCOMPLETE = "account_incomplete"
    CHANGED_AFTER_INVOICING = "changed_after_invoicing"
    IN_OTHER_DRAFT = "in_other_draft"


HELD_BACK_LABELS = {
    HeldBackReason.UNKNOWN_CUSTOMER: "okänd kund",
    HeldBackReason.UNKNOWN_UNIT: "okänd enhet",
    HeldBackReason.UNKNOWN_PRODUCT: "okänd artikel",
    HeldBackReason.NO_PRICE: "inget pris gäller",
    HeldBackReason.ACCOUNT_INCOMPLETE: "ofullständig fakturamottagare",
    HeldBackReason.CHANGED_AFTER_INVOICING: "ändrad efter fakturering",
    HeldBackReason.IN_OTHER_DRAFT: "i en annan körnings utkast",
}


class NotBillable(StrEnum):
    CANCELLED = "cancelled"
    PREVIOUSLY_INVOICED = "previously_invoiced"
    ALREADY_INVOICED = "already_invoiced"
    CUSTOMER_NOT_SELECTED = "customer_not_selected"


@dataclass(frozen=True, slots=True)
class OrderFacts:
    pk: int
    order_id: str
    order_date: dt.date
    customer_id: int | None
    orgnr: str
    unit_code: str
    product_id: int | None
    product_code: str
    status: str
    previously_invoiced: bool = False
    invoiced: bool = False  # on an issued, uncredited invoice
    in_draft_of_run: int | None = None  # on an invoice of another run's draft
    pending_change: bool = False  # a billing-relevant change waits for a decision (R14)


@dataclass(frozen=True, slots=True)
class PriceFacts:
    valid_from: dt.date
    valid_to: dt.date | None
    unit_price: Decimal
    vat_rate: Decimal
    revenue_account: str = ""  # "" = the default account for the VAT rate (bookkeeping)


@dataclass(frozen=True)
class ProductFacts:
    id: int
    code: str
    name: str
    cancelled_billable: bool
    prices: tuple[PriceFacts, ...]

    def price_on(self, day: dt.date) -> PriceFacts | None:
        for price in self.prices:
            if price.valid_from <= day and (price.valid_to is None or day <= price.valid_to):
                return price
        return None


@dataclass(frozen=True)
class AccountFacts:
    id: int
    customer_id: int
    code: str
    problems: tuple[str, ...] = ()
    # One of the seller's own units (same organisationsnummer): an internal charge, not an
    # invoice, without VAT (R17).
    internal: bool = False


@dataclass(frozen=True)
class CustomerFacts:
    id: int
    orgnr: str
    default_account_id: int | None
    unit_accounts: Mapping[str, int] = field(default_factory=dict)

    def account_for(self, unit_code: str) -> int | None:
        """The account of the unit's mapping, else the customer's default account (R6)."""
        return self.unit_accounts.get(unit_code, self.default_account_id)


@dataclass(frozen=True)
class BillingRequest:
    period_from: dt.date
    period_to: dt.date
    customer_ids: frozenset[int] | None = None
    grouping: Grouping = Grouping.MONTH


@dataclass
class ProposedLine:
    order_month: dt.date  # the first day of the month
    product_id: int
    product_code: str
    product_name: str
    unit_price: Decimal
    vat_rate: Decimal
    order_pks: list[int] = field(default_factory=list)
    revenue_account: str = ""  # of the price row ("" = the default for the VAT rate)

    @property
    def quantity(self) -> int:
        return len(self.order_pks)

    @property
    def net(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(CENT)


@dataclass(frozen=True)
class Totals:
    net: Decimal
    vat_by_rate: tuple[tuple[Decimal, Decimal, Decimal], ...]  # (rate, taxable net, vat)
    vat: Decimal
    rounding: Decimal
    payable: Decimal


def compute_totals(lines: Iterable[tuple[Decimal, Decimal]]) -> Totals:
    """Totals per DOMAIN.md R10 from ``(net, vat_rate)`` pairs.

    VAT per rate on the sum of that rate's line nets, half-up to öre; the amount payable rounded
    to whole kronor (50 öre up, away from zero) with the difference kept as the rounding amount.
    Works for credit notes too, whose nets are negative.
    """
    net_by_rate: dict[Decimal, Decimal] = defaultdict(Decimal)
    for net, rate in lines:
        net_by_rate[rate] += net
    vat_by_rate = tuple(
        (rate, base, (base * rate / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP))
        for rate, base in sorted(net_by_rate.items())
    )
    net = sum((base for _, base, _ in vat_by_rate), Decimal("0.00")).quantize(CENT)
    vat = sum((tax for _, _, tax in vat_by_rate), Decimal("0.00")).quantize(CENT)
    exact = net + vat
    payable = exact.quantize(KRONA, rounding=ROUND_HALF_UP).quantize(CENT)
    return Totals(net, vat_by_rate, vat, payable - exact, payable)


# How far the credit notes of an invoice may drift, together, from the invoice's own amounts for
# what they have credited so far (R12): VAT per rate from the invoice's VAT share of the credited
# net, the amount payable from the credited net + VAT. Within these bands the last credit note,
# which takes exactly what remains, stays within the Peppol tolerance of BR-CO-17/BR-S-09 (its
# VAT less than 1 krona from its taxable amount × rate) and its öresavrundning stays small.
CREDIT_VAT_BAND = Decimal("0.50")
CREDIT_PAYABLE_BAND = Decimal("1")


def credit_note_totals(
    lines: Iterable[tuple[Decimal, Decimal]],
    invoice: Totals,
    earlier: Iterable[Totals] = (),
    *,
    last: bool,
) -> Totals:
    """A credit note's totals (R10, R12), all amounts positive (the credit note stores them
    negated): ``lines`` are the credited lines' ``(net, vat_rate)``, ``invoice`` the credited
    invoice's totals and ``earlier`` those of its credit notes issued before, also positive.

    The credit notes of one invoice together never credit more than it, per VAT rate and in the
    amount payable, and the one that credits its last orders credits exactly what remains:

    - the net is the lines' (exact: quantity × unit price, so the nets add up by themselves);
    - VAT per rate as R10 gives it on the credit's own lines, but the running total of the
      invoice's credit notes is held within ``CREDIT_VAT_BAND`` of the invoice's VAT share of
      the net credited so far and never above the invoice's VAT; the credit note that credits a
      rate's last net takes exactly that rate's remaining VAT;
    - the amount payable rounded to whole kronor as R10 gives it, but the running total is held
      within ``CREDIT_PAYABLE_BAND`` of the net + VAT credited so far and never above the
      invoice's payable; the last credit note takes exactly what remains, and its rounding
      amount (BT-114) is the difference.
    """
    own = compute_totals(lines)
    invoice_base = {rate: base for rate, base, _ in invoice.vat_by_rate}
    invoice_vat = {rate: tax for rate, _, tax in invoice.vat_by_rate}
    before_net: dict[Decimal, Decimal] = defaultdict(Decimal)
    before_vat: dict[Decimal, Decimal] = defaultdict(Decimal)
    before_exact = before_payable = Decimal("0.00")
    for totals in earlier:
        for rate, base, tax in totals.vat_by_rate:
            before_net[rate] += base
            before_vat[rate] += tax
        before_exact += totals.net + totals.vat
        before_payable += totals.payable
    vat_by_rate = []
    for rate, base, tax in own.vat_by_rate:
        total_base, total_vat = invoice_base.get(rate, ZERO), invoice_vat.get(rate, ZERO)
        credited = before_net[rate] + base
        if last or credited >= total_base:
            running = total_vat
        else:
            share = total_vat * credited / total_base
            running = _within(
                before_vat[rate] + tax,
                (share - CREDIT_VAT_BAND).quantize(CENT, rounding=ROUND_CEILING),
                min((share + CREDIT_VAT_BAND).quantize(CENT, rounding=ROUND_FLOOR), total_vat),
            )
        # Never negative: credit notes issued before this rule may already have credited more.
        vat_by_rate.append((rate, base, max(running - before_vat[rate], ZERO)))
    net = own.net
    vat = sum((tax for _, _, tax in vat_by_rate), ZERO)
    exact = net + vat
    if last:
        running = invoice.payable
    else:
        so_far = before_exact + exact
        running = _within(
            before_payable + exact.quantize(KRONA, rounding=ROUND_HALF_UP),
            (so_far - CREDIT_PAYABLE_BAND).quantize(KRONA, rounding=ROUND_CEILING),
            min(
                (so_far + CREDIT_PAYABLE_BAND).quantize(KRONA, rounding=ROUND_FLOOR),
                invoice.payable,
            ),
        )
    payable = max(running - before_payable, ZERO).quantize(CENT)
    return Totals(net, tuple(vat_by_rate), vat, payable - exact, payable)


def _within(value: Decimal, low: Decimal, high: Decimal) -> Decimal:
    """``value`` moved into [low, high]; ``high`` wins should the two cross (the cap)."""
    return min(max(value, low), high)


def rate_key(rate: Decimal) -> str:
    """A VAT rate as a key of a stored VAT breakdown: "25.00"."""
    return f"{rate:.2f}"


def stored_breakdown(vat_by_rate: Iterable[tuple[Decimal, Decimal, Decimal]]) -> dict[str, str]:
    """A document's VAT per rate as stored with it (``Invoice.vat_breakdown``)."""
    # "0.00", never "-0.00", for a 0 % rate of a credit note.
    return {rate_key(rate): f"{tax if tax else ZERO:.2f}" for rate, _, tax in vat_by_rate}


def stated_vat_by_rate(
    lines: Iterable[tuple[Decimal, Decimal]], breakdown: Mapping[str, str] | None
) -> tuple[tuple[Decimal, Decimal, Decimal], ...]:
    """(rate, taxable, VAT) per rate as a document states it: R10 on its ``(net, vat_rate)``
    lines, except that a credit note's VAT per rate is the one stored with it (``breakdown``,
    ``Invoice.vat_breakdown``), which R12 may have held to what its invoice charged. Signs as
    stored."""
    vat_by_rate = compute_totals(lines).vat_by_rate
    if breakdown is None:
        return vat_by_rate
    return tuple(
        (rate, base, Decimal(breakdown.get(rate_key(rate), "0")).quantize(CENT))
        for rate, base, _ in vat_by_rate
    )


def internal_totals(nets: Iterable[Decimal]) -> Totals:
    """An internal charge's totals (R17): no VAT and no öresavrundning; payable = net."""
    net = sum(nets, Decimal("0.00")).quantize(CENT)
    zero = Decimal("0.00")
    return Totals(net, ((zero, net, zero),) if net else (), zero, zero, net)


@dataclass
class ProposedInvoice:
    account_id: int
    customer_id: int
    lines: list[ProposedLine]
    internal: bool = False  # an internal charge (R17): no VAT, no öresavrundning

    @property
    def order_months(self) -> list[dt.date]:
        return sorted({line.order_month for line in self.lines})

    @property
    def order_pks(self) -> list[int]:
        return [pk for line in self.lines for pk in line.order_pks]

    @property
    def totals(self) -> Totals:
        if self.internal:
            return internal_totals(line.net for line in self.lines)
        return compute_totals((line.net, line.vat_rate) for line in self.lines)

    def period(self, period_from: dt.date, period_to: dt.date) -> tuple[dt.date, dt.date]:
        """The order dates this invoice covers: its months, within the run's period."""
        months = self.order_months
        return max(months[0], period_from), min(month_end(months[-1]), period_to)


@dataclass(frozen=True)
class HeldBack:
    order_pk: int
    order_id: str
    reason: HeldBackReason
    detail: str


@dataclass
class Proposal:
    invoices: list[ProposedInvoice]
    held_back: list[HeldBack]
    not_billable: dict[NotBillable, int]
    customer_ids: frozenset[int] | None = None  # the customers asked for; None: all


def cents(value: object) -> Decimal:
    """A money or rate column's value as read by a raw query (SQLite gives a float, PostgreSQL a
    Decimal), exact to the öre."""
    return Decimal(str(value)).quantize(CENT)


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    """The last day of ``day``'s month (also in December of year 9999)."""
    if day.month == 12:
        return day.replace(day=31)
    return day.replace(month=day.month + 1, day=1) - dt.timedelta(days=1)


def propose_invoices(
    orders: Iterable[OrderFacts],
    products: Mapping[int, ProductFacts],
    customers: Mapping[int, CustomerFacts],
    accounts: Mapping[int, AccountFacts],
    request: BillingRequest,
) -> Proposal:
    """Every billable, not yet invoiced order in the period on exactly one proposed invoice line,
    or held back with a reason (DOMAIN.md R2–R6, R14, R15)."""
    held_back: list[HeldBack] = []
    not_billable: dict[NotBillable, int] = defaultdict(int)
    # (account, invoice key) → (month, product, price, rate) → line
    grouped: dict[tuple[int, dt.date | None], dict[tuple[object, ...], ProposedLine]] = {}
    period_from, period_to = request.period_from, request.period_to
    selected = request.customer_ids
    per_month = request.grouping == Grouping.MONTH

    # Accounts and prices repeat for thousands of orders: resolve each combination once.
    account_of: dict[tuple[int, str], int | None] = {}
    price_of: dict[tuple[int, dt.date], PriceFacts | None] = {}
    for order in orders:
        if not period_from <= order.order_date <= period_to:
            continue
        if selected is not None and order.customer_id not in selected:
            not_billable[NotBillable.CUSTOMER_NOT_SELECTED] += 1
            continue
        if order.invoiced:
            not_billable[NotBillable.ALREADY_INVOICED] += 1
            continue
        if order.previously_invoiced:
            not_billable[NotBillable.PREVIOUSLY_INVOICED] += 1
            continue
        product = products.get(order.product_id) if order.product_id is not None else None
        if order.status == "cancelled" and not (product and product.cancelled_billable):
            not_billable[NotBillable.CANCELLED] += 1
            continue
        account_id = price = None
        customer = customers.get(order.customer_id) if order.customer_id is not None else None
        if customer is not None:
            account_key = (customer.id, order.unit_code)
            if account_key not in account_of:
                account_of[account_key] = customer.account_for(order.unit_code)
            account_id = account_of[account_key]
        if product is not None:
            price_key = (product.id, order.order_date)
            if price_key not in price_of:
                price_of[price_key] = product.price_on(order.order_date)
            price = price_of[price_key]
        if (
            account_id is None
            or price is None
            or order.in_draft_of_run is not None
            or order.pending_change
            or accounts[account_id].problems
        ):
            held_back.append(_held_back(order, customer, account_id, product, accounts))
            continue
        assert product is not None
        month = month_of(order.order_date)
        lines = grouped.setdefault((account_id, month if per_month else None), {})
        rate = ZERO_RATE if accounts[account_id].internal else price.vat_rate
        key = (month, product.code, price.unit_price, rate, price.revenue_account)
        line = lines.get(key)
        if line is None:
            line = lines[key] = ProposedLine(
                month, product.id, product.code, product.name, price.unit_price, rate,
                revenue_account=price.revenue_account,
            )  # fmt: skip
        line.order_pks.append(order.pk)

    invoices = []
    for (account_id, _), lines in sorted(
        grouped.items(), key=lambda item: (accounts[item[0][0]].code, item[0][1] or dt.date.min)
    ):
        ordered_lines = [lines[key] for key in sorted(lines)]
        for line in ordered_lines:
            line.order_pks.sort()
        account = accounts[account_id]
        invoices.append(
            ProposedInvoice(account_id, account.customer_id, ordered_lines, account.internal)
        )
    held_back.sort(key=lambda entry: (entry.reason, entry.order_id))
    return Proposal(invoices, held_back, dict(not_billable), selected)


def _held_back(
    order: OrderFacts,
    customer: CustomerFacts | None,
    account_id: int | None,
    product: ProductFacts | None,
    accounts: Mapping[int, AccountFacts],
) -> HeldBack:
    """Why a billable order cannot be billed now, in the order a person should fix it."""

    def held(reason: HeldBackReason, detail: str) -> HeldBack:
        return HeldBack(order.pk, order.order_id, reason, detail)

    if order.in_draft_of_run is not None:
        return held(
            HeldBackReason.IN_OTHER_DRAFT,
            f"ingår i utkastet till körning {order.in_draft_of_run} – utfärda eller kassera den",
        )
    if order.pending_change:
        return held(
            HeldBackReason.CHANGED_AFTER_INVOICING,
            "beställningen ändrades i en import efter att den fakturerats – ändringen väntar på "
            "beslut i granskningen",
        )
    if customer is None:
        return held(
            HeldBackReason.UNKNOWN_CUSTOMER,
            f"organisationsnumret {order.orgnr[:6]}-{order.orgnr[6:]} finns inte i "
            "kunduppgifterna – läs in kunden, så faktureras beställningen i nästa körning",
        )
    if account_id is None:
        unit = f"enheten '{order.unit_code}'" if order.unit_code else "beställningen utan enhet"
        return held(
            HeldBackReason.UNKNOWN_UNIT,
            f"{unit} hör inte till någon fakturamottagare och kunden har ingen "
            "standardmottagare – lägg till enhetskoden i kunduppgifterna",
        )
    if product is None:
        return held(
            HeldBackReason.UNKNOWN_PRODUCT,
            f"artikeln '{order.product_code}' finns inte i prislistan – läs in ett pris för den",
        )
    if product.price_on(order.order_date) is None:
        return held(
            HeldBackReason.NO_PRICE,
            f"inget pris för {product.code} gäller beställningsdatumet "
            f"{order.order_date.isoformat()} – komplettera prislistan",
        )
    account = accounts[account_id]
    return held(
        HeldBackReason.ACCOUNT_INCOMPLETE,
        f"fakturamottagaren {account.code} är ofullständig: " + "; ".join(account.problems),
    )
