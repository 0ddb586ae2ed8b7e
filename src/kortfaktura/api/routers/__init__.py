"""The API's areas; each module holds one ninja Router."""

from ninja import Router

from kortfaktura.api.routers import (
    changes,
    customers,
    deliveries,
    imports,
    invoices,
    me,
    orders,
    payments,
    review,
    runs,
)

ROUTERS: list[tuple[str, Router]] = [
    ("/me", me.router),
    ("/imports", imports.router),
    ("/jobs", imports.jobs_router),
    ("/runs", runs.router),
    ("/invoices", invoices.router),
    ("/changes", changes.router),
    ("/review", review.router),
    ("/customers", customers.router),
    ("/orders", orders.router),
    ("/deliveries", deliveries.router),
    ("/payments", payments.router),
    ("/receivables", payments.receivables_router),
]
