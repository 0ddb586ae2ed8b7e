"""The web application's pages: each module under views/ brings its own urlpatterns."""

from django.urls import URLPattern, URLResolver

from kortfaktura.web.views import (
    access,
    audit,
    bookkeeping,
    changes,
    customers,
    deliveries,
    health,
    imports,
    invoices,
    jobs,
    orders,
    overview,
    payments,
    prices,
    review,
    runs,
    users,
)

app_name = "web"

urlpatterns: list[URLPattern | URLResolver] = [
    *health.urlpatterns,
    *access.urlpatterns,
    *jobs.urlpatterns,
    *overview.urlpatterns,
    *imports.urlpatterns,
    *customers.urlpatterns,
    *prices.urlpatterns,
    *orders.urlpatterns,
    *runs.urlpatterns,
    *invoices.urlpatterns,
    *changes.urlpatterns,
    *deliveries.urlpatterns,
    *payments.urlpatterns,
    *review.urlpatterns,
    *bookkeeping.urlpatterns,
    *audit.urlpatterns,
    *users.urlpatterns,
]
