"""R22 against an independent model: random credits and payments (full, partial, over, repeated
across files, deductions, unmatched then assigned) on real issued invoices; the receivables the
system reports must be the model's, document by document and per customer."""

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factories as make
from kortfaktura.accounting.selectors import booking
from kortfaktura.billing import services as billing
from kortfaktura.billing.models import Invoice
from kortfaktura.customers.models import Customer
from kortfaktura.payments import selectors, services
from kortfaktura.payments.models import Payment
from payment_files import simple_bgmax

pytestmark = pytest.mark.django_db
MARCH = (dt.date(2020, 3, 1), dt.date(2020, 3, 31))
_serials = itertools.count(1)


@pytest.fixture
def issued(kommun: Customer, etk: make.Product) -> list[Invoice]:
    """Three invoices of 1 313, 438 and 875 kr, two customers."""
    for _ in range(3):
        make.order(kommun, "2020-03-10", etk)
    other = make.customer("Borås Stad", number="2120002353")
    make.account(other, "BS")
    third = make.customer("Alingsås kommun", number="2120001488")
    make.account(third, "AK")
    make.order(other, "2020-03-11", etk)
    make.order(third, "2020-03-12", etk)
    make.order(third, "2020-03-13", etk)
    run = billing.create_run(*MARCH).run
    assert run.pk is not None
    return list(billing.issue_run(run.pk).invoices.order_by("number"))


# The model: R22 as DOMAIN.md says it, written without the code under test.
def model_status(payable: Decimal, paid: Decimal, credited: Decimal) -> str:
    rest = payable - credited - paid
    if rest < 0:
        return "overpaid"
    if rest > 0:
        return "open" if paid == 0 else "partly_paid"
    if paid == 0 and credited > 0:
        return "credited"
    return "paid"


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("2000"), places=2)
payment = st.tuples(
    st.sampled_from([0, 1, 2, None]),  # which invoice the payer names (None: nobody)
    amounts,
    st.sampled_from(["ocr", "number", "payment-deduction"]),
    st.integers(0, 2),  # file 0, file 1, or both (2): repeated across files
    st.sampled_from([None, 0, 1, 2]),  # if unmatched: a person assigns it to this invoice
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    credits=st.lists(st.booleans(), min_size=3, max_size=3),
    payments=st.lists(payment, max_size=12),
)
def test_receivables_agree_with_the_model(
    issued: list[Invoice], credits: list[bool], payments: list[Any]
) -> None:
    with transaction.atomic():
        _check(issued, credits, payments)
        transaction.set_rollback(True)


def _check(issued: list[Invoice], credits: list[bool], payments: list[Any]) -> None:
    paid = [Decimal("0.00")] * 3
    credited = [Decimal("0.00")] * 3
    for index, wanted in enumerate(credits):
        if wanted:  # a full credit note
            note = billing.credit_invoice(issued[index].number or 0, reason="Kreditering")
            credited[index] = -note.payable
    files: list[list[tuple[str, str, int]]] = [[], []]
    deductions: list[list[tuple[str, str, int]]] = [[], []]
    assignments: list[tuple[str, int]] = []
    stray = Decimal("0.00")  # money nobody is named for: on receivables until decided
    for target, amount, how, where, assign_to in payments:
        serial = next(_serials)
        if target is None:
            reference = "okänd betalare"
        elif how == "number":
            reference = f"Faktura {issued[target].number}"
        else:
            reference = issued[target].ocr
        deduction = how == "payment-deduction" and target is not None and amount < 100
        row = (reference, f"{amount:.2f}", serial)
        for file in (0, 1) if where == 2 else (where,):
            (deductions if deduction else files)[file].append(row)
        signed = -amount if deduction else amount
        if target is not None:
            paid[target] += signed
        elif assign_to is not None:
            assignments.append((f"{serial:012d}", assign_to))
            paid[assign_to] += signed
        else:
            stray += signed
    extra = 0
    for file in (0, 1):
        # Bankgirot deposits money, never takes it: a deposit's deductions are covered by its
        # payments. Where the draw made them larger, a payer nobody knows covers the rest.
        deficit = sum(Decimal(a) for _, a, _ in deductions[file]) - sum(
            Decimal(a) for _, a, _ in files[file]
        )
        if deficit > 0:
            files[file].append(("okänd betalare", f"{deficit:.2f}", next(_serials)))
            extra += 1
            stray += deficit
        content = simple_bgmax(files[file], deductions=deductions[file])
        services.import_content(content, f"bgmax-{file}.txt")
    for key, index in assignments:
        found = Payment.objects.get(external_id=key)
        services.assign(found.pk, issued[index].number or 0, "Kunden ringde")
    report = selectors.receivables(every_item=True)
    items = {item["number"]: item for item in report.items}
    balances: dict[str, Decimal] = {}
    for index, invoice in enumerate(issued):
        item = items[str(invoice.number)]
        expected_open = invoice.payable - paid[index] - credited[index]
        assert Decimal(item["paid"]) == paid[index]
        assert Decimal(item["credited"]) == credited[index]
        assert Decimal(item["open"]) == expected_open
        assert item["status"] == model_status(invoice.payable, paid[index], credited[index])
        orgnr = item["orgnr"]
        balances[orgnr] = balances.get(orgnr, Decimal("0.00")) + expected_open
    for row in report.customers:
        assert Decimal(row["open"]) == balances[row["orgnr"]]
    assert report.total_open == sum(balances.values(), Decimal("0.00"))
    # The bookkeeping agrees: receivables 1510 = what is open, less money nobody claimed yet.
    booked = booking(dt.date(2000, 1, 1), dt.date(2100, 1, 1))
    assert booked.by_account["1510"] == report.total_open - stray
    assert booked.by_account["1930"] == sum(paid, Decimal("0.00")) + stray
    # every payment is stored once, whatever the files repeated
    assert Payment.objects.count() == len(payments) + extra
