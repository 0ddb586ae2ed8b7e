"""The pure billing core: properties over random orders, prices, customers and periods."""

import datetime as dt
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kortfaktura.billing.core import (
    AccountFacts,
    BillingRequest,
    CustomerFacts,
    Grouping,
    HeldBackReason,
    NotBillable,
    OrderFacts,
    PriceFacts,
    ProductFacts,
    Totals,
    compute_totals,
    credit_note_totals,
    month_of,
    propose_invoices,
)

FIRST_DAY = dt.date(2019, 1, 1)
LAST_DAY = dt.date(2020, 12, 31)
STATUSES = ["ordered", "photographed", "produced", "collected", "expired", "revoked", "cancelled"]
UNITS = ["", "SU-MED", "SU-AKUT", "NU-KIR", "X"]

days = st.dates(min_value=FIRST_DAY, max_value=LAST_DAY)


@st.composite
def products(draw: st.DrawFn) -> dict[int, ProductFacts]:
    result = {}
    for product_id, code in enumerate(
        draw(
            st.lists(st.sampled_from(["ETK", "RESERV", "PUK"]), min_size=1, max_size=3, unique=True)
        ),
        1,
    ):
        cuts = sorted(draw(st.lists(days, min_size=1, max_size=3, unique=True)))
        prices = []
        for index, start in enumerate(cuts):
            end = cuts[index + 1] - dt.timedelta(days=1) if index + 1 < len(cuts) else None
            if draw(st.booleans()) or end is None:
                prices.append(
                    PriceFacts(
                        start,
                        end,
                        Decimal(draw(st.integers(0, 99_999))) / 100,
                        draw(st.sampled_from([Decimal("25"), Decimal("12"), Decimal("0")])),
                    )
                )
        result[product_id] = ProductFacts(
            product_id, code, code.title(), draw(st.booleans()), tuple(prices)
        )
    return result  # fmt: skip


@st.composite
def customers_and_accounts(
    draw: st.DrawFn,
) -> tuple[dict[int, CustomerFacts], dict[int, AccountFacts]]:
    customers, accounts = {}, {}
    account_ids = iter(range(1, 1000))
    for customer_id in range(1, draw(st.integers(1, 4)) + 1):
        default = None
        if draw(st.booleans()) or customer_id == 1:
            default = next(account_ids)
            accounts[default] = AccountFacts(
                default, customer_id, f"K{customer_id}-D",
                ("beställarreferens saknas",) if draw(st.integers(0, 5)) == 0 else (),
            )  # fmt: skip
        units = {}
        for unit in draw(st.lists(st.sampled_from(UNITS[1:]), max_size=2, unique=True)):
            account_id = next(account_ids)
            accounts[account_id] = AccountFacts(account_id, customer_id, f"K{customer_id}-{unit}")
            units[unit] = account_id
        customers[customer_id] = CustomerFacts(
            customer_id, f"21200{customer_id:05d}", default, units
        )
    return customers, accounts


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[OrderFacts], dict, dict, dict]:
    product_facts = draw(products())
    customer_facts, account_facts = draw(customers_and_accounts())
    orders = []
    for pk in range(1, draw(st.integers(0, 60)) + 1):
        customer_id = draw(st.sampled_from([*customer_facts, None]))
        product_id = draw(st.sampled_from([*product_facts, None]))
        orders.append(
            OrderFacts(
                pk=pk,
                order_id=f"B{pk:05d}",
                order_date=draw(days),
                customer_id=customer_id,
                orgnr=customer_facts[customer_id].orgnr if customer_id else "5590002282",
                unit_code=draw(st.sampled_from(UNITS)),
                product_id=product_id,
                product_code=product_facts[product_id].code if product_id else "OKÄND",
                status=draw(st.sampled_from(STATUSES)),
                previously_invoiced=draw(st.integers(0, 9)) == 0,
                invoiced=draw(st.integers(0, 9)) == 0,
                in_draft_of_run=7 if draw(st.integers(0, 19)) == 0 else None,
                pending_change=draw(st.integers(0, 19)) == 0,
            )
        )
    return orders, product_facts, customer_facts, account_facts


