"""The review's two reports (issue 9): the printable HTML page and the Excel workbook.

The reviews are built by hand, so these tests do not depend on how the database is read.
"""

import datetime as dt
import io
import os
import shutil
from decimal import Decimal
from pathlib import Path

import lxml.html
import pytest
from openpyxl import load_workbook

from kortfaktura.review.html import HtmlReport
from kortfaktura.review.rendering import gap_ranges
from kortfaktura.review.report import (
    STATES,
    CustomerDataProblem,
    CustomerRow,
    Discrepancy,
    DocumentProblem,
    MonthRow,
    OrderFinding,
    PendingChange,
    Review,
)
from kortfaktura.review.spreadsheet import XlsxReport

NBSP = "\u00a0"
CHECKSUM = "3f" * 32
MADE_AT = dt.datetime(2026, 11, 29, 2, 12, tzinfo=dt.UTC)  # 03.12 in Stockholm
HOSTILE_NAME = '<script>alert("x")</script> & Söner AB'
HOSTILE_ORDER = "<img src=x onerror=alert(1)>&amp;"
FORMULA_NAME = '=HYPERLINK("http://evil.example","klicka")'

REASONS = {
    "unknown_customer": ("okänd kund", "Lägg upp kunden (orgnr) i kundregistret."),
    "no_price": ("inget pris", "Lägg in ett pris för artikeln som gäller beställningsdagen."),
    "incomplete_account": (
        "ofullständigt kundkonto",
        "Komplettera kundkontots adress och Peppol-id.",
    ),
}


def finding(number: int, reason: str = "unknown_customer", **changes: object) -> OrderFinding:
    label, action = REASONS.get(reason, ("ej fakturerad", "Tas med i nästa körning."))
    values: dict[str, object] = {
        "order_id": f"ORD-{number:06d}",
        "order_date": dt.date(2020, 3, 1) + dt.timedelta(days=number % 700),
        "orgnr": "212000-1355",
        "customer": "Vårgårda kommun",
        "reason": reason,
        "label": label,
        "action": action,
    }
    values.update(changes)
    return OrderFinding(**values)  # type: ignore[arg-type]


def month_row(month: str, **counts: int | Decimal) -> MonthRow:
    row = MonthRow(month, **counts)  # type: ignore[arg-type]
    if "orders" not in counts:
        row.orders = row.accounted
    if "documents_net" not in counts:
        row.documents_net = row.invoiced_net
    return row


def balanced_review() -> Review:
    """Three months, three held-back reasons, two customers, one of each kind of problem."""
    return Review(
        period_from=dt.date(2020, 3, 1),
        period_to=dt.date(2020, 5, 31),
        made_at=MADE_AT,
        made_by="anna.ekonomi",
        checksum=CHECKSUM,
        months=[
            month_row(
                "2020-03",
                invoiced=1200,
                previously_invoiced=3,
                not_billable=14,
                held_back=2,
                invoiced_net=Decimal("420000.00"),
            ),
            month_row(
                "2020-04",
                invoiced=980,
                not_billable=9,
                in_draft=5,
                held_back=1,
                invoiced_net=Decimal("343000.00"),
            ),
            month_row("2020-05", invoiced=7, unbilled=2, invoiced_net=Decimal("1234.50")),
        ],
        held_back=[
            finding(1, "unknown_customer", orgnr="556000-0001", customer=""),
            finding(2, "no_price"),
            finding(3, "incomplete_account"),
        ],
        unbilled=[finding(10, "unbilled"), finding(11, "unbilled")],
        pending_changes=[PendingChange(7, "ORD-000005", 1042, "unit", "Enhet A", "Enhet B")],
        customer_data=[
            CustomerDataProblem("212000-1355", "VGD-01", "warning", "E-postadress saknas."),
            CustomerDataProblem("556000-0001", "", "error", "Kunden finns inte: lägg upp den."),
        ],
        customers=[
            CustomerRow(
                "212000-1355",
                "Vårgårda kommun",
                orders=2187,
                invoiced=2180,
                in_draft=5,
                unbilled=2,
                invoiced_net=Decimal("763000.00"),
            ),
            CustomerRow(
                "232100-0131",
                "Västra Götalandsregionen",
                orders=7,
                invoiced=7,
                invoiced_net=Decimal("1234.50"),
            ),
        ],
        gaps=[1005, 1006, 1007, 1020],
        invalid_documents=[DocumentProblem(1042, "BR-CO-15: summan stämmer inte.")],
    )


