"""The review (genomlysning, DOMAIN.md R18) as an Excel workbook: the same figures as the HTML
report, and in "Att åtgärda" every held-back and unbilled order, however many (the HTML report
stops at ``HTML_LIST_CAP``).

Written in openpyxl's write-only mode, row by row, so a million-order database does not build
the whole workbook in memory. Numbers are numeric cells (amounts with ``#,##0.00``, which Excel
shows as ``1 234,50`` in Swedish), dates are date cells, and every text is a typed text cell
that can never become a formula (``documents.spreadsheet.as_text``): names and order ids come
from imported files.
"""

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from kortfaktura import swedish
from kortfaktura.documents.spreadsheet import DATE_FORMAT, as_text
from kortfaktura.review.rendering import WritesFile, gap_ranges, period_text
from kortfaktura.review.report import (
    STATE_LABELS,
    STATES,
    CustomerDataProblem,
    MonthRow,
    OrderFinding,
    Review,
)

AMOUNT_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
BOLD = Font(bold=True)
TITLE_FONT = Font(bold=True, size=14)
WRAP = Alignment(wrap_text=True, vertical="top")
UNBALANCED = PatternFill("solid", fgColor="FDECEA")
RED = Font(bold=True, color="B3261E")

STATE_COLUMNS = tuple(
    swedish_label[:1].upper() + swedish_label[1:]
    for swedish_label in (STATE_LABELS[state] for state in STATES)
)
ACTION_COLUMNS = (
    "Beställnings-id",
    "Beställningsdatum",
    "Orgnr",
    "Kund",
    "Läge",
    "Skäl",
    "Skälkod",
    "Åtgärd",
)


class Amount(Decimal):
    """A money value: written with ``AMOUNT_FORMAT``."""


class XlsxReport(WritesFile):
    """``XlsxReport().render(review)``: the review as an XLSX workbook."""

    extension = "xlsx"
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def render(self, review: Review) -> bytes:
        book = Workbook(write_only=True)
        _summary(book, review)
        _months(book, review)
        _customers(book, review)
        _table(
            book,
            "Avvikelser",
            [("Månad", 10), ("Beställnings-id", 20), ("Dokument", 12), ("Avvikelse", 80)],
            ([d.month, d.order_id, d.number, d.problem] for d in review.discrepancies),
        )
        _table(
            book,
            "Kunduppgifter",
            [("Allvar", 10), ("Orgnr", 14), ("Kundkonto", 14), ("Problem", 80)],
            (
                ["fel" if p.severity == "error" else "varning", p.orgnr, p.account_code, p.problem]
                for p in sorted(
                    review.customer_data, key=lambda p: (p.severity != "error", p.orgnr)
                )
            ),
        )
        _table(
            book,
            "Ändringar",
            [
                ("Id", 8),
                ("Beställnings-id", 20),
                ("Fakturanummer", 14),
                ("Fält", 16),
                ("Tidigare värde", 30),
                ("Nytt värde", 30),
            ],
            (
                [c.id, c.order_id, c.invoice_number, c.field, c.old, c.new]
                for c in review.pending_changes
            ),
        )
        _table(
            book,
            "Numrering",
            [("Saknat nummer", 16), ("Lucka", 20)],
            (
                [number, f"{first}–{last}" if first != last else str(first)]
                for first, last in gap_ranges(review.gaps)
                for number in range(first, last + 1)
            ),
        )
        _table(
            book,
            "Dokument",
            [("Nummer", 12), ("Problem", 90)],
            ([d.number, d.problem] for d in review.invalid_documents),
        )
        _table(
            book,
            "Kedjor",
            [("Kedja", 28), ("Länkar", 10), ("Sista (nummer eller post)", 16),
             ("Huvud (SHA-256)", 66), ("Stämmer", 10), ("För --expect-head", 80)],
            (
                [c.label, c.length, c.head_number, c.head_hash, "ja" if c.ok else "nej",
                 c.expect]
                for c in review.chains
            ),
        )  # fmt: skip
        _table(
            book,
            "Bokföring",
            [("Gjord", 18), ("Av", 16), ("Från", 12), ("Till", 12), ("Verifikationer", 14),
             ("Debet", 16), ("Dokument nu", 14), ("Debet nu", 16), ("Stämmer", 10),
             ("Fil", 50), ("SHA-256", 66)],
            (
                [e.made_at.replace(tzinfo=None), e.made_by, e.period_from, e.period_to,
                 e.vouchers, e.debit, e.documents_now, e.debit_now,
                 "ja" if e.matches else "nej", e.file, e.sha256]
                for e in review.exports
            ),
        )  # fmt: skip
        _table(
            book,
            "Att åtgärda",
            list(zip(ACTION_COLUMNS, (20, 14, 14, 36, 16, 26, 20, 70), strict=True)),
            _to_act_on(review),
        )
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()


def _errors_first(problem: CustomerDataProblem) -> tuple[bool, str]:
    return (problem.severity != "error", problem.orgnr)


def _cell(sheet: Any, value: object) -> Any:
    """A typed cell: text that stays text, numbers as numbers, dates as dates."""
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        as_text(cell)
    elif isinstance(value, Amount):
        cell.number_format = AMOUNT_FORMAT
    elif isinstance(value, dt.datetime):
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, dt.date):
        cell.number_format = DATE_FORMAT
    elif isinstance(value, int) and not isinstance(value, bool):
        cell.number_format = COUNT_FORMAT
    return cell