def expected_outcome(order: OrderFacts, products: dict, customers: dict, accounts: dict) -> str:
    """An independent statement of DOMAIN.md R2, R3, R14, R15 for one order."""
    if order.invoiced:
        return "not:already_invoiced"
    if order.previously_invoiced:
        return "not:previously_invoiced"
    product = products.get(order.product_id)
    if order.status == "cancelled" and not (product and product.cancelled_billable):
        return "not:cancelled"
    if order.in_draft_of_run is not None:
        return "held:in_other_draft"
    if order.pending_change:
        return "held:changed_after_invoicing"
    customer = customers.get(order.customer_id)
    if customer is None:
        return "held:unknown_customer"
    account_id = customer.unit_accounts.get(order.unit_code, customer.default_account_id)
    if account_id is None:
        return "held:unknown_unit"
    if product is None:
        return "held:unknown_product"
    if not any(
        p.valid_from <= order.order_date and (p.valid_to is None or order.order_date <= p.valid_to)
        for p in product.prices
    ):
        return "held:no_price"
    if accounts[account_id].problems:
        return "held:account_incomplete"
    return f"billed:{account_id}"


@settings(max_examples=300, deadline=None)
@given(scenarios(), days, days, st.sampled_from(list(Grouping)))
def test_every_order_in_the_period_is_billed_once_held_back_or_not_billable(
    scenario: tuple, first: dt.date, second: dt.date, grouping: Grouping
) -> None:
    orders, products_, customers, accounts = scenario
    period_from, period_to = min(first, second), max(first, second)
    proposal = propose_invoices(
        orders,
        products_,
        customers,
        accounts,
        BillingRequest(period_from, period_to, None, grouping),
    )
    billed: dict[int, int] = {}
    for invoice in proposal.invoices:
        for line in invoice.lines:
            for pk in line.order_pks:
                assert pk not in billed, "an order on two lines"
                billed[pk] = invoice.account_id
    held = {entry.order_pk: f"held:{entry.reason}" for entry in proposal.held_back}
    assert not set(held) & set(billed)
    in_period = [o for o in orders if period_from <= o.order_date <= period_to]
    for order in in_period:
        expected = expected_outcome(order, products_, customers, accounts)
        if expected.startswith("billed:"):
            assert billed.get(order.pk) == int(expected.split(":")[1]), order
        elif expected.startswith("held:"):
            assert held.get(order.pk) == expected, order
        else:
            assert order.pk not in billed and order.pk not in held
    not_billable = sum(proposal.not_billable.values())
    assert len(billed) + len(held) + not_billable == len(in_period)
    outside = {o.pk for o in orders} - {o.pk for o in in_period}
    assert not outside & (set(billed) | set(held))


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.sampled_from(list(Grouping)))
def test_lines_name_their_month_product_and_price_and_sum_to_the_totals(
    scenario: tuple, grouping: Grouping
) -> None:
    orders, products_, customers, accounts = scenario
    by_pk = {order.pk: order for order in orders}
    proposal = propose_invoices(
        orders, products_, customers, accounts, BillingRequest(FIRST_DAY, LAST_DAY, None, grouping)
    )
    for invoice in proposal.invoices:
        months = {line.order_month for line in invoice.lines}
        if grouping == Grouping.MONTH:
            assert len(months) == 1
        for line in invoice.lines:
            assert line.quantity == len(line.order_pks) > 0
            assert line.net == line.unit_price * line.quantity
            for pk in line.order_pks:
                order = by_pk[pk]
                assert month_of(order.order_date) == line.order_month
                price = products_[order.product_id].price_on(order.order_date)
                assert (price.unit_price, price.vat_rate) == (line.unit_price, line.vat_rate)
        totals = invoice.totals
        assert totals.net == sum(line.net for line in invoice.lines)
        assert totals.payable == totals.net + totals.vat + totals.rounding
        assert totals.payable == totals.payable.to_integral_value()
        assert abs(totals.rounding) <= Decimal("0.50")


def month_starts(first: dt.date, last: dt.date) -> list[dt.date]:
    months, current = [], month_of(first)
    while current <= last:
        months.append(current)
        current = (current + dt.timedelta(days=32)).replace(day=1)
    return months


