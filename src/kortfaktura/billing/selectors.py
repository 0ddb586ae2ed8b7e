"""Reads about runs, invoices and what is invoiced."""

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Max, Min, OuterRef, Q, QuerySet, Subquery, Sum

from kortfaktura.billing import naming
from kortfaktura.billing.core import Proposal, ProposedLine
from kortfaktura.billing.facts import ACTIVE_ITEM
from kortfaktura.billing.models import BillingRun, HeldBackOrder, Invoice, InvoiceItem, InvoiceLine
from kortfaktura.billing.services import dual_control_refusal
from kortfaktura.customers.models import BillingAccount, Customer
from kortfaktura.orders.models import Order

ITEMS = InvoiceItem._meta.db_table
INVOICES = Invoice._meta.db_table
ORDERS = Order._meta.db_table


def invoiced_order_pks(order_pks: Iterable[int]) -> set[int]:
    """Those of the orders that are on an issued, uncredited invoice."""
    pks = list(order_pks)
    found: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(pks), 500):
            chunk = pks[start : start + 500]
            cursor.execute(
                f"SELECT i.order_id FROM {ITEMS} i JOIN {INVOICES} inv ON inv.id = i.invoice_id "
                f"WHERE i.order_id IN ({', '.join(['%s'] * len(chunk))}) "
                f"AND {ACTIVE_ITEM} AND inv.status = 'issued'",
                chunk,
            )
            found.update(pk for (pk,) in cursor.fetchall())
    return found


def _money(value: Any) -> str:
    return f"{value:.2f}"


def line_json(line: InvoiceLine | ProposedLine) -> dict[str, Any]:
    return {
        "order_month": f"{line.order_month:%Y-%m}",
        "product_code": line.product_code,
        "product_name": line.product_name,
        "quantity": line.quantity,
        "unit_price": _money(line.unit_price),
        "net": _money(line.net),
        "vat_rate": _money(line.vat_rate),
    }


def invoice_json(
    invoice: Invoice, lines: list[InvoiceLine], order_ids: list[str]
) -> dict[str, Any]:
    """The shape INTERFACES.md gives for ``invoice list --json`` (plus a few additions)."""
    return {
        "number": str(invoice.number) if invoice.number is not None else None,
        "type": invoice.kind,
        "status": invoice.status,
        "credits": str(invoice.credits.number) if invoice.credits_id and invoice.credits else None,
        "orgnr": invoice.customer.orgnr,
        "customer_name": invoice.customer.name,
        "account_code": invoice.account.code,
        "run_id": invoice.run_id,
        # The document named by its own months; the title as issued is on the document itself.
        "title": invoice.heading,
        "legacy": invoice.is_legacy,
        "period_start": invoice.period_start.isoformat(),
        "period_end": invoice.period_end.isoformat(),
        "issue_date": invoice.issue_date.isoformat() if invoice.issue_date else None,
        "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
        "ocr": invoice.ocr or None,
        "net": _money(invoice.net),
        "vat": _money(invoice.vat),
        "rounding": _money(invoice.rounding),
        "payable": _money(invoice.payable),
        "reason": invoice.reason or None,
        "lines": [line_json(line) for line in lines],
        "order_ids": order_ids,
    }


def invoices_json(invoices: list[Invoice]) -> list[dict[str, Any]]:
    """Several invoices with their lines and order ids, in three queries."""
    ids = [invoice.pk for invoice in invoices]
    lines: dict[int, list[InvoiceLine]] = defaultdict(list)
    orders: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for line in InvoiceLine.objects.filter(invoice_id__in=chunk).order_by(
            "invoice", "position"
        ):
            lines[line.invoice_id].append(line)
        with connection.cursor() as cursor:
            cursor.execute(
                # An issued document's order ids as issued (the snapshot); a draft's as they are.
                f"SELECT i.invoice_id, COALESCE(NULLIF(i.order_ref, ''), o.order_id) AS ref "
                f"FROM {ITEMS} i LEFT JOIN {ORDERS} o ON o.id = i.order_id "
                f"WHERE i.invoice_id IN ({', '.join(['%s'] * len(chunk))}) "
                f"ORDER BY i.invoice_id, ref",
                chunk,
            )
            for invoice_id, order_id in cursor.fetchall():
                orders[invoice_id].append(order_id)
    return [invoice_json(invoice, lines[invoice.pk], orders[invoice.pk]) for invoice in invoices]


