"""Billing that cannot be fooled (issue 7): every change between draft, issue and export.

Each test reproduces a way the promises of DOMAIN.md R4, R8, R11, R12, R13 and R14 broke before,
on the real database (SQLite or PostgreSQL, whichever the suite runs on).
"""

import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from pypdf import PdfReader

import factories as make
from conftest import CUSTOMER_HEADER, ORDER_HEADER, customer_row, order_row, write_csv
from kortfaktura.billing import core, services
from kortfaktura.billing.models import BillingRun, Invoice, InvoiceItem, InvoiceNumberSeries
from kortfaktura.customers.models import Customer
from kortfaktura.documents.data import documents_for
from kortfaktura.documents.pdf import PdfRenderer
from kortfaktura.documents.spreadsheet import CsvRenderer
from kortfaktura.documents.ubl import UblRenderer
from kortfaktura.imports.services import import_file

pytestmark = pytest.mark.django_db
Cli = Callable[..., tuple[int, str, str]]
D = dt.date.fromisoformat
GOTEBORG = "212000-1355"


def next_number() -> int:
    return InvoiceNumberSeries.objects.get(name="invoices").next_number


def draft(start: str = "2020-03-01", end: str = "2020-03-31") -> BillingRun:
    run = services.create_run(D(start), D(end)).run
    assert run.pk is not None
    return run


def orders_file(tmp_path: Path, *rows: list[str], name: str = "orders.csv") -> Path:
    return write_csv(tmp_path / name, ORDER_HEADER, list(rows))


# Item 2: issue re-checks every order of the draft -----------------------------------------------


def test_issue_refuses_orders_marked_billed_or_cancelled_after_the_draft(
    tmp_path: Path, kommun: Customer, etk: make.Product
) -> None:
    import_file("orders", orders_file(tmp_path, order_row("A1"), order_row("A2"), order_row("A3")))
    run = draft()
    series_before = next_number()
    billed = tmp_path / "billed.csv"
    billed.write_text("order_id;invoice_number\nA1;9001\n", encoding="utf-8")
    import_file("billed", billed)
    import_file("orders", orders_file(tmp_path, order_row("A2", status="cancelled"), name="c.csv"))

    with pytest.raises(services.BillingError) as refused:
        services.issue_run(run.pk)
    message = str(refused.value)
    assert "A1" in message and "tidigare systemet" in message
    assert "A2" in message and "makulerad" in message
    assert "A3" not in message
    assert f"run regenerate {run.pk}" in message and "inga nummer" in message
    assert next_number() == series_before
    assert BillingRun.objects.get(pk=run.pk).status == "draft"
    assert not Invoice.objects.filter(status="issued").exists()

    services.regenerate_run(run.pk)
    issued = services.issue_run(run.pk)
    on_invoice = set(
        InvoiceItem.objects.filter(invoice__run=issued).values_list("order_ref", flat=True)
    )
    assert on_invoice == {"A3"}


def test_issue_refuses_orders_moved_to_another_customer_or_repriced(
    tmp_path: Path, kommun: Customer, etk: make.Product
) -> None:
    other = make.customer("Göteborgs Stad", number="2120001355")
    make.account(other, "1480")
    import_file("orders", orders_file(tmp_path, order_row("M1"), order_row("M2")))
    run = draft()
    moved = order_row("M1", orgnr=GOTEBORG)
    import_file("orders", orders_file(tmp_path, moved, name="moved.csv"))
    with pytest.raises(services.BillingError, match="M1 hör nu till en annan fakturamottagare"):
        services.issue_run(run.pk)

    services.regenerate_run(run.pk)
    etk.prices.update(unit_price=Decimal("360"))
    with pytest.raises(services.BillingError, match="annat pris"):
        services.issue_run(run.pk)
    assert not Invoice.objects.filter(status="issued").exists()


# Item 3: the database guards issued documents ----------------------------------------------------


@pytest.fixture
def issued_invoice(kommun: Customer, etk: make.Product) -> Invoice:
    for day in ("2020-03-10", "2020-03-11"):
        make.order(kommun, day, etk)
    return services.issue_run(draft().pk).invoices.get()


def refused(sql: str, params: list[object]) -> None:
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(sql, params)
        # SQLite checks deferred foreign keys only at commit, which a test never reaches.
        connection.check_constraints(["billing_invoiceitem", "billing_invoiceline"])


