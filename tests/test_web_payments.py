"""Betalningar and Kundreskontra on the web (R21, R22), through Django's test client on the real
database: a payment file read from the page, an unmatched payment assigned and one marked for
refund (Ekonomi only, audited), the receivables with their ageing and the Excel export, and
paid/open on the invoice page for staff and for the Kund."""

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import load_workbook

import factories as make
import webtools
from kortfaktura.audit.models import AuditRecord
from kortfaktura.billing import services
from kortfaktura.billing.models import Invoice
from kortfaktura.customers.models import Customer
from kortfaktura.payments.models import Payment
from payment_files import simple_bgmax

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def jobs_inline(settings: Any, tmp_path: Path) -> None:
    settings.TASKS = settings.IMMEDIATE_TASKS  # the page tests run a job inside the request
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture
def invoices(kommun: Customer, etk: make.Product) -> list[Invoice]:
    """100001: Vårgårda, 3 cards, 1 313 kr; 100002: Borås, 1 card, 438 kr (March 2020, long
    overdue)."""
    for _ in range(3):
        make.order(kommun, "2020-03-10", etk)
    other = make.customer("Borås Stad", number="2120002353")
    make.account(other, "BS")
    make.order(other, "2020-03-11", etk)
    run = services.create_run(dt.date(2020, 3, 1), dt.date(2020, 3, 31)).run
    assert run.pk is not None
    return list(services.issue_run(run.pk).invoices.order_by("number"))


def client_for(role: str, orgnr: str | None = None) -> Client:
    browser = Client()
    browser.force_login(webtools.user(role, orgnr))
    return browser


