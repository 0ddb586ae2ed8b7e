"""Invoice numbers and OCR references (DOMAIN.md R11)."""

from django.conf import settings
from django.db import connection
from stdnum import luhn

from kortfaktura.billing.models import InvoiceNumberSeries

SERIES = "invoices"


def ocr_reference(number: int) -> str:
    """Bankgirot's OCR reference: the number, a length digit and a Luhn check digit.

    The length digit is the length of the whole reference (check digit included) modulo 10.
    """
    digits = str(number)
    body = digits + str((len(digits) + 2) % 10)
    return body + luhn.calc_check_digit(body)


def lock_series() -> InvoiceNumberSeries:
    """The series row, locked until the caller's transaction ends: a concurrent issue waits
    here, so checks made after this call (e.g. of the issue date) still hold at commit."""
    if connection.in_atomic_block is False:
        raise RuntimeError("the series is locked inside the issuing transaction")
    InvoiceNumberSeries.objects.get_or_create(
        name=SERIES, defaults={"next_number": settings.FIRST_INVOICE_NUMBER}
    )  # created by migration billing/0002; again only after all data was flushed
    return InvoiceNumberSeries.objects.select_for_update().get(name=SERIES)


def take_numbers(count: int) -> range:
    """The next ``count`` numbers of the one series, inside the caller's transaction.

    The series row is locked until the transaction ends, so a concurrent issue waits; if the
    transaction rolls back, the numbers are given back with it. Nothing is skipped or repeated.
    """
    series = lock_series()
    first = series.next_number
    series.next_number = first + count
    series.save(update_fields=["next_number"])
    return range(first, first + count)