def unbalanced_review() -> Review:
    review = balanced_review()
    review.months[1].orders += 3  # three orders in no state
    review.months[2].documents_net = Decimal("1584.50")  # 350 kr more on the documents
    review.discrepancies = [
        Discrepancy("2020-04", "ORD-000123", None, "Beställningen är inte räknad i något läge."),
        Discrepancy("2020-05", "ORD-000456", 1043, "Beställningen finns på två fakturor."),
    ]
    return review


def hostile_review() -> Review:
    review = balanced_review()
    review.made_by = "<b>mallory</b>"
    # The checksum is also written into the style sheet (the printed pages' margin).
    review.checksum = '"}</style><script>alert(1)</script>' + "0" * 30
    review.customers[0].name = HOSTILE_NAME
    review.held_back.append(
        finding(99, "no_price", order_id=HOSTILE_ORDER, customer=HOSTILE_NAME, orgnr="</td>")
    )
    review.months[0].held_back += 1
    review.months[0].orders += 1
    review.customer_data.append(CustomerDataProblem("212000-1355", "=1+1", "warning", FORMULA_NAME))
    review.unbilled.append(finding(12, "unbilled", order_id="@SUM(A1)", customer="-2+3"))
    review.months[2].unbilled += 1
    review.months[2].orders += 1
    return review


def big_review() -> Review:
    """100 months, 600 customers, 20 000 held back and 5 000 unbilled orders."""
    months = []
    for index in range(100):
        year, month = divmod(index, 12)
        months.append(
            month_row(
                f"{2019 + year}-{month + 1:02d}",
                invoiced=9000 + index,
                previously_invoiced=100 if index < 14 else 0,
                not_billable=300,
                in_draft=40 if index > 97 else 0,
                held_back=200,
                unbilled=50,
                invoiced_net=Decimal(9000 + index) * Decimal("350.00"),
            )
        )
    customers = [
        CustomerRow(
            f"{212000 + number:06d}-{number % 10000:04d}",
            f"Kund nummer {number} med ett ganska långt namn AB",
            orders=1666,
            invoiced=1600,
            held_back=33,
            unbilled=8,
            not_billable=25,
            invoiced_net=Decimal("560000.00"),
        )
        for number in range(600)
    ]
    reasons = list(REASONS)
    held_back = [
        finding(
            number,
            reasons[number % 3],
            orgnr=customers[number % 600].orgnr,
            customer=customers[number % 600].name,
        )
        for number in range(20_000)
    ]
    unbilled = [finding(100_000 + number, "unbilled") for number in range(5_000)]
    return Review(
        period_from=None,
        period_to=None,
        made_at=MADE_AT,
        made_by="granskare",
        checksum=CHECKSUM,
        months=months,
        held_back=held_back,
        unbilled=unbilled,
        customers=customers,
        customer_data=[
            CustomerDataProblem(c.orgnr, "K1", "warning", "Peppol-id saknas.")
            for c in customers[:300]
        ],
        gaps=list(range(5000, 5100)),
    )


def page(review: Review) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(HtmlReport().render(review))


def cells(document: lxml.html.HtmlElement, table: str) -> list[list[str]]:
    """The text of a table's body rows (non-breaking spaces as they are)."""
    return [
        [cell.text_content().strip() for cell in row.xpath("./td|./th")]
        for row in document.xpath(f'//table[@id="{table}"]/tbody/tr')
    ]


def sv(text: str) -> str:
    """Swedish digits as the report writes them: ``1 234,50 kr`` with non-breaking spaces."""
    return text.replace(" ", NBSP).replace(f"{NBSP}kr", " kr")


# --- HTML -----------------------------------------------------------------------------------


