"""A Swedish A4 invoice with its specification, as PDF/A-2b, rendered with Typst.

The template (``templates/invoice.typ``) gets the document as JSON with every amount and date
already written the Swedish way. One Typst compiler is kept per process; the font (Source Sans
Pro, from the ``font-source-sans-pro`` package) is embedded, and system fonts are ignored so the
output is the same on every machine.
"""

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import font_source_sans_pro
import typst

from kortfaktura import swedish
from kortfaktura.customers.identifiers import format_orgnr
from kortfaktura.documents.data import DocumentData, SpecificationRow

TEMPLATE_DIR = Path(str(resources.files("kortfaktura.documents") / "templates"))


@cache
def _compiler() -> typst.Compiler:
    fonts = Path(font_source_sans_pro.__file__).parent / "files"
    return typst.Compiler(
        input=str(TEMPLATE_DIR / "invoice.typ"),
        root=str(TEMPLATE_DIR),
        font_paths=[str(fonts)],
        ignore_system_fonts=True,
    )


def _percent(rate: Decimal) -> str:
    text = f"{rate:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{text} %"


def _specification(rows: list[SpecificationRow]) -> list[dict[str, Any]]:
    months: dict[dt.date, list[SpecificationRow]] = defaultdict(list)
    for row in rows:
        months[row.order_month].append(row)
    groups = []
    for month, entries in sorted(months.items()):
        total = sum((entry.unit_price for entry in entries), Decimal("0"))
        groups.append(
            {
                "month": f"Beställda i {swedish.month(month)}",
                "rows": [
                    [
                        entry.order_id,
                        entry.order_date.isoformat(),
                        entry.product_code,
                        entry.holder_name,
                        entry.holder_hsa_id,
                        entry.unit_code,
                        swedish.money(entry.unit_price),
                    ]
                    for entry in entries
                ],
                "subtotal": f"{swedish.count(len(entries))} beställningar, "
                f"summa {swedish.money(total)} exkl. moms",
            }
        )
    return groups


def template_data(document: DocumentData) -> dict[str, Any]:
    credit = document.is_credit_note
    seller, buyer = document.seller, document.buyer
    facts = [
        [f"{document.type_label}snummer", str(document.number)],
        [f"{document.type_label}datum", document.issue_date.isoformat()],
    ]
    if credit:
        facts.append(["Krediterar faktura", str(document.credited_number)])
    else:
        facts += [
            ["Förfallodatum", document.due_date.isoformat()],
            ["OCR-nummer", document.ocr],
            ["Bankgiro", seller["bankgiro"]],
        ]
    facts += [
        ["Er referens", buyer.get("buyer_reference") or "–"],
        ["Kundnummer", buyer["account_code"]],
        ["Vår referens", f"{seller['department']}, {seller.get('email', '')}".strip(", ")],
        [
            "Period (beställda)",
            f"{document.period_start.isoformat()} – {document.period_end.isoformat()}",
        ],
    ]
    notes = []
    if document.is_legacy:
        notes.append(
            f"Fakturan avser eTjänstekort beställda {document.period_start.isoformat()} – "
            f"{document.period_end.isoformat()} som inte fakturerats tidigare. Varje beställning "
            "finns i specifikationen."
        )
    if credit:
        notes.append(f"Orsak till krediteringen: {document.reason}")
    if credit:
        payment = (
            f"Kreditfakturan krediterar faktura {document.credited_number} med "
            f"{swedish.money(document.payable)}. Beloppet ska inte betalas."
        )
    else:
        payment = (
            f"Betala {swedish.money(document.payable)} till bankgiro {seller['bankgiro']} senast "
            f"{document.due_date.isoformat()}. Ange OCR-nummer {document.ocr}. "
            f"Betalningsvillkor {document.payment_terms_days} dagar netto."
        )
    count = len(document.specification)
    months = sorted({line.order_month for line in document.lines})
    covered = (
        f"i {swedish.month(months[0])}"
        if len(months) == 1
        else f"{swedish.month(months[0])} – {swedish.month(months[-1])}"
    )
    heading = (
        f"Kreditering av faktura {document.credited_number}"
        if credit
        else f"eTjänstekort beställda {covered}"
    )
    return {
        "document_title": f"{document.type_label} {document.number}",
        "type_label": document.type_label,
        "number": str(document.number),
        "heading": heading,
        "subtitle": document.title,
        "notes": notes,
        "seller": {
            **{key: str(seller.get(key, "")) for key in ("name", "department", "street", "city")},
            "postal_code": seller["postal_code"],
            "orgnr": format_orgnr(seller["orgnr"]),
            "vat_number": seller["vat_number"],
            "f_skatt": bool(seller.get("f_skatt")),
        },
        "buyer": {
            "name": buyer["name"],
            "account_name": buyer.get("account_name") or buyer["name"],
            "street": buyer["street"],
            "postal_code": buyer["postal_code"],
            "city": buyer["city"],
            "orgnr": format_orgnr(buyer["orgnr"]),
        },
        "facts": facts,
        "lines": [
            {
                "month": swedish.month(line.order_month),
                "product": line.product_name,
                "quantity": swedish.count(line.quantity),
                "unit_price": swedish.money(line.unit_price),
                "vat_rate": _percent(line.vat_rate),
                "net": swedish.money(line.net),
            }
            for line in document.lines
        ],
        "vat": [
            {"rate": _percent(rate), "base": swedish.money(base), "tax": swedish.money(tax)}
            for rate, base, tax in document.vat_breakdown
        ],
        "totals": {
            "net": swedish.money(document.net),
            "vat": swedish.money(document.vat),
            "rounding": swedish.money(document.rounding),
            "payable": swedish.money(document.payable),
            "payable_label": "Krediterat belopp" if credit else "Att betala",
        },
        "payment": payment,
        "specification_intro": (
            f"{swedish.count(count)} {'beställning' if count == 1 else 'beställningar'}, per "
            "beställningsmånad. Kortinnehavarens namn och HSA-id visas bara för kundens egna "
            "beställningar."
        ),
        "specification": _specification(document.specification),
    }


class PdfRenderer:
    extension = "pdf"
    media_type = "application/pdf"

    def render(self, document: DocumentData) -> bytes:
        data = json.dumps(template_data(document), ensure_ascii=False)
        moment = dt.datetime.combine(document.issue_date, dt.time(12), tzinfo=dt.UTC)
        pdf = _compiler().compile(
            format="pdf",
            sys_inputs={"data": data},
            pdf_standards=["a-2b"],
            # Tagging (needed for PDF/A-2a, not 2b) makes a long specification 20 times larger
            # and costs gigabytes while rendering.
            pdf_tags=False,
            timestamp=int(moment.timestamp()),
        )
        assert isinstance(pdf, bytes)
        return pdf