def _row(sheet: Any, values: Iterable[object], font: Font | None = None) -> list[Any]:
    cells = []
    for value in values:
        cell = _cell(sheet, value)
        if font is not None:
            cell.font = font
        cells.append(cell)
    return cells


def _sheet(book: Workbook, title: str, columns: Sequence[tuple[str, float]]) -> Any:
    """A sheet with its header row: bold, frozen, filtered; column widths set (all of which a
    write-only sheet needs before its first row)."""
    sheet = book.create_sheet(title)
    for index, (_, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    header = _row(sheet, (name for name, _ in columns), BOLD)
    for cell in header:
        cell.alignment = WRAP
    sheet.append(header)
    return sheet


def _table(
    book: Workbook,
    title: str,
    columns: Sequence[tuple[str, float]],
    rows: Iterable[Sequence[object]],
) -> None:
    sheet = _sheet(book, title, columns)
    count = 0
    for values in rows:
        sheet.append(_row(sheet, values))
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"


def _to_act_on(review: Review) -> Iterable[list[object]]:
    def row(finding: OrderFinding, state: str) -> list[object]:
        return [
            finding.order_id,
            finding.order_date,
            finding.orgnr,
            finding.customer,
            state,
            finding.label,
            finding.reason,
            finding.action,
        ]

    for finding in review.held_back:
        yield row(finding, "tillbakahållen")
    for finding in review.unbilled:
        yield row(finding, "ej fakturerad")


def _summary(book: Workbook, review: Review) -> None:
    sheet = book.create_sheet("Sammanfattning")
    sheet.column_dimensions["A"].width = 38
    sheet.column_dimensions["B"].width = 90
    total = review.totals
    made_at = review.made_at.astimezone(swedish.SWEDISH_TIME).replace(tzinfo=None)
    title = _cell(sheet, "Genomlysning av fakturering")
    title.font = TITLE_FONT
    sheet.append([title])
    verdict = _cell(sheet, "Ja" if review.balanced else "Nej")
    if not review.balanced:
        verdict.font = RED
    summary = _cell(sheet, review.summary())
    summary.alignment = WRAP
    rows: list[tuple[str, object]] = [
        ("Sammanfattning", summary),
        ("Stämmer", verdict),
        ("Period", period_text(review)),
        ("Gjord", made_at),
        ("Gjord av", review.made_by),
        ("Kontrollsumma (SHA-256)", review.checksum),
        ("", None),
        ("Beställningar", total.orders),
        *(
            (label, getattr(total, state))
            for label, state in zip(STATE_COLUMNS, STATES, strict=True)
        ),
        ("Fakturerat netto (beställningarna)", Amount(total.invoiced_net)),
        ("Dokumentens rader (netto)", Amount(total.documents_net)),
        ("Månader som inte stämmer", sum(1 for m in review.months if not m.balanced)),
        ("Avvikelser", len(review.discrepancies)),
        ("Tillbakahållna beställningar att åtgärda", len(review.held_back)),
        ("Ej fakturerade beställningar", len(review.unbilled)),
        ("Ändringar som väntar på beslut", len(review.pending_changes)),
        ("Problem i kunduppgifterna", len(review.customer_data)),
        ("Saknade nummer", len(review.gaps)),
        ("Dokument som inte godkänns", len(review.invalid_documents)),
        ("Behöver åtgärdas", review.needs_attention()),
        ("", None),
        *(
            (f"Kedja: {c.label}", f"{c.expect or 'tom'}{'' if c.ok else ' – BRUTEN'}")
            for c in review.chains
        ),
    ]
    for label, value in rows:
        if not label:
            sheet.append([])
            continue
        label_cell = _cell(sheet, label)
        label_cell.font = BOLD
        value_cell = value if isinstance(value, Cell) else _cell(sheet, value)
        value_cell.alignment = Alignment(horizontal="left", vertical="top", wrap_text=True)
        sheet.append([label_cell, value_cell])


def _month_values(month: MonthRow) -> list[object]:
    return [
        month.month,
        month.orders,
        *(getattr(month, state) for state in STATES),
        Amount(month.invoiced_net),
        Amount(month.documents_net),
        "Ja" if month.balanced else "Nej",
    ]


def _months(book: Workbook, review: Review) -> None:
    columns = [
        ("Månad", 10),
        ("Beställningar", 14),
        *((label, 14) for label in STATE_COLUMNS),
        ("Fakturerat netto", 18),
        ("Dokumentens rader", 18),
        ("Stämmer", 10),
    ]
    sheet = _sheet(book, "Per månad", columns)
    for month in review.months:
        cells = _row(sheet, _month_values(month))
        if not month.balanced:
            for cell in cells:
                cell.fill = UNBALANCED
            cells[-1].font = RED
        sheet.append(cells)
    total = review.totals
    total_values = _month_values(total)
    total_values[0] = "Totalt"
    total_values[-1] = "Ja" if all(m.balanced for m in review.months) else "Nej"
    sheet.append(_row(sheet, total_values, BOLD))
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(review.months) + 1}"


def _customers(book: Workbook, review: Review) -> None:
    columns = [
        ("Orgnr", 14),
        ("Namn", 40),
        ("Beställningar", 14),
        *((label, 14) for label in STATE_COLUMNS),
        ("Fakturerat netto", 18),
    ]
    _table(
        book,
        "Per kund",
        columns,
        (
            [
                c.orgnr,
                c.name,
                c.orders,
                *(getattr(c, state) for state in STATES),
                Amount(c.invoiced_net),
            ]
            for c in review.customers
        ),
    )
