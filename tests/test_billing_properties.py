"""Property-based: random customers, prices and orders, random sequences of runs, issues,
discards and credits, on the real database. Each example runs in a transaction that is rolled
back afterwards."""

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factories as make
from kortfaktura.billing import services
from kortfaktura.billing.core import compute_totals, stated_vat_by_rate
from kortfaktura.billing.models import BillingRun, Invoice, InvoiceItem, InvoiceLine
from kortfaktura.orders.models import Order, PreviouslyInvoiced

pytestmark = pytest.mark.django_db
MONTHS = [dt.date(2020, month, 1) for month in range(3, 9)]  # March – August 2020
LAST_DAY = dt.date(2020, 8, 31)


def month_end(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


order_specs = st.lists(
    st.tuples(
        st.integers(0, 3),  # customer (3 = unknown)
        st.sampled_from(["", "SU-MED", "NU-KIR"]),
        st.integers(0, 2),  # product (2 = PUK, no price before June)
        st.dates(min_value=MONTHS[0], max_value=LAST_DAY),
        st.sampled_from(["ordered", "collected", "expired", "revoked", "cancelled"]),
        st.integers(0, 9),  # 0 = previously invoiced by the earlier system
    ),
    max_size=25,
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("bill"), st.integers(0, 5), st.integers(0, 5)),
        st.tuples(st.just("issue"), st.integers(0, 9)),
        st.tuples(st.just("discard"), st.integers(0, 9)),
        st.tuples(st.just("credit"), st.integers(0, 99), st.booleans()),
    ),
    max_size=10,
)


def build(specs: list[tuple]) -> list[Order]:
    etk, reserv, puk = make.product("ETK"), make.product("RESERV"), make.product("PUK")
    make.price(etk, "350", "2019-01-01", "2020-05-31")
    make.price(etk, "375", "2020-06-01")
    make.price(reserv, "199.99", "2019-01-01", vat="12")
    make.price(puk, "150", "2020-06-01")
    region = make.customer("Region")
    make.account(region, "R-DEFAULT")
    make.account(region, "R-SU", default=False, units=("SU-MED",))
    kommun = make.customer("Kommun")
    make.account(kommun, "K-DEFAULT")
    incomplete = make.customer("Ofullständig")
    make.account(incomplete, "O-DEFAULT", buyer_reference="")
    owners = [region, kommun, incomplete, None]
    products = [etk, reserv, puk]
    orders = []
    for owner_index, unit, product_index, day, status, earlier in specs:
        order = make.order(
            owners[owner_index], day, products[product_index], unit=unit, status=status
        )
        if earlier == 0:
            PreviouslyInvoiced.objects.create(order_id=order.order_id, invoice_number="GF1")
        orders.append(order)
    return orders


def billable(order: Order) -> bool:
    """R2, R3, R14, R15 for the data ``build`` makes."""
    if order.status == "cancelled" or order.customer is None:
        return False
    if PreviouslyInvoiced.objects.filter(order_id=order.order_id).exists():
        return False
    if order.product_code == "PUK" and order.order_date < dt.date(2020, 6, 1):
        return False
    return order.customer.name != "Ofullständig"


