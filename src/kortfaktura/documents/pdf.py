"""A Swedish A4 invoice with its specification, as PDF/A-2b, rendered with Typst.

The template (``templates/invoice.typ``) gets the document as JSON with every amount and date
already written the Swedish way. One Typst compiler is kept per process. The text font is Source
Sans Pro (``font-source-sans-pro``); what it lacks comes from the Noto fonts of
``manimgx-fonts`` (Noto Sans, Emoji, Symbols and the scripts Latin faces lack) and
``manimgx-fonts-cjk`` (Noto Sans CJK), all SIL OFL 1.1, so that a holder named 王芳 or 😀 does
not stop the PDF. Only the glyphs used are embedded (PDF/A-2b), and neither system fonts nor
Typst's built-in ones are used, so the output is the same on every machine and a text the fonts
cannot show is refused when its document is issued (``glyphs``), not when it is delivered.
"""

import datetime as dt
import json
import re
from collections import defaultdict
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import font_source_sans_pro
import manimgx_fonts
import manimgx_fonts_cjk
import typst

from kortfaktura import swedish
from kortfaktura.customers.identifiers import format_orgnr
from kortfaktura.documents import wording
from kortfaktura.documents.data import DocumentData, SpecificationRow
from kortfaktura.documents.ubl import VAT_EXEMPTION_REASON

TEMPLATE_DIR = Path(str(resources.files("kortfaktura.documents") / "templates"))
FONT_DIRS = (
    Path(font_source_sans_pro.__file__).parent / "files",
    Path(manimgx_fonts.__file__).parent,
    Path(manimgx_fonts_cjk.__file__).parent,
)
# In this order: the first font that has a character shows it.
FONTS = (
    "Source Sans Pro",
    "Noto Sans",
    "Noto Sans CJK SC",
    "Noto Sans Symbols",
    "Noto Emoji",
    *(
        f"Noto Sans {script}"
        for script in (
            "Arabic", "Armenian", "Bengali", "Devanagari", "Ethiopic", "Georgian", "Gujarati",
            "Gurmukhi", "Hebrew", "Kannada", "Khmer", "Lao", "Malayalam", "Myanmar", "Oriya",
            "Sinhala", "Tamil", "Telugu", "Thai",
        )
    ),
)  # fmt: skip


@cache
def fonts() -> typst.Fonts:
    """Exactly the fonts of ``FONT_DIRS``: neither the system's nor the ones built into Typst
    (whose Libertinus Serif would otherwise show some private-use characters that no font of
    ours has), so that what the PDF can show is what ``glyphs`` checks before issuing."""
    return typst.Fonts(
        include_system_fonts=False,
        include_embedded_fonts=False,
        font_paths=[str(directory) for directory in FONT_DIRS],
    )


@cache
def _compiler() -> typst.Compiler:
    return typst.Compiler(
        input=str(TEMPLATE_DIR / "invoice.typ"),
        root=str(TEMPLATE_DIR),
        font_paths=fonts(),
        ignore_system_fonts=True,
    )


def _percent(rate: Decimal) -> str:
    text = f"{rate:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{text} %"


def _specification(rows: list[SpecificationRow], *, internal: bool) -> list[dict[str, Any]]:
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
                        printable(entry.holder_name),
                        printable(entry.holder_hsa_id),
                        entry.unit_code,
                        swedish.money(entry.unit_price),
                    ]
                    for entry in entries
                ],
                "subtotal": f"{swedish.counted(len(entries), 'beställning', 'beställningar')}, "
                f"summa {swedish.money(total)}" + ("" if internal else " exkl. moms"),
            }
        )
    return groups


