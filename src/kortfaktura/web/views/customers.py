"""Kunder: search, a customer with its accounts, unit codes and findings; edit an account."""

from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path

from kortfaktura.access import scope
from kortfaktura.customers.identifiers import format_orgnr
from kortfaktura.customers.models import BillingAccount, DeliveryChannel
from kortfaktura.customers.services import (
    EDITABLE_FIELDS,
    AccountDataError,
    account_values,
    update_account,
)
from kortfaktura.review.checks import customer_data_problems
from kortfaktura.review.report import CustomerDataProblem
from kortfaktura.web.views import exports
from kortfaktura.web.views.common import contains_any_case, paginate, require, sortable

SORT_KEYS = {"namn": ("name",), "orgnr": ("orgnr",), "mottagare": ("account_count",)}
EXPORT_COLUMNS = [
    exports.Column("Namn", lambda c: c.name),
    exports.Column("Organisationsnummer", lambda c: format_orgnr(c.orgnr)),
    exports.Column("Fakturamottagare", lambda c: c.account_count),
    exports.Column("Demodata", lambda c: c.is_demo_data),
]


def _search(request: HttpRequest, text: str) -> Any:
    rows = scope.customers(request.user).annotate(account_count=Count("accounts"))
    if text:
        digits = text.replace("-", "").replace(" ", "")
        condition = contains_any_case("name", text) | Q(accounts__code__iexact=text)
        if digits.isdigit():
            condition |= Q(orgnr__startswith=digits)
        rows = rows.filter(pk__in=scope.customers(request.user).filter(condition).values("pk"))
    return rows


@require("access.view_billing", section="customers")
def index(request: HttpRequest) -> HttpResponse:
    text = " ".join(request.GET.get("q", "").split())[:200]
    rows, sorting = sortable(request, _search(request, text), SORT_KEYS, "namn")
    if exports.wanted(request):
        return exports.export(request, rows, EXPORT_COLUMNS, "kunder")
    page = paginate(request, rows)
    return render(
        request,
        "web/customers/index.html",
        {"page_title": "Kunder", "q": text, "page": page, "sorting": sorting},
    )


def findings_for(orgnr: str) -> list[CustomerDataProblem]:
    """The review's customer-data findings (R15) about one customer. The order-based check
    (unit codes no account lists) is limited to this customer's orders."""
    wanted = format_orgnr(orgnr)
    problems = customer_data_problems((" AND o.orgnr = %s", [orgnr]), {})
    return [problem for problem in problems if problem.orgnr == wanted]


@require("access.view_billing", section="customers")
def detail(request: HttpRequest, orgnr: str) -> HttpResponse:
    customer = get_object_or_404(scope.customers(request.user), orgnr=orgnr)
    accounts = list(
        scope.accounts(request.user)
        .filter(customer=customer)
        .prefetch_related("unit_codes")
        .order_by("-is_default", "code")
    )
    for account in accounts:
        account.units = sorted(unit.code for unit in account.unit_codes.all())  # type: ignore[attr-defined]
        account.problems = account.missing_data()  # type: ignore[attr-defined]
    findings = findings_for(customer.orgnr)
    return render(
        request,
        "web/customers/detail.html",
        {
            "page_title": customer.name,
            "customer": customer,
            "accounts": accounts,
            "findings": findings,
            "may_edit": request.user.has_perm("access.edit_customers"),
        },
    )


def _account(request: HttpRequest, code: str) -> BillingAccount:
    return get_object_or_404(scope.accounts(request.user).select_related("customer"), code=code)


@require("access.edit_customers", section="customers")
def edit_account(request: HttpRequest, code: str) -> HttpResponse:
    account = _account(request, code)
    values = account_values(account)
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {name: request.POST.get(name, "") for name in EDITABLE_FIELDS}
        try:
            result = update_account(account.code, values)
        except BillingAccount.DoesNotExist:
            raise Http404 from None
        except AccountDataError as error:
            errors = error.errors
        else:
            if result.changed:
                names = ", ".join(sorted(result.changed))
                messages.success(request, f"Mottagaren {account.code} sparades (ändrat: {names}).")
            else:
                messages.info(request, f"Ingenting ändrades för mottagaren {account.code}.")
            if result.problems:
                messages.warning(
                    request,
                    f"Mottagaren {account.code} är ofullständig – {'; '.join(result.problems)}. "
                    "Dess fakturor hålls tillbaka tills uppgiften finns.",
                )
            return redirect("web:customer", account.customer.orgnr)
    return render(
        request,
        "web/customers/edit.html",
        {
            "page_title": f"Ändra mottagaren {account.code}",
            "account": account,
            "customer": account.customer,
            "errors": errors,
            "fields": [
                {
                    "name": name,
                    "label": label,
                    "value": values.get(name, ""),
                    "error": errors.get(name, ""),
                }
                for name, label in EDITABLE_FIELDS.items()
            ],
            "deliveries": DeliveryChannel.choices,
        },
    )


urlpatterns = [
    path("kunder/", index, name="customers"),
    path("kunder/mottagare/<path:code>/andra/", edit_account, name="account_edit"),
    path("kunder/<str:orgnr>/", detail, name="customer"),
]
