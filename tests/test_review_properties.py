"""The review against an independent count (issue 9): random orders in random states, random
runs drafted, issued and credited; every month's count per state must equal what a plain model
of DOMAIN.md R2/R18 says, written here without the billing core."""

import datetime as dt
from collections import Counter

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factories as make
from kortfaktura.billing import services
from kortfaktura.billing.models import Invoice
from kortfaktura.orders.models import PreviouslyInvoiced
from kortfaktura.review.report import STATES
from kortfaktura.review.selectors import build_review

pytestmark = pytest.mark.django_db
MONTHS = [dt.date(2020, 11, 1), dt.date(2020, 12, 1), dt.date(2021, 1, 1), dt.date(2021, 2, 1)]
PUK_PRICED_FROM = dt.date(2021, 1, 1)

order_specs = st.lists(
    st.tuples(
        st.integers(0, len(MONTHS) - 1),  # month
        st.integers(1, 27),  # day
        st.sampled_from(["a", "b", "unknown"]),  # customer
        st.sampled_from(["ETK", "PUK"]),
        st.sampled_from(["collected", "revoked", "cancelled"]),
        st.booleans(),  # invoiced by the earlier system
    ),
    min_size=1,
    max_size=25,
)
# Per month: nothing, a draft, or issued; then maybe credit the first issued invoice.
month_actions = st.lists(
    st.sampled_from(["none", "draft", "issue"]), min_size=len(MONTHS), max_size=len(MONTHS)
)


def month_end(first: dt.date) -> dt.date:
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return following - dt.timedelta(days=1)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(order_specs, month_actions, st.booleans())
def test_the_review_counts_what_an_independent_model_counts(
    specs: list[tuple], actions: list[str], credit: bool
) -> None:
    with transaction.atomic():
        etk = make.product("ETK", "eTjänstekort")
        make.price(etk, "350")
        puk = make.product("PUK", "PUK-kod")
        make.price(puk, "150", valid_from=PUK_PRICED_FROM.isoformat())
        owners = {"a": make.customer("Kund A"), "b": make.customer("Kund B")}
        for key, owner in owners.items():
            make.account(owner, f"K-{key}")
        orders = []
        for index, (month, day, who, product, status, earlier) in enumerate(specs):
            order = make.order(
                owners.get(who), MONTHS[month].replace(day=day), etk if product == "ETK" else puk,
                status=status, order_id=f"R{index:03d}",
            )  # fmt: skip
            if earlier:
                PreviouslyInvoiced.objects.create(order_id=order.order_id, invoice_number="E1")
            orders.append((order.order_id, month, who, product, status, earlier))
        for month, action in enumerate(actions):
            if action == "none":
                continue
            run = services.create_run(MONTHS[month], month_end(MONTHS[month]))
            if run.run.pk is not None and action == "issue":
                services.issue_run(run.run.pk)
        credited: set[str] = set()
        first = Invoice.objects.filter(status="issued", kind="invoice").order_by("number").first()
        if credit and first is not None:
            credited = set(first.items.values_list("order_ref", flat=True))
            services.credit_invoice(first.number or 0, reason="egenskapstest")

        expected: Counter[tuple[str, str]] = Counter()
        for order_id, month, who, product, status, earlier in orders:
            key = MONTHS[month].strftime("%Y-%m")
            billable = status != "cancelled" and not earlier
            stopped = who == "unknown" or (product == "PUK" and MONTHS[month] < PUK_PRICED_FROM)
            if earlier:
                state = "previously_invoiced"
            elif status == "cancelled":
                state = "not_billable"
            elif stopped:
                state = "held_back"
            elif actions[month] == "issue" and order_id not in credited:
                state = "invoiced"
            elif actions[month] == "draft":
                state = "in_draft"
            else:
                state = "unbilled"
            assert billable or state in {"previously_invoiced", "not_billable"}
            expected[key, state] += 1
            expected[key, "orders"] += 1

        review = build_review()
        assert review.balanced, review.discrepancies
        counted: Counter[tuple[str, str]] = Counter()
        for row in review.months:
            for name in ("orders", *STATES):
                if getattr(row, name):
                    counted[row.month, name] = getattr(row, name)
        assert counted == expected
        invoiced_orders = sum(n for (_, name), n in expected.items() if name == "invoiced")
        assert sum(row.invoiced_net for row in review.months) == sum(
            (row.documents_net for row in review.months), start=0
        )
        assert len(review.unbilled) == sum(
            n for (_, name), n in expected.items() if name == "unbilled"
        )
        assert review.totals.invoiced == invoiced_orders
        assert review.gaps == [] and review.invalid_documents == []
        transaction.set_rollback(True)
