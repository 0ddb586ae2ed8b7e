"""Adding a price period by hand (the web application's Priser page), audited (DOMAIN.md R19).

The rules are the price import's (catalog/importing.py): a Swedish VAT rate, a price that is not
negative and not above the highest unit price, a revenue account in class 3, and periods of one
product that never overlap (the database refuses an overlap too, migration catalog/0002).
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from kortfaktura.audit.services import changed_fields, record
from kortfaktura.catalog.importing import ACCOUNT_NUMBER, MAX_UNIT_PRICE, VAT_RATES, describe_period
from kortfaktura.catalog.models import Price, Product
from kortfaktura.imports.values import InvalidValue, parse_date, parse_decimal
from kortfaktura.locks import hold_billing_data_lock


class PriceError(Exception):
    """The price cannot be added; ``errors`` maps each form field to a Swedish message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {text}" for field, text in errors.items()))
        self.errors = errors


def _sentence(error: Exception) -> str:
    text = str(error)
    return f"{text[:1].upper()}{text[1:]}."


def _clean(values: dict[str, str]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    text = {name: str(values.get(name, "")).strip() for name in values}
    try:
        price = parse_decimal(text.get("unit_price", ""), "à-pris", places=2)
        if price < 0:
            errors["unit_price"] = "À-priset får inte vara negativt – ange priset exkl. moms."
        elif price > MAX_UNIT_PRICE:
            errors["unit_price"] = (
                "À-priset är större än högsta tillåtna styckpris 1 000 000 kr – kontrollera "
                "beloppet (exkl. moms, i kronor)."
            )
        else:
            cleaned["unit_price"] = price.quantize(Decimal("0.01"))
    except InvalidValue as error:
        errors["unit_price"] = _sentence(error) if text.get("unit_price") else "Ange à-priset."
    try:
        rate = parse_decimal(
            (text.get("vat_rate") or "25").rstrip("%").strip(), "momssats", places=2
        )
        if rate not in VAT_RATES:
            errors["vat_rate"] = "Momssatsen ska vara en svensk momssats: 25, 12, 6 eller 0 %."
        cleaned["vat_rate"] = rate.quantize(Decimal("0.01"))
    except InvalidValue:
        errors["vat_rate"] = "Momssatsen ska vara en svensk momssats: 25, 12, 6 eller 0 %."
    if not text.get("valid_from"):
        errors["valid_from"] = "Ange första beställningsdag som priset gäller (ÅÅÅÅ-MM-DD)."
    else:
        try:
            cleaned["valid_from"] = parse_date(text["valid_from"], "gäller från")
        except InvalidValue as error:
            errors["valid_from"] = _sentence(error)
    cleaned["valid_to"] = None
    if text.get("valid_to"):
        try:
            cleaned["valid_to"] = parse_date(text["valid_to"], "gäller till och med")
        except InvalidValue as error:
            errors["valid_to"] = _sentence(error)
    start, end = cleaned.get("valid_from"), cleaned.get("valid_to")
    if start and end and end < start:
        errors["valid_to"] = (
            f"Slutdatum {end.isoformat()} ligger före startdatum {start.isoformat()}."
        )
    account = text.get("revenue_account", "")
    if account and not ACCOUNT_NUMBER.fullmatch(account):
        errors["revenue_account"] = (
            "Ange kontonumret i bokföringen med 4–6 siffror, t.ex. 3001 (lämna tomt för "
            "standardkontot)."
        )
    elif account and not account.startswith("3"):
        errors["revenue_account"] = (
            f"{account} är inget intäktskonto – intäkter bokförs i kontoklass 3 (BAS), t.ex. "
            "3001; lämna tomt för standardkontot."
        )
    cleaned["revenue_account"] = account
    if errors:
        raise PriceError(errors)
    return cleaned


def overlapping(product: Product, valid_from: dt.date, valid_to: dt.date | None) -> Price | None:
    """The first existing price of ``product`` whose period overlaps the given one."""
    rows = Price.objects.filter(product=product).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=valid_from)
    )
    if valid_to is not None:
        rows = rows.filter(valid_from__lte=valid_to)
    return rows.order_by("valid_from").first()


def overlap_message(
    product: Product, valid_from: dt.date, valid_to: dt.date | None, clash: Price
) -> str:
    return (
        f"Perioden {describe_period(valid_from, valid_to)} för {product.code} överlappar det "
        f"befintliga priset {clash.unit_price} kr "
        f"({describe_period(clash.valid_from, clash.valid_to)})"
        " – avsluta det gamla priset dagen före det nya börjar (ändra dess slutdatum genom en "
        "prisfil), eller välj en period som inte överlappar."
    )


def add_price(product_code: str, values: dict[str, str], *, actor: str | None = None) -> Price:
    """A new price period of an existing product. Raises ``Product.DoesNotExist`` or
    ``PriceError`` (with the overlap, if any, on ``valid_from``)."""
    cleaned = _clean(values)
    with transaction.atomic():
        hold_billing_data_lock()
        product = Product.objects.get(code=product_code)
        clash = overlapping(product, cleaned["valid_from"], cleaned["valid_to"])
        if clash is not None:
            raise PriceError(
                {
                    "valid_from": overlap_message(
                        product, cleaned["valid_from"], cleaned["valid_to"], clash
                    )
                }
            )
        try:
            with transaction.atomic():
                price = Price.objects.create(product=product, **cleaned)
        except IntegrityError as error:
            # Another writer added an overlapping period between the check and the insert.
            raise PriceError(
                {"valid_from": f"Priset kunde inte sparas: databasen nekade ({error})."}
            ) from error
        record(
            "price.created",
            f"pris {product.code} {price.valid_from.isoformat()}",
            {**changed_fields(None, cleaned), "via": "webb"},
            actor=actor,
        )
    return price