def issued_documents(run_id: int | None = None) -> list[Invoice]:
    documents = Invoice.objects.filter(status=Invoice.Status.ISSUED).select_related(
        "customer", "account", "credits"
    )
    if run_id is not None:
        documents = documents.filter(run_id=run_id)
    return list(documents.order_by("number"))


def run_invoices(run: BillingRun) -> list[Invoice]:
    return list(
        run.invoices.select_related("customer", "account", "credits").order_by(
            "number", "account__code", "period_start", "id"
        )
    )


def held_back_of(run: BillingRun) -> list[dict[str, Any]]:
    return [
        {"order_id": order_id, "reason": reason, "detail": detail}
        for order_id, reason, detail in HeldBackOrder.objects.filter(run=run)
        .order_by("reason", "order__order_id")
        .values_list("order__order_id", "reason", "detail")
    ]


def run_json(run: BillingRun, *, with_invoices: bool = True) -> dict[str, Any]:
    invoices = run_invoices(run)
    return {
        "id": run.pk,
        **_run_head(run, run.status, run.customers.values_list("orgnr", flat=True)),
        "invoices": invoices_json(invoices) if with_invoices else [],
        "held_back": held_back_of(run),
        "not_billable": run.not_billable,
    }


def _run_head(run: BillingRun, status: str, orgnrs: Iterable[str]) -> dict[str, Any]:
    return {
        "status": status,
        "title": run.title,
        "legacy": run.is_legacy,
        "period_from": run.period_from.isoformat(),
        "period_to": run.period_to.isoformat(),
        "per": run.grouping,
        "issue_date": run.issue_date.isoformat() if run.issue_date else None,
        "customers": sorted(orgnrs),
    }


def proposal_json(run: BillingRun, proposal: Proposal, *, status: str) -> dict[str, Any]:
    """A proposal that was not stored (a preview, or a period with nothing to bill) in the shape
    of ``run_json``, without an id (INTERFACES.md)."""
    accounts = {
        account.pk: account
        for account in BillingAccount.objects.select_related("customer").filter(
            pk__in={invoice.account_id for invoice in proposal.invoices}
        )
    }
    order_ids = _order_ids(pk for invoice in proposal.invoices for pk in invoice.order_pks)
    invoices = []
    for proposed in proposal.invoices:
        account = accounts[proposed.account_id]
        totals = proposed.totals
        first_day, last_day = proposed.period(run.period_from, run.period_to)
        invoices.append(
            {
                "number": None,
                "type": (
                    Invoice.Kind.INTERNAL_CHARGE if proposed.internal else Invoice.Kind.INVOICE
                ).value,
                "status": status,
                "credits": None,
                "orgnr": account.customer.orgnr,
                "customer_name": account.customer.name,
                "account_code": account.code,
                "run_id": None,
                "title": naming.heading_of(run.title, run.is_legacy, first_day, last_day),
                "legacy": run.is_legacy,
                "period_start": first_day.isoformat(),
                "period_end": last_day.isoformat(),
                "issue_date": run.issue_date.isoformat() if run.issue_date else None,
                "due_date": None,
                "ocr": None,
                "net": _money(totals.net),
                "vat": _money(totals.vat),
                "rounding": _money(totals.rounding),
                "payable": _money(totals.payable),
                "reason": None,
                "lines": [line_json(line) for line in proposed.lines],
                "order_ids": sorted(order_ids[pk] for pk in proposed.order_pks),
            }
        )
    orgnrs = Customer.objects.filter(pk__in=proposal.customer_ids or ()).values_list(
        "orgnr", flat=True
    )
    return {
        **_run_head(run, status, orgnrs),
        "invoices": invoices,
        "held_back": [
            {"order_id": entry.order_id, "reason": str(entry.reason), "detail": entry.detail}
            for entry in proposal.held_back
        ],
        "not_billable": {str(key): value for key, value in proposal.not_billable.items()},
    }


