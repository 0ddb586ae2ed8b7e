"""Invoice documents: Peppol UBL that passes the official rules, PDF/A, XLSX and CSV."""

import base64
import contextlib
import csv
import dataclasses
import datetime as dt
import io
import json
import re
import shutil
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from lxml import etree
from openpyxl import load_workbook
from pypdf import PdfReader

import factories as make
from kortfaktura.billing import services
from kortfaktura.billing.models import Invoice
from kortfaktura.demo.generator import demo_gln
from kortfaktura.documents import validation
from kortfaktura.documents.data import DocumentData, documents_for
from kortfaktura.documents.pdf import PdfRenderer
from kortfaktura.documents.spreadsheet import CsvRenderer, XlsxRenderer
from kortfaktura.documents.ubl import CAC, CBC, UblRenderer
from kortfaktura.orders.models import Order

pytestmark = pytest.mark.django_db
NS = {"cbc": CBC, "cac": CAC}
EXAMPLES = Path(settings.PEPPOL_RULES_DIR) / "examples"
ISSUE = dt.date(2026, 11, 2)


@pytest.fixture(scope="module")
def validator() -> validation.PeppolValidator:
    found = validation.get_validator()
    if found is None:
        pytest.fail(f"the official Peppol rules are missing in {settings.PEPPOL_RULES_DIR}")
    return found


@pytest.fixture
def issued() -> dict[str, Invoice]:
    """Invoices to a Peppol buyer (0007), a förvaltning (GLN), an e-mail and a paper customer,
    a legacy invoice and a credit note."""
    etk, puk = make.product("ETK", "eTjänstekort"), make.product("PUK", "PUK-kod")
    make.price(etk, "350")
    make.price(puk, "150")
    # Another region: VGR itself gets internal charges, not invoices (R17).
    vgr = make.customer("Region Halland", number="2321000214")
    make.account(vgr, "VGR-RS")
    su = make.account(vgr, "VGR-SU", default=False, units=("SU-MED",))
    su.peppol_scheme, su.peppol_id = "0088", demo_gln(1001)
    su.save()
    kommun = make.customer("Vårgårda kommun", number="2120001454")
    make.account(kommun, "1442")
    mailed = make.customer("Älvstrandens Omsorg AB", public=False)
    account = make.account(mailed, "P-MAIL", peppol="", buyer_reference="")
    account.delivery, account.email = "email", "faktura@alvstranden.example"
    account.save()
    paper = make.customer("Kinnekulle Hemtjänst AB", public=False)
    make.account(paper, "P-PRINT", peppol="", buyer_reference="")
    names = ["Åsa Öberg", '=HYPERLINK("x")', "+46 Test", "Per-Olof Ek", "@möte"]
    for index, name in enumerate(names):
        order = make.order(vgr, "2020-03-1" + str(index), etk, unit="SU-MED")
        order.holder_name, order.holder_hsa_id = name, f"SE2321000131-P00000000{index}"
        order.save()
    for owner in (kommun, mailed, paper):
        make.order(owner, "2020-03-05", etk)
        make.order(owner, "2020-03-06", puk)
    make.order(kommun, "2019-05-20", etk)
    legacy = services.create_run(D("2019-01-01"), D("2020-02-28"), legacy=True, issue_date=ISSUE)
    services.issue_run(legacy.run.pk)
    run = services.create_run(D("2020-03-01"), D("2020-03-31"), issue_date=ISSUE)
    services.issue_run(run.run.pk)
    invoices = {invoice.account.code: invoice for invoice in run.run.invoices.all()}
    invoices["legacy"] = legacy.run.invoices.get()
    first_order = Order.objects.filter(holder_name="Åsa Öberg").get().order_id
    invoices["credit"] = services.credit_invoice(
        invoices["VGR-SU"].number or 0, order_ids=[first_order], reason="Fel enhet",
        issue_date=ISSUE,
    )  # fmt: skip
    return invoices


def D(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def document(invoice: Invoice) -> DocumentData:
    return documents_for([Invoice.objects.get(pk=invoice.pk)])[0]


# Validation with the official rules ------------------------------------------------------------


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.xml")), ids=lambda path: path.name)
def test_the_official_examples_pass(validator: validation.PeppolValidator, example: Path) -> None:
    assert validator.fatal(validator.validate(example.read_bytes())) == []


def wrong_payable(xml: bytes) -> bytes:
    return re.sub(rb"(<cbc:PayableAmount[^>]*>)[0-9.]+<", rb"\g<1>1.00<", xml)


def no_buyer_reference(xml: bytes) -> bytes:
    return re.sub(rb"<cbc:BuyerReference>.*?</cbc:BuyerReference>", b"", xml)


def unknown_element(xml: bytes) -> bytes:
    return xml.replace(b"<cbc:BuyerReference>", b"<cbc:Unknown/><cbc:BuyerReference>")


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (wrong_payable, "BR-CO-16"),
        (no_buyer_reference, "PEPPOL-EN16931-R003"),
        (unknown_element, "XSD"),
    ],
)
def test_a_broken_example_is_rejected_with_the_right_rule(
    validator: validation.PeppolValidator, change: Callable[[bytes], bytes], rule: str
) -> None:
    broken = change((EXAMPLES / "base-example.xml").read_bytes())
    assert rule in {finding.rule for finding in validator.fatal(validator.validate(broken))}