def empty_draft_like(invoice: Invoice, **fields: object) -> Invoice:
    values: dict[str, object] = {
        "account": invoice.account, "customer": invoice.customer, "title": "utkast",
        "period_start": invoice.period_start, "period_end": invoice.period_end,
        "net": 0, "vat": 0, "rounding": 0, "payable": 0,
    }  # fmt: skip
    return Invoice.objects.create(**{**values, **fields})


def test_credited_cannot_be_set_without_a_credit_note(issued_invoice: Invoice) -> None:
    refused(
        "UPDATE billing_invoiceitem SET credited = %s WHERE invoice_id = %s",
        [True, issued_invoice.pk],
    )
    other = make.customer("Ale kommun")
    unrelated = empty_draft_like(
        issued_invoice, kind="credit_note", credits=issued_invoice,
        account=make.account(other, "1440"), customer=other,
    )  # fmt: skip
    refused(
        "UPDATE billing_invoiceitem SET credited = %s, credited_by_id = %s WHERE invoice_id = %s",
        [True, unrelated.pk, issued_invoice.pk],
    )
    assert InvoiceItem.objects.filter(invoice=issued_invoice, credited=False).count() == 2


def test_a_credit_is_final_and_names_its_credit_note(issued_invoice: Invoice) -> None:
    item = issued_invoice.items.order_by("id").first()
    assert item is not None
    note = services.credit_invoice(
        issued_invoice.number or 0, order_ids=[item.order_ref], reason="Fel"
    )
    item.refresh_from_db()
    assert item.credited and item.credited_by_id == note.pk
    refused("UPDATE billing_invoiceitem SET credited_by_id = NULL WHERE id = %s", [item.pk])
    refused(
        "UPDATE billing_invoiceitem SET credited = %s, credited_by_id = NULL WHERE id = %s",
        [False, item.pk],
    )


def test_nothing_can_be_added_to_an_issued_document(issued_invoice: Invoice) -> None:
    line = issued_invoice.lines.get()
    item = issued_invoice.items.order_by("id").first()
    assert item is not None
    refused(
        "INSERT INTO billing_invoiceline (invoice_id, position, order_month, product_id, "
        "product_code, product_name, quantity, unit_price, vat_rate, net) "
        "VALUES (%s, 9, %s, %s, 'ETK', 'x', 1, 1, 25, 1)",
        [issued_invoice.pk, line.order_month, line.product_id],
    )
    spare = make.order(issued_invoice.customer, "2020-03-12", line.product)
    refused(
        "INSERT INTO billing_invoiceitem (id, invoice_id, line_id, order_id, unit_price, "
        "is_credit, credited) VALUES (%s, %s, %s, %s, 350, %s, %s)",
        [10_000_000, issued_invoice.pk, line.pk, spare.pk, False, False],
    )
    refused("DELETE FROM billing_invoiceitem WHERE id = %s", [item.pk])
    refused("UPDATE billing_invoiceitem SET holder_name = 'X' WHERE id = %s", [item.pk])
    refused("UPDATE billing_invoice SET payable = 0 WHERE id = %s", [issued_invoice.pk])
    refused("DELETE FROM billing_billingrun WHERE id = %s", [issued_invoice.run_id])
    refused("UPDATE billing_invoicenumberseries SET next_number = next_number - 1", [])
    assert issued_invoice.items.count() == 2


def test_items_have_foreign_keys(issued_invoice: Invoice) -> None:
    line = issued_invoice.lines.get()
    draft_invoice = empty_draft_like(issued_invoice)
    refused(
        "INSERT INTO billing_invoiceitem (id, invoice_id, line_id, order_id, unit_price, "
        "is_credit, credited) VALUES (%s, %s, %s, %s, 350, %s, %s)",
        [10_000_001, draft_invoice.pk, line.pk, 987_654_321, False, False],
    )


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_truncate_is_refused_on_postgresql(issued_invoice: Invoice) -> None:
    for table in ("billing_invoiceitem", "billing_invoiceline", "billing_invoice"):
        refused(f"TRUNCATE {table} CASCADE", [])
    assert Invoice.objects.filter(pk=issued_invoice.pk).exists()


# Item 4: an issued document never changes --------------------------------------------------------


def fingerprints(invoice: Invoice) -> dict[str, str]:
    document = documents_for([Invoice.objects.get(pk=invoice.pk)])[0]
    pdf = PdfRenderer().render(document)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return {
        "ubl": hashlib.sha256(UblRenderer().render(document)).hexdigest(),
        "csv": hashlib.sha256(CsvRenderer().render(document)).hexdigest(),
        "pdf": hashlib.sha256(text.encode()).hexdigest(),
    }