def _order_ids(pks: Iterable[int]) -> dict[int, str]:
    wanted = list(pks)
    found: dict[int, str] = {}
    for start in range(0, len(wanted), 500):
        found.update(
            Order.objects.filter(pk__in=wanted[start : start + 500]).values_list("id", "order_id")
        )
    return found


def run_totals(run: BillingRun) -> dict[str, Any]:
    """Counts and sums of a run's invoices, computed by the database; its internal charges
    (R17, their own series and no VAT) counted apart under ``internal``."""

    def sums(kind: str) -> dict[str, Any]:
        documents = Invoice.objects.filter(run=run, kind=kind)
        figures = documents.aggregate(
            net=Sum("net"),
            vat=Sum("vat"),
            rounding=Sum("rounding"),
            payable=Sum("payable"),
            first=Min("number"),
            last=Max("number"),
        )
        return {
            "count": documents.count(),
            "orders": InvoiceItem.objects.filter(invoice__run=run, invoice__kind=kind).count(),
            "net": figures["net"] or Decimal("0"),
            "vat": figures["vat"] or Decimal("0"),
            "rounding": figures["rounding"] or Decimal("0"),
            "payable": figures["payable"] or Decimal("0"),
            "first_number": figures["first"],
            "last_number": figures["last"],
        }

    invoices, internal = sums(Invoice.Kind.INVOICE), sums(Invoice.Kind.INTERNAL_CHARGE)
    return {
        "invoices": invoices.pop("count"),
        **invoices,
        "internal": {"internal_charges": internal.pop("count"), **internal},
    }


# Pages of the web application: figures computed by the database, one page of rows at a time,
# so that a list stays fast with a million orders (issue 12).


def runs_with_figures(rows: QuerySet[BillingRun]) -> QuerySet[BillingRun]:
    """Runs with their documents, orders, amount payable and held-back orders counted per run
    (correlated subqueries: only the rows of the page shown are counted)."""
    documents = Invoice.objects.filter(run=OuterRef("pk")).values("run")
    lines = InvoiceLine.objects.filter(invoice__run=OuterRef("pk")).values("invoice__run")
    held = HeldBackOrder.objects.filter(run=OuterRef("pk")).values("run")
    return rows.annotate(
        document_count=Subquery(documents.annotate(n=Count("id")).values("n")),
        payable_sum=Subquery(documents.annotate(s=Sum("payable")).values("s")),
        order_count=Subquery(lines.annotate(s=Sum("quantity")).values("s")),
        held_back_count=Subquery(held.annotate(n=Count("id")).values("n")),
    )


def run_figures(run: BillingRun) -> dict[str, dict[str, Any]]:
    """Per kind of document in the run (invoices, internal charges): count, orders (the lines'
    quantities, not a count of a million items), amounts and the numbers' range; two queries."""
    kinds = (Invoice.Kind.INVOICE.value, Invoice.Kind.INTERNAL_CHARGE.value)
    sums: dict[str, dict[str, Any]] = {
        row["kind"]: dict(row)
        for row in Invoice.objects.filter(run=run)
        .values("kind")
        .annotate(
            count=Count("id"),
            net=Sum("net"),
            vat=Sum("vat"),
            rounding=Sum("rounding"),
            payable=Sum("payable"),
            first=Min("number"),
            last=Max("number"),
        )
        .order_by()
    }
    orders = dict(
        InvoiceLine.objects.filter(invoice__run=run)
        .values_list("invoice__kind")
        .annotate(n=Sum("quantity"))
        .order_by()
    )
    zero = Decimal("0")
    figures: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        row: dict[str, Any] = sums.get(kind, {})
        figures[kind] = {
            "count": row.get("count", 0),
            "orders": orders.get(kind) or 0,
            "net": row.get("net") or zero,
            "vat": row.get("vat") or zero,
            "rounding": row.get("rounding") or zero,
            "payable": row.get("payable") or zero,
            "first_number": row.get("first"),
            "last_number": row.get("last"),
        }
    return figures


