"""A list page's current list (same filters and sort, every row) as Excel or CSV (issue 21).

The view builds the same queryset it pages and hands it here with its columns; the rows are read
in chunks (``enrich`` adds what a chunk needs from other tables, e.g. order states). CSV is
streamed as it is read: UTF-8 with BOM, semicolons and decimal comma, like the invoice
specification's CSV (documents/spreadsheet.py), which Swedish Excel opens without asking. The
XLSX is written row by row (openpyxl's write-only mode) to a temporary file. Text from other
systems never becomes a formula: in CSV a cell that looks like one gets a leading apostrophe, in
XLSX it is typed text with Excel's quote prefix.
"""

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.contrib import messages
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from kortfaktura import swedish
from kortfaktura.documents.spreadsheet import DATE_FORMAT, KRONOR_FORMAT, as_text, csv_safe

FORMATS = ("xlsx", "csv")
CHUNK = 1000
# Beyond these the download is refused with a request to narrow the filter: Excel opens at most
# 1,048,576 rows, and writing 100,000 XLSX rows already takes some ten seconds.
LIMITS = {"xlsx": 100_000, "csv": 1_000_000}
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    heading: str
    value: Callable[[Any], object]  # str, int, Decimal (kronor), date, datetime or None
    money: bool = False


def wanted(request: HttpRequest) -> str:
    """The export format the list's URL asks for (``?format=xlsx|csv``), else ""."""
    chosen = request.GET.get("format", "")
    return chosen if chosen in FORMATS else ""


def _chunks(rows: QuerySet[Any], enrich: Callable[[list[Any]], None] | None) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows.iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) == CHUNK:
            if enrich:
                enrich(chunk)
            yield chunk
            chunk = []
    if chunk:
        if enrich:
            enrich(chunk)
        yield chunk


def _csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, dt.datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return f"{local:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, int):
        return str(value)
    return csv_safe(str(value))


def _xlsx_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        # Excel has no time zones: the Swedish wall-clock time, as the page shows it.
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return local.replace(tzinfo=None, microsecond=0)
    if isinstance(value, bool):
        return "ja" if value else "nej"
    return value


def export(
    request: HttpRequest,
    rows: QuerySet[Any],
    columns: list[Column],
    name: str,
    *,
    enrich: Callable[[list[Any]], None] | None = None,
) -> HttpResponse:
    """The download of ``rows`` in the format ``?format=`` asks for. ``name`` is a fixed ASCII
    word of the view's (never user input), so the file name is always safe."""
    file_format = wanted(request)
    limit = LIMITS[file_format]
    if rows.order_by()[: limit + 1].count() > limit:
        messages.error(
            request,
            f"Listan har fler än {swedish.count(limit)} rader – för många för en "
            f"{file_format.upper()}-fil. Begränsa urvalet med filtren och exportera igen"
            + (", eller välj CSV." if file_format == "xlsx" else "."),
        )
        params = request.GET.copy()
        params.pop("format", None)
        return redirect(f"{request.path}?{params.urlencode()}")
    file_name = f"{name}-{timezone.localdate().isoformat()}.{file_format}"
    chunks = _chunks(rows, enrich)
    if file_format == "csv":
        response: HttpResponseBase = StreamingHttpResponse(
            _csv_stream(columns, chunks), content_type="text/csv; charset=utf-8"
        )
    else:
        response = FileResponse(
            _xlsx_file(columns, chunks, name),
            content_type=XLSX_MEDIA_TYPE,
            as_attachment=True,
            filename=file_name,
        )
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    response["Cache-Control"] = "private, no-store"
    # The list views (and ``require``) are typed as returning HttpResponse; Django serves a
    # streaming or file response from them all the same.
    return cast(HttpResponse, response)


def _csv_stream(columns: list[Column], chunks: Iterator[list[Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([column.heading for column in columns])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for chunk in chunks:
        buffer.seek(0)
        buffer.truncate()
        for row in chunk:
            writer.writerow([_csv_text(column.value(row)) for column in columns])
        yield buffer.getvalue().encode("utf-8")


def _xlsx_file(columns: list[Column], chunks: Iterator[list[Any]], name: str) -> Any:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(name[:31])
    sheet.freeze_panes = "A2"
    header = [WriteOnlyCell(sheet, value=column.heading) for column in columns]
    for cell in header:
        cell.font = Font(bold=True)
    sheet.append(header)
    for chunk in chunks:
        for row in chunk:
            cells = []
            for column in columns:
                cell = WriteOnlyCell(sheet, value=_xlsx_value(column.value(row)))
                if isinstance(cell.value, str):
                    as_text(cell)  # text stays text, never a formula
                elif isinstance(cell.value, dt.datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
                elif isinstance(cell.value, dt.date):
                    cell.number_format = DATE_FORMAT
                elif column.money and cell.value is not None:
                    cell.number_format = KRONOR_FORMAT
                cells.append(cell)
            sheet.append(cells)
    output = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it when sent
    workbook.save(output)
    output.seek(0)
    return output