def test_html_is_a_self_contained_swedish_document():
    review = balanced_review()
    raw = HtmlReport().render(review)
    text = raw.decode("utf-8")
    assert text.startswith("<!DOCTYPE html>")
    document = lxml.html.document_fromstring(raw)
    assert document.get("lang") == "sv"
    assert document.xpath("//meta[@charset]")[0].get("charset") == "utf-8"
    assert "<script" not in text.lower()
    assert "http://" not in text and "https://" not in text
    assert not document.xpath("//link|//img|//iframe|//object|//embed|//*[@src]")
    assert all(href.startswith("#") for href in document.xpath("//@href"))
    assert "url(" not in text.replace("url(#kf-", "")  # only the charts' own patterns
    style = document.xpath("//style")[0].text
    assert "@page" in style and "size:A4" in style and "table-header-group" in style


def test_html_header_names_period_time_author_and_checksum():
    document = page(balanced_review())
    assert document.xpath("//h1")[0].text_content() == "Genomlysning av fakturering"
    header = document.xpath("//header")[0].text_content()
    assert "1 mars 2020 – 31 maj 2020" in header
    assert "29 november 2026 kl. 03.12" in header  # Stockholm time, not UTC
    assert "anna.ekonomi" in header
    assert CHECKSUM in header
    assert CHECKSUM in document.xpath("//footer")[0].text_content()
    signoff = document.xpath('//section[@id="underskrift"]')[0].text_content()
    assert CHECKSUM in signoff
    assert signoff.count("Granskad av") == 2
    assert signoff.count("Underskrift") >= 2 and signoff.count("Datum") == 2
    assert "Ekonomi" in signoff and "Granskare" in signoff


def test_html_period_defaults_to_all_orders():
    review = balanced_review()
    review.period_from = review.period_to = None
    assert "alla beställningar" in page(review).xpath("//header")[0].text_content()


def test_html_summary_status_and_totals():
    review = balanced_review()
    document = page(review)
    status = document.xpath('//section[@id="sammanfattning"]')[0]
    # The months tie, but findings wait for a person: not green, and the verdict names them
    # (issue 21; it said "Allt stämmer" next to its list of things to do).
    assert "bad" in status.get("class")
    verdict = status.xpath(".//h2")[0].text_content()
    assert "Allt stämmer" not in verdict
    assert verdict.startswith("✗ Behöver åtgärdas: 3 tillbakahållna beställningar, ")
    assert "1 ändring som väntar på beslut" in verdict and "4 luckor i numreringen" in verdict
    assert review.summary() in status.text_content()
    totals = {
        dd.get("data-key"): dd.text_content() for dd in document.xpath('//*[@id="totalt"]//dd')
    }
    assert totals["Beställningar"] == sv("2 223")
    assert totals["Fakturerade"] == sv("2 187")
    assert totals["Fakturerat netto (beställningarna)"] == sv("764 234,50 kr")
    # three held back, two customer-data remarks, one pending change, four missing numbers,
    # one invalid document
    assert totals["Behöver åtgärdas"] == str(review.needs_attention())
    assert review.needs_attention() == 11


def test_html_month_table_cells_are_swedish_formatted():
    document = page(balanced_review())
    rows = cells(document, "manader")
    assert len(rows) == 3
    # månad, beställningar, six states, fakturerat netto, dokumentens rader, stämmer
    assert rows[0] == [
        "2020-03",
        sv("1 219"),
        sv("1 200"),
        "3",
        "14",
        "0",
        "2",
        "0",
        sv("420 000,00 kr"),
        sv("420 000,00 kr"),
        "Ja",
    ]
    assert rows[2][8] == sv("1 234,50 kr")
    foot = [c.text_content() for c in document.xpath('//table[@id="manader"]/tfoot//td')]
    assert foot[0] == "Totalt" and foot[1] == sv("2 223") and foot[-1] == "Ja"
    headers = [th.text_content() for th in document.xpath('//table[@id="manader"]/thead//th')]
    assert headers[:3] == ["Månad", "Beställningar", "Fakturerade"]
    assert len(headers) == 11


