"""Invoice numbers and OCR references (DOMAIN.md R11)."""

from django.conf import settings
from django.db import connection
from stdnum import luhn

from kortfaktura.billing.models import InvoiceNumberSeries

SERIES = "invoices"
# Internal charges and internal credits (R17): a gap-free series of their own.
INTERNAL_SERIES = "internal"


def first_number(series: str) -> int:
    if series == INTERNAL_SERIES:
        return int(settings.FIRST_INTERNAL_NUMBER)
    return int(settings.FIRST_INVOICE_NUMBER)


def ocr_reference(number: int) -> str:
    """Bankgirot's OCR reference: the number, a length digit and a Luhn check digit.

    The length digit is the length of the whole reference (check digit included) modulo 10.
    """
    digits = str(number)
    body = digits + str((len(digits) + 2) % 10)
    return body + luhn.calc_check_digit(body)


def lock_series(series: str = SERIES) -> InvoiceNumberSeries:
    """The series row, locked until the caller's transaction ends: a concurrent issue waits
    here, so checks made after this call (e.g. of the issue date) still hold at commit."""
    if connection.in_atomic_block is False:
        raise RuntimeError("the series is locked inside the issuing transaction")
    InvoiceNumberSeries.objects.get_or_create(
        name=series, defaults={"next_number": first_number(series)}
    )  # created by migrations billing/0002 and 0005; again only after all data was flushed
    return InvoiceNumberSeries.objects.select_for_update().get(name=series)


def take_numbers(count: int, series: str = SERIES) -> range:
    """The next ``count`` numbers of the one series, inside the caller's transaction.

    The series row is locked until the transaction ends, so a concurrent issue waits; if the
    transaction rolls back, the numbers are given back with it. Nothing is skipped or repeated.
    """
    if count == 0:
        return range(0)
    row = lock_series(series)
    first = row.next_number
    row.next_number = first + count
    row.save(update_fields=["next_number"])
    return range(first, first + count)