def held_back_groups(run: BillingRun, *, examples: int = 10) -> list[dict[str, Any]]:
    """A run's held-back orders per reason: how many, and the first few with their detail."""
    groups = []
    for reason, count in (
        HeldBackOrder.objects.filter(run=run)
        .values_list("reason")
        .annotate(n=Count("id"))
        .order_by("reason")
    ):
        shown = (
            HeldBackOrder.objects.filter(run=run, reason=reason)
            .order_by("id")
            .values_list("order__order_id", "detail")[:examples]
        )
        groups.append(
            {
                "reason": reason,
                "count": count,
                "examples": [{"order_id": oid, "detail": detail} for oid, detail in shown],
            }
        )
    return groups


def proposal_held_back_groups(proposal: Proposal, *, examples: int = 10) -> list[dict[str, Any]]:
    """The same grouping for a proposal that was not stored (a preview)."""
    by_reason: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in proposal.held_back:
        by_reason[str(entry.reason)].append({"order_id": entry.order_id, "detail": entry.detail})
    return [
        {"reason": reason, "count": len(entries), "examples": entries[:examples]}
        for reason, entries in sorted(by_reason.items())
    ]


def proposal_rows(proposal: Proposal, run: BillingRun, *, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` proposed documents of a preview, for a table (no order ids)."""
    shown = proposal.invoices[:limit]
    accounts = {
        account.pk: account
        for account in BillingAccount.objects.select_related("customer").filter(
            pk__in={invoice.account_id for invoice in shown}
        )
    }
    rows = []
    for proposed in shown:
        account = accounts[proposed.account_id]
        totals = proposed.totals
        first_day, last_day = proposed.period(run.period_from, run.period_to)
        rows.append(
            {
                "kind": "internal_charge" if proposed.internal else "invoice",
                "customer_name": account.customer.name,
                "orgnr": account.customer.orgnr,
                "account_code": account.code,
                "account_name": account.name,
                "period_start": first_day,
                "period_end": last_day,
                "orders": len(proposed.order_pks),
                "net": totals.net,
                "vat": totals.vat,
                "payable": totals.payable,
            }
        )
    return rows


def proposal_figures(proposal: Proposal) -> dict[str, Any]:
    totals = [invoice.totals for invoice in proposal.invoices]
    return {
        "documents": len(proposal.invoices),
        "internal": sum(1 for invoice in proposal.invoices if invoice.internal),
        "orders": sum(len(invoice.order_pks) for invoice in proposal.invoices),
        "net": sum((t.net for t in totals), Decimal("0")),
        "vat": sum((t.vat for t in totals), Decimal("0")),
        "rounding": sum((t.rounding for t in totals), Decimal("0")),
        "payable": sum((t.payable for t in totals), Decimal("0")),
        "held_back": len(proposal.held_back),
    }


def issuers(run: BillingRun) -> list[Any]:
    """The active users who may issue the draft ``run``: those with the permission to issue
    runs, less the person who made or regenerated it while dual control is on (R25)."""
    allowed = Q(groups__permissions__codename="issue_runs") & Q(
        groups__permissions__content_type__app_label="access"
    )
    users = (
        get_user_model()
        .objects.filter(Q(is_active=True) & (allowed | Q(is_superuser=True)))
        .distinct()
        .order_by("username")
    )
    return [user for user in users if dual_control_refusal(run, user.get_username()) is None]