def test_html_marks_unbalanced_months_and_lists_discrepancies_prominently():
    review = unbalanced_review()
    document = page(review)
    status = document.xpath('//section[@id="sammanfattning"]')[0]
    assert "bad" in status.get("class") and "Stämmer INTE" in status.text_content()
    assert review.summary() in status.text_content()
    rows = document.xpath('//table[@id="manader"]/tbody/tr')
    assert [row.get("class") for row in rows] == [None, "unbalanced", "unbalanced"]
    assert rows[1].xpath("./td")[-1].text_content().startswith("Nej")
    assert "995 redovisade av 998" in rows[1].text_content()
    assert sv("-350,00 kr") in rows[2].text_content()
    alert = document.xpath('//section[@id="avvikelser"]')[0]
    assert "alert" in alert.get("class")
    listed = cells(document, "avvikelser-tabell")
    assert listed[1] == ["2020-05", "ORD-000456", "1043", "Beställningen finns på två fakturor."]
    # The discrepancies come right after the summary, before the charts and tables.
    order = [s.get("id") for s in document.xpath("//main/section")]
    assert order.index("avvikelser") == 1


def test_html_lists_findings_problems_gaps_and_customers():
    document = page(balanced_review())
    held = cells(document, "tillbakahallna-lista")
    assert len(held) == 3
    assert held[0][0] == "ORD-000001" and held[0][3] == "(okänd)" and held[0][4] == "okänd kund"
    assert held[1][5].startswith("Lägg in ett pris")
    assert len(cells(document, "ej-fakturerade-lista")) == 2
    assert cells(document, "andringar-lista") == [
        ["7", "ORD-000005", "1042", "unit", "Enhet A", "Enhet B"]
    ]
    problems = cells(document, "kunduppgifter-lista")
    assert problems[0][0] == "Fel" and problems[1][0] == "Varning"  # errors first
    assert cells(document, "numrering-lista") == [["1005", "1007", "3"], ["1020", "1020", "1"]]
    assert cells(document, "dokument-lista") == [["1042", "BR-CO-15: summan stämmer inte."]]
    customers = cells(document, "kunder")
    assert customers[0][:4] == ["212000-1355", "Vårgårda kommun", sv("2 187"), sv("2 180")]
    assert customers[0][-1] == sv("763 000,00 kr")


def test_html_says_so_when_there_is_nothing_to_list():
    review = Review(None, None, MADE_AT, "x", CHECKSUM)
    document = page(review)
    text = document.text_content()
    assert "Inga avvikelser" in text
    assert "Inga beställningar hålls tillbaka." in text
    assert len(document.xpath("//svg")) == 3


def test_html_charts_are_accessible_inline_svg_with_one_mark_per_value():
    review = balanced_review()
    document = page(review)
    charts = document.xpath("//svg")
    assert len(charts) == 3
    for chart in charts:
        assert chart.get("role") == "img"
        assert chart.xpath("./title") and chart.xpath("./desc")
    orders, amounts, reasons = charts
    nonzero = sum(1 for m in review.months for state in STATES if getattr(m, state))
    assert len(orders.xpath('.//rect[@class="segment"]')) == nonzero
    assert {r.get("data-state") for r in orders.xpath('.//rect[@class="segment"]')} == set(STATES)
    assert len(orders.xpath('.//g[@class="legend-item"]')) == 6
    assert len(orders.xpath('.//text[@class="month-label"]')) == 3  # every month when few
    assert len(amounts.xpath('.//rect[@class="bar"]')) == 3
    assert len(reasons.xpath('.//rect[@class="bar"]')) == 3
    assert "okänd kund" in reasons.text_content()


def test_html_long_period_labels_every_january_only():
    document = page(big_review())
    orders = document.xpath("//svg")[0]
    labels = [t.text for t in orders.xpath('.//text[@class="month-label"]')]
    assert labels == [str(year) for year in range(2019, 2028)]
    assert len(document.xpath("//svg")[1].xpath('.//rect[@class="bar"]')) == 100


def test_html_escapes_hostile_text():
    raw = HtmlReport().render(hostile_review()).decode("utf-8")
    assert "<script" not in raw.lower()
    assert "<img" not in raw.lower() and "<b>mallory" not in raw
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Söner AB" in raw
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;amp;" in raw
    document = lxml.html.document_fromstring(raw)
    held = cells(document, "tillbakahallna-lista")
    assert held[-1][:4] == [HOSTILE_ORDER, held[-1][1], "</td>", HOSTILE_NAME]
    assert cells(document, "kunder")[0][1] == HOSTILE_NAME
    assert "<b>mallory</b>" in document.xpath("//header")[0].text_content()
    assert len(document.xpath("//style")) == 1
    assert "@page" in document.xpath("//style")[0].text
    assert document.xpath("//header//dd[@class='checksum']")[0].text.startswith('"}</style>')


