"""Priser: the price list per product with its periods, and adding a new price period."""

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path

from kortfaktura.catalog.importing import describe_period
from kortfaktura.catalog.models import Price, Product
from kortfaktura.catalog.services import PriceError, add_price
from kortfaktura.web.views.common import require

FIELDS = ("product", "unit_price", "vat_rate", "valid_from", "valid_to", "revenue_account")
VAT_CHOICES = ("25", "12", "6", "0")


def _page(request: HttpRequest, *, values: dict[str, str], errors: dict[str, str]) -> HttpResponse:
    products = Product.objects.prefetch_related(
        Prefetch("prices", queryset=Price.objects.order_by("-valid_from"))
    ).order_by("code")
    return render(
        request,
        "web/prices/index.html",
        {
            "page_title": "Priser",
            "products": products,
            "values": values,
            "errors": errors,
            "vat_choices": VAT_CHOICES,
            "may_edit": request.user.has_perm("access.edit_prices"),
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
        price = add_price(code, {k: v for k, v in values.items() if k != "product"})
    except Product.DoesNotExist:
        errors["product"] = f"Artikeln {code} finns inte – läs in den med en prisfil först."
    except PriceError as error:
        errors.update(error.errors)
    if errors:
        return _page(request, values=values, errors=errors)
    messages.success(
        request,
        f"Nytt pris för {code}: {price.unit_price} kr exkl. moms, "
        f"{describe_period(price.valid_from, price.valid_to)}.",
    )
    return redirect("web:prices")


urlpatterns = [
    path("priser/", index, name="prices"),
    path("priser/nytt/", add, name="price_add"),
]