def text(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return " ".join(response.content.decode().split())


def upload(browser: Client, content: bytes, name: str = "bgmax.txt") -> Any:
    return browser.post(
        "/betalningar/las-in/",
        {"file": SimpleUploadedFile(name, content)},
        follow=True,
    )


def test_ekonomi_reads_a_file_and_decides_the_unmatched_payments(
    invoices: list[Invoice],
) -> None:
    first, second = invoices
    ekonomi_name = webtools.user("ekonomi").get_username()  # (again would log the client out)
    ekonomi = client_for("ekonomi")
    content = simple_bgmax(
        [(first.ocr, "1313.00", 1), ("okänd referens", "438.00", 2), ("ingen", "50.00", 3)]
    )
    answer = upload(ekonomi, content)
    shown = text(answer)
    assert "3 nya betalningar, 1 matchad, 2 utan faktura" in shown
    page = text(ekonomi.get("/betalningar/"))
    assert "Utan faktura (2)" in page and "okänd referens" in page
    # The same file again books nothing.
    assert "redan inläst" in text(upload(ekonomi, content, "kopia.txt"))
    assert Payment.objects.count() == 3

    unknown = Payment.objects.get(reference="okänd referens")
    # A reason is required; the form keeps what was typed and says why in Swedish.
    refused = ekonomi.post(f"/betalningar/{unknown.pk}/koppla/", {"number": "100002"})
    assert refused.status_code == 400
    assert "motivering" in refused.content.decode().lower()
    wrong = ekonomi.post(
        f"/betalningar/{unknown.pk}/koppla/", {"number": "abc", "reason": "Kunden ringde"}
    )
    assert wrong.status_code == 400 and "är inget nummer" in wrong.content.decode()
    done = ekonomi.post(
        f"/betalningar/{unknown.pk}/koppla/",
        {"number": str(second.number), "reason": "Kunden ringde"},
        follow=True,
    )
    assert f"kopplad till faktura {second.number}" in text(done)
    stray = Payment.objects.get(reference="ingen")
    ekonomi.post(f"/betalningar/{stray.pk}/aterbetala/", {"reason": "Inte vår betalning"})
    unknown.refresh_from_db()
    stray.refresh_from_db()
    assert (unknown.status, unknown.invoice, unknown.decided_by) == (
        "assigned", second, ekonomi_name
    )  # fmt: skip
    assert stray.status == "refund" and stray.reason == "Inte vår betalning"
    actions = set(AuditRecord.objects.values_list("action", flat=True))
    assert {"payments.imported", "payment.assigned", "payment.refund"} <= actions
    assert "Utan faktura" not in text(ekonomi.get("/betalningar/"))


def test_only_ekonomi_and_the_administrator_may_read_files_or_decide(
    invoices: list[Invoice],
) -> None:
    upload(client_for("ekonomi"), simple_bgmax([("ingen", "50.00", 3)]))
    stray = Payment.objects.get()
    for role in ("fakturering", "granskare"):
        browser = client_for(role)
        page = text(browser.get("/betalningar/"))  # they may look
        assert "Läs in en betalfil" not in page and "Återbetala" not in page
        assert upload(browser, simple_bgmax([("x", "1.00", 9)])).status_code == 403
        refused = browser.post(f"/betalningar/{stray.pk}/aterbetala/", {"reason": "Nej"})
        assert refused.status_code == 403
    kund = client_for("kund", "2120001454")
    assert kund.get("/betalningar/").status_code == 403
    assert kund.get("/kundreskontra/").status_code == 403
    stray.refresh_from_db()
    assert stray.status == "unmatched" and Payment.objects.count() == 1


def test_a_refused_file_is_said_in_swedish_and_books_nothing(invoices: list[Invoice]) -> None:
    ekonomi = client_for("ekonomi")
    answer = upload(ekonomi, b"datum;belopp\n2026-12-01;100\n", "bank.csv")
    shown = text(answer)
    assert "Misslyckades" in shown and "varken en BgMax-fil" in shown
    assert "Traceback" not in shown and not Payment.objects.exists()
    empty = ekonomi.post("/betalningar/las-in/", {})
    assert empty.status_code == 400 and "Välj betalfilen" in empty.content.decode()


def test_receivables_show_ageing_per_customer_and_export_to_excel(
    invoices: list[Invoice],
) -> None:
    first, second = invoices
    ekonomi = client_for("ekonomi")
    upload(ekonomi, simple_bgmax([(first.ocr, "1000.00", 1)]))  # 313 kr left on 100001
    assert first.due_date is not None
    # Issued today, due 30 days later; 75 days after that both are 61–90 days overdue.
    later = (first.due_date + dt.timedelta(days=75)).isoformat()
    page = text(ekonomi.get("/kundreskontra/", {"datum": later}))
    assert "Totalt öppet <strong>751,00 kr</strong>" in page.replace("\xa0", " ")
    assert "Borås Stad" in page and "Vårgårda kommun" in page
    assert "delbetald" in page and "obetald" in page
    filtered = text(ekonomi.get("/kundreskontra/", {"kund": "212000-2353", "datum": later}))
    assert "Vårgårda" not in filtered and "438,00" in filtered.replace("\xa0", " ")
    bad = text(ekonomi.get("/kundreskontra/", {"datum": "igår"}))
    assert "är inget datum" in bad

    exported = ekonomi.get("/kundreskontra/", {"datum": later, "format": "xlsx"})
    assert exported.status_code == 200
    assert f"kundreskontra-{later}.xlsx" in exported["Content-Disposition"]
    book = load_workbook(io.BytesIO(exported.content))
    rows = list(book["Öppna poster"].iter_rows(min_row=2, values_only=True))
    assert [(row[0], Decimal(str(row[10])), row[11]) for row in rows] == [
        (first.number, Decimal("313"), "delbetald"),
        (second.number, Decimal("438"), "obetald"),
    ]
    ageing = {row[0]: row[1] for row in book["Åldersanalys"].iter_rows(min_row=2, values_only=True)}
    assert Decimal(str(ageing["Totalt öppet"])) == Decimal("751")
    assert Decimal(str(ageing["61–90 dagar"])) == Decimal("751")


def test_the_invoice_page_shows_paid_and_open_to_staff_and_to_its_customer(
    invoices: list[Invoice],
) -> None:
    first, second = invoices
    upload(client_for("ekonomi"), simple_bgmax([(first.ocr, "1313.00", 1)]))
    staff = text(client_for("granskare").get(f"/fakturor/{first.number}/"))
    assert "Betalt" in staff and "betald" in staff and "OCR-nummer" in staff
    assert "bgmax.txt" in staff  # staff see the file it came in
    kund = text(client_for("kund", "2120001454").get(f"/fakturor/{first.number}/"))
    assert "Öppet" in kund and "betald" in kund and "bgmax.txt" not in kund
    unpaid = text(client_for("ekonomi").get(f"/fakturor/{second.number}/"))
    assert "Ingen betalning har kommit in" in unpaid and "obetald" in unpaid


def test_ekonomi_marks_an_invoice_disputed_and_no_reminder_goes_out_until_it_is_settled(
    invoices: list[Invoice], settings: Any, tmp_path: Path
) -> None:
    from kortfaktura.payments.models import Dispute
    from kortfaktura.payments.reminders import remind

    settings.PRINT_DIR = str(tmp_path / "utskrift")
    vargarda, boras = invoices
    assert vargarda.due_date is not None
    day = vargarda.due_date + dt.timedelta(days=10)
    ekonomi = client_for("ekonomi")
    page = text(ekonomi.get(f"/fakturor/{vargarda.number}/"))
    assert "Markera som bestridd" in page
    # Without a reason: refused in Swedish, nothing stored.
    refused = text(ekonomi.post(f"/fakturor/{vargarda.number}/bestrid/", {"reason": " "},
                                follow=True))  # fmt: skip
    assert "motiveringen är tom" in refused.lower() and not Dispute.objects.exists()
    long = text(ekonomi.post(f"/fakturor/{vargarda.number}/bestrid/", {"reason": "x" * 1001},
                             follow=True))  # fmt: skip
    assert "1001 tecken" in long and not Dispute.objects.exists()
    # Fakturering may see the page but not mark; a Kund sees nothing of it.
    fakturering = client_for("fakturering")
    assert "Markera som bestridd" not in text(fakturering.get(f"/fakturor/{vargarda.number}/"))
    answer = fakturering.post(f"/fakturor/{vargarda.number}/bestrid/", {"reason": "Nej"})
    assert answer.status_code == 403 and not Dispute.objects.exists()

    why = {"reason": "Kunden ifrågasätter antalet kort"}
    marked = text(ekonomi.post(f"/fakturor/{vargarda.number}/bestrid/", why, follow=True))
    assert "är markerad som bestridd" in marked and "Häv bestridandet" in marked
    again = text(ekonomi.post(f"/fakturor/{vargarda.number}/bestrid/", {"reason": "Igen"},
                              follow=True))  # fmt: skip
    assert "redan markerad som bestridd" in again and Dispute.objects.count() == 1
    kund = client_for("kund", vargarda.customer.orgnr)
    assert "bestrid" not in text(kund.get(f"/fakturor/{vargarda.number}/")).lower()
    assert ekonomi.post("/fakturor/999999/bestrid/", {"reason": "x"}).status_code == 404

    ledger = text(ekonomi.get("/kundreskontra/"))
    assert ledger.count("bestridd") == 1  # Vårgårda's row, in the receivables too
    result = remind(day)
    assert [r.invoice.number for r in result.reminders] == [boras.number]
    assert [(number, reason.split(":")[0]) for number, reason in result.skipped] == [
        (vargarda.number, "markerad som bestridd av ekonomi")
    ]
    settled = text(ekonomi.post(f"/fakturor/{vargarda.number}/bestrid/hav/",
                                {"reason": "Kunden godtog fakturan"}, follow=True))  # fmt: skip
    assert "inte längre bestridd" in settled and "Markera som bestridd" in settled
    result = remind(day + dt.timedelta(days=1))
    assert [r.invoice.number for r in result.reminders] == [vargarda.number]
    actions = list(
        AuditRecord.objects.filter(
            object=f"faktura {vargarda.number}", action__startswith="invoice.dispute"
        ).values_list("action", "actor")
    )  # fmt: skip
    assert actions == [("invoice.disputed", "ekonomi"), ("invoice.dispute_closed", "ekonomi")]
    closed = Dispute.objects.get()
    assert closed.closed_by == "ekonomi" and closed.close_reason == "Kunden godtog fakturan"