def test_every_issued_document_passes_the_rules(
    validator: validation.PeppolValidator, issued: dict[str, Invoice]
) -> None:
    documents = documents_for(list(Invoice.objects.filter(status="issued").order_by("number")))
    assert len(documents) == len(issued)
    for doc in documents:
        findings = validator.validate(UblRenderer().render(doc))
        assert validator.fatal(findings) == [], (doc.number, [str(f) for f in findings])
        pdf_attached = UblRenderer(attachment="pdf").render(doc)
        assert validator.fatal(validator.validate(pdf_attached)) == []


def test_missing_rules_are_reported_not_pretended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(settings, "PEPPOL_RULES_DIR", tmp_path)
    validation.load_validator.cache_clear()
    try:
        assert validation.get_validator() is None
        assert "valideras inte" in caplog.text
    finally:
        validation.load_validator.cache_clear()


def test_rules_that_cannot_judge_stop_issuing_before_any_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule set that finds nothing (here the Peppol rules replaced by a stylesheet that
    reports nothing) is refused when it is loaded: issuing says so in Swedish."""
    from kortfaktura.billing.errors import BillingError
    from kortfaktura.billing.models import Invoice
    from kortfaktura.documents.issuing import validate_before_issue
    from kortfaktura.standards import PEPPOL

    hollow = tmp_path / "regler"
    shutil.copytree(PEPPOL, hollow)
    (hollow / "rules" / "PEPPOL-EN16931-UBL.xslt").write_text(
        '<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
        '<xsl:template match="/"><r/></xsl:template></xsl:stylesheet>',
        encoding="utf-8",
    )
    monkeypatch.setattr(settings, "PEPPOL_RULES_DIR", hollow)
    validation.load_validator.cache_clear()
    try:
        with pytest.raises(validation.RulesUnusable, match="hittar inget fel"):
            validation.get_validator()
        with pytest.raises(BillingError, match="inga nummer har använts"):
            validate_before_issue([Invoice(kind=Invoice.Kind.INVOICE, number=None)])
    finally:
        validation.load_validator.cache_clear()


# UBL -------------------------------------------------------------------------------------------


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def text(tree: etree._Element, path: str) -> str:
    found = tree.find(path, NS)
    assert found is not None, path
    return found.text or ""


def test_ubl_invoice_carries_what_peppol_and_the_vat_act_require(
    issued: dict[str, Invoice],
) -> None:
    invoice = issued["VGR-SU"]
    tree = parse(UblRenderer().render(document(invoice)))
    assert etree.QName(tree).localname == "Invoice"
    assert text(tree, "cbc:ID") == str(invoice.number)
    assert text(tree, "cbc:InvoiceTypeCode") == "380"
    assert text(tree, "cbc:IssueDate") == "2026-11-02"
    assert text(tree, "cbc:DueDate") == "2026-12-02"
    assert text(tree, "cbc:BuyerReference") == "REF-1"
    assert text(tree, "cac:InvoicePeriod/cbc:StartDate") == "2020-03-01"
    assert text(tree, "cac:InvoicePeriod/cbc:EndDate") == "2020-03-31"
    seller = tree.find("cac:AccountingSupplierParty/cac:Party", NS)
    assert text(seller, "cac:PartyTaxScheme/cbc:CompanyID") == "SE232100013101"
    assert text(seller, "cac:PartyLegalEntity/cbc:CompanyID") == "2321000131"
    endpoint = tree.find("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", NS)
    assert (endpoint.get("schemeID"), endpoint.text) == ("0088", demo_gln(1001))
    assert text(tree, "cac:PaymentMeans/cbc:PaymentMeansCode") == "30"
    assert text(tree, "cac:PaymentMeans/cbc:PaymentID") == invoice.ocr
    account = tree.find("cac:PaymentMeans/cac:PayeeFinancialAccount", NS)
    assert text(account, "cbc:ID") == "1234566"
    assert text(account, "cac:FinancialInstitutionBranch/cbc:ID") == "SE:BANKGIRO"
    assert text(tree, "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount") == "2187.50"
    assert text(tree, "cac:LegalMonetaryTotal/cbc:PayableRoundingAmount") == "0.50"
    assert text(tree, "cac:LegalMonetaryTotal/cbc:PayableAmount") == "2188.00"
    assert text(tree, "cac:TaxTotal/cbc:TaxAmount") == "437.50"
    line = tree.find("cac:InvoiceLine", NS)
    assert text(line, "cbc:InvoicedQuantity") == "5"
    assert "beställda 2020-03" in text(line, "cac:Item/cbc:Name")
    assert text(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent") == "25"
    attachment = tree.find(".//cbc:EmbeddedDocumentBinaryObject", NS)
    assert attachment.get("mimeCode") == "text/csv"
    specification = base64.b64decode(attachment.text).decode("utf-8-sig")
    for order_id in invoice.items.values_list("order__order_id", flat=True):
        assert order_id in specification


def test_ubl_credit_note_refers_to_the_invoice(issued: dict[str, Invoice]) -> None:
    note = issued["credit"]
    tree = parse(UblRenderer().render(document(note)))
    assert etree.QName(tree).localname == "CreditNote"
    assert text(tree, "cbc:CreditNoteTypeCode") == "381"
    assert text(tree, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID") == str(
        issued["VGR-SU"].number
    )
    assert text(tree, "cac:CreditNoteLine/cbc:CreditedQuantity") == "1"
    assert text(tree, "cac:LegalMonetaryTotal/cbc:PayableAmount") == "438.00"
    assert "Fel enhet" in text(tree, "cbc:Note")
    assert tree.find("cac:PaymentMeans", NS) is None


def test_buyers_without_a_peppol_address_get_their_organisation_number(
    issued: dict[str, Invoice],
) -> None:
    for code in ("P-MAIL", "P-PRINT"):
        tree = parse(UblRenderer().render(document(issued[code])))
        endpoint = tree.find("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", NS)
        assert (endpoint.get("schemeID"), endpoint.text) == ("0007", issued[code].customer.orgnr)
        assert text(tree, "cbc:BuyerReference") == code  # BT-10 falls back to the account code


# PDF -------------------------------------------------------------------------------------------


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_pdf_shows_number_ocr_totals_and_every_order(issued: dict[str, Invoice]) -> None:
    invoice = issued["VGR-SU"]
    content = PdfRenderer().render(document(invoice))
    words = " ".join(pdf_text(content).split())
    assert f"Nr {invoice.number}" in words
    assert invoice.ocr in words
    assert "Att betala 2 188,00 kr" in words
    assert "Öresavrundning 0,50 kr" in words
    assert "Förfallodatum 2026-12-02" in words
    assert "eTjänstekort beställda i mars 2020" in words
    assert "Sida 1 av 2" in words
    for order_id in invoice.items.values_list("order__order_id", flat=True):
        assert order_id in words
    assert "Åsa Öberg" in words


def test_pdf_declares_pdfa_2b_and_embeds_its_fonts(issued: dict[str, Invoice]) -> None:
    reader = PdfReader(io.BytesIO(PdfRenderer().render(document(issued["1442"]))))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode("utf-8")
    assert re.search(r"pdfaid:part(>|=\")2", xmp)
    assert re.search(r"pdfaid:conformance(>|=\")B", xmp)
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            descendant = font.get_object()
            descriptors = [
                d.get_object()["/FontDescriptor"] for d in descendant.get("/DescendantFonts", [])
            ] or [descendant.get("/FontDescriptor")]
            fonts.extend(descriptors)
    assert fonts
    assert all(
        any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
        for descriptor in fonts
    )


def test_legacy_pdf_says_the_orders_were_not_invoiced_before(issued: dict[str, Invoice]) -> None:
    words = " ".join(pdf_text(PdfRenderer().render(document(issued["legacy"]))).split())
    assert "som inte fakturerats tidigare" in words
    assert "2019-01-01 – 2020-02-28" in words


def test_credit_note_pdf(issued: dict[str, Invoice]) -> None:
    words = " ".join(pdf_text(PdfRenderer().render(document(issued["credit"]))).split())
    assert "Kreditfaktura" in words
    assert f"Kreditering av faktura {issued['VGR-SU'].number}" in words
    assert "Krediterat belopp 438,00 kr" in words
    assert "Beloppet ska inte betalas" in words


# Specification as XLSX and CSV, personal data ---------------------------------------------------


def test_xlsx_round_trip_keeps_orders_amounts_and_text(issued: dict[str, Invoice]) -> None:
    invoice = issued["VGR-SU"]
    workbook = load_workbook(io.BytesIO(XlsxRenderer().render(document(invoice))))
    sheet = workbook.active
    header = next(row[0].row for row in sheet.iter_rows() if row[0].value == "Beställningsmånad")
    assert sheet.freeze_panes == f"A{header + 1}"
    assert sheet.auto_filter.ref == f"A{header}:I{sheet.max_row - 1}"  # the total row is below
    rows = list(sheet.iter_rows(min_row=header + 1, max_row=sheet.max_row - 1, values_only=True))
    expected = {
        item.order.order_id: (item.order.holder_name, item.unit_price)
        for item in invoice.items.select_related("order")
    }
    assert {row[1]: (row[5], Decimal(str(row[7]))) for row in rows} == expected
    assert all(isinstance(row[2], dt.datetime) for row in rows)
    hyperlink = next(cell for cell in sheet["F"] if cell.value == '=HYPERLINK("x")')
    assert hyperlink.data_type == "s"
    assert sheet[f"H{header + 1}"].number_format == '#,##0.00 "kr"'
    assert sheet[f"C{header + 1}"].number_format == "yyyy-mm-dd"


def test_csv_opens_in_swedish_excel_and_neutralises_formulas(issued: dict[str, Invoice]) -> None:
    content = CsvRenderer().render(document(issued["VGR-SU"]))
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Beställningsmånad"
    names = {row[5] for row in rows[1:]}
    assert {'\'=HYPERLINK("x")', "'+46 Test", "'@möte", "Per-Olof Ek"} <= names
    assert {row[7] for row in rows[1:]} == {"350,00"}


def test_holder_names_come_from_the_snapshot_not_from_the_orders_today(
    issued: dict[str, Invoice],
) -> None:
    """R13, R16: an order moved to another customer after issue does not take its holder's
    name off, or onto, an issued specification; the document shows what was issued."""
    invoice = issued["1442"]
    item = invoice.items.select_related("order").first()
    assert item is not None
    before = {row.order_id: row for row in document(invoice).specification}
    Order.objects.filter(pk=item.order_id).update(
        customer=issued["P-PRINT"].customer, holder_name="Ny Person", holder_hsa_id="SE-NY"
    )
    after = {row.order_id: row for row in document(invoice).specification}
    assert after == before
    assert after[item.order.order_id].holder_name == "Anna Andersson"


# The command -----------------------------------------------------------------------------------


def test_export_writes_one_file_per_document_named_by_number(
    cli: Callable[..., tuple[int, str, str]], issued: dict[str, Invoice], tmp_path: Path
) -> None:
    run_id = issued["VGR-SU"].run_id
    for file_format, extension in (
        ("ubl", "xml"),
        ("pdf", "pdf"),
        ("xlsx", "xlsx"),
        ("csv", "csv"),
    ):
        code, out, err = cli(
            "invoice", "export", "--run", str(run_id), "--format", file_format,
            "--out", str(tmp_path / file_format), "--json",
        )  # fmt: skip
        assert code == 0, err
        report = json.loads(out)
        numbers = sorted(str(i.number) for i in Invoice.objects.filter(run_id=run_id))
        assert sorted(Path(f).name for f in report["files"]) == [
            f"{n}.{extension}" for n in numbers
        ]
        assert report["validated"] is (True if file_format == "ubl" else None)
        assert report["invalid"] == []
    code, out, _ = cli(
        "invoice", "export", str(issued["credit"].number), "--format", "ubl", "--out", str(tmp_path)
    )
    assert code == 0
    assert (tmp_path / f"{issued['credit'].number}.xml").is_file()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("invoice", "export", "999999", "--format", "pdf", "--out", "x"), 1, "999999"),
        (("invoice", "export", "--format", "pdf", "--out", "x"), 2, "--run"),
        (("invoice", "export", "100001", "--format", "docx", "--out", "x"), 2, "fel användning"),
    ],
)
def test_export_errors(
    cli: Callable[..., tuple[int, str, str]],
    issued: dict[str, Invoice],
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    result, _, err = cli(*args)
    assert result == code
    assert message in err


# What the customer reads (issue 8, item 13) ----------------------------------------------------


def test_pdf_labels_the_number_in_swedish_and_names_the_credited_invoice_date(
    issued: dict[str, Invoice],
) -> None:
    invoice_words = " ".join(pdf_text(PdfRenderer().render(document(issued["1442"]))).split())
    assert f"Fakturanummer {issued['1442'].number}" in invoice_words
    assert "Fakturadatum 2026-11-02" in invoice_words
    credit_words = " ".join(pdf_text(PdfRenderer().render(document(issued["credit"]))).split())
    credited = issued["VGR-SU"].number
    assert f"Kreditfakturanummer {issued['credit'].number}" in credit_words
    assert f"Kreditering av faktura {credited} av 2026-11-02" in credit_words
    assert f"Krediterar faktura {credited} av 2026-11-02" in credit_words
    for words in (invoice_words, credit_words):
        assert "Fakturasnummer" not in words and "Kreditfakturasnummer" not in words


@pytest.fixture
def two_months() -> dict[str, Invoice]:
    """One run over March–April 2020 with its default title, which names the whole period."""
    etk = make.product("ETK", "eTjänstekort")
    make.price(etk, "350")
    kommun = make.customer("Vårgårda kommun", number="2120001454")
    make.account(kommun, "1442")
    for day in range(1, 29):
        make.order(kommun, f"2020-03-{day:02d}", etk)
        make.order(kommun, f"2020-03-{day:02d}", etk)
    make.order(kommun, "2020-04-07", etk)
    run = services.create_run(D("2020-03-01"), D("2020-04-30"), issue_date=ISSUE)
    services.issue_run(run.run.pk)
    march, april = run.run.invoices.order_by("period_start")
    return {"march": march, "april": april}


def test_a_document_says_what_it_covers_not_the_whole_runs_period(
    two_months: dict[str, Invoice],
) -> None:
    march = two_months["march"]
    assert "2020-03-01 – 2020-04-30" in march.title  # the run's default title
    words = " ".join(pdf_text(PdfRenderer().render(document(march))).split())
    assert "eTjänstekort beställda i mars 2020" in words
    assert "Avser 56 beställningar med beställningsdatum 2020-03-01 – 2020-03-31" in words
    assert "2020-04-30" not in words
    sheet = load_workbook(io.BytesIO(XlsxRenderer().render(document(march)))).active
    assert sheet["A1"].value == f"Faktura {march.number} – eTjänstekort beställda i mars 2020"
    assert "2020-04-30" not in " ".join(
        str(cell.value) for row in sheet.iter_rows() for cell in row if cell.value
    )


def test_specification_pages_after_the_first_carry_number_and_page(
    two_months: dict[str, Invoice],
) -> None:
    march = two_months["march"]
    reader = PdfReader(io.BytesIO(PdfRenderer().render(document(march))))
    pages = [" ".join(page.extract_text().split()) for page in reader.pages]
    assert len(pages) >= 3
    assert f"Faktura {march.number} · Sida" not in pages[0]
    for number, page in enumerate(pages[1:], start=2):
        assert f"Faktura {march.number} · Sida {number} av {len(pages)}" in page


def test_xlsx_has_a_header_block_product_names_and_a_total(issued: dict[str, Invoice]) -> None:
    invoice = issued["1442"]
    sheet = load_workbook(io.BytesIO(XlsxRenderer().render(document(invoice)))).active
    block = {row[0]: row[1] for row in sheet.iter_rows(max_row=10, max_col=2, values_only=True)}
    assert block["Fakturanummer"] == invoice.number
    assert block["Fakturadatum"] == dt.datetime(2026, 11, 2)
    assert block["OCR-nummer"] == invoice.ocr
    assert Decimal(str(block["Att betala"])) == invoice.payable
    assert block["Förfallodatum"] == dt.datetime(2026, 12, 2)
    header = next(
        index
        for index, row in enumerate(sheet.iter_rows(values_only=True), start=1)
        if row[0] == "Beställningsmånad"
    )
    rows = list(sheet.iter_rows(min_row=header + 1, values_only=True))
    orders, total = rows[:-1], rows[-1]
    assert {row[8] for row in orders} == {"eTjänstekort", "PUK-kod"}
    assert total[0] == "Summa exkl. moms" and total[1] == "2 beställningar"
    assert Decimal(str(total[7])) == invoice.net == Decimal("500.00")
    assert sheet.freeze_panes == f"A{header + 1}"


def test_credit_note_xlsx_names_the_credited_invoice(issued: dict[str, Invoice]) -> None:
    sheet = load_workbook(io.BytesIO(XlsxRenderer().render(document(issued["credit"])))).active
    block = {row[0]: row[1] for row in sheet.iter_rows(max_row=10, max_col=2, values_only=True)}
    assert block["Kreditfakturanummer"] == issued["credit"].number
    assert block["Krediterar"] == f"faktura {issued['VGR-SU'].number} av 2026-11-02"
    assert block["Avser"] == "1 beställning med beställningsdatum 2020-03-01 – 2020-03-31"


def test_xlsx_of_a_very_large_invoice_has_every_row(issued: dict[str, Invoice]) -> None:
    """The XLSX is written row by row (it used to be quadratic: 60,000 orders never finished);
    a 20,000-order specification opens with every order, its styles and the total."""
    base = document(issued["VGR-SU"])
    template = base.specification[0]
    count = 20_000
    rows = [
        dataclasses.replace(
            template,
            order_id=f"STOR{n:06d}",
            holder_name="=1+1" if n == count - 1 else f"Innehavare {n}",
        )
        for n in range(count)
    ]
    large = dataclasses.replace(base, specification=rows)
    sheet = load_workbook(io.BytesIO(XlsxRenderer().render(large)), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    header = next(
        i for i, row in enumerate(values, start=1) if row and row[0] == "Beställningsmånad"
    )
    orders, total = values[header:-1], values[-1]
    assert [row[1] for row in orders] == [f"STOR{n:06d}" for n in range(count)]
    assert orders[-1][5] == "=1+1"  # text, not a formula
    assert total[1] == "20\u00a0000 beställningar"
    assert Decimal(str(total[7])) == template.unit_price * count
    styled = load_workbook(io.BytesIO(XlsxRenderer().render(large))).active
    assert styled.freeze_panes == f"A{header + 1}"
    assert styled.auto_filter.ref == f"A{header}:I{header + count}"
    assert styled[f"F{header + count}"].data_type == "s"
    assert styled[f"F{header + count}"].quotePrefix
    assert styled[f"H{header + count}"].number_format == '#,##0.00 "kr"'


# Formula neutralising after Unicode normalisation (item 10) -------------------------------------


@contextlib.contextmanager
def before_the_font_check() -> Iterator[None]:
    """Issue as before the fonts were checked at issue (R20): documents that exist, issued
    then, and that exports and deliveries must still cope with."""
    from kortfaktura.billing import issuing as billing_issuing
    from kortfaktura.documents.apps import _printable

    billing_issuing._document_checks.remove(_printable)
    try:
        yield
    finally:
        billing_issuing._document_checks.insert(0, _printable)


def issued_with_holder(name: str) -> Invoice:
    """A fresh invoice whose orders carry ``name``: the specification is the snapshot taken at
    issue (R13), so the name must be on the orders before the invoice is issued."""
    buyer = make.customer("Namnprov AB", public=False)
    make.account(buyer, "P-NAMN")
    etk = make.product("NAMN", "Namnprovkort")
    make.price(etk, "100")
    for day in ("2020-04-03", "2020-04-04"):
        order = make.order(buyer, day, etk)
        order.holder_name = name
        order.save()
    run = services.create_run(D("2020-04-01"), D("2020-04-30"), issue_date=ISSUE)
    return services.issue_run(run.run.pk).invoices.get()


@pytest.mark.parametrize("name", ["＝1+1", "＋46 70", "－2", "＠SUM(A1)", "﹦HYPERLINK(1)", " =1"])
def test_full_width_formula_starts_are_neutralised(issued: dict[str, Invoice], name: str) -> None:
    invoice = issued_with_holder(name)
    content = CsvRenderer().render(document(invoice))
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    assert {row[5] for row in rows[1:]} == {f"'{name}"}
    sheet = load_workbook(io.BytesIO(XlsxRenderer().render(document(invoice)))).active
    cells = [cell for cell in sheet["F"] if cell.value == name]
    assert cells and all(c.data_type == "s" and c.quotePrefix for c in cells)


# Fonts and one bad document in a batch (item 9) -------------------------------------------------


@pytest.mark.parametrize("name", ["王芳", "😀", "Anna 👩‍👩‍👧 Öberg", "שרה", "สมชาย"])
def test_any_holder_name_renders_with_embedded_fallback_fonts(
    issued: dict[str, Invoice], name: str
) -> None:
    invoice = issued_with_holder(name)
    content = PdfRenderer().render(document(invoice))
    reader = PdfReader(io.BytesIO(content))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode("utf-8")
    assert re.search(r"pdfaid:part(>|=\")2", xmp)
    if name in ("王芳", "😀"):
        assert name in pdf_text(content)
    for page in reader.pages:
        for reference in page["/Resources"]["/Font"].values():
            font = reference.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object()["/FontDescriptor"]
                assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))


def test_one_document_that_cannot_be_rendered_does_not_stop_the_others(
    cli: Callable[..., tuple[int, str, str]], issued: dict[str, Invoice], tmp_path: Path
) -> None:
    with before_the_font_check():
        broken = issued_with_holder("\U00013000 Egypt")
    others = [issued["1442"], issued["VGR-SU"]]
    numbers = [str(invoice.number) for invoice in (others[0], broken, others[1])]
    code, out, err = cli(
        "invoice", "export", *numbers, "--format", "pdf", "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert code == 1
    report = json.loads(out)
    assert [entry["number"] for entry in report["failed"]] == [str(broken.number)]
    assert "finns inte i något av typsnitten" in report["failed"][0]["reason"]
    assert sorted(path.name for path in tmp_path.glob("*.pdf")) == sorted(
        f"{invoice.number}.pdf" for invoice in others
    )
    assert f"{broken.number} skrevs inte" in err
    assert "Traceback" not in err


# VAT at 0 %: exempt, not zero rated (issue 17, minor) --------------------------------------------


def test_a_zero_rate_line_is_exempt_with_its_reason_and_passes_the_rules(
    validator: validation.PeppolValidator,
) -> None:
    buyer = make.customer("Momsfri kund", number="2120001454")
    make.account(buyer, "1442")
    etk, puk = make.product("ETK", "eTjänstekort"), make.product("PUK", "PUK-kod")
    make.price(etk, "350")
    make.price(puk, "150", vat="0")
    orders = [make.order(buyer, "2020-04-03", item) for item in (etk, puk, puk)]
    run = services.create_run(D("2020-04-01"), D("2020-04-30"), issue_date=ISSUE).run
    invoice = services.issue_run(run.pk).invoices.get()
    note = services.credit_invoice(
        invoice.number or 0, order_ids=[orders[1].order_id], reason="Fel", issue_date=ISSUE
    )
    for issued_document in (invoice, note):
        xml = UblRenderer().render(document(issued_document))
        assert validator.fatal(validator.validate(xml)) == []
        root = etree.fromstring(xml)
        breakdown = {
            subtotal.findtext("cac:TaxCategory/cbc:ID", namespaces=NS): subtotal
            for subtotal in root.iterfind("cac:TaxTotal/cac:TaxSubtotal", NS)
        }
        assert set(breakdown) == {"S", "E"} if issued_document == invoice else {"E"}
        exempt = breakdown["E"]
        assert exempt.findtext("cac:TaxCategory/cbc:Percent", namespaces=NS) == "0"
        assert exempt.findtext("cbc:TaxAmount", namespaces=NS) == "0.00"
        assert exempt.findtext("cac:TaxCategory/cbc:TaxExemptionReason", namespaces=NS) == (
            "Undantagen från skatteplikt enligt 10 kap. mervärdesskattelagen (2023:200)"
        )
        lines = root.iterfind(".//cac:ClassifiedTaxCategory", NS)
        assert "Z" not in {line.findtext("cbc:ID", namespaces=NS) for line in lines}
        assert b">-0.00<" not in xml  # the credit note of the 0 % order has no VAT: 0.00
    assert "-0,00" not in pdf_text(PdfRenderer().render(document(note)))
    words = " ".join(pdf_text(PdfRenderer().render(document(invoice))).split())
    assert "Moms 0 %: undantagen från skatteplikt enligt 10 kap. mervärdesskattelagen" in words


# The fonts, checked at issue (issue 17, item 8; R20) ---------------------------------------------

EGYPTIAN = "\U00013000"  # 𓀀, which none of the PDF's fonts has


def test_a_holder_name_the_fonts_lack_stops_the_issue_naming_order_and_character() -> None:
    buyer = make.customer("Namnprov AB", public=False)
    make.account(buyer, "P-NAMN")
    etk = make.product("NAMN", "Namnprovkort")
    make.price(etk, "100")
    good = make.order(buyer, "2020-04-03", etk)
    bad = make.order(buyer, "2020-04-04", etk)
    bad.holder_name = f"Ankh {EGYPTIAN}"
    bad.save()
    run = services.create_run(D("2020-04-01"), D("2020-04-30"), issue_date=ISSUE).run
    with pytest.raises(services.BillingError) as refused:
        services.issue_run(run.pk)
    message = str(refused.value)
    assert (
        f"Beställning {bad.order_id}: tecknet {EGYPTIAN} (U+13000) i kortinnehavarens namn finns "
        "inte i något typsnitt för PDF:en"
    ) in message
    assert good.order_id not in message
    assert "inga nummer har använts" in message
    # Nothing was committed: the run is still a draft, and no number was taken.
    assert Invoice.objects.filter(status="issued").count() == 0
    assert Invoice.objects.get(run=run).number is None
    bad.holder_name = "Ankh Amun"
    bad.save()
    services.regenerate_run(run.pk)
    assert services.issue_run(run.pk).invoices.get().number == settings.FIRST_INVOICE_NUMBER


@pytest.mark.parametrize(
    ("field", "where"),
    [("name", "kundens namn"), ("city", "kundens ort"), ("title", "rubriken")],
)
def test_a_buyer_or_title_text_the_fonts_lack_stops_the_issue(field: str, where: str) -> None:
    buyer = make.customer("Kund AB", public=False)
    account = make.account(buyer, "P-KUND")
    if field == "name":
        buyer.name = f"Kund {EGYPTIAN} AB"
        buyer.save()
    elif field == "city":
        account.city = f"Ort{EGYPTIAN}"
        account.save()
    etk = make.product("ETK", "eTjänstekort")
    make.price(etk, "350")
    make.order(buyer, "2020-04-03", etk)
    title = f"April {EGYPTIAN}" if field == "title" else ""
    options = {"title": title} if title else {}
    run = services.create_run(D("2020-04-01"), D("2020-04-30"), issue_date=ISSUE, **options).run
    with pytest.raises(
        services.BillingError, match=f"tecknet {EGYPTIAN} \\(U\\+13000\\) i {where} "
    ):
        services.issue_run(run.pk)
    assert Invoice.objects.filter(status="issued").count() == 0


def test_a_credit_note_copying_a_name_the_fonts_lack_is_refused_and_uses_no_number() -> None:
    with before_the_font_check():
        invoice = issued_with_holder(f"Ankh {EGYPTIAN}")
    orders = list(invoice.items.values_list("order_ref", flat=True))
    with pytest.raises(services.BillingError, match="kan inte krediteras förrän typsnitten"):
        services.credit_invoice(invoice.number or 0, order_ids=orders[:1], reason="Fel kund")
    assert not Invoice.objects.filter(kind="credit_note").exists()
    assert not invoice.items.filter(credited=True).exists()


def test_an_internal_charge_is_checked_too() -> None:
    region = make.customer("Västra Götalandsregionen", number=settings.SELLER["orgnr"])
    make.account(region, "VGR-IT")
    etk = make.product("ETK", "eTjänstekort")
    make.price(etk, "350")
    order = make.order(region, "2020-04-03", etk)
    order.holder_name = EGYPTIAN
    order.save()
    run = services.create_run(D("2020-04-01"), D("2020-04-30"), issue_date=ISSUE).run
    assert Invoice.objects.get(run=run).kind == "internal_charge"
    with pytest.raises(services.BillingError, match=f"Beställning {order.order_id}: tecknet"):
        services.issue_run(run.pk)


AGREEMENT = [
    "王芳", "😀", "محمد علي", "Anna 👩‍👩‍👧 Öberg", "e\u0301lise", "Zoë\u00ad Ek", "שרה",
    EGYPTIAN,  # a hieroglyph: no font has it
    "\ue000",  # private use: only a font built into Typst has it, and the PDF does not use those
    "\uf8ff",  # private use
    "\u0378",  # unassigned
    "\U0010ffff",  # a noncharacter
    "\u0711",  # a Syriac mark no font has: the shaper cannot place it
    "\u07eb",  # an N'Ko mark no font has, which the shaper still sets
    "\ufa70",  # a CJK compatibility ideograph, set as its unified twin
    "\u219a",  # an arrow with a stroke, which no font has whole
]  # fmt: skip


@pytest.mark.parametrize("name", AGREEMENT)
def test_the_check_refuses_exactly_what_the_pdf_renderer_refuses(
    issued: dict[str, Invoice], name: str
) -> None:
    from kortfaktura.documents.glyphs import unprintable
    from kortfaktura.documents.pdf import RenderError

    base = document(issued["1442"])
    rows = [dataclasses.replace(row, holder_name=f"A {name} B") for row in base.specification]
    changed = dataclasses.replace(base, specification=rows)
    try:
        PdfRenderer().render(changed)
        rendered = True
    except RenderError:
        rendered = False
    found = unprintable([changed])
    assert rendered == (not found), (name, found)
    assert all(problem.field == "kortinnehavarens namn" for problem in found)


# Writing files safely (items 5 and 8) -----------------------------------------------------------


def test_export_does_not_follow_a_planted_symlink_at_a_temporary_name(
    cli: Callable[..., tuple[int, str, str]], issued: dict[str, Invoice], tmp_path: Path
) -> None:
    number = issued["1442"].number
    out = tmp_path / "ut"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / f".{number}.csv.tmp").symlink_to(victim)  # the old, predictable temporary name
    (out / f"{number}.csv").symlink_to(tmp_path / "also-victim.txt")
    code, _, err = cli("invoice", "export", str(number), "--format", "csv", "--out", str(out))
    assert code == 0, err
    assert victim.read_text() == "keep me"
    assert not (tmp_path / "also-victim.txt").exists()
    written = out / f"{number}.csv"
    assert not written.is_symlink() and written.read_bytes().startswith(b"\xef\xbb\xbf")
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()] == []


@pytest.mark.parametrize("target", ["file", "devnull", "under-a-file"])
def test_export_to_an_unusable_out_answers_in_swedish(
    cli: Callable[..., tuple[int, str, str]], issued: dict[str, Invoice], tmp_path: Path,
    target: str,
) -> None:  # fmt: skip
    existing = tmp_path / "finns.txt"
    existing.write_text("x")
    out = {"file": existing, "devnull": Path("/dev/null"), "under-a-file": existing / "ut"}[target]
    number = str(issued["1442"].number)
    code, out_text, err = cli(
        "invoice", "export", number, "--format", "pdf", "--out", str(out), "--json"
    )
    assert code == 1
    message = json.loads(out_text)["error"]
    assert str(out) in message
    assert "ingen katalog" in message or "kunde inte skapas" in message
    assert "Traceback" not in err
    assert existing.read_text() == "x"


def test_export_to_a_read_only_directory_answers_in_swedish(
    cli: Callable[..., tuple[int, str, str]], issued: dict[str, Invoice], tmp_path: Path
) -> None:
    import os
    import tempfile

    out = Path(tempfile.mkdtemp(prefix="kortfaktura-ro-"))  # not under root's private tmp_path
    out.chmod(0o555)
    number = str(issued["1442"].number)
    dropped = os.geteuid() == 0
    try:
        if dropped:  # root writes anywhere: be nobody for the command, as a real user would be
            os.setegid(65534)
            os.seteuid(65534)
        code, out_text, err = cli(
            "invoice", "export", number, "--format", "csv", "--out", str(out), "--json"
        )
    finally:
        if dropped:
            os.seteuid(0)
            os.setegid(0)
        out.chmod(0o755)
        out.rmdir()
    assert code == 1, err
    message = json.loads(out_text)["error"]
    assert f"katalogen {out} går inte att skriva i" in message
    assert "Traceback" not in err


def test_a_directory_in_the_way_of_one_file_fails_only_that_document(
    cli: Callable[..., tuple[int, str, str]], issued: dict[str, Invoice], tmp_path: Path
) -> None:
    run_id = issued["1442"].run_id
    (tmp_path / f"{issued['1442'].number}.csv").mkdir()
    code, out, _ = cli(
        "invoice", "export", "--run", str(run_id), "--format", "csv", "--out", str(tmp_path),
        "--json",
    )  # fmt: skip
    assert code == 1
    report = json.loads(out)
    assert [entry["number"] for entry in report["failed"]] == [str(issued["1442"].number)]
    assert len(report["files"]) == Invoice.objects.filter(run_id=run_id).count() - 1


def test_an_unexpected_render_error_fails_one_document_and_is_logged(
    cli: Callable[..., tuple[int, str, str]],
    issued: dict[str, Invoice],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = issued["1442"].number
    render = CsvRenderer.render

    def render_or_fail(self: CsvRenderer, doc: DocumentData) -> bytes:
        if doc.number == broken:
            raise KeyError("a bug in a renderer")
        return render(self, doc)

    monkeypatch.setattr(CsvRenderer, "render", render_or_fail)
    monkeypatch.setattr(settings, "DATA_DIR", tmp_path / "var")
    out = tmp_path / "ut"
    code, text, err = cli(
        "invoice", "export", "--run", str(issued["1442"].run_id), "--format", "csv",
        "--out", str(out), "--json",
    )  # fmt: skip
    assert code == 1
    report = json.loads(text)
    assert [entry["number"] for entry in report["failed"]] == [str(broken)]
    assert "a bug in a renderer" in report["failed"][0]["reason"]
    assert len(report["files"]) == Invoice.objects.filter(run_id=issued["1442"].run_id).count() - 1
    assert "Traceback" not in err
    log = (tmp_path / "var" / "log" / "kortfaktura.log").read_text()
    assert "Traceback" in log and "KeyError" in log
