"""Invoice documents: Peppol UBL that passes the official rules, PDF/A, XLSX and CSV."""

import base64
import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable
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
    vgr = make.customer("Västra Götalandsregionen", number="2321000131")
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
    validation.get_validator.cache_clear()
    try:
        assert validation.get_validator() is None
        assert "valideras inte" in caplog.text
    finally:
        validation.get_validator.cache_clear()


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
    assert sheet.freeze_panes == "A3"
    assert sheet.auto_filter.ref == f"A2:H{sheet.max_row}"
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    expected = {
        item.order.order_id: (item.order.holder_name, item.unit_price)
        for item in invoice.items.select_related("order")
    }
    assert {row[1]: (row[5], Decimal(str(row[7]))) for row in rows} == expected
    assert all(isinstance(row[2], dt.datetime) for row in rows)
    hyperlink = next(cell for cell in sheet["F"] if cell.value == '=HYPERLINK("x")')
    assert hyperlink.data_type == "s"
    assert sheet["H3"].number_format == '#,##0.00 "kr"'
    assert sheet["C3"].number_format == "yyyy-mm-dd"


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
