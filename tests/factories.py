"""Small builders for billing tests: real rows in the real database, without import files."""

import datetime as dt
from decimal import Decimal
from itertools import count

from django.conf import settings
from stdnum import luhn

from kortfaktura.catalog.models import Price, Product
from kortfaktura.customers.models import BillingAccount, Customer, UnitCode
from kortfaktura.orders.models import Order

_numbers = count(100)
_orders = count(1)


def orgnr(public: bool = True) -> str:
    body = f"{'2' if public else '5'}{next(_numbers):08d}"
    return body + luhn.calc_check_digit(body)


def customer(
    name: str = "Testkommun", *, number: str | None = None, public: bool = True
) -> Customer:
    return Customer.objects.create(orgnr=number or orgnr(public), name=name)


def account(
    owner: Customer,
    code: str,
    *,
    default: bool = True,
    units: tuple[str, ...] = (),
    buyer_reference: str = "REF-1",
    peppol: str = "0007",
    cost_centre: str | None = None,
) -> BillingAccount:
    """A complete account; one of the seller's own units gets a cost centre unless told
    otherwise (without one its internal charges are held back, R17)."""
    created = BillingAccount.objects.create(
        customer=owner,
        code=code,
        name=f"{owner.name} {code}",
        is_default=default,
        buyer_reference=buyer_reference,
        peppol_scheme=peppol,
        peppol_id=owner.orgnr if peppol else "",
        delivery="peppol" if peppol else "print",
        street="Box 1",
        postal_code="405 44",
        city="Göteborg",
        cost_centre=(
            cost_centre
            if cost_centre is not None
            else f"KS-{code}"
            if owner.orgnr == settings.SELLER["orgnr"]
            else ""
        ),
    )
    for unit in units:
        UnitCode.objects.create(customer=owner, account=created, code=unit)
    return created


def product(
    code: str = "ETK", name: str = "eTjänstekort", *, cancelled_billable: bool = False
) -> Product:
    return Product.objects.create(code=code, name=name, cancelled_billable=cancelled_billable)


def price(
    item: Product,
    amount: str,
    valid_from: str = "2019-01-01",
    valid_to: str | None = None,
    vat: str = "25",
) -> Price:
    return Price.objects.create(
        product=item,
        valid_from=dt.date.fromisoformat(valid_from),
        valid_to=dt.date.fromisoformat(valid_to) if valid_to else None,
        unit_price=Decimal(amount),
        vat_rate=Decimal(vat),
    )


def order(
    owner: Customer | None,
    day: str | dt.date,
    item: Product | None,
    *,
    unit: str = "",
    status: str = "collected",
    order_id: str | None = None,
    orgnr_text: str | None = None,
) -> Order:
    date = day if isinstance(day, dt.date) else dt.date.fromisoformat(day)
    return Order.objects.create(
        order_id=order_id or f"T{next(_orders):07d}",
        ordered_at=date.isoformat(),
        order_date=date,
        orgnr=orgnr_text or (owner.orgnr if owner else "5590002282"),
        unit_code=unit,
        product_code=item.code if item else "OKÄND",
        customer=owner,
        product=item,
        holder_name="Anna Andersson",
        status=status,
    )
