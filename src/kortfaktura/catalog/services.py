"""Adding a price period by hand (the web application's Priser page), audited (DOMAIN.md R19).

The rules are the price import's (catalog/importing.py): a Swedish VAT rate, a price that is not
negative and not above the highest unit price, a revenue account in class 3, and periods of one
product that never overlap (the database refuses an overlap too, migration catalog/0002).

A new price from a date ends the price that holds until further notice the day before, in the same
transaction and audited as a price file's change of ``valid_to`` is. The price of an order is the
one in force on its order date (R3), so a date is refused when an order of the product on or after
it is already on an issued, uncredited document: that document was priced with the old price and
never changes (R12, R13), and a later credit and rebill would charge a different price.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from kortfaktura import swedish
from kortfaktura.audit.services import changed_fields, record
from kortfaktura.catalog import selectors
from kortfaktura.catalog.importing import ACCOUNT_NUMBER, MAX_UNIT_PRICE, VAT_RATES, describe_period
from kortfaktura.catalog.models import Price, Product
from kortfaktura.catalog.selectors import BilledFrom, DraftOrders
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
    raw_price = text.get("unit_price", "")
    try:
        price = parse_decimal(raw_price, "à-pris", places=2)
        if price < 0:
            errors["unit_price"] = "À-priset får inte vara negativt – ange priset exkl. moms."
        elif price == 0:
            errors["unit_price"] = (
                "À-priset ska vara större än 0 kr – ange priset exkl. moms i kronor, t.ex. 350."
            )
        elif price > MAX_UNIT_PRICE:
            errors["unit_price"] = (
                "À-priset är större än högsta tillåtna styckpris 1 000 000 kr – kontrollera "
                "beloppet (exkl. moms, i kronor)."
            )
        else:
            cleaned["unit_price"] = price.quantize(Decimal("0.01"))
    except InvalidValue as error:
        if not raw_price:
            errors["unit_price"] = "Ange à-priset."
        elif "decimaler" in str(error):
            errors["unit_price"] = (
                f"À-priset {raw_price} har fler än två decimaler – ange kronor och öre, "
                "t.ex. 1 234,50."
            )
        else:
            errors["unit_price"] = _sentence(error)
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


def overlapping(
    product: Product, valid_from: dt.date, valid_to: dt.date | None, *, besides: Price | None = None
) -> Price | None:
    """The first existing price of ``product`` (other than ``besides``) whose period overlaps
    the given one."""
    rows = Price.objects.filter(product=product).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=valid_from)
    )
    if valid_to is not None:
        rows = rows.filter(valid_from__lte=valid_to)
    if besides is not None:
        rows = rows.exclude(pk=besides.pk)
    return rows.order_by("valid_from").first()


def overlap_message(
    product: Product, valid_from: dt.date, valid_to: dt.date | None, clash: Price
) -> str:
    return (
        f"Perioden {describe_period(valid_from, valid_to)} för {product.code} överlappar det "
        f"befintliga priset {swedish.money(clash.unit_price)} "
        f"({describe_period(clash.valid_from, clash.valid_to)}), som redan har ett slutdatum – "
        "välj en period som inte överlappar det."
    )


def open_price(product: Product) -> Price | None:
    """The product's price that holds until further notice (at most one: periods never overlap)."""
    return Price.objects.filter(product=product, valid_to__isnull=True).first()


def _too_early_message(product: Product, valid_from: dt.date, current: Price) -> str:
    # The open price may not have begun yet (a price set ahead): the words say which.
    begun = current.valid_from <= timezone.localdate()
    began = "började" if begun else "börjar"
    if valid_from == current.valid_from:
        return (
            f"Priset som gäller tills vidare för {product.code} {began} också "
            f"{valid_from.isoformat()} – ett nytt pris måste börja efter det. Välj en senare dag."
        )
    return (
        f"Det nya priset kan inte börja {valid_from.isoformat()}, före priset "
        f"{swedish.money(current.unit_price)} som gäller tills vidare och {began} "
        f"{current.valid_from.isoformat()} – välj en dag efter {current.valid_from.isoformat()}."
    )


def _billed_message(product: Product, valid_from: dt.date, billed: BilledFrom) -> str:
    orders = swedish.counted(billed.orders, "beställning", "beställningar")
    latest = billed.latest.isoformat()
    return (
        f"{orders} av {product.code} från och med {valid_from.isoformat()} finns redan på "
        f"utfärdade fakturor (den senaste beställd {latest}) och fakturerades med det gamla "
        f"priset. Ett pris ändras aldrig i efterhand för fakturerade beställningar – välj "
        f"{(billed.latest + dt.timedelta(days=1)).isoformat()} eller senare."
    )


@dataclass(frozen=True)
class Added:
    """A new price, the one it ended (if any) and the draft runs whose orders it reprices."""

    price: Price
    ended: Price | None
    drafts: list[DraftOrders]


def add_price(product_code: str, values: dict[str, str], *, actor: str | None = None) -> Added:
    """A new price period of an existing product; a price that holds until further notice and
    began before the new one ends the day before it. Raises ``Product.DoesNotExist`` or
    ``PriceError`` (with the reason on ``valid_from``)."""
    cleaned = _clean(values)
    start: dt.date = cleaned["valid_from"]
    with transaction.atomic():
        # Issuing holds the same lock: no order becomes invoiced between the check and the save.
        hold_billing_data_lock()
        product = Product.objects.get(code=product_code)
        current = open_price(product)
        ending = current if current is not None and current.valid_from < start else None
        if (
            current is not None
            and ending is None
            and (cleaned["valid_to"] is None or cleaned["valid_to"] >= current.valid_from)
        ):
            raise PriceError({"valid_from": _too_early_message(product, start, current)})
        clash = overlapping(product, start, cleaned["valid_to"], besides=ending)
        if clash is not None:
            raise PriceError(
                {"valid_from": overlap_message(product, start, cleaned["valid_to"], clash)}
            )
        if ending is not None:
            billed = selectors.billed_from(product, start)
            if billed is not None:
                raise PriceError({"valid_from": _billed_message(product, start, billed)})
        ended_on = start - dt.timedelta(days=1)
        try:
            with transaction.atomic():
                if ending is not None:
                    ending.valid_to = ended_on
                    ending.save(update_fields=["valid_to", "updated_at"])
                price = Price.objects.create(product=product, **cleaned)
        except IntegrityError as error:
            # Another writer added an overlapping period between the check and the insert.
            raise PriceError(
                {"valid_from": f"Priset kunde inte sparas: databasen nekade ({error})."}
            ) from error
        if ending is not None:
            record(
                "price.updated",
                f"pris {product.code} {ending.valid_from.isoformat()}",
                {
                    **changed_fields({"valid_to": None}, {"valid_to": ended_on}),
                    "via": "webb",
                    "next": f"pris {product.code} {start.isoformat()}",
                },
                actor=actor,
            )
        record(
            "price.created",
            f"pris {product.code} {price.valid_from.isoformat()}",
            {
                **changed_fields(None, cleaned),
                "via": "webb",
                **(
                    {"ends": f"pris {product.code} {ending.valid_from.isoformat()}"}
                    if ending is not None
                    else {}
                ),
            },
            actor=actor,
        )
        drafts = selectors.drafted_from(product, start)
    return Added(price, ending, drafts)