def line_set(proposals: list) -> list[tuple]:
    return sorted(
        (
            invoice.account_id,
            line.order_month,
            line.product_code,
            line.unit_price,
            tuple(line.order_pks),
        )
        for proposal in proposals
        for invoice in proposal.invoices
        for line in invoice.lines
    )


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_billing_a_range_at_once_equals_billing_it_month_by_month(scenario: tuple) -> None:
    orders, products_, customers, accounts = scenario
    whole = propose_invoices(
        orders, products_, customers, accounts, BillingRequest(FIRST_DAY, LAST_DAY)
    )
    monthly = []
    for start in month_starts(FIRST_DAY, LAST_DAY):
        end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        monthly.append(
            propose_invoices(orders, products_, customers, accounts, BillingRequest(start, end))
        )
    assert line_set([whole]) == line_set(monthly)
    assert sorted(e.order_pk for e in whole.held_back) == sorted(
        e.order_pk for proposal in monthly for e in proposal.held_back
    )


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_the_order_of_the_input_does_not_matter(scenario: tuple, rng: random.Random) -> None:
    orders, products_, customers, accounts = scenario
    request = BillingRequest(FIRST_DAY, LAST_DAY)
    shuffled = orders[:]
    rng.shuffle(shuffled)
    first = propose_invoices(orders, products_, customers, accounts, request)
    second = propose_invoices(shuffled, products_, customers, accounts, request)
    assert line_set([first]) == line_set([second])
    assert [e.order_pk for e in first.held_back] == [e.order_pk for e in second.held_back]


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_customer_selection_only_bills_selected_customers(scenario: tuple) -> None:
    orders, products_, customers, accounts = scenario
    request = BillingRequest(FIRST_DAY, LAST_DAY, frozenset({1}))
    proposal = propose_invoices(orders, products_, customers, accounts, request)
    assert {invoice.customer_id for invoice in proposal.invoices} <= {1}
    others = [o for o in orders if o.customer_id != 1]
    assert proposal.not_billable.get(NotBillable.CUSTOMER_NOT_SELECTED, 0) == len(others)


@pytest.mark.parametrize(
    ("lines", "net", "vat", "rounding", "payable"),
    [
        ([("350.00", "25")], "350.00", "87.50", "0.50", "438.00"),  # 437,50 → 438 (50 öre up)
        ([("150.00", "25")], "150.00", "37.50", "0.50", "188.00"),
        ([("200.00", "25"), ("150.00", "25")], "350.00", "87.50", "0.50", "438.00"),
        ([("0.10", "25"), ("0.10", "25"), ("0.10", "25")], "0.30", "0.08", "-0.38", "0.00"),
        ([("100.00", "25"), ("100.00", "12")], "200.00", "37.00", "0.00", "237.00"),
        ([("0.02", "25")], "0.02", "0.01", "-0.03", "0.00"),  # 0,005 → 0,01 half-up per rate
        ([("-350.00", "25")], "-350.00", "-87.50", "-0.50", "-438.00"),  # credit note mirrors
        ([("1.21", "25")], "1.21", "0.30", "0.49", "2.00"),  # VAT 0,3025 → 0,30; 1,51 → 2
    ],
)
def test_amounts_follow_r10(
    lines: list[tuple[str, str]], net: str, vat: str, rounding: str, payable: str
) -> None:
    totals = compute_totals((Decimal(n), Decimal(r)) for n, r in lines)
    assert (totals.net, totals.vat, totals.rounding, totals.payable) == (
        Decimal(net),
        Decimal(vat),
        Decimal(rounding),
        Decimal(payable),
    )


def test_vat_is_computed_per_rate_on_the_sum_not_per_line() -> None:
    # Three lines of 0,02 kr: per line 0,005 → 0,01 each (0,03);
    # on the sum: 0,06 × 25 % = 0,015 → 0,02.
    totals = compute_totals([(Decimal("0.02"), Decimal("25"))] * 3)
    assert totals.vat == Decimal("0.02")
    assert dict((rate, tax) for rate, _, tax in totals.vat_by_rate) == {
        Decimal("25"): Decimal("0.02")
    }


