"""Swedish organisation numbers, GLN and Peppol endpoints (DOMAIN.md R15).

Every function returns a normalised value or raises ``InvalidIdentifier`` with a Swedish message
that tells the user what is wrong and what a valid value looks like.
"""

from dataclasses import dataclass
from functools import lru_cache

from stdnum import ean, luhn
from stdnum.exceptions import ValidationError


class InvalidIdentifier(ValueError):
    """A value that is not a valid identifier; the message is Swedish and actionable."""


PEPPOL_SCHEME_ORGNR = "0007"
PEPPOL_SCHEME_GLN = "0088"
PEPPOL_SCHEMES = {
    PEPPOL_SCHEME_ORGNR: "organisationsnummer",
    PEPPOL_SCHEME_GLN: "GLN",
}


@lru_cache(maxsize=4096)
def normalize_orgnr(value: str) -> str:
    """Return the 10-digit organisationsnummer, or raise ``InvalidIdentifier``.

    Accepts ``212000-1454``, ``2120001454`` and the 12-digit forms ``16212000-1454`` /
    ``162120001454`` (the ``16`` century prefix used by Skatteverket).
    """
    raw = value.strip()
    digits = raw.replace("-", "").replace(" ", "").replace("+", "")
    if not digits:
        raise InvalidIdentifier("organisationsnummer saknas")
    if not digits.isdigit():
        raise InvalidIdentifier(
            f"'{raw}' är inget organisationsnummer – det ska bestå av 10 siffror, t.ex. 212000-1454"
        )
    if len(digits) == 12 and digits.startswith("16"):
        digits = digits[2:]
    if len(digits) != 10:
        raise InvalidIdentifier(
            f"'{raw}' har {len(digits)} siffror – ett organisationsnummer har 10, t.ex. 212000-1454"
        )
    if not luhn.is_valid(digits):
        raise InvalidIdentifier(
            f"'{raw}' är inget giltigt organisationsnummer – kontrollsiffran stämmer inte; "
            "kontrollera numret mot kundens registreringsbevis"
        )
    return digits


def format_orgnr(digits: str) -> str:
    """``2120001454`` → ``212000-1454``."""
    return f"{digits[:6]}-{digits[6:]}" if len(digits) == 10 else digits


def is_public_body(orgnr: str) -> bool:
    """Organisation numbers starting with 2 belong to the state, regions and municipalities.

    Public buyers must receive a buyer reference (BT-10), otherwise they return the invoice.
    """
    return orgnr.startswith("2")


def normalize_gln(value: str) -> str:
    """A GLN (Global Location Number) is 13 digits with a GS1 (EAN-13) check digit."""
    raw = value.strip()
    digits = raw.replace(" ", "")
    if len(digits) != 13 or not digits.isdigit():
        raise InvalidIdentifier(
            f"'{raw}' är inget GLN – ett GLN har 13 siffror, t.ex. 7350003379782"
        )
    try:
        return str(ean.validate(digits))
    except ValidationError as error:
        raise InvalidIdentifier(
            f"'{raw}' är inget giltigt GLN – kontrollsiffran (den sista siffran) stämmer inte"
        ) from error


@dataclass(frozen=True)
class PeppolEndpoint:
    scheme: str
    identifier: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.identifier}"


def parse_peppol_endpoint(value: str) -> PeppolEndpoint:
    """Parse ``scheme:id``; 0007 needs a valid organisationsnummer, 0088 a valid GLN."""
    raw = value.strip()
    scheme, separator, identifier = raw.partition(":")
    scheme, identifier = scheme.strip(), identifier.strip()
    if not separator or not scheme or not identifier:
        raise InvalidIdentifier(
            f"Peppol-adressen '{raw}' ska skrivas som schema:id, "
            "t.ex. 0007:2120001454 eller 0088:7350003379782"
        )
    if scheme == PEPPOL_SCHEME_ORGNR:
        try:
            return PeppolEndpoint(scheme, normalize_orgnr(identifier))
        except InvalidIdentifier as error:
            raise InvalidIdentifier(f"Peppol-adressen '{raw}' (schema 0007): {error}") from error
    if scheme == PEPPOL_SCHEME_GLN:
        try:
            return PeppolEndpoint(scheme, normalize_gln(identifier))
        except InvalidIdentifier as error:
            raise InvalidIdentifier(f"Peppol-adressen '{raw}' (schema 0088): {error}") from error
    raise InvalidIdentifier(
        f"Peppol-adressen '{raw}' har schemat '{scheme}' – tillåtna scheman är "
        "0007 (organisationsnummer) och 0088 (GLN)"
    )