def test_html_stays_small_for_a_large_database():
    review = big_review()
    raw = HtmlReport().render(review)
    assert len(raw) < 5 * 1024 * 1024, len(raw)
    document = lxml.html.document_fromstring(raw)
    assert len(cells(document, "tillbakahallna-lista")) == 500
    assert len(cells(document, "ej-fakturerade-lista")) == 500
    assert len(cells(document, "tillbakahallna-kunder")) == 500
    assert cells(document, "tillbakahallna-skal")[0][1] == sv("6 667")
    text = document.text_content()
    assert f"de första 500 av 20{NBSP}000 beställningar" in text
    assert "Excel-filen" in text
    assert len(cells(document, "kunder")) == 600
    assert cells(document, "numrering-lista") == [["5000", "5099", "100"]]


def test_gap_ranges():
    assert gap_ranges([9, 3, 4, 5, 4]) == [(3, 5), (9, 9)]
    assert gap_ranges([]) == []


def test_html_report_is_written_atomically(tmp_path: Path):
    target = tmp_path / "genomlysning.html"
    HtmlReport().write(balanced_review(), target)
    assert target.read_bytes() == HtmlReport().render(balanced_review())
    assert [p.name for p in tmp_path.iterdir()] == ["genomlysning.html"]


# --- Excel ----------------------------------------------------------------------------------

SHEETS = [
    "Sammanfattning",
    "Per månad",
    "Per kund",
    "Avvikelser",
    "Kunduppgifter",
    "Ändringar",
    "Numrering",
    "Dokument",
    "Kedjor",
    "Bokföring",
    "Att åtgärda",
]


def workbook(review: Review):
    return load_workbook(io.BytesIO(XlsxReport().render(review)))


def rows(sheet) -> list[tuple]:
    return list(sheet.iter_rows(values_only=True))


def test_xlsx_has_the_sheets_and_the_summary():
    review = unbalanced_review()
    book = workbook(review)
    assert book.sheetnames == SHEETS
    summary = {row[0]: row[1] for row in rows(book["Sammanfattning"]) if row and row[0]}
    assert summary["Sammanfattning"] == review.summary()
    assert summary["Stämmer"] == "Nej"
    assert summary["Period"] == "1 mars 2020 – 31 maj 2020"
    assert summary["Gjord"] == dt.datetime(2026, 11, 29, 3, 12)
    assert summary["Gjord av"] == "anna.ekonomi"
    assert summary["Kontrollsumma (SHA-256)"] == CHECKSUM
    assert summary["Beställningar"] == 2226
    assert summary["Fakturerat netto (beställningarna)"] == Decimal("764234.50") or float(
        summary["Fakturerat netto (beställningarna)"]
    ) == pytest.approx(764234.50)


def test_xlsx_month_and_customer_sheets_have_numbers_as_numbers():
    book = workbook(unbalanced_review())
    sheet = book["Per månad"]
    table = rows(sheet)
    assert table[0][:3] == ("Månad", "Beställningar", "Fakturerade")
    assert table[1][0] == "2020-03" and table[1][1] == 1219 and table[1][-1] == "Ja"
    assert table[2][-1] == "Nej" and table[3][-1] == "Nej"
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].font.b
    assert sheet.cell(row=2, column=9).number_format == "#,##0.00"
    assert float(sheet.cell(row=4, column=9).value) == pytest.approx(1234.50)
    assert table[-1][0] == "Totalt"
    customers = rows(book["Per kund"])
    assert customers[1][:3] == ("212000-1355", "Vårgårda kommun", 2187)
    assert book["Per kund"].column_dimensions["B"].width >= 30
    discrepancies = rows(book["Avvikelser"])
    assert discrepancies[2] == (
        "2020-05",
        "ORD-000456",
        1043,
        "Beställningen finns på två fakturor.",
    )