def apply(operation: tuple) -> None:
    kind = operation[0]
    drafts = list(BillingRun.objects.filter(status="draft").order_by("id"))
    if kind == "bill":
        first, last = sorted(operation[1:])
        services.create_run(MONTHS[first], month_end(MONTHS[last]))
    elif kind == "issue" and drafts:
        services.issue_run(drafts[operation[1] % len(drafts)].pk)
    elif kind == "discard" and drafts:
        services.discard_run(drafts[operation[1] % len(drafts)].pk)
    elif kind == "credit":
        invoices = list(Invoice.objects.filter(kind="invoice", status="issued").order_by("number"))
        candidates = [
            invoice for invoice in invoices if invoice.items.filter(credited=False).exists()
        ]
        if not candidates:
            return
        invoice = candidates[operation[1] % len(candidates)]
        open_items = list(
            invoice.items.filter(credited=False).values_list("order__order_id", flat=True)
        )
        chosen = open_items[: max(1, len(open_items) // 2)] if operation[2] else []
        services.credit_invoice(invoice.number or 0, order_ids=chosen, reason="egenskapstest")


def check_documents() -> None:
    for invoice in Invoice.objects.all():
        lines = list(invoice.lines.all())
        totals = compute_totals((line.net, line.vat_rate) for line in lines)
        if invoice.kind == "credit_note":
            # R12: its VAT and payable may be held to what the invoice charged; R10 still holds
            # for its net, and its amounts add up.
            stated = stated_vat_by_rate(
                ((line.net, line.vat_rate) for line in lines), invoice.vat_breakdown
            )
            assert invoice.net == totals.net
            assert invoice.vat == sum((tax for _, _, tax in stated), Decimal(0))
            assert invoice.payable == invoice.net + invoice.vat + invoice.rounding
            assert invoice.payable == invoice.payable.to_integral_value()
        else:
            assert (invoice.net, invoice.vat, invoice.rounding, invoice.payable) == (
                totals.net,
                totals.vat,
                totals.rounding,
                totals.payable,
            )
        for line in lines:
            items = line.items.count()
            assert abs(line.quantity) == items
            assert line.net == line.unit_price * line.quantity
    for invoice in Invoice.objects.filter(kind="invoice", status="issued"):
        notes = list(invoice.credit_notes.filter(status="issued"))
        if not notes:
            continue
        credited = [-sum((getattr(note, name) for note in notes), Decimal(0))
                    for name in ("net", "vat", "payable")]  # fmt: skip
        charged = [invoice.net, invoice.vat, invoice.payable]
        assert all(c <= i for c, i in zip(credited, charged, strict=True))  # R12
        if not invoice.items.filter(credited=False).exists():
            assert credited == charged
    numbers = sorted(Invoice.objects.filter(status="issued").values_list("number", flat=True))
    assert numbers == list(range(100001, 100001 + len(numbers)))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(order_specs, operations)
def test_any_sequence_of_runs_ends_with_every_billable_order_invoiced_exactly_once(
    specs: list[tuple], steps: list[tuple]
) -> None:
    with transaction.atomic():
        orders = build(specs)
        for step in steps:
            apply(step)
        check_documents()
        # Whatever happened, one more run over everything and issuing it bills every billable
        # order exactly once and nothing else.
        for draft in BillingRun.objects.filter(status="draft"):
            services.discard_run(draft.pk)
        final = services.create_run(MONTHS[0], LAST_DAY)
        if final.run.pk is not None:  # None: nothing was left to bill
            services.issue_run(final.run.pk)
        active = Counter(
            InvoiceItem.objects.filter(
                is_credit=False, credited=False, invoice__status="issued"
            ).values_list("order__order_id", flat=True)
        )
        assert all(count == 1 for count in active.values())
        assert set(active) == {order.order_id for order in orders if billable(order)}
        check_documents()
        again = services.create_run(MONTHS[0], LAST_DAY)
        assert again.proposal.invoices == []
        transaction.set_rollback(True)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(order_specs)
def test_a_range_at_once_gives_the_same_lines_as_month_by_month(specs: list[tuple]) -> None:
    with transaction.atomic():
        build(specs)
        whole = services.create_run(MONTHS[0], LAST_DAY, preview=True).proposal
        monthly = [
            services.create_run(month, month_end(month), preview=True).proposal for month in MONTHS
        ]

        def lines(proposals: list) -> list[tuple]:
            return sorted(
                (inv.account_id, line.order_month, line.product_code, line.unit_price,
                 tuple(line.order_pks))
                for proposal in proposals for inv in proposal.invoices for line in inv.lines
            )  # fmt: skip

        assert lines([whole]) == lines(monthly)
        assert sum(len(p.held_back) for p in monthly) == len(whole.held_back)
        transaction.set_rollback(True)


def test_invoice_lines_never_exceed_two_decimals() -> None:
    """A price with öre, many orders: line nets and totals stay exact to the öre."""
    reserv = make.product("RESERV")
    make.price(reserv, "199.99", vat="12")
    owner = make.customer("Kommun")
    make.account(owner, "K")
    for _ in range(7):
        make.order(owner, "2020-03-03", reserv)
    run = services.issue_run(services.create_run(MONTHS[0], LAST_DAY).run.pk)
    invoice = run.invoices.get()
    line = InvoiceLine.objects.get(invoice=invoice)
    assert line.net == Decimal("1399.93")
    assert invoice.vat == Decimal("167.99")  # 1399,93 × 12 % = 167,9916 → 167,99
    assert invoice.payable == Decimal("1568.00")
    assert invoice.rounding == Decimal("0.08")
