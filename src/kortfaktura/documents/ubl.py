"""Peppol BIS Billing 3.0 (UBL 2.1) Invoice and CreditNote, built with lxml.

Element order follows the UBL 2.1 schema (the XSD checks it). Amounts in a credit note are
positive, as BIS 3 requires; the document type says they are credited.
"""

import base64
from decimal import Decimal
from typing import Any

from lxml import etree

from kortfaktura.documents.data import DocumentData
from kortfaktura.documents.spreadsheet import CsvRenderer
from kortfaktura.swedish import month as month_name

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
UNIT_CODE = "C62"  # "one" (piece): a card, a PUK letter
F_SKATT = "Godkänd för F-skatt"
# Why a price row at 0 % carries no VAT (BT-120), on the Peppol document and on the PDF: the
# Swedish VAT act's chapter of exemptions. See docs/accounting.md, Moms.
VAT_EXEMPTION_REASON = "Undantagen från skatteplikt enligt 10 kap. mervärdesskattelagen (2023:200)"


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _percent(value: Decimal) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


class _Builder:
    def __init__(self, root_namespace: str, root_name: str) -> None:
        self.root = etree.Element(
            f"{{{root_namespace}}}{root_name}",
            nsmap={None: root_namespace, "cac": CAC, "cbc": CBC},
        )

    @staticmethod
    def cbc(parent: Any, tag: str, text: str | None = None, **attributes: str) -> Any:
        element = etree.SubElement(parent, f"{{{CBC}}}{tag}", attributes)
        if text is not None:
            element.text = text
        return element

    @staticmethod
    def cac(parent: Any, tag: str) -> Any:
        return etree.SubElement(parent, f"{{{CAC}}}{tag}")


