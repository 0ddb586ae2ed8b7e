"""Benchmark: rendering invoices as UBL and PDF, and validating them.

    .venv/bin/python bench/documents.py [--invoices 5000] [--orders-per-invoice 20]

In one process, on documents built in memory (no database: rendering is what is measured):
- UBL: render each invoice; floor: serialising the same, already built lxml tree;
- validation: the official CEN + Peppol rules and the UBL schema, warm, per small invoice;
- PDF: render each invoice with its specification; floor: an empty Typst page;
- one invoice with a 10,000-order specification as PDF;
- the fonts check at issue (issue 17, R20): reading the fonts' character maps (once per
  process), then every text of each invoice against them, of the 10,000-order invoice, and of
  an invoice with a name that Typst must be asked about (a combining mark no font has).
Targets (issue 4): UBL ≤ 5 ms, PDF ≤ 40 ms per invoice, the 10,000-order PDF ≤ 10 s,
validation ≤ 30 ms warm, peak memory ≤ 800 MB.
"""

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from common import peak_mb


def make_document(number: int, orders: int) -> object:
    from kortfaktura.billing.core import compute_totals
    from kortfaktura.demo.generator import demo_gln
    from kortfaktura.documents.data import DocumentData, LineData, SpecificationRow

    month = dt.date(2026, 9, 1)
    prices = {"ETK": Decimal("350.00"), "RESERV": Decimal("200.00"), "PUK": Decimal("150.00")}
    codes = ["ETK", "ETK", "ETK", "RESERV", "PUK"]
    specification = [
        SpecificationRow(
            f"B{number:06d}{n:05d}", month + dt.timedelta(days=n % 28), month, codes[n % 5],
            "SU-MED", "Åsa Öberg-Lindström", f"SE2321000131-P{n:012d}", prices[codes[n % 5]],
        )
        for n in range(orders)
    ]  # fmt: skip
    lines = []
    for position, code in enumerate(sorted(prices), start=1):
        quantity = sum(1 for row in specification if row.product_code == code)
        if quantity:
            lines.append(
                LineData(position, month, code, code.title(), quantity, prices[code],
                         Decimal("25"), prices[code] * quantity)
            )  # fmt: skip
    totals = compute_totals((line.net, line.vat_rate) for line in lines)
    seller = {
        "name": "Västra Götalandsregionen", "department": "GITS", "street": "Regionens Hus",
        "postal_code": "405 44", "city": "Göteborg", "country": "SE", "orgnr": "2321000131",
        "vat_number": "SE232100013101", "bankgiro": "123-4566", "email": "gits@vgregion.se",
        "f_skatt": False,
    }  # fmt: skip
    buyer = {
        "name": "Västra Götalandsregionen", "orgnr": "2321000131", "account_code": "VGR-SU",
        "account_name": "Sahlgrenska Universitetssjukhuset", "street": "FE 200",
        "postal_code": "405 44", "city": "Göteborg", "country": "SE", "buyer_reference": "SU",
        "peppol_scheme": "0088", "peppol_id": demo_gln(1001), "email": "", "delivery": "peppol",
    }  # fmt: skip
    return DocumentData(
        number=number, kind="invoice", issue_date=dt.date(2026, 10, 2),
        due_date=dt.date(2026, 11, 1), ocr="10000180", title="eTjänstekort september 2026",
        is_legacy=False, period_start=month, period_end=dt.date(2026, 9, 30), currency="SEK",
        seller=seller, buyer=buyer, net=totals.net, vat=totals.vat, rounding=totals.rounding,
        payable=totals.payable, vat_breakdown=list(totals.vat_by_rate), lines=lines,
        specification=specification,
    )  # fmt: skip