def test_held_back_reasons_name_what_to_fix() -> None:
    product = ProductFacts(
        1,
        "ETK",
        "eTjänstekort",
        False,
        (PriceFacts(dt.date(2020, 1, 1), None, Decimal("350"), Decimal("25")),),
    )
    customers = {1: CustomerFacts(1, "2120001454", None, {"SU-MED": 10})}
    accounts = {10: AccountFacts(10, 1, "VGR-SU")}
    orders = [
        OrderFacts(1, "A", dt.date(2019, 6, 1), 1, "2120001454", "SU-MED", 1, "ETK", "collected"),
        OrderFacts(2, "B", dt.date(2020, 6, 1), 1, "2120001454", "OKÄND", 1, "ETK", "collected"),
        OrderFacts(3, "C", dt.date(2020, 6, 1), None, "5590002282", "", 1, "ETK", "collected"),
    ]
    proposal = propose_invoices(
        orders, {1: product}, customers, accounts, BillingRequest(FIRST_DAY, LAST_DAY)
    )
    held = {entry.order_id: entry for entry in proposal.held_back}
    assert held["A"].reason == HeldBackReason.NO_PRICE
    assert "inget pris för ETK gäller beställningsdatumet 2019-06-01" in held["A"].detail
    assert held["B"].reason == HeldBackReason.UNKNOWN_UNIT
    assert "enheten 'OKÄND'" in held["B"].detail
    assert held["C"].reason == HeldBackReason.UNKNOWN_CUSTOMER
    assert "559000-2282 finns inte i kunduppgifterna" in held["C"].detail


# R12: credit notes never credit more than their invoice ---------------------------------------

ONE_KRONA = Decimal("1")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["0.01", "0.02", "0.03", "0.05", "333.33", "1234.57", "99.99"]),
            st.sampled_from(["25", "12", "6", "0"]),
            st.integers(1, 120),
        ),
        min_size=1,
        max_size=4,
    ),
    st.randoms(use_true_random=False),
)
def test_any_sequence_of_credit_notes_stays_within_the_invoice_and_the_peppol_tolerance(
    products: list[tuple[str, str, int]], rng: random.Random
) -> None:
    """Up to 480 orders credited in up to 480 credit notes (pure, so many more than the database
    test can afford): the running VAT per rate and payable never exceed the invoice's, the last
    credit note takes exactly what remains, and every credit note's VAT per rate is less than
    1 krona from its taxable amount × rate (BR-CO-17, BR-S-09) and its rounding below 2 kronor."""
    units = [
        (Decimal(price), Decimal(rate)) for price, rate, count in products for _ in range(count)
    ]
    rng.shuffle(units)
    invoice = compute_totals(
        ((price * count).quantize(Decimal("0.01")), Decimal(rate))
        for price, rate, count in ((Decimal(p), r, c) for p, r, c in products)
    )
    earlier: list[Totals] = []
    while units:
        size = rng.choice([1, 1, 1, 2, 5])
        chosen, units = units[:size], units[size:]
        nets: dict[Decimal, Decimal] = {}
        for price, rate in chosen:
            nets[rate] = nets.get(rate, Decimal("0.00")) + price
        note = credit_note_totals(list(zip(nets.values(), nets, strict=True)), invoice, earlier,
                                  last=not units)  # fmt: skip
        for rate, base, tax in note.vat_by_rate:
            assert tax >= 0
            assert abs(tax - (base * rate / 100).quantize(Decimal("0.01"))) < ONE_KRONA
        assert note.payable == note.net + note.vat + note.rounding
        assert note.payable == note.payable.to_integral_value() and note.payable >= 0
        assert abs(note.rounding) < 2 * ONE_KRONA
        earlier.append(note)
        charged = {rate: tax for rate, _, tax in invoice.vat_by_rate}
        credited: dict[Decimal, Decimal] = {}
        for done in earlier:
            for rate, _, tax in done.vat_by_rate:
                credited[rate] = credited.get(rate, Decimal("0.00")) + tax
        assert all(credited[rate] <= charged[rate] for rate in credited)
        assert sum(done.payable for done in earlier) <= invoice.payable
    assert credited == charged
    assert sum(done.net for done in earlier) == invoice.net
    assert sum(done.payable for done in earlier) == invoice.payable
