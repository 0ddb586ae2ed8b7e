"""DOMAIN.md rules R1–R15 for billing, each by name, on the real database."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction
from stdnum import luhn

import factories as make
from conftest import CUSTOMER_HEADER, ORDER_HEADER, PRICE_HEADER, customer_row, order_row
from kortfaktura.billing import services
from kortfaktura.billing.core import HeldBackReason
from kortfaktura.billing.models import (
    BillingRun,
    ImmutableDocumentError,
    Invoice,
    InvoiceItem,
    InvoiceLine,
)
from kortfaktura.billing.numbering import ocr_reference
from kortfaktura.customers.models import BillingAccount, Customer
from kortfaktura.imports.services import import_file
from kortfaktura.orders.models import Order, OrderChange, PreviouslyInvoiced

pytestmark = pytest.mark.django_db
D = dt.date.fromisoformat
ISSUE = D("2026-11-02")


def bill(start: str, end: str, **options: object) -> services.DraftResult:
    return services.create_run(D(start), D(end), issue_date=ISSUE, **options)  # type: ignore[arg-type]


def bill_and_issue(start: str, end: str, **options: object) -> BillingRun:
    return services.issue_run(bill(start, end, **options).run.pk)


def billed_order_ids(run: BillingRun) -> set[str]:
    return set(
        InvoiceItem.objects.filter(invoice__run=run).values_list("order__order_id", flat=True)
    )


def held(run: BillingRun | services.DraftResult) -> dict[str, str]:
    """Held-back orders of a stored run, or of a result that stored no run (nothing billable)."""
    if isinstance(run, services.DraftResult):
        if run.run.pk is not None:
            return held(run.run)
        return {entry.order_id: entry.reason for entry in run.proposal.held_back}
    return dict(run.held_back.values_list("order__order_id", "reason"))


def credit(number: int | None, **options: object) -> Invoice:
    return services.credit_invoice(number or 0, issue_date=ISSUE, **options)  # type: ignore[arg-type]


# R1 ------------------------------------------------------------------------------------------


def test_r1_the_order_month_is_the_stockholm_date_of_the_order_time(
    csv_file: Callable[..., Path],
) -> None:
    import_file("customers", csv_file(CUSTOMER_HEADER, [customer_row()]))
    import_file(
        "prices", csv_file(PRICE_HEADER, [["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""]])
    )
    import_file(
        "orders",
        csv_file(
            ORDER_HEADER,
            [
                order_row("UTC-APRIL", ordered_at="2020-03-31T22:30:00Z"),  # 00:30 on 1 April
                order_row("LOCAL-MARCH", ordered_at="2020-03-31 23:30"),
                order_row("UTC-NOVEMBER", ordered_at="2020-10-31T23:30:00Z"),
            ],
        ),
    )
    march = bill_and_issue("2020-03-01", "2020-03-31")
    april = bill_and_issue("2020-04-01", "2020-04-30")
    november = bill_and_issue("2020-11-01", "2020-11-30")
    assert billed_order_ids(march) == {"LOCAL-MARCH"}
    assert billed_order_ids(april) == {"UTC-APRIL"}
    assert billed_order_ids(november) == {"UTC-NOVEMBER"}
    line = InvoiceLine.objects.get(invoice__run=april)
    assert line.order_month == D("2020-04-01")


def test_r1_photo_and_collection_dates_do_not_move_the_billing_month(
    kommun: Customer, etk: make.Product
) -> None:
    order = make.order(kommun, "2020-03-20", etk, status="collected")
    order.status_at = "2020-05-02 10:00"
    order.save()
    assert billed_order_ids(bill_and_issue("2020-03-01", "2020-03-31")) == {order.order_id}


# R2 ------------------------------------------------------------------------------------------


def test_r2_cancelled_is_not_billed_but_expired_revoked_and_uncollected_are(
    kommun: Customer, etk: make.Product
) -> None:
    statuses = [
        "ordered",
        "photographed",
        "produced",
        "collected",
        "expired",
        "revoked",
        "cancelled",
    ]
    orders = {status: make.order(kommun, "2020-03-10", etk, status=status) for status in statuses}
    result = bill("2020-03-01", "2020-03-31")
    assert billed_order_ids(result.run) == {
        order.order_id for status, order in orders.items() if status != "cancelled"
    }
    assert result.run.not_billable == {"cancelled": 1}


def test_r2_a_product_may_bill_cancelled_orders(kommun: Customer) -> None:
    puk = make.product("PUK", "PUK-kod", cancelled_billable=True)
    make.price(puk, "150")
    order = make.order(kommun, "2020-03-10", puk, status="cancelled")
    assert billed_order_ids(bill("2020-03-01", "2020-03-31").run) == {order.order_id}


def test_r2_previously_invoiced_orders_are_not_billed(kommun: Customer, etk: make.Product) -> None:
    earlier = make.order(kommun, "2019-05-10", etk)
    missed = make.order(kommun, "2019-05-11", etk)
    PreviouslyInvoiced.objects.create(order_id=earlier.order_id, invoice_number="GF2019-05")
    run = bill("2019-01-01", "2020-02-28", legacy=True).run
    assert billed_order_ids(run) == {missed.order_id}
    assert run.not_billable == {"previously_invoiced": 1}


# R3 ------------------------------------------------------------------------------------------


def test_r3_the_price_in_force_on_the_order_date_not_the_billing_date(kommun: Customer) -> None:
    etk = make.product()
    make.price(etk, "350", "2019-01-01", "2020-03-31")
    make.price(etk, "375", "2020-04-01")
    old = make.order(kommun, "2020-03-31", etk)
    new = make.order(kommun, "2020-04-01", etk)
    run = bill_and_issue("2020-03-01", "2020-04-30")
    prices = dict(
        InvoiceItem.objects.filter(invoice__run=run).values_list("order__order_id", "unit_price")
    )
    assert prices == {old.order_id: Decimal("350.00"), new.order_id: Decimal("375.00")}


def test_r3_no_price_in_force_holds_the_order_back_instead_of_billing_zero(
    kommun: Customer,
) -> None:
    mobile = make.product("MOBIL", "Mobilt SITHS eID")
    make.price(mobile, "250", "2026-01-01")
    early = make.order(kommun, "2025-10-01", mobile)
    result = bill("2025-10-01", "2025-10-31")
    assert result.proposal.invoices == [] and result.run.pk is None  # R5: no empty draft
    assert held(result) == {early.order_id: HeldBackReason.NO_PRICE}
    make.price(mobile, "240", "2025-09-01", "2025-12-31")
    assert billed_order_ids(bill("2025-10-01", "2025-10-31").run) == {early.order_id}


# R4 ------------------------------------------------------------------------------------------


def test_r4_the_database_refuses_a_second_uncredited_item_for_an_order(
    kommun: Customer, etk: make.Product
) -> None:
    order = make.order(kommun, "2020-03-10", etk)
    run = bill("2020-03-01", "2020-03-31").run
    item = InvoiceItem.objects.get(order=order)
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceItem.objects.create(
            invoice=item.invoice, line=item.line, order=order, unit_price=item.unit_price
        )
    services.issue_run(run.pk)
    assert InvoiceItem.objects.filter(order=order).count() == 1


def test_r4_a_second_draft_for_the_same_period_holds_the_orders_back(
    kommun: Customer, etk: make.Product
) -> None:
    order = make.order(kommun, "2020-03-10", etk)
    first = bill("2020-03-01", "2020-03-31").run
    second = bill("2020-03-01", "2020-03-31")
    assert billed_order_ids(first) == {order.order_id}
    assert second.run.pk is None and second.proposal.invoices == []
    assert held(second) == {order.order_id: HeldBackReason.IN_OTHER_DRAFT}
    assert f"körning {first.pk}" in second.proposal.held_back[0].detail


# R5 ------------------------------------------------------------------------------------------


def test_r5_a_billed_period_run_again_proposes_nothing(kommun: Customer, etk: make.Product) -> None:
    make.order(kommun, "2020-03-10", etk)
    bill_and_issue("2020-03-01", "2020-03-31")
    again = bill("2020-03-01", "2020-03-31")
    assert again.proposal.invoices == []
    assert again.proposal.not_billable == {"already_invoiced": 1}
    assert again.run.pk is None and BillingRun.objects.count() == 1  # no empty draft kept


def test_r5_discarding_a_draft_frees_its_orders(kommun: Customer, etk: make.Product) -> None:
    order = make.order(kommun, "2020-03-10", etk)
    draft = bill("2020-03-01", "2020-03-31").run
    services.discard_run(draft.pk)
    assert BillingRun.objects.get(pk=draft.pk).status == "discarded"
    assert Invoice.objects.filter(run=draft).count() == 0
    assert billed_order_ids(bill("2020-03-01", "2020-03-31").run) == {order.order_id}


def test_r5_regenerating_a_draft_sees_corrections(kommun: Customer, etk: make.Product) -> None:
    make.order(kommun, "2020-03-11", etk)
    stranger = make.order(None, "2020-03-10", etk, orgnr_text="5590002282")
    draft = bill("2020-03-01", "2020-03-31").run
    assert held(draft) == {stranger.order_id: HeldBackReason.UNKNOWN_CUSTOMER}
    newcomer = make.customer("Nya Vårdbolaget AB", number="5590002282", public=False)
    make.account(newcomer, "P-NY")
    Order.objects.filter(pk=stranger.pk).update(customer=newcomer)
    services.regenerate_run(draft.pk)
    assert stranger.order_id in billed_order_ids(draft)
    assert held(draft) == {}


def test_r5_customer_selection(kommun: Customer, etk: make.Product) -> None:
    other = make.customer("Ale kommun")
    make.account(other, "1440")
    mine = make.order(kommun, "2020-03-10", etk)
    make.order(other, "2020-03-10", etk)
    run = bill("2020-03-01", "2020-03-31", customers=["212000-1454"]).run
    assert billed_order_ids(run) == {mine.order_id}
    assert list(run.customers.values_list("orgnr", flat=True)) == ["2120001454"]
    with pytest.raises(services.UsageError, match="okänd kund"):
        bill("2020-03-01", "2020-03-31", customers=["556123-4567"])


def test_r5_preview_stores_nothing(kommun: Customer, etk: make.Product) -> None:
    make.order(kommun, "2020-03-10", etk)
    preview = bill("2020-03-01", "2020-03-31", preview=True)
    assert len(preview.proposal.invoices) == 1
    assert BillingRun.objects.count() == 0
    assert InvoiceItem.objects.count() == 0


# R6 ------------------------------------------------------------------------------------------


def test_r6_unit_codes_map_to_a_forvaltning_with_fallback_to_the_default_account(
    etk: make.Product,
) -> None:
    vgr = make.customer("Västra Götalandsregionen", number="2321000131")
    make.account(vgr, "VGR-RS")
    make.account(vgr, "VGR-SU", default=False, units=("SU-MED", "SU-AKUT"))
    su = make.order(vgr, "2020-03-10", etk, unit="SU-MED")
    unmapped = make.order(vgr, "2020-03-11", etk, unit="NU-KIR")
    no_unit = make.order(vgr, "2020-03-12", etk)
    run = bill_and_issue("2020-03-01", "2020-03-31")
    by_account = dict(
        InvoiceItem.objects.filter(invoice__run=run).values_list(
            "order__order_id", "invoice__account__code"
        )
    )
    assert by_account == {
        su.order_id: "VGR-SU",
        unmapped.order_id: "VGR-RS",
        no_unit.order_id: "VGR-RS",
    }


def test_r6_unknown_unit_without_a_default_account_is_held_back(etk: make.Product) -> None:
    vgr = make.customer("Västra Götalandsregionen", number="2321000131")
    make.account(vgr, "VGR-SU", default=False, units=("SU-MED",))
    lost = make.order(vgr, "2020-03-10", etk, unit="NU-KIR")
    assert held(bill("2020-03-01", "2020-03-31")) == {lost.order_id: HeldBackReason.UNKNOWN_UNIT}


def test_r6_one_invoice_per_account_and_month_or_one_per_run_with_sections(
    kommun: Customer, etk: make.Product
) -> None:
    for day in ("2020-03-05", "2020-03-20", "2020-04-02", "2020-05-30"):
        make.order(kommun, day, etk)
    monthly = bill("2020-03-01", "2020-05-31").run
    assert monthly.invoices.count() == 3
    assert sorted(monthly.invoices.values_list("period_start", "period_end")) == [
        (D("2020-03-01"), D("2020-03-31")),
        (D("2020-04-01"), D("2020-04-30")),
        (D("2020-05-01"), D("2020-05-31")),
    ]
    services.discard_run(monthly.pk)
    whole = bill("2020-03-01", "2020-05-31", grouping="run").run
    invoice = whole.invoices.get()
    assert [(line.order_month, line.quantity) for line in invoice.lines.order_by("position")] == [
        (D("2020-03-01"), 2),
        (D("2020-04-01"), 1),
        (D("2020-05-01"), 1),
    ]


# R7 ------------------------------------------------------------------------------------------


def test_r7_legacy_runs_are_separate_and_titled_with_their_period(
    kommun: Customer, etk: make.Product
) -> None:
    old = make.order(kommun, "2019-06-10", etk)
    make.order(kommun, "2020-03-10", etk)
    run = bill_and_issue("2019-01-01", "2020-02-28", legacy=True, title="Ej fakturerade kort")
    assert billed_order_ids(run) == {old.order_id}
    invoice = run.invoices.get()
    assert invoice.is_legacy
    assert "2019-01-01" in invoice.title and "2020-02-28" in invoice.title
    assert "inte fakturerats tidigare" in invoice.title
    assert invoice.title.startswith("Ej fakturerade kort")


def test_r7_an_ordinary_run_may_not_reach_into_the_legacy_period(kommun: Customer) -> None:
    with pytest.raises(services.UsageError, match="--legacy"):
        bill("2020-01-01", "2020-03-31")
    with pytest.raises(services.UsageError, match="inom den äldre perioden"):
        bill("2019-01-01", "2020-03-31", legacy=True)


def test_r7_the_leap_day_between_the_two_periods_is_billed_by_an_ordinary_run(
    kommun: Customer, etk: make.Product
) -> None:
    leap = make.order(kommun, "2020-02-29", etk)
    assert bill("2019-01-01", "2020-02-28", legacy=True).proposal.invoices == []
    assert billed_order_ids(bill("2020-02-29", "2020-03-31").run) == {leap.order_id}


# R8 ------------------------------------------------------------------------------------------


def test_r8_a_late_order_is_picked_up_by_the_next_run_under_its_own_month(
    kommun: Customer, etk: make.Product
) -> None:
    make.order(kommun, "2026-09-15", etk)
    bill_and_issue("2026-09-01", "2026-09-30")
    late = make.order(kommun, "2026-09-29", etk)  # arrives after September was billed
    make.order(kommun, "2026-10-03", etk)
    october_run = bill_and_issue("2020-03-01", "2026-10-31")
    lines = {
        (line.order_month, line.quantity)
        for line in InvoiceLine.objects.filter(invoice__run=october_run)
    }
    assert lines == {(D("2026-09-01"), 1), (D("2026-10-01"), 1)}
    assert late.order_id in billed_order_ids(october_run)


# R9, R10, R11 --------------------------------------------------------------------------------


def test_r9_r10_r11_an_issued_invoice_carries_what_the_vat_act_requires(
    kommun: Customer, etk: make.Product
) -> None:
    puk = make.product("PUK", "PUK-kod")
    make.price(puk, "150")
    for _ in range(3):
        make.order(kommun, "2020-03-10", etk)
    make.order(kommun, "2020-03-11", puk)
    run = bill_and_issue("2020-03-01", "2020-03-31", title="eTjänstekort mars 2020")
    invoice = run.invoices.get()
    assert invoice.status == "issued" and invoice.number is not None
    assert invoice.issue_date == ISSUE
    assert invoice.due_date == ISSUE + dt.timedelta(days=30)
    assert invoice.title == "eTjänstekort mars 2020"
    assert invoice.seller["vat_number"] == "SE232100013101"
    assert invoice.seller["name"] == "Västra Götalandsregionen"
    assert invoice.seller["bankgiro"]
    assert invoice.buyer["name"] == "Vårgårda kommun"
    assert invoice.buyer["buyer_reference"] == "REF-1"
    assert (invoice.period_start, invoice.period_end) == (D("2020-03-01"), D("2020-03-31"))
    lines = [
        (line.product_code, line.quantity, line.unit_price, line.net)
        for line in invoice.lines.all()
    ]
    assert sorted(lines) == [
        ("ETK", 3, Decimal("350.00"), Decimal("1050.00")),
        ("PUK", 1, Decimal("150.00"), Decimal("150.00")),
    ]
    assert (invoice.net, invoice.vat, invoice.rounding, invoice.payable) == (
        Decimal("1200.00"),
        Decimal("300.00"),
        Decimal("0.00"),
        Decimal("1500.00"),
    )
    assert invoice.ocr == ocr_reference(invoice.number)


def test_r11_ocr_has_a_length_digit_and_a_luhn_check_digit() -> None:
    reference = ocr_reference(100001)
    assert reference == "10000180"
    assert luhn.is_valid(reference)
    assert int(reference[-2]) == len(reference) % 10
    for number in (1, 42, 999, 123456789):
        text = ocr_reference(number)
        assert text.startswith(str(number)) and luhn.is_valid(text)
        assert int(text[-2]) == len(text) % 10


def test_r11_one_gap_free_series_for_invoices_and_credit_notes(
    kommun: Customer, etk: make.Product
) -> None:
    other = make.customer("Ale kommun")
    make.account(other, "1440")
    for owner in (kommun, other):
        make.order(owner, "2020-03-10", etk)
        make.order(owner, "2020-04-10", etk)
    first = bill_and_issue("2020-03-01", "2020-03-31")
    invoice = first.invoices.order_by("number").first()
    assert invoice is not None and invoice.number is not None
    credit(invoice.number, reason="Test")
    bill_and_issue("2020-04-01", "2020-04-30")
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == list(range(numbers[0], numbers[0] + 5))
    assert Invoice.objects.filter(kind="credit_note").get().number == numbers[2]


def test_r11_numbers_are_given_only_when_issuing(kommun: Customer, etk: make.Product) -> None:
    make.order(kommun, "2020-03-10", etk)
    draft = bill("2020-03-01", "2020-03-31").run
    assert draft.invoices.get().number is None
    services.discard_run(draft.pk)
    issued = bill_and_issue("2020-03-01", "2020-03-31")
    assert issued.invoices.get().number == 100001  # the discarded draft used no number


# R12 -----------------------------------------------------------------------------------------


def test_r12_a_credit_note_for_chosen_orders_makes_them_billable_again(
    kommun: Customer, etk: make.Product
) -> None:
    orders = [make.order(kommun, "2020-03-10", etk) for _ in range(3)]
    run = bill_and_issue("2020-03-01", "2020-03-31")
    invoice = run.invoices.get()
    note = credit(invoice.number, order_ids=[orders[0].order_id], reason="Fel kund")
    assert note.kind == "credit_note" and note.credits == invoice and note.status == "issued"
    assert (note.net, note.vat, note.rounding, note.payable) == (
        Decimal("-350.00"),
        Decimal("-87.50"),
        Decimal("-0.50"),
        Decimal("-438.00"),
    )
    assert [(line.quantity, line.net) for line in note.lines.all()] == [(-1, Decimal("-350.00"))]
    assert note.reason == "Fel kund"
    rebilled = bill_and_issue("2020-03-01", "2020-03-31")
    assert billed_order_ids(rebilled) == {orders[0].order_id}
    with pytest.raises(services.BillingError, match="finns inte okrediterad"):
        credit(invoice.number, order_ids=[orders[0].order_id], reason="x")


def test_r12_crediting_the_whole_invoice(kommun: Customer, etk: make.Product) -> None:
    for _ in range(2):
        make.order(kommun, "2020-03-10", etk)
    invoice = bill_and_issue("2020-03-01", "2020-03-31").invoices.get()
    note = credit(invoice.number, reason="Hela fakturan fel")
    assert note.payable == -invoice.payable
    assert InvoiceItem.objects.filter(invoice=invoice, credited=False).count() == 0
    with pytest.raises(services.BillingError, match="redan helt krediterad"):
        credit(invoice.number, reason="igen")
    with pytest.raises(services.BillingError, match="är en kreditfaktura"):
        credit(note.number, reason="kreditera krediten")


def test_r12_an_issued_invoice_never_changes(kommun: Customer, etk: make.Product) -> None:
    make.order(kommun, "2020-03-10", etk)
    invoice = bill_and_issue("2020-03-01", "2020-03-31").invoices.get()
    invoice.payable = Decimal("1")
    with pytest.raises(ImmutableDocumentError):
        invoice.save()
    with pytest.raises(ImmutableDocumentError):
        invoice.delete()
    for statement in (
        lambda: Invoice.objects.filter(pk=invoice.pk).update(payable=Decimal("1")),
        lambda: Invoice.objects.filter(pk=invoice.pk).delete(),
        lambda: InvoiceLine.objects.filter(invoice=invoice).update(quantity=99),
        lambda: InvoiceItem.objects.filter(invoice=invoice).update(unit_price=Decimal("1")),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            statement()
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceItem.objects.filter(invoice=invoice).update(credited=True)
        InvoiceItem.objects.filter(invoice=invoice).update(credited=False)  # credit is final
    invoice.refresh_from_db()
    assert invoice.payable == Decimal("438.00")


# R13 -----------------------------------------------------------------------------------------


def test_r13_later_customer_changes_do_not_alter_issued_invoices(
    kommun: Customer, etk: make.Product
) -> None:
    make.order(kommun, "2020-03-10", etk)
    invoice = bill_and_issue("2020-03-01", "2020-03-31").invoices.get()
    Customer.objects.filter(pk=kommun.pk).update(name="Vårgårda kommun (nytt namn)")
    BillingAccount.objects.filter(customer=kommun).update(street="Ny gata 1", buyer_reference="NY")
    invoice.refresh_from_db()
    assert invoice.buyer["name"] == "Vårgårda kommun"
    assert invoice.buyer["street"] == "Box 1"
    assert invoice.buyer["buyer_reference"] == "REF-1"


# R14 -----------------------------------------------------------------------------------------


def test_r14_unknown_customer_is_held_back_and_billed_once_the_customer_exists(
    csv_file: Callable[..., Path], etk: make.Product
) -> None:
    import_file("orders", csv_file(ORDER_HEADER, [order_row("NEW-1", orgnr="212000-1454")]))
    first = bill("2020-03-01", "2020-03-31")
    assert held(first) == {"NEW-1": HeldBackReason.UNKNOWN_CUSTOMER}
    import_file("customers", csv_file(CUSTOMER_HEADER, [customer_row()]))
    second = bill_and_issue("2020-03-01", "2020-03-31")
    assert billed_order_ids(second) == {"NEW-1"}


def test_r14_a_changed_invoiced_order_waits_and_is_rebilled_after_a_credit(
    csv_file: Callable[..., Path], etk: make.Product
) -> None:
    right = make.customer("Göteborgs Stad", number="2120001355")
    make.account(right, "1480")
    import_file("customers", csv_file(CUSTOMER_HEADER, [customer_row()]))
    import_file("orders", csv_file(ORDER_HEADER, [order_row("B1", orgnr="212000-1454")]))
    invoice = bill_and_issue("2020-03-01", "2020-03-31").invoices.get()
    moved = csv_file(ORDER_HEADER, [order_row("B1", orgnr="212000-1355", status="revoked")])
    result = import_file("orders", moved)
    assert result.updated == 1
    order = Order.objects.get(order_id="B1")
    assert (order.orgnr, order.status) == ("2120001454", "revoked")  # billing data waits
    pending = OrderChange.objects.get(order=order, status="pending")
    assert (pending.field, pending.old_value, pending.new_value) == (
        "orgnr",
        "2120001454",
        "2120001355",
    )
    again = import_file("orders", moved)
    assert (again.updated, again.unchanged) == (0, 1)
    assert OrderChange.objects.filter(status="pending").count() == 1
    credit(invoice.number, reason="Fel kund")
    order.refresh_from_db()
    assert (order.orgnr, order.customer) == ("2120001355", right)
    rebilled = bill_and_issue("2020-03-01", "2020-03-31").invoices.get()
    assert rebilled.customer == right


def test_r14_a_changed_order_in_a_draft_blocks_issuing_until_regenerated(
    csv_file: Callable[..., Path], etk: make.Product
) -> None:
    import_file("customers", csv_file(CUSTOMER_HEADER, [customer_row()]))
    import_file("orders", csv_file(ORDER_HEADER, [order_row("B1")]))
    draft = bill("2020-03-01", "2020-03-31").run
    import_file("orders", csv_file(ORDER_HEADER, [order_row("B1", ordered_at="2020-04-02")]))
    with pytest.raises(services.BillingError, match="regenerate"):
        services.issue_run(draft.pk)
    services.regenerate_run(draft.pk)
    assert billed_order_ids(draft) == set()


# R15 -----------------------------------------------------------------------------------------


def test_r15_an_incomplete_billing_account_holds_its_orders_back(etk: make.Product) -> None:
    dals_ed = make.customer("Dals-Eds kommun")
    account = make.account(dals_ed, "1438", buyer_reference="")
    order = make.order(dals_ed, "2020-03-10", etk)
    result = bill("2020-03-01", "2020-03-31")
    assert held(result) == {order.order_id: HeldBackReason.ACCOUNT_INCOMPLETE}
    assert "beställarreferens saknas" in result.proposal.held_back[0].detail
    account.buyer_reference = "GITS-1438"
    account.save()
    assert billed_order_ids(bill_and_issue("2020-03-01", "2020-03-31")) == {order.order_id}


def test_r15_an_account_that_became_incomplete_stops_the_issue(
    kommun: Customer, etk: make.Product
) -> None:
    make.order(kommun, "2020-03-10", etk)
    draft = bill("2020-03-01", "2020-03-31").run
    BillingAccount.objects.filter(customer=kommun).update(buyer_reference="")
    with pytest.raises(services.BillingError, match="ofullständiga"):
        services.issue_run(draft.pk)
    assert BillingRun.objects.get(pk=draft.pk).status == "draft"
