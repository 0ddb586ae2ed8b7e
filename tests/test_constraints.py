"""The rules the database itself enforces, whatever code writes to it."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from kortfaktura.catalog.models import Price, Product
from kortfaktura.customers.models import BillingAccount, Customer, UnitCode
from kortfaktura.orders.models import Order, PreviouslyInvoiced

pytestmark = pytest.mark.django_db


def refused(statement: object) -> None:
    """``statement`` is a callable that must be rejected by the database."""
    with pytest.raises(IntegrityError), transaction.atomic():
        statement()  # type: ignore[operator]


@pytest.fixture
def customer() -> Customer:
    return Customer.objects.create(orgnr="2321000131", name="Västra Götalandsregionen")


def account(customer: Customer, code: str, **fields: object) -> BillingAccount:
    values: dict[str, object] = {
        "name": code,
        "street": "Box 1",
        "postal_code": "405 44",
        "city": "Göteborg",
    }
    values.update(fields)
    return BillingAccount.objects.create(customer=customer, code=code, **values)


def test_organisation_number_is_unique_and_ten_digits(customer: Customer) -> None:
    refused(lambda: Customer.objects.create(orgnr="2321000131", name="Dublett"))
    refused(lambda: Customer.objects.create(orgnr="232100013", name="Nio siffror"))
    refused(lambda: Customer.objects.create(orgnr="232100-013", name="Bindestreck"))


def test_one_default_account_per_customer(customer: Customer) -> None:
    account(customer, "VGR-RS", is_default=True)
    account(customer, "VGR-SU", is_default=False)
    refused(lambda: account(customer, "VGR-X", is_default=True))
    other = Customer.objects.create(orgnr="2120001454", name="Vårgårda kommun")
    account(other, "1442", is_default=True)


def test_account_code_is_unique(customer: Customer) -> None:
    account(customer, "VGR-RS")
    refused(lambda: account(customer, "VGR-RS"))


def test_unit_code_is_unique_per_customer(customer: Customer) -> None:
    su = account(customer, "VGR-SU")
    skas = account(customer, "VGR-SKAS")
    UnitCode.objects.create(customer=customer, account=su, code="SU-MED")
    refused(lambda: UnitCode.objects.create(customer=customer, account=skas, code="SU-MED"))
    other = Customer.objects.create(orgnr="2120001454", name="Vårgårda kommun")
    UnitCode.objects.create(customer=other, account=account(other, "1442"), code="SU-MED")


def test_peppol_scheme_must_be_known_and_have_an_id(customer: Customer) -> None:
    refused(lambda: account(customer, "A", peppol_scheme="9955", peppol_id="SE1"))
    refused(lambda: account(customer, "B", peppol_scheme="0007", peppol_id=""))
    refused(lambda: account(customer, "C", peppol_scheme="", peppol_id="2321000131"))
    account(customer, "D", peppol_scheme="0088", peppol_id="7350003379782")


def test_delivery_channel_must_be_known(customer: Customer) -> None:
    refused(lambda: account(customer, "A", delivery="fax"))


@pytest.fixture
def product() -> Product:
    return Product.objects.create(code="ETK", name="eTjänstekort")


def price(product: Product, start: str, end: str | None, amount: str = "350") -> Price:
    return Price.objects.create(
        product=product,
        valid_from=dt.date.fromisoformat(start),
        valid_to=dt.date.fromisoformat(end) if end else None,
        unit_price=Decimal(amount),
    )


def test_price_periods_of_a_product_cannot_overlap(product: Product) -> None:
    price(product, "2019-01-01", "2022-12-31")
    refused(lambda: price(product, "2022-12-31", None))  # one shared day
    refused(lambda: price(product, "2020-01-01", "2020-06-30"))  # inside
    refused(lambda: price(product, "2018-01-01", None))  # around
    price(product, "2023-01-01", None)
    refused(lambda: price(product, "2030-01-01", "2030-12-31"))  # inside the open period
    other = Product.objects.create(code="PUK", name="PUK-kod")
    price(other, "2019-01-01", None)


def test_updating_a_price_into_an_overlap_is_refused(product: Product) -> None:
    first = price(product, "2019-01-01", "2022-12-31")
    price(product, "2023-01-01", None)
    first.valid_to = dt.date(2023, 6, 30)
    refused(first.save)


def test_price_period_sanity(product: Product) -> None:
    refused(lambda: price(product, "2020-01-01", "2019-12-31"))
    refused(lambda: price(product, "2020-01-01", None, amount="-1"))
    refused(
        lambda: Price.objects.create(
            product=product, valid_from=dt.date(2020, 1, 1), unit_price=1, vat_rate=Decimal(101)
        )
    )


def test_orders_are_unique_and_have_a_known_status() -> None:
    def order(order_id: str, status: str = "ordered") -> Order:
        return Order.objects.create(
            order_id=order_id,
            ordered_at="2020-03-01",
            order_date=dt.date(2020, 3, 1),
            orgnr="2120001454",
            product_code="ETK",
            status=status,
        )

    order("B1")
    refused(lambda: order("B1"))
    refused(lambda: order("B2", status="lost"))


def test_previously_invoiced_once_per_order() -> None:
    PreviouslyInvoiced.objects.create(order_id="B1", invoice_number="GF1")
    refused(lambda: PreviouslyInvoiced.objects.create(order_id="B1", invoice_number="GF2"))


def test_constraints_exist_in_the_schema() -> None:
    """The no-overlap guard is a database object, not only code."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conname = 'price_periods_do_not_overlap'"
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'price_periods_do_not_overlap%'"
            )
        assert cursor.fetchall()