def test_later_imports_never_change_an_issued_document(
    tmp_path: Path, kommun: Customer, etk: make.Product
) -> None:
    other = make.customer("Göteborgs Stad", number="2120001355")
    make.account(other, "1480")
    rows = [order_row("S1", holder_hsa_id="SE2321000131-P1"), order_row("S2")]
    import_file("orders", orders_file(tmp_path, *rows))
    invoice = services.issue_run(draft().pk).invoices.get()
    before = fingerprints(invoice)
    assert invoice.content_sha256 == before["ubl"] and invoice.validation == "passed"

    renamed = [
        order_row("S1", holder_name="Helt Annan", holder_hsa_id="SE2321000131-P9"),
        order_row("S2", orgnr=GOTEBORG, holder_name="Någon Annan"),
    ]
    import_file("orders", orders_file(tmp_path, *renamed, name="later.csv"))
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer_row(
        name="Vårgårda kommun (nytt namn)")]))  # fmt: skip
    assert fingerprints(invoice) == before
    spec = documents_for([Invoice.objects.get(pk=invoice.pk)])[0].specification
    assert {row.holder_name for row in spec} == {"Anna Andersson"}


# Item 5: a document that can never be valid gets no number ---------------------------------------


def test_issue_validates_every_document_before_numbers_are_final(
    kommun: Customer, etk: make.Product
) -> None:
    odd = make.product("PUK", "PUK-kod")
    make.price(odd, "150", vat="30")
    make.order(kommun, "2020-03-10", odd)
    make.order(kommun, "2020-03-10", etk)
    run = draft()
    before = next_number()
    with pytest.raises(services.BillingError) as refused_issue:
        services.issue_run(run.pk)
    message = str(refused_issue.value)
    assert "Peppols valideringsregler" in message
    assert f"{before} (1442)" in message and "SE-R-006" in message
    assert next_number() == before
    assert BillingRun.objects.get(pk=run.pk).status == "draft"


# Item 6: amounts that do not fit ------------------------------------------------------------------


def test_a_unit_price_over_the_limit_is_refused_when_drafting(kommun: Customer) -> None:
    costly = make.product("DYR", "Dyrt kort")
    make.price(costly, "9999999999.99")
    make.order(kommun, "2020-03-10", costly)
    with pytest.raises(services.BillingError, match="1 000 000 kr"):
        services.create_run(D("2020-03-01"), D("2020-03-31"))
    assert not BillingRun.objects.exists()


def test_totals_beyond_the_columns_are_refused() -> None:
    line = core.ProposedLine(
        D("2020-03-01"), 1, "ETK", "eTjänstekort", Decimal("1000000"), Decimal("25"),
        list(range(1_000_000)),
    )  # fmt: skip
    proposal = core.Proposal([core.ProposedInvoice(1, 1, [line])], [], {})
    with pytest.raises(services.BillingError, match="kan bära"):
        services._check_amounts(proposal)


# Items 7 and 8: dates -----------------------------------------------------------------------------


def test_issue_dates_rise_with_the_numbers(cli: Cli, kommun: Customer, etk: make.Product) -> None:
    make.order(kommun, "2020-03-10", etk)
    make.order(kommun, "2020-04-10", etk)
    today = timezone.localdate()
    code, _, err = cli("bill", "--from", "2020-03-01", "--to", "2020-03-31", "--issue-date",
                       (today + dt.timedelta(days=1)).isoformat())  # fmt: skip
    assert code == 2 and "framtiden" in err
    services.issue_run(draft().pk)
    for early in ("1999-01-01", "1900-01-01"):
        code, _, err = cli("bill", "--from", "2020-04-01", "--to", "2020-04-30",
                           "--issue-date", early)  # fmt: skip
        assert code == 2 and "före det senast utfärdade" in err, err
    april = draft("2020-04-01", "2020-04-30")
    code, _, err = cli("run", "issue", str(april.pk), "--issue-date", "1999-01-01")
    assert code == 2 and "nummer och datum ska stiga tillsammans" in err
    assert Invoice.objects.filter(status="issued").count() == 1


