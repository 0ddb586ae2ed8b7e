"""What the database holds, summarised for the demo's closing report."""

from typing import Any

from django.db.models import Count, Max, Min
from django.db.models.functions import ExtractYear

from kortfaktura.catalog.models import Price
from kortfaktura.customers.models import BillingAccount, Customer, UnitCode
from kortfaktura.orders.models import Order, OrderStatus, PreviouslyInvoiced


def customer_kind(customer: Customer) -> str:
    if customer.orgnr.startswith("212000"):
        return "kommun"
    if customer.orgnr.startswith("2"):
        return "region"
    return "privat vårdgivare"


def loaded_data_summary() -> dict[str, Any]:
    customers = list(Customer.objects.all())
    kinds: dict[str, int] = {}
    for customer in customers:
        kinds[customer_kind(customer)] = kinds.get(customer_kind(customer), 0) + 1
    incomplete = [
        {"account_code": account.code, "name": account.name, "problems": account.missing_data()}
        for account in BillingAccount.objects.select_related("customer").order_by("code")
        if account.missing_data()
    ]
    orders = Order.objects.all()
    span = orders.aggregate(first=Min("order_date"), last=Max("order_date"))
    status_labels = dict(OrderStatus.choices)
    return {
        "customers": {
            "total": len(customers),
            "by_kind": kinds,
            "demo_orgnr": sum(customer.is_demo_data for customer in customers),
            "billing_accounts": BillingAccount.objects.count(),
            "unit_codes": UnitCode.objects.count(),
            "incomplete_accounts": incomplete,
        },
        "prices": [
            {
                "product_code": price.product.code,
                "product_name": price.product.name,
                "unit_price": price.unit_price,
                "vat_rate": price.vat_rate,
                "valid_from": price.valid_from,
                "valid_to": price.valid_to,
            }
            for price in Price.objects.select_related("product").order_by(
                "product__code", "valid_from"
            )
        ],
        "orders": {
            "total": orders.count(),
            "first_order_date": span["first"],
            "last_order_date": span["last"],
            "by_year": {
                str(row["year"]): row["count"]
                for row in orders.annotate(year=ExtractYear("order_date"))
                .values("year")
                .annotate(count=Count("id"))
                .order_by("year")
            },
            "by_status": {
                status_labels.get(row["status"], row["status"]): row["count"]
                for row in orders.values("status").annotate(count=Count("id")).order_by("status")
            },
            "unknown_customer": orders.filter(customer__isnull=True).count(),
            "unknown_product": orders.filter(product__isnull=True).count(),
        },
        "previously_invoiced": PreviouslyInvoiced.objects.count(),
    }
