"""Shared by the web and API tests: users of each role and a small billed world.

Everything is real: users are made by the same service as ``kortfaktura user add``, runs are
drafted and issued by the billing services (with the real Peppol validation).
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

import factories as make
from kortfaktura.access.services import add_user, create_token
from kortfaktura.audit.actor import acting_as
from kortfaktura.billing import services as billing
from kortfaktura.billing.models import BillingRun, Invoice
from kortfaktura.customers.models import Customer
from kortfaktura.orders.models import Order

PASSWORD = "Webbtest-lösen-2026"
STAFF_ROLES = ("admin", "ekonomi", "fakturering", "granskare")
ROLES = (*STAFF_ROLES, "kund")
ISSUER = "ekonomi-test"  # issues the world's runs: not the one who drafted them (R25)


def user(role: str, orgnr: str | None = None, username: str | None = None) -> AbstractBaseUser:
    name = username or (f"{role}-{orgnr}" if orgnr else role)
    return add_user(name, role, PASSWORD, orgnr).user


def token(username: str) -> str:
    return create_token(username)


@dataclass
class World:
    """Two municipalities with issued invoices (one draft run on top), and their orders."""

    own: Customer
    other: Customer
    own_invoice: Invoice
    other_invoice: Invoice
    own_orders: list[Order]
    other_orders: list[Order]
    issued_run: BillingRun
    draft_run: BillingRun | None
    extra: dict[str, Any] = field(default_factory=dict)


def billed_world(*, with_draft: bool = True) -> World:
    """Vårgårda (own) and Borås (other), three and two orders in March 2020, issued; and
    (with_draft) one April order each in a draft run."""
    etk = make.product("ETK", "eTjänstekort")
    make.price(etk, "350")
    own = make.customer("Vårgårda kommun", number="2120001454")
    make.account(own, "1442")
    other = make.customer("Borås stad", number="2120001561")
    make.account(other, "1490")
    own_orders = [
        make.order(own, f"2020-03-0{day}", etk, order_id=f"VG-{day}") for day in (2, 3, 4)
    ]
    other_orders = [
        make.order(other, f"2020-03-0{day}", etk, order_id=f"BS-{day}") for day in (2, 3)
    ]
    for index, order in enumerate(other_orders):
        order.holder_name = f"Hemlig Innehavare {index}"
        order.save(update_fields=["holder_name"])
    run = billing.create_run(dt.date(2020, 3, 1), dt.date(2020, 3, 31)).run
    assert run.pk is not None
    with acting_as(ISSUER):  # dual control (R25): someone other than the drafter issues
        issued = billing.issue_run(run.pk)
    invoices = {invoice.customer_id: invoice for invoice in issued.invoices.all()}
    draft = None
    if with_draft:
        make.order(own, "2020-04-02", etk, order_id="VG-APR")
        make.order(other, "2020-04-02", etk, order_id="BS-APR")
        draft = billing.create_run(dt.date(2020, 4, 1), dt.date(2020, 4, 30)).run
    return World(
        own=own,
        other=other,
        own_invoice=invoices[own.pk],
        other_invoice=invoices[other.pk],
        own_orders=own_orders,
        other_orders=other_orders,
        issued_run=issued,
        draft_run=draft,
    )