def template_data(document: DocumentData) -> dict[str, Any]:
    credit = document.is_credit_note
    seller, buyer = document.seller, document.buyer
    draft = document.draft
    # A draft has no number, issue date or OCR reference yet: issuing gives them (R25).
    later = "ges när den utfärdas"
    number = "UTKAST" if draft else str(document.number)
    facts = [
        [wording.number_label(document), later if draft else number],
        [wording.date_label(document), later if draft else document.issue_date.isoformat()],
    ]
    if credit:
        facts.append(["Krediterar", wording.credited_text(document)])
    elif document.is_internal:
        facts.append(["Kostnadsställe", document.buyer.get("cost_centre") or "–"])
    elif draft:
        facts += [
            ["Förfallodatum", f"{document.payment_terms_days} dagar efter fakturadatum"],
            ["OCR-nummer", later],
            ["Bankgiro", seller["bankgiro"]],
        ]
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
            "Beställda",
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
    if not document.is_internal and any(not line.vat_rate for line in document.lines):
        # ML 17 kap. 24 §: an exempt sale's invoice says why it carries no VAT (as BT-120 does).
        notes.append(f"Moms 0 %: {VAT_EXEMPTION_REASON[0].lower()}{VAT_EXEMPTION_REASON[1:]}.")
    if document.is_internal:
        payment = (
            f"{document.type_label} inom Västra Götalandsregionen: ingen faktura och ingen moms. "
            f"{swedish.money(document.payable)} "
            + ("återförs till" if credit else "bokförs på")
            + f" kostnadsställe {document.buyer.get('cost_centre') or '(saknas)'} och ska inte "
            "betalas."
        )
    elif credit:
        payment = (
            f"Kreditfakturan krediterar {wording.credited_text(document)} med "
            f"{swedish.money(document.payable)}. Beloppet ska inte betalas."
        )
    elif draft:
        payment = (
            "UTKAST – ska inte betalas. Den utfärdade fakturan på "
            f"{swedish.money(document.payable)} får nummer, OCR-nummer och förfallodatum; "
            f"betalningsvillkor {document.payment_terms_days} dagar netto."
        )
    else:
        payment = (
            f"Betala {swedish.money(document.payable)} till bankgiro {seller['bankgiro']} senast "
            f"{document.due_date.isoformat()}. Ange OCR-nummer {document.ocr}. "
            f"Betalningsvillkor {document.payment_terms_days} dagar netto."
        )
    count = len(document.specification)
    subtitle = [wording.coverage(document)]
    if wording.run_title(document):
        subtitle.append(wording.run_title(document))
    if draft:
        notes.insert(
            0,
            "UTKAST – inte utfärdat. Dokumentet får nummer, datum och OCR-nummer när körningen "
            "utfärdas; innehållet kan ändras till dess.",
        )
    return {
        "document_title": f"{document.type_label} {number}",
        "fonts": list(FONTS),
        "type_label": document.type_label,
        "number": number,
        "draft": draft,
        "heading": wording.heading(document),
        "subtitle": subtitle,
        "running_header": f"{document.type_label} {number}",
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
            "payable_label": (
                "Krediterat belopp"
                if credit
                else "Att debitera"
                if document.is_internal
                else "Att betala"
            ),
        },
        "payment": payment,
        "internal": document.is_internal,
        "specification_intro": (
            f"{swedish.count(count)} {'beställning' if count == 1 else 'beställningar'}, per "
            "beställningsmånad. Kortinnehavarens namn och HSA-id visas bara för kundens egna "
            "beställningar."
        ),
        "specification": _specification(document.specification, internal=document.is_internal),
        "address_label": "Adress" if document.is_internal else "Faktureringsadress",
    }


class RenderError(Exception):
    """A document that cannot be made into a PDF; the message is Swedish."""


UNDISPLAYABLE = re.compile(r"the text `(?P<text>.*?)` could not be displayed")


CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode's category Cc, exactly


def printable(text: str) -> str:
    """Control characters (a stray BEL or form feed from the card system) are never text."""
    return CONTROL.sub(" ", text)


class PdfRenderer:
    extension = "pdf"
    media_type = "application/pdf"

    def render(self, document: DocumentData) -> bytes:
        data = json.dumps(template_data(document), ensure_ascii=False)
        # A draft's date is the preview's, which the PDF's metadata may carry: it is no issue date.
        moment = dt.datetime.combine(document.issue_date, dt.time(12), tzinfo=dt.UTC)
        try:
            pdf = _compiler().compile(
                format="pdf",
                sys_inputs={"data": data},
                pdf_standards=["a-2b"],
                # Tagging (needed for PDF/A-2a, not 2b) makes a long specification 20 times
                # larger and costs gigabytes while rendering.
                pdf_tags=False,
                timestamp=int(moment.timestamp()),
            )
        except typst.TypstError as error:
            undisplayable = UNDISPLAYABLE.search(str(error))
            if undisplayable:
                raise RenderError(
                    f"texten {undisplayable['text']} finns inte i något av typsnitten och kan "
                    "inte bäddas in i PDF/A – rätta namnet i kortsystemet och läs in "
                    "beställningen igen"
                ) from error
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise RenderError(f"PDF:en kunde inte sättas: {first[:300]}") from error
        assert isinstance(pdf, bytes)
        return pdf