class UblRenderer:
    """``render(document) -> bytes``: a BIS 3 Invoice or CreditNote with the specification
    embedded as an attachment (CSV by default; ``attachment="pdf"`` embeds the PDF)."""

    extension = "xml"
    media_type = "application/xml"

    def __init__(self, attachment: str = "csv") -> None:
        self.attachment = attachment

    def render(self, document: DocumentData) -> bytes:
        credit = document.is_credit_note
        builder = _Builder(
            CREDIT_NOTE_NS if credit else INVOICE_NS, "CreditNote" if credit else "Invoice"
        )
        root, cbc, cac = builder.root, builder.cbc, builder.cac
        currency = {"currencyID": document.currency}
        cbc(root, "CustomizationID", CUSTOMIZATION_ID)
        cbc(root, "ProfileID", PROFILE_ID)
        cbc(root, "ID", str(document.number))
        cbc(root, "IssueDate", document.issue_date.isoformat())
        if not credit:
            cbc(root, "DueDate", document.due_date.isoformat())
        cbc(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", "381" if credit else "380")
        for note in self._notes(document):
            cbc(root, "Note", note)
        cbc(root, "DocumentCurrencyCode", document.currency)
        buyer_reference = document.buyer.get("buyer_reference") or document.buyer["account_code"]
        cbc(root, "BuyerReference", buyer_reference)
        period = cac(root, "InvoicePeriod")
        cbc(period, "StartDate", document.period_start.isoformat())
        cbc(period, "EndDate", document.period_end.isoformat())
        if credit and document.credited_number is not None:
            reference = cac(cac(root, "BillingReference"), "InvoiceDocumentReference")
            cbc(reference, "ID", str(document.credited_number))
            if document.credited_issue_date:
                cbc(reference, "IssueDate", document.credited_issue_date.isoformat())
        self._attachment(builder, document)
        self._seller(builder, document.seller)
        self._buyer(builder, document.buyer)
        self._payment(builder, document)
        tax_total = cac(root, "TaxTotal")
        cbc(tax_total, "TaxAmount", _amount(document.vat), **currency)
        for rate, taxable, tax in document.vat_breakdown:
            subtotal = cac(tax_total, "TaxSubtotal")
            cbc(subtotal, "TaxableAmount", _amount(taxable), **currency)
            cbc(subtotal, "TaxAmount", _amount(tax), **currency)
            self._tax_category(builder, subtotal, "TaxCategory", rate)
        totals = cac(root, "LegalMonetaryTotal")
        cbc(totals, "LineExtensionAmount", _amount(document.net), **currency)
        cbc(totals, "TaxExclusiveAmount", _amount(document.net), **currency)
        cbc(totals, "TaxInclusiveAmount", _amount(document.tax_inclusive), **currency)
        if document.rounding:
            cbc(totals, "PayableRoundingAmount", _amount(document.rounding), **currency)
        cbc(totals, "PayableAmount", _amount(document.payable), **currency)
        for line in document.lines:
            element = cac(root, "CreditNoteLine" if credit else "InvoiceLine")
            cbc(element, "ID", str(line.position))
            cbc(
                element,
                "CreditedQuantity" if credit else "InvoicedQuantity",
                str(line.quantity),
                unitCode=UNIT_CODE,
            )
            cbc(element, "LineExtensionAmount", _amount(line.net), **currency)
            # The line's order month, within the invoice period (a run may start mid-month).
            line_period = cac(element, "InvoicePeriod")
            start = max(line.order_month, document.period_start)
            cbc(line_period, "StartDate", start.isoformat())
            cbc(line_period, "EndDate", min(line.month_end, document.period_end).isoformat())
            item = cac(element, "Item")
            cbc(item, "Description", f"Beställda i {month_name(line.order_month)}")
            cbc(item, "Name", f"{line.product_name}, beställda {line.order_month:%Y-%m}")
            cbc(cac(item, "SellersItemIdentification"), "ID", line.product_code)
            self._tax_category(builder, item, "ClassifiedTaxCategory", line.vat_rate)
            cbc(cac(element, "Price"), "PriceAmount", _amount(line.unit_price), **currency)
        return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

    @staticmethod
    def _notes(document: DocumentData) -> list[str]:
        """One document-level note (PEPPOL-EN16931-R002): the title, and a credit's reason."""
        if document.is_credit_note and document.reason:
            return [f"{document.title}. Orsak till krediteringen: {document.reason}"]
        return [document.title]

    def _attachment(self, builder: _Builder, document: DocumentData) -> None:
        if self.attachment == "pdf":
            from kortfaktura.documents.pdf import PdfRenderer

            content, mime, name = PdfRenderer().render(document), "application/pdf", "pdf"
        else:
            content, mime, name = CsvRenderer().render(document), "text/csv", "csv"
        reference = builder.cac(builder.root, "AdditionalDocumentReference")
        builder.cbc(reference, "ID", f"Specifikation {document.number}")
        builder.cbc(
            reference, "DocumentDescription", "Specifikation: beställningarna bakom fakturan"
        )
        builder.cbc(
            builder.cac(reference, "Attachment"),
            "EmbeddedDocumentBinaryObject",
            base64.b64encode(content).decode("ascii"),
            mimeCode=mime,
            filename=f"specifikation-{document.number}.{name}",
        )

    @staticmethod
    def _address(builder: _Builder, party: Any, data: dict[str, Any]) -> None:
        address = builder.cac(party, "PostalAddress")
        builder.cbc(address, "StreetName", data["street"])
        builder.cbc(address, "CityName", data["city"])
        builder.cbc(address, "PostalZone", data["postal_code"])
        builder.cbc(
            builder.cac(address, "Country"), "IdentificationCode", data.get("country", "SE")
        )

    def _seller(self, builder: _Builder, seller: dict[str, Any]) -> None:
        cbc, cac = builder.cbc, builder.cac
        party = cac(cac(builder.root, "AccountingSupplierParty"), "Party")
        cbc(party, "EndpointID", seller["orgnr"], schemeID="0007")
        cbc(cac(party, "PartyName"), "Name", f"{seller['name']}, {seller['department']}")
        self._address(builder, party, seller)
        vat = cac(party, "PartyTaxScheme")
        cbc(vat, "CompanyID", seller["vat_number"])
        cbc(cac(vat, "TaxScheme"), "ID", "VAT")
        if seller.get("f_skatt"):
            tax = cac(party, "PartyTaxScheme")
            cbc(tax, "CompanyID", F_SKATT)
            cbc(cac(tax, "TaxScheme"), "ID", "TAX")
        legal = cac(party, "PartyLegalEntity")
        cbc(legal, "RegistrationName", seller["name"])
        cbc(legal, "CompanyID", seller["orgnr"], schemeID="0007")
        contact = cac(party, "Contact")
        cbc(contact, "Name", seller["department"])
        if seller.get("email"):
            cbc(contact, "ElectronicMail", seller["email"])

    def _buyer(self, builder: _Builder, buyer: dict[str, Any]) -> None:
        cbc, cac = builder.cbc, builder.cac
        party = cac(cac(builder.root, "AccountingCustomerParty"), "Party")
        # BIS 3 requires an electronic address (BT-49). A buyer without a Peppol address (e-mail
        # or paper delivery) gets its organisation number, which is not used to deliver the
        # document; the e-mail scheme "EM" is not in the code list of Peppol 2026.5.
        if buyer.get("peppol_scheme"):
            cbc(party, "EndpointID", buyer["peppol_id"], schemeID=buyer["peppol_scheme"])
        else:
            cbc(party, "EndpointID", buyer["orgnr"], schemeID="0007")
        cbc(cac(party, "PartyName"), "Name", buyer["account_name"] or buyer["name"])
        self._address(builder, party, buyer)
        legal = cac(party, "PartyLegalEntity")
        cbc(legal, "RegistrationName", buyer["name"])
        cbc(legal, "CompanyID", buyer["orgnr"], schemeID="0007")

    @staticmethod
    def _payment(builder: _Builder, document: DocumentData) -> None:
        cbc, cac = builder.cbc, builder.cac
        if document.is_credit_note:
            # Nothing to pay: no payment instruction, only what is credited.
            cbc(
                cac(builder.root, "PaymentTerms"),
                "Note",
                f"Kreditering av faktura {document.credited_number}; beloppet regleras mot "
                "fakturan.",
            )
            return
        means = cac(builder.root, "PaymentMeans")
        cbc(means, "PaymentMeansCode", "30", name="Bankgiro")
        cbc(means, "PaymentID", document.ocr)
        account = cac(means, "PayeeFinancialAccount")
        cbc(account, "ID", document.seller["bankgiro"].replace("-", "").replace(" ", ""))
        cbc(cac(account, "FinancialInstitutionBranch"), "ID", "SE:BANKGIRO")
        cbc(
            cac(builder.root, "PaymentTerms"),
            "Note",
            f"Betalning inom {document.payment_terms_days} dagar, senast "
            f"{document.due_date.isoformat()}, till bankgiro {document.seller['bankgiro']} "
            f"med OCR-nummer {document.ocr}.",
        )

    @staticmethod
    def _tax_category(builder: _Builder, parent: Any, name: str, rate: Decimal) -> None:
        """S (standard rated) at 25, 12 or 6 %; E (exempt) at 0 %, whose breakdown states why
        (BT-120, required by BR-E-10). Not Z: zero rating is for sales with a right to deduct
        input VAT at 0 % (exports, intra-EU supplies), which these are not; see
        docs/accounting.md, Moms."""
        category = builder.cac(parent, name)
        builder.cbc(category, "ID", "S" if rate else "E")
        builder.cbc(category, "Percent", _percent(rate))
        if not rate and name == "TaxCategory":
            # On the breakdown only: the line's category carries no reason (UBL-CR-601).
            builder.cbc(category, "TaxExemptionReason", VAT_EXEMPTION_REASON)
        builder.cbc(builder.cac(category, "TaxScheme"), "ID", "VAT")