def test_a_month_is_billed_only_after_it_has_ended(
    cli: Cli, kommun: Customer, etk: make.Product
) -> None:
    today = timezone.localdate()
    this_month = today.replace(day=1)
    last_day = this_month - dt.timedelta(days=1)
    make.order(kommun, this_month.isoformat(), etk)
    code, _, err = cli("bill", "--from", "2020-03-01", "--to", core.month_end(today).isoformat())
    assert code == 2 and f"senast {last_day.isoformat()}" in err
    code, _, err = cli("bill", "--from", "2020-03-01", "--to", "9999-12-31")
    assert code == 2 and "Traceback" not in err and "senast" in err
    code, _, err = cli("bill", "--from", "2020-03-01", "--to", last_day.isoformat(), "--json")
    assert code == 0
    assert not BillingRun.objects.exists()  # the order of this month is not billed yet


def test_month_end_is_safe_at_the_end_of_the_calendar() -> None:
    assert core.month_end(D("9999-12-05")) == D("9999-12-31")
    assert core.month_end(D("2024-02-10")) == D("2024-02-29")


# Item 9: nothing to bill --------------------------------------------------------------------------


def test_a_run_that_finds_nothing_keeps_no_draft(
    cli: Cli, kommun: Customer, etk: make.Product
) -> None:
    make.order(None, "2020-03-10", etk, orgnr_text="5590002282")
    code, out, _ = cli("bill", "--from", "2020-03-01", "--to", "2020-03-31")
    assert code == 0
    assert "Inget att fakturera" in out and "okänd kund: 1" in out
    assert "run issue" not in out
    code, out, _ = cli("bill", "--from", "2020-03-01", "--to", "2020-03-31", "--json")
    result = json.loads(out)
    assert code == 0 and result["status"] == "empty" and "id" not in result
    assert result["invoices"] == [] and result["held_back"][0]["reason"] == "unknown_customer"
    assert not BillingRun.objects.exists()


# Item 11: the preview has the shape of a run ---------------------------------------------------


def keys(value: object) -> object:
    if isinstance(value, dict):
        return {key: keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [keys(item) for item in value[:1]]
    return type(value).__name__


def test_preview_json_has_the_shape_of_bill_json(
    cli: Cli, kommun: Customer, etk: make.Product
) -> None:
    make.order(kommun, "2020-03-10", etk, order_id="P1")
    make.order(kommun, "2020-04-10", etk, order_id="P2")
    args = ("bill", "--from", "2020-03-01", "--to", "2020-04-30", "--json")
    code, out, _ = cli(*args, "--preview")
    preview = json.loads(out)
    code, out, _ = cli(*args)
    run = json.loads(out)
    assert code == 0 and "id" not in preview and isinstance(run.pop("id"), int)
    for invoice in run["invoices"]:
        invoice["run_id"] = None
        invoice["status"] = "preview"
    run["status"] = "preview"
    assert keys(preview) == keys(run)
    assert preview == run
    assert [invoice["order_ids"] for invoice in preview["invoices"]] == [["P1"], ["P2"]]


# What a tester found: free text on documents, ids too large --------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--title", "Faktura för 19800101-1231"), "personnummer"),
        (("--title", "T" * 400), "högst 200 tecken"),
        (("--title", "Rubrik\x1b[2J"), "kontrolltecken"),
        (("--title", "Rubrik \u202eLLUN"), "U+202E"),
    ],
)
def test_a_title_that_cannot_stand_on_an_invoice_is_refused(
    cli: Cli, kommun: Customer, etk: make.Product, args: tuple[str, ...], message: str
) -> None:
    make.order(kommun, "2020-03-10", etk)
    code, _, err = cli("bill", "--from", "2020-03-01", "--to", "2020-03-31", *args)
    assert code == 2 and message in err
    assert "1231" not in err
    assert not BillingRun.objects.exists()


def test_a_credit_reason_that_cannot_stand_on_a_credit_note_is_refused(
    cli: Cli, issued_invoice: Invoice
) -> None:
    number = str(issued_invoice.number)
    for reason, message in (("Slutade 19800101-1231", "personnummer"), ("x" * 5000, "högst")):
        code, _, err = cli("credit", number, "--reason", reason)
        assert code == 2 and message in err
    assert not Invoice.objects.filter(kind="credit_note").exists()


def test_ids_too_large_for_the_database_are_answered_not_crashed(cli: Cli) -> None:
    huge = "99999999999999999999"
    for args in (
        ("invoice", "export", huge, "--format", "csv", "--out", "/tmp/kf-none"),
        ("invoice", "list", "--run", huge),
        ("changes", "accept", huge, "--reason", "x"),
        ("run", "show", huge),
    ):
        code, _, err = cli(*args)
        assert code == 2 and "för stort" in err, (args, err)
        assert "Traceback" not in err and "OverflowError" not in err