def large_pdf_in_own_process(orders: int) -> tuple[float, int, float]:
    """Seconds, bytes and peak MB of rendering one invoice of ``orders`` orders as PDF, in a
    process of its own (an export command is one), so its peak is its own."""
    result = subprocess.run(
        [sys.executable, __file__, "--large-only", str(orders)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds, size, peak = json.loads(result.stdout.strip().splitlines()[-1])
    return seconds, size, peak


def render_large(orders: int) -> None:
    from kortfaktura.documents.pdf import PdfRenderer

    document = make_document(200001, orders)
    started = time.perf_counter()
    content = PdfRenderer().render(document)  # type: ignore[arg-type]
    print(json.dumps([time.perf_counter() - started, len(content), peak_mb()]))


def fonts_check(documents: list[object], args: argparse.Namespace) -> dict[str, float]:
    """The check at issue that every text can be set in the PDF's fonts (documents/glyphs.py)."""
    import dataclasses

    from kortfaktura.documents import glyphs

    started = time.perf_counter()
    glyphs.coverage()
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    assert not glyphs.unprintable(documents)  # type: ignore[arg-type]
    per_invoice_ms = per_item(time.perf_counter() - started, len(documents))
    large = make_document(200002, args.large)
    started = time.perf_counter()
    assert not glyphs.unprintable([large])  # type: ignore[list-item]
    large_ms = (time.perf_counter() - started) * 1000
    rare = make_document(200003, args.orders_per_invoice)
    rows = rare.specification  # type: ignore[attr-defined]
    rows[0] = dataclasses.replace(rows[0], holder_name="Ko\u07eb Ba")  # an N'Ko mark
    started = time.perf_counter()
    assert not glyphs.unprintable([rare])  # type: ignore[list-item]
    probe_ms = (time.perf_counter() - started) * 1000
    return {
        "load_s": load_s, "per_invoice_ms": per_invoice_ms, "large_ms": large_ms,
        "probe_ms": probe_ms,
    }  # fmt: skip


def per_item(seconds: float, count: int) -> float:
    return seconds / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=5000)
    parser.add_argument("--orders-per-invoice", type=int, default=20)
    parser.add_argument("--pdf-invoices", type=int, default=500, help="PDFs to time (of them)")
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--large-only", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    with tempfile.TemporaryDirectory() as temp:
        os.environ.setdefault("KORTFAKTURA_DATA_DIR", temp)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kortfaktura.settings")
        import django

        django.setup()
        if args.large_only:
            render_large(args.large_only)
        else:
            run(args)


def run(args: argparse.Namespace) -> None:
    import typst
    from lxml import etree

    from kortfaktura.documents.pdf import TEMPLATE_DIR, PdfRenderer
    from kortfaktura.documents.ubl import UblRenderer
    from kortfaktura.documents.validation import get_validator

    documents = [make_document(100001 + n, args.orders_per_invoice) for n in range(args.invoices)]
    ubl = UblRenderer()
    rendered = []
    started = time.perf_counter()
    for document in documents:
        xml = ubl.render(document)  # type: ignore[arg-type]
        if len(rendered) < 1000:
            rendered.append(xml)  # kept for the floor and validation; the rest is dropped
    ubl_ms = per_item(time.perf_counter() - started, len(documents))
    trees = [etree.fromstring(xml) for xml in rendered]
    started = time.perf_counter()
    for tree in trees:
        etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    ubl_floor_ms = per_item(time.perf_counter() - started, len(trees))

    validator = get_validator()
    validate_ms = float("nan")
    if validator is not None:
        validator.validate(rendered[0])
        sample = rendered[:200]
        started = time.perf_counter()
        for xml in sample:
            assert not validator.fatal(validator.validate(xml))
        validate_ms = per_item(time.perf_counter() - started, len(sample))

    pdf = PdfRenderer()
    pdf.render(documents[0])  # type: ignore[arg-type]
    subset = documents[: args.pdf_invoices]
    started = time.perf_counter()
    for document in subset:
        pdf.render(document)  # type: ignore[arg-type]
    pdf_ms = per_item(time.perf_counter() - started, len(subset))
    empty = TEMPLATE_DIR / "bench-empty.typ"
    empty.write_text('#set page(paper: "a4")\n#set text(font: "Source Sans Pro")\nTom.\n')
    try:
        typst.compile(str(empty), format="pdf", pdf_standards=["a-2b"])
        started = time.perf_counter()
        for _ in range(50):
            typst.compile(str(empty), format="pdf", pdf_standards=["a-2b"])
        pdf_floor_ms = per_item(time.perf_counter() - started, 50)
    finally:
        empty.unlink()
    glyphs = fonts_check(documents, args)
    batch_peak = peak_mb()
    large_s, large_size, large_peak = large_pdf_in_own_process(args.large)

    print(f"{args.invoices:,} fakturor med {args.orders_per_invoice} beställningar var")
    print(f"UBL:        {ubl_ms:7.2f} ms/faktura   golv (lxml-serialisering) {ubl_floor_ms:.2f} ms "
          f"→ {ubl_ms / ubl_floor_ms:.1f}×")  # fmt: skip
    print(f"Validering: {validate_ms:7.2f} ms/faktura (varm, CEN + Peppol + XSD)")
    print(f"PDF:        {pdf_ms:7.2f} ms/faktura   golv (tom Typst-sida) {pdf_floor_ms:.2f} ms "
          f"→ {pdf_ms / pdf_floor_ms:.1f}× ({len(subset)} av dem)")  # fmt: skip
    print(
        f"PDF med {args.large:,} beställningar: {large_s:.1f} s, {large_size / 1e6:.1f} MB, "
        f"toppminne {large_peak:.0f} MB (egen process)"
    )
    print(
        f"Typsnittskontroll: {glyphs['load_s']:.2f} s för typsnittens teckentabeller (en gång per "
        f"process), {glyphs['per_invoice_ms']:.2f} ms/faktura, {glyphs['large_ms']:.0f} ms för "
        f"{args.large:,} beställningar, {glyphs['probe_ms']:.1f} ms med ett namn Typst får pröva"
    )
    print(f"Toppminne för {args.invoices:,} fakturor (UBL, validering, PDF): {batch_peak:.0f} MB")
    print()
    print("Mål: UBL ≤ 5 ms, PDF ≤ 40 ms, 10 000-PDF ≤ 10 s, validering ≤ 30 ms, minne ≤ 800 MB")
    verdicts = [
        ("UBL", ubl_ms <= 5),
        ("PDF", pdf_ms <= 40),
        ("stor PDF", large_s <= 10),
        ("validering", validate_ms <= 30),
        ("minne", max(batch_peak, large_peak) <= 800),
    ]
    print("  " + ", ".join(f"{name} {'OK' if ok else 'MISSAT'}" for name, ok in verdicts))


if __name__ == "__main__":
    main()