def test_xlsx_lists_every_order_to_act_on_with_real_dates_and_actions():
    review = big_review()
    book = workbook(review)
    sheet = book["Att åtgärda"]
    table = rows(sheet)
    assert table[0] == (
        "Beställnings-id",
        "Beställningsdatum",
        "Orgnr",
        "Kund",
        "Läge",
        "Skäl",
        "Skälkod",
        "Åtgärd",
    )
    assert len(table) == 1 + 20_000 + 5_000
    first = table[1]
    assert first[0] == "ORD-000000"
    assert isinstance(first[1], dt.datetime) and first[1].date() == review.held_back[0].order_date
    assert first[4] == "tillbakahållen" and first[5] == "okänd kund"
    assert first[7] == REASONS["unknown_customer"][1]
    assert table[-1][4] == "ej fakturerad"
    assert sheet.freeze_panes == "A2"
    assert sheet["B2"].number_format == "yyyy-mm-dd"
    assert len(rows(book["Numrering"])) == 1 + 100


def test_xlsx_stores_formula_like_text_as_text():
    book = workbook(hostile_review())
    action = book["Att åtgärda"]
    found = {
        cell.value: cell
        for row in action.iter_rows()
        for cell in row
        if isinstance(cell.value, str) and cell.value[:1] in "=+-@"
    }
    assert "@SUM(A1)" in found and "-2+3" in found
    for cell in found.values():
        assert cell.data_type == "s"
        assert cell.quotePrefix
    problems = book["Kunduppgifter"]
    values = [c for row in problems.iter_rows() for c in row if c.value in ("=1+1", FORMULA_NAME)]
    assert len(values) == 2
    assert all(c.data_type == "s" for c in values)
    names = [c.value for row in book["Per kund"].iter_rows() for c in row]
    assert HOSTILE_NAME in names


def test_xlsx_report_is_written_atomically(tmp_path: Path):
    target = tmp_path / "genomlysning.xlsx"
    XlsxReport().write(balanced_review(), target)
    assert load_workbook(target).sheetnames == SHEETS


# --- In a real browser ----------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")


def test_html_in_a_real_browser(tmp_path: Path):
    """Chromium opens the file without loading anything else or logging an error, shows the
    summary and the figures, prints it to A4 pages, and axe-core finds no accessibility
    violation."""
    if not CHROMIUM.exists():
        pytest.fail(
            "Chromium saknas: /usr/bin/chromium behövs för webbläsartestet "
            "(scripts/install-system-packages.sh installerar Debian-paketet chromium)."
        )
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    review = unbalanced_review()
    review.customers[0].name = HOSTILE_NAME
    report = tmp_path / "genomlysning.html"
    HtmlReport().write(review, report)
    url = report.as_uri()
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.on(
                "console",
                lambda message: errors.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url, wait_until="load")
            assert requests == [url]
            assert errors == []
            assert page.title().startswith("Genomlysning av fakturering")
            assert review.summary() in page.inner_text("#sammanfattning")
            first_month = page.locator("#manader tbody tr").first
            assert first_month.locator("td").nth(8).inner_text() == sv("420 000,00 kr")
            assert page.locator("svg[role=img]").count() == 3
            assert page.locator("#kunder tbody tr").first.locator("td").nth(1).inner_text() == (
                HOSTILE_NAME
            )
            page.screenshot(path=str(tmp_path / "genomlysning.png"), full_page=True)
            page.emulate_media(media="print")
            pdf = page.pdf(format="A4", print_background=True)
            (tmp_path / "genomlysning.pdf").write_bytes(pdf)
            pages = PdfReader(io.BytesIO(pdf)).pages
            assert len(pages) >= 1
            assert abs(float(pages[0].mediabox.width) - 595) < 2  # A4 points
            page.emulate_media(media="screen")
            violations = Axe().run(page).response["violations"]
            assert [v["id"] for v in violations] == [], violations
            assert requests == [url]  # axe loaded nothing either
            assert errors == []
        finally:
            browser.close()
    keep = os.environ.get("KORTFAKTURA_KEEP_REPORT")
    if keep:  # a directory for a person to look at the result (docs/review.md)
        for name in ("genomlysning.png", "genomlysning.pdf", "genomlysning.html"):
            shutil.copy(tmp_path / name, Path(keep) / name)
