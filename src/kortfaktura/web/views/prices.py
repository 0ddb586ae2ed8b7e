"""Priser: the price list per product with its periods, and a new price from a date (which ends
the price that holds until further notice the day before)."""

import datetime as dt

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path

from kortfaktura import swedish
from kortfaktura.catalog.importing import describe_period
from kortfaktura.catalog.models import Price, Product
from kortfaktura.catalog.selectors import last_billed_day
from kortfaktura.catalog.services import PriceError, add_price
from kortfaktura.web.views.common import require

FIELDS = ("product", "unit_price", "vat_rate", "valid_from", "valid_to", "revenue_account")
VAT_CHOICES = ("25", "12", "6", "0")


def _page(request: HttpRequest, *, values: dict[str, str], errors: dict[str, str]) -> HttpResponse:
    products = Product.objects.prefetch_related(
        Prefetch("prices", queryset=Price.objects.order_by("-valid_from"))
    ).order_by("code")
    may_edit = request.user.has_perm("access.edit_prices")
    rows = []
    for product in products:
        current = next((p for p in product.prices.all() if p.valid_to is None), None)
        # A new price that ends the current one starts after the last billed order: shown to
        # those who may add one (a few queries per product, and there are a handful).
        first_new_day = None
        if may_edit and current is not None:
            # …and after the current price began.
            first_new_day = current.valid_from + dt.timedelta(days=1)
            billed = last_billed_day(product)
            if billed is not None:
                first_new_day = max(first_new_day, billed + dt.timedelta(days=1))
        rows.append({"product": product, "current": current, "first_new_day": first_new_day})
    return render(
        request,
        "web/prices/index.html",
        {
            "page_title": "Priser",
            "products": products,
            "rows": rows,
            "values": values,
            "errors": errors,
            "vat_choices": VAT_CHOICES,
            "may_edit": may_edit,
        },
    )


@require("access.view_billing", section="prices")
def index(request: HttpRequest) -> HttpResponse:
    return _page(
        request, values={"vat_rate": "25", "product": request.GET.get("artikel", "")}, errors={}
    )


@require("access.edit_prices", section="prices")
def add(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("web:prices")
    values = {name: request.POST.get(name, "").strip() for name in FIELDS}
    errors: dict[str, str] = {}
    code = values["product"]
    if not code:
        errors["product"] = "Välj vilken artikel priset gäller."
    try:
        if errors:
            raise PriceError({})
        added = add_price(code, {k: v for k, v in values.items() if k != "product"})
    except Product.DoesNotExist:
        errors["product"] = f"Artikeln {code} finns inte – läs in den med en prisfil först."
    except PriceError as error:
        errors.update(error.errors)
    if errors:
        return _page(request, values=values, errors=errors)
    price, ended = added.price, added.ended
    text = (
        f"Nytt pris för {code}: {swedish.money(price.unit_price)} exkl. moms för beställningar "
        f"{describe_period(price.valid_from, price.valid_to)}."
    )
    if ended is not None and ended.valid_to is not None:
        text += (
            f" Det tidigare priset {swedish.money(ended.unit_price)} gäller beställningar till "
            f"och med {ended.valid_to.isoformat()}."
        )
    messages.success(request, text)
    for draft in added.drafts:
        orders = swedish.counted(draft.orders, "beställning", "beställningar")
        messages.warning(
            request,
            f"Utkastet i körning {draft.run} har {orders} av {code} från och med "
            f"{price.valid_from.isoformat()} med det gamla priset – gör om utkastet innan det "
            "utfärdas (annars stoppas utfärdandet).",
        )
    return redirect("web:prices")


urlpatterns = [
    path("priser/", index, name="prices"),
    path("priser/nytt/", add, name="price_add"),
]
