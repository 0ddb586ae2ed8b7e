"""Which document a payment pays (R21), pure: OCR number with a valid check digit, else a
document number in what the payer wrote, else nothing. Never by amount."""

import re
from collections.abc import Iterable, Mapping

from stdnum import luhn

NUMBER = re.compile(r"(?<!\d)\d{1,19}(?!\d)")


def valid_ocr(text: str) -> bool:
    """Bankgirot's OCR reference as Kortfaktura makes it (billing.numbering.ocr_reference): digits,
    a length digit (the whole length modulo 10) and a Luhn check digit."""
    if not (2 <= len(text) <= 25 and text.isascii() and text.isdigit()):
        return False
    return luhn.is_valid(text) and int(text[-2]) == len(text) % 10


def match(
    texts: Iterable[str],
    by_ocr: Mapping[str, int],
    by_number: Mapping[int, int],
) -> tuple[int | None, str]:
    """(document id, how): ``ocr``, ``number`` or (None, ""). ``by_ocr`` holds only references
    with a valid length and check digit (``valid_ocr``), so finding one there is the check."""
    texts = [text for text in texts if text]
    for text in texts:
        compact = text.replace(" ", "")
        if compact in by_ocr:
            return by_ocr[compact], "ocr"
    found = {
        by_number[int(token)]
        for text in texts
        for token in NUMBER.findall(text)
        if int(token) in by_number
    }
    if len(found) == 1:
        return found.pop(), "number"
    return None, ""  # none, or several documents named: a person decides
