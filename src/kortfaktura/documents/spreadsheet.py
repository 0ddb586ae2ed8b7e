"""The specification as XLSX and CSV that open correctly in Swedish Excel (DOMAIN.md §5).

Holder names come from another system: a cell that starts with ``=``, ``+``, ``-`` or ``@`` must
never become a formula. XLSX cells are written as typed text; in CSV such a value gets a leading
apostrophe, the usual guard against formula injection.
"""

import csv
import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING
from openpyxl.styles import Alignment, Font

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


def csv_safe(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


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
    """Typed cells: dates as dates, prices as numbers in kronor; header, frozen panes, filter."""

    extension = "xlsx"
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def render(self, document: DocumentData) -> bytes:
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = "Specifikation"
        label = "Kreditfaktura" if document.is_credit_note else "Faktura"
        sheet.append([f"{label} {document.number}: {document.title}"])
        sheet["A1"].font = Font(bold=True)
        sheet.append(COLUMNS)
        for cell in sheet[2]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in document.specification:
            sheet.append(
                [
                    f"{row.order_month:%Y-%m}",
                    row.order_id,
                    row.order_date,
                    row.product_code,
                    row.unit_code,
                    row.holder_name,
                    row.holder_hsa_id,
                    row.unit_price,
                ]
            )
            cells = sheet[sheet.max_row]
            for index in (0, 1, 3, 4, 5, 6):
                cells[index].data_type = TYPE_STRING  # text stays text, never a formula
            cells[2].number_format = DATE_FORMAT
            cells[7].number_format = KRONOR_FORMAT
        last = sheet.max_row
        sheet.freeze_panes = "A3"
        sheet.auto_filter.ref = f"A2:H{max(last, 2)}"
        for column, width in zip("ABCDEFGH", (18, 16, 18, 10, 14, 28, 30, 18), strict=True):
            sheet.column_dimensions[column].width = width
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
