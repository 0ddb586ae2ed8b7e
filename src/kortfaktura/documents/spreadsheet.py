"""The specification as XLSX and CSV that open correctly in Swedish Excel (DOMAIN.md §5).

Holder names come from another system: a cell that starts with ``=``, ``+``, ``-`` or ``@`` must
never become a formula. XLSX cells are written as typed text; in CSV such a value gets a leading
apostrophe, the usual guard against formula injection. The check is made on the NFKC form of the
value, because spreadsheet programs also read the full-width ``＝ ＋ － ＠`` (and other
compatibility forms, e.g. the small ``﹦``) as the start of a formula.
"""

import csv
import io
import unicodedata
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import TYPE_STRING
from openpyxl.styles import Alignment, Font

from kortfaktura import swedish
from kortfaktura.documents import wording
from kortfaktura.documents.data import DocumentData

COLUMNS = (
    "Beställningsmånad",
    "Beställnings-id",
    "Beställningsdatum",
    "Artikel",
    "Enhet",
    "Kortinnehavare",
    "HSA-id",
    "À-pris exkl. moms",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
KRONOR_FORMAT = '#,##0.00 "kr"'
DATE_FORMAT = "yyyy-mm-dd"


def looks_like_formula(value: str) -> bool:
    """True when a spreadsheet could take ``value`` for a formula, also after Unicode
    normalisation (``＝SUM(A1)`` is ``=SUM(A1)`` to Excel's input layer)."""
    if value.startswith(FORMULA_STARTS):
        return True
    return unicodedata.normalize("NFKC", value).lstrip(" ").startswith(FORMULA_STARTS)


def csv_safe(value: str) -> str:
    return f"'{value}" if looks_like_formula(value) else value


def _decimal_comma(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


class CsvRenderer:
    """UTF-8 with BOM, semicolons, decimal comma: what Swedish Excel opens without asking."""

    extension = "csv"
    media_type = "text/csv"

    def render(self, document: DocumentData) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for row in document.specification:
            writer.writerow(
                [
                    f"{row.order_month:%Y-%m}",
                    csv_safe(row.order_id),
                    row.order_date.isoformat(),
                    csv_safe(row.product_code),
                    csv_safe(row.unit_code),
                    csv_safe(row.holder_name),
                    csv_safe(row.holder_hsa_id),
                    _decimal_comma(row.unit_price),
                ]
            )
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")


class XlsxRenderer:
    """A header block (number, date, OCR, amount payable, due date), then one row per order with
    typed cells (dates as dates, prices as numbers in kronor), a frozen header row, a filter and
    a total row."""

    extension = "xlsx"
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def render(self, document: DocumentData) -> bytes:
        # Write-only: rows stream to the file as they are appended, so time and memory stay
        # linear in the number of orders (a 60,000-order invoice is one file). Everything the
        # sheet's XML writes before its rows (frozen pane, column widths) is set first.
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("Specifikation")
        block = _header_block(document)
        header_row = len(block) + 3  # the title, the block, an empty row, then the header
        last = header_row + len(document.specification)
        sheet.freeze_panes = f"A{header_row + 1}"
        sheet.auto_filter.ref = f"A{header_row}:I{last}"
        widths = (20, 16, 18, 10, 14, 28, 30, 18, 22)
        for column, width in zip("ABCDEFGHI", widths, strict=True):
            sheet.column_dimensions[column].width = width
        title = _cell(
            sheet, f"{document.type_label} {document.number} – {wording.heading(document)}"
        )
        title.font = Font(bold=True, size=13)
        sheet.append([title])
        for label, value, number_format in block:
            cells = [_cell(sheet, label), _cell(sheet, value)]
            cells[0].font = Font(bold=True)
            cells[1].alignment = Alignment(horizontal="left")
            if number_format:
                cells[1].number_format = number_format
            elif isinstance(value, str):
                as_text(cells[1])
            sheet.append(cells)
        sheet.append([])
        header = [_cell(sheet, name) for name in COLUMNS_XLSX]
        for cell in header:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.append(header)
        names = {line.product_code: line.product_name for line in document.lines}
        for row in document.specification:
            cells = [
                _cell(sheet, value)
                for value in (
                    f"{row.order_month:%Y-%m}",
                    row.order_id,
                    row.order_date,
                    row.product_code,
                    row.unit_code,
                    row.holder_name,
                    row.holder_hsa_id,
                    row.unit_price,
                    names.get(row.product_code, row.product_code),
                )
            ]
            for index in (0, 1, 3, 4, 5, 6, 8):
                as_text(cells[index])  # text stays text, never a formula
            cells[2].number_format = DATE_FORMAT
            cells[7].number_format = KRONOR_FORMAT
            sheet.append(cells)
        total = sum((row.unit_price for row in document.specification), Decimal("0"))
        orders = swedish.counted(len(document.specification), "beställning", "beställningar")
        cells = [
            _cell(sheet, value)
            for value in ("Summa exkl. moms", orders, None, None, None, None, None, total, None)
        ]
        for cell in cells:
            cell.font = Font(bold=True)
        cells[7].number_format = KRONOR_FORMAT
        sheet.append(cells)
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()


def _cell(sheet: Any, value: object) -> WriteOnlyCell:
    return WriteOnlyCell(sheet, value=value)


# The XLSX also names the product (the CSV keeps its documented columns).
COLUMNS_XLSX = (*COLUMNS, "Benämning")


def _header_block(document: DocumentData) -> list[tuple[str, object, str]]:
    """(label, value, number format) rows above the specification."""
    rows: list[tuple[str, object, str]] = [
        (wording.number_label(document), document.number, "0"),
        (wording.date_label(document), document.issue_date, DATE_FORMAT),
    ]
    if document.is_credit_note:
        rows.append(("Krediterar", wording.credited_text(document), ""))
        rows.append(("Krediterat belopp", document.payable, KRONOR_FORMAT))
    else:
        rows += [
            ("OCR-nummer", document.ocr, ""),
            ("Att betala", document.payable, KRONOR_FORMAT),
            ("Förfallodatum", document.due_date, DATE_FORMAT),
        ]
    rows += [
        ("Kund", f"{document.buyer['name']} ({document.buyer['account_code']})", ""),
        ("Avser", wording.covered_orders(document), ""),
    ]
    if wording.run_title(document):
        rows.append(("Rubrik", wording.run_title(document), ""))
    return rows


def as_text(cell: Any) -> None:
    """A text cell stays text: typed as a string, and marked with Excel's quote prefix when it
    looks like a formula (also in full-width form), so editing it does not make it one."""
    cell.data_type = TYPE_STRING
    if isinstance(cell.value, str) and looks_like_formula(cell.value):
        cell.quotePrefix = True
