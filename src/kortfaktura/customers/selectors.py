"""Reads about customers and their billing accounts, in the JSON the API answers."""

import contextlib
from collections import defaultdict
from typing import Any

from django.db.models import Count, Q, QuerySet

from kortfaktura.customers.identifiers import InvalidIdentifier, normalize_orgnr
from kortfaktura.customers.models import BillingAccount, Customer, UnitCode


def search(rows: QuerySet[Customer], text: str) -> QuerySet[Customer]:
    """Customers whose name contains ``text``, or whose organisationsnummer it is (with or
    without hyphen) or begins with."""
    text = " ".join(text.split())
    if not text:
        return rows
    condition = Q(name__icontains=text)
    digits = text.replace("-", "").replace(" ", "")
    if digits.isdigit():
        condition |= Q(orgnr__startswith=digits)
        with contextlib.suppress(InvalidIdentifier):
            condition |= Q(orgnr=normalize_orgnr(text))
    return rows.filter(condition)


def customer_json(customer: Customer, accounts: int) -> dict[str, Any]:
    return {
        "orgnr": customer.orgnr,
        "name": customer.name,
        "public_body": customer.is_public_body,
        "internal": customer.is_seller,
        "demo_data": customer.is_demo_data,
        "accounts": accounts,
    }


def customers_json(customers: list[Customer]) -> list[dict[str, Any]]:
    counts = dict(
        BillingAccount.objects.filter(customer__in=customers)
        .values("customer_id")
        .annotate(number=Count("id"))
        .values_list("customer_id", "number")
    )
    return [customer_json(customer, counts.get(customer.pk, 0)) for customer in customers]


def account_json(account: BillingAccount, unit_codes: list[str]) -> dict[str, Any]:
    return {
        "code": account.code,
        "name": account.name,
        "is_default": account.is_default,
        "buyer_reference": account.buyer_reference,
        "peppol_id": account.peppol_endpoint,
        "email": account.email,
        "street": account.street,
        "postal_code": account.postal_code,
        "city": account.city,
        "delivery": account.delivery,
        "cost_centre": account.cost_centre,
        "unit_codes": unit_codes,
        "problems": account.missing_data(),
    }


def customer_detail_json(customer: Customer, accounts: QuerySet[BillingAccount]) -> dict[str, Any]:
    """A customer with each billing account, its unit codes and what is missing from it (R15)."""
    rows = list(accounts.filter(customer=customer).select_related("customer").order_by("code"))
    units: dict[int, list[str]] = defaultdict(list)
    for account_id, code in (
        UnitCode.objects.filter(account__in=rows).order_by("code").values_list("account_id", "code")
    ):
        units[account_id].append(code)
    data = customer_json(customer, len(rows))
    data["accounts"] = [account_json(account, units[account.pk]) for account in rows]
    return data
