"""Billing runs: draft, regenerate, discard, issue; credit notes (DOMAIN.md R4–R13).

Each service loads facts, calls the pure core and persists the result in one transaction.
"""

import datetime as dt
import json
import os
import sys
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from kortfaktura import printable
from kortfaktura.audit.actor import current_actor
from kortfaktura.audit.services import record
from kortfaktura.billing import chain, core, issuing
from kortfaktura.billing.errors import BillingError, UsageError
from kortfaktura.billing.facts import account_facts, load_facts
from kortfaktura.billing.models import (
    CHARGE_KINDS,
    INTERNAL_KINDS,
    BillingRun,
    Grouping,
    HeldBackOrder,
    Invoice,
    InvoiceItem,
    InvoiceLine,
)
from kortfaktura.billing.numbering import (
    INTERNAL_SERIES,
    SERIES,
    lock_series,
    ocr_reference,
    take_numbers,
)
from kortfaktura.customers.identifiers import InvalidIdentifier, format_orgnr, normalize_orgnr
from kortfaktura.customers.models import BillingAccount, Customer
from kortfaktura.imports import bulk
from kortfaktura.imports.personal import contains_personal_number, mask
from kortfaktura.locks import hold_billing_data_lock
from kortfaktura.orders.services import apply_pending_changes

DRAFT_ATTEMPTS = 3
# What an invoice's amount columns can hold (Invoice.net, .vat, .payable: max_digits=14), and
# the highest unit price the price list accepts (catalog import); older rows are checked here.
LARGEST_AMOUNT = Decimal("999999999999.99")
LARGEST_UNIT_PRICE = Decimal("1000000")
INVOICES = Invoice._meta.db_table
LINES = InvoiceLine._meta.db_table
ITEMS = InvoiceItem._meta.db_table
HELD_BACK = HeldBackOrder._meta.db_table


AUDITED_ORDER_IDS = 100  # order ids named in a credit note's audit record; the count is always
TITLE_LIMIT = 200  # characters; a title stands on every invoice, in one PDF line and in UBL
REASON_LIMIT = 1000  # characters; a reason stands on a credit note


def checked_text(option: str, text: str, limit: int) -> str:
    """A person's free text for a document (title, reason): printed on invoices that cannot be
    changed afterwards, so it is checked first (R16, and what a PDF line and XML can carry)."""
    text = " ".join(text.split())
    if len(text) > limit:
        raise UsageError(
            f"{option} är {len(text)} tecken lång; högst {limit} tecken får plats på dokumentet"
        )
    if unfit := printable.problem(text):
        raise UsageError(f"{option} {unfit} – skriv texten utan det")
    if contains_personal_number(text):
        raise UsageError(
            f"{option} innehåller ett personnummer ({mask(text)}) – personnummer får inte stå "
            "på en faktura; skriv texten utan det"
        )
    return text


def legacy_period() -> tuple[dt.date, dt.date]:
    start, end = settings.LEGACY_PERIOD
    return dt.date.fromisoformat(start), dt.date.fromisoformat(end)


def legacy_title(title: str, period_from: dt.date, period_to: dt.date) -> str:
    """R7: a legacy invoice names its period and that its orders were not invoiced before."""
    note = (
        f"beställda {period_from.isoformat()} – {period_to.isoformat()} "
        "som inte fakturerats tidigare"
    )
    if not title:
        return f"eTjänstekort {note}"
    if period_from.isoformat() in title and period_to.isoformat() in title:
        return title
    return f"{title} – {note}"


def default_title(period_from: dt.date, period_to: dt.date) -> str:
    return f"eTjänstekort beställda {period_from.isoformat()} – {period_to.isoformat()}"


def _check_period(period_from: dt.date, period_to: dt.date, legacy: bool) -> None:
    if period_from > period_to:
        raise UsageError(
            f"--from {period_from.isoformat()} ligger efter --to {period_to.isoformat()}"
        )
    legacy_from, legacy_to = legacy_period()
    overlaps = period_from <= legacy_to and legacy_from <= period_to
    if legacy and not (legacy_from <= period_from and period_to <= legacy_to):
        raise UsageError(
            f"en separat körning (--legacy) ska ligga inom den äldre perioden "
            f"{legacy_from.isoformat()} – {legacy_to.isoformat()}"
        )
    if not legacy and overlaps:
        raise UsageError(
            f"perioden överlappar den äldre perioden {legacy_from.isoformat()} – "
            f"{legacy_to.isoformat()}, som faktureras separat: använd --legacy för den, "
            "och en period som börjar efter den för vanliga körningar"
        )


def _customer_ids(orgnrs: Iterable[str]) -> frozenset[int] | None:
    wanted = list(orgnrs)
    if not wanted:
        return None
    normalized = []
    for text in wanted:
        try:
            normalized.append(normalize_orgnr(text))
        except InvalidIdentifier as error:
            raise UsageError(f"--customer: {error}") from None
    found = dict(Customer.objects.filter(orgnr__in=normalized).values_list("orgnr", "id"))
    missing = [orgnr for orgnr in normalized if orgnr not in found]
    if missing:
        raise UsageError(
            "okänd kund: " + ", ".join(missing) + " – läs in kunden först (import customers)"
        )
    return frozenset(found.values())


@dataclass
class DraftResult:
    run: BillingRun
    proposal: core.Proposal


def create_run(
    period_from: dt.date,
    period_to: dt.date,
    *,
    title: str = "",
    legacy: bool = False,
    grouping: str = Grouping.MONTH,
    issue_date: dt.date | None = None,
    customers: Iterable[str] = (),
    created_by: str = "",
    preview: bool = False,
) -> DraftResult:
    """A draft run for the period (R5); with ``preview`` nothing is stored, and neither is a run
    that finds nothing to bill (its ``run.pk`` stays None).

    ``created_by`` (default: the current actor) made the draft and may not issue it (R25)."""
    _check_period(period_from, period_to, legacy)
    created_by = created_by or current_actor()
    title = checked_text("--title", title, TITLE_LIMIT)
    today = timezone.localdate()
    if issue_date is not None:
        issuing.check_issue_date(issue_date, today)
    issuing.check_period_ended(period_to, issue_date or today)
    customer_ids = _customer_ids(customers)
    title = (
        legacy_title(title, period_from, period_to)
        if legacy
        else (title or default_title(period_from, period_to))
    )
    run = BillingRun(
        title=title,
        period_from=period_from,
        period_to=period_to,
        is_legacy=legacy,
        grouping=grouping,
        issue_date=issue_date,
        created_by=created_by,
        drafted_by=created_by,
    )
    if preview:
        with transaction.atomic():
            proposal = _propose(run, customer_ids, run_id=0)
            transaction.set_rollback(True)
        _check_amounts(proposal)
        return DraftResult(run, proposal)
    for attempt in range(DRAFT_ATTEMPTS):
        try:
            with transaction.atomic():
                run.pk = None
                run.save()
                if customer_ids:
                    run.customers.set(customer_ids)
                proposal = _propose(run, customer_ids, run_id=run.pk)
                _check_amounts(proposal)
                if not proposal.invoices:
                    # R5: nothing billable is an answer, not a run; keep no empty draft.
                    transaction.set_rollback(True)
                    run.pk = None
                    return DraftResult(run, proposal)
                _pause_for_tests("DRAFT")
                _persist(run, proposal)
                _record_draft(run, customer_ids, proposal)
            return DraftResult(run, proposal)
        except IntegrityError:
            # A concurrent run took some of the same orders between our read and our write;
            # the next attempt sees them as held in that run's draft (R4).
            if attempt == DRAFT_ATTEMPTS - 1:
                raise BillingError(
                    "en annan körning tog samma beställningar samtidigt – försök igen"
                ) from None
    raise AssertionError("unreachable")


def _run_label(run: BillingRun) -> str:
    return f"körning {run.pk}"


def _proposal_counts(proposal: core.Proposal) -> dict[str, int]:
    return {
        "invoices": len(proposal.invoices),
        "orders": sum(len(invoice.order_pks) for invoice in proposal.invoices),
        "held_back": len(proposal.held_back),
    }


def _stored_counts(run: BillingRun) -> dict[str, int]:
    return {
        "invoices": Invoice.objects.filter(run=run).count(),
        "orders": InvoiceItem.objects.filter(invoice__run=run).count(),
        "held_back": HeldBackOrder.objects.filter(run=run).count(),
    }


def _record_draft(
    run: BillingRun, customer_ids: frozenset[int] | None, proposal: core.Proposal
) -> None:
    customers = (
        sorted(
            format_orgnr(orgnr)
            for orgnr in Customer.objects.filter(pk__in=customer_ids).values_list(
                "orgnr", flat=True
            )
        )
        if customer_ids
        else []
    )
    record(
        "run.drafted",
        _run_label(run),
        {
            "period": f"{run.period_from.isoformat()} – {run.period_to.isoformat()}",
            "title": run.title,
            "legacy": run.is_legacy,
            "grouping": run.grouping,
            "issue_date": run.issue_date,
            "customers": customers or "alla",
            **_proposal_counts(proposal),
            "net": sum((invoice.totals.net for invoice in proposal.invoices), Decimal(0)),
        },
        actor=run.created_by or None,
    )


def _request(run: BillingRun, customer_ids: frozenset[int] | None) -> core.BillingRequest:
    return core.BillingRequest(
        run.period_from, run.period_to, customer_ids, core.Grouping(run.grouping)
    )


def _propose(run: BillingRun, customer_ids: frozenset[int] | None, *, run_id: int) -> core.Proposal:
    request = _request(run, customer_ids)
    facts = load_facts(request, run_id)
    proposal = core.propose_invoices(
        facts.orders, facts.products, facts.customers, facts.accounts, request
    )
    for reason, count in facts.not_billable.items():
        proposal.not_billable[reason] = proposal.not_billable.get(reason, 0) + count
    return proposal


def _check_amounts(proposal: core.Proposal) -> None:
    """Amounts that the invoice columns cannot hold are refused before anything is stored."""
    for invoice in proposal.invoices:
        for line in invoice.lines:
            if line.unit_price > LARGEST_UNIT_PRICE or abs(line.net) > LARGEST_AMOUNT:
                raise BillingError(
                    f"à-priset {line.unit_price} kr för {line.product_code} är högre än "
                    "prislistan tillåter (högst 1 000 000 kr per styck) eller ger ett belopp "
                    "som ingen faktura kan bära – rätta prislistan och kör bill igen"
                )
        totals = invoice.totals
        if max(abs(totals.net), abs(totals.vat), abs(totals.payable)) > LARGEST_AMOUNT:
            raise BillingError(
                f"en faktura skulle bli {totals.payable} kr, mer än en faktura kan bära – "
                "kontrollera prislistan eller dela körningen per kund (--customer)"
            )


INVOICE_COLUMNS = (
    "id", "kind", "status", "run_id", "account_id", "customer_id", "title", "is_legacy",
    "period_start", "period_end", "issue_date", "currency", "net", "vat", "rounding", "payable",
    "ocr", "reason", "seller", "buyer", "created_by", "created_at",
)  # fmt: skip
LINE_COLUMNS = (
    "id", "invoice_id", "position", "order_month", "product_id", "product_code", "product_name",
    "quantity", "unit_price", "vat_rate", "net", "revenue_account",
)  # fmt: skip


def _persist(run: BillingRun, proposal: core.Proposal) -> None:
    """Writes the draft in bulk: one row per invoice, line and order (a million orders are a
    million items, which the ORM would take minutes to create)."""
    invoice_ids = bulk.reserve_ids(INVOICES, len(proposal.invoices))
    line_ids = iter(bulk.reserve_ids(LINES, sum(len(p.lines) for p in proposal.invoices)))
    created = connection.ops.adapt_datetimefield_value(timezone.now())
    issue_date = run.issue_date.isoformat() if run.issue_date else None
    invoices: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    items: list[tuple[Any, ...]] = []
    for invoice_id, proposed in zip(invoice_ids, proposal.invoices, strict=True):
        totals = proposed.totals
        first_day, last_day = proposed.period(run.period_from, run.period_to)
        kind = Invoice.Kind.INTERNAL_CHARGE if proposed.internal else Invoice.Kind.INVOICE
        invoices.append(
            (invoice_id, kind.value, Invoice.Status.DRAFT.value, run.pk,
             proposed.account_id, proposed.customer_id, run.title, run.is_legacy,
             first_day.isoformat(), last_day.isoformat(), issue_date, "SEK",
             totals.net, totals.vat, totals.rounding, totals.payable, "", "", "{}", "{}",
             run.created_by, created)
        )  # fmt: skip
        for position, line in enumerate(proposed.lines, start=1):
            line_id = next(line_ids)
            lines.append(
                (line_id, invoice_id, position, line.order_month.isoformat(), line.product_id,
                 line.product_code, line.product_name, line.quantity, line.unit_price,
                 line.vat_rate, line.net, line.revenue_account)
            )  # fmt: skip
            unit_price = str(line.unit_price)  # once per line, not once per item
            items.extend(
                (invoice_id, line_id, order_pk, unit_price, False, False)
                for order_pk in line.order_pks
            )
    bulk.insert_rows(INVOICES, INVOICE_COLUMNS, invoices)
    bulk.insert_rows(LINES, LINE_COLUMNS, lines)
    bulk.insert_rows(
        ITEMS, ("invoice_id", "line_id", "order_id", "unit_price", "is_credit", "credited"), items
    )
    if len(items) >= bulk.ANALYZE_AFTER_ROWS:
        bulk.refresh_statistics(ITEMS)
    run.not_billable = {str(reason): count for reason, count in proposal.not_billable.items()}
    run.save(update_fields=["not_billable"])
    bulk.insert_rows(
        HELD_BACK,
        ("run_id", "order_id", "reason", "detail"),
        [(run.pk, entry.order_pk, str(entry.reason), entry.detail) for entry in proposal.held_back],
    )


def _delete_drafts(run: BillingRun) -> None:
    draft_ids = list(run.invoices.values_list("id", flat=True))
    with connection.cursor() as cursor:
        for start in range(0, len(draft_ids), 500):
            chunk = draft_ids[start : start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"DELETE FROM {ITEMS} WHERE invoice_id IN ({marks})", chunk)
    InvoiceLine.objects.filter(invoice__run=run).delete()
    Invoice.objects.filter(run=run).delete()
    HeldBackOrder.objects.filter(run=run).delete()


def _locked_draft(run_id: int) -> BillingRun:
    run = BillingRun.objects.select_for_update().filter(pk=run_id).first()
    if run is None:
        raise BillingError(f"körning {run_id} finns inte – se kortfaktura invoice list")
    if run.status != BillingRun.Status.DRAFT:
        raise BillingError(
            f"körning {run_id} är {run.get_status_display()} – bara ett utkast kan ändras"
        )
    return run


def regenerate_run(run_id: int) -> DraftResult:
    """Proposes the draft again from the data as it is now (after corrections)."""
    with transaction.atomic():
        run = _locked_draft(run_id)
        before = _stored_counts(run)
        _delete_drafts(run)
        customer_ids = frozenset(run.customers.values_list("id", flat=True)) or None
        proposal = _propose(run, customer_ids, run_id=run.pk)
        _persist(run, proposal)
        after = _proposal_counts(proposal)
        # Who regenerated the draft decided what is in it: now they may not issue it (R25).
        drafter = {"before": run.drafter, "after": current_actor()}
        run.drafted_by = drafter["after"]
        run.save(update_fields=["drafted_by"])
        record(
            "run.regenerated",
            _run_label(run),
            {
                **{name: {"before": before[name], "after": after[name]} for name in after},
                **({"drafted_by": drafter} if drafter["before"] != drafter["after"] else {}),
            },
        )
    return DraftResult(run, proposal)


def discard_run(run_id: int) -> BillingRun:
    """Throws a draft away; its orders become free for the next run."""
    with transaction.atomic():
        run = _locked_draft(run_id)
        counts = _stored_counts(run)
        _delete_drafts(run)
        run.status = BillingRun.Status.DISCARDED
        run.discarded_at = timezone.now()
        run.save(update_fields=["status", "discarded_at"])
        record(
            "run.discarded",
            _run_label(run),
            {
                "status": {"before": BillingRun.Status.DRAFT.value, "after": run.status},
                "period": f"{run.period_from.isoformat()} – {run.period_to.isoformat()}",
                "title": run.title,
                **counts,
            },
        )
    return run


def seller_snapshot() -> dict[str, Any]:
    return dict(settings.SELLER)


def buyer_snapshot(account: BillingAccount) -> dict[str, Any]:
    customer = account.customer
    return {
        "name": customer.name,
        "orgnr": customer.orgnr,
        "account_code": account.code,
        "account_name": account.name,
        "street": account.street,
        "postal_code": account.postal_code,
        "city": account.city,
        "country": "SE",
        "buyer_reference": account.buyer_reference,
        "peppol_scheme": account.peppol_scheme,
        "peppol_id": account.peppol_id,
        "email": account.email,
        "delivery": account.delivery,
        "is_public_body": customer.is_public_body,
        "cost_centre": account.cost_centre,
        "internal": account.is_internal,
    }


def _pause_for_tests(step: str) -> None:
    """Fault injection for the concurrency and crash tests: hold the transaction open for
    ``KORTFAKTURA_TEST_PAUSE_IN_<STEP>`` seconds. Unset in normal use."""
    pause = os.environ.get(f"KORTFAKTURA_TEST_PAUSE_IN_{step}")
    if pause:
        sys.stderr.write(f"kortfaktura: testpaus i {step.lower()}\n")
        sys.stderr.flush()
        time.sleep(float(pause))


SYSTEM_ACTOR = "system"  # the monthly cycle's own steps (R24): anyone else may issue its drafts


def _same_person(one: str, other: str) -> bool:
    def folded(name: str) -> str:
        return unicodedata.normalize("NFKC", name).strip().casefold()

    return folded(one) == folded(other)


def dual_control_refusal(run: BillingRun, issuer: str) -> str | None:
    """Why ``issuer`` may not issue the draft ``run`` (R25, fyraögonsprincipen), in Swedish; None
    when they may. Off with ``KORTFAKTURA_DUAL_CONTROL=0``."""
    if not settings.DUAL_CONTROL:
        return None
    # Whoever made the draft and whoever last regenerated it: both had it in their hands.
    makers = [
        (name, what)
        for name, what in ((run.created_by, "gjorde"), (run.drafted_by, "gjorde om"))
        if name and name != SYSTEM_ACTOR
    ]
    for name, what in makers:
        if _same_person(name, issuer):
            return (
                f"{issuer} {what} utkastet till körning {run.pk} och får inte utfärda det "
                "själv (fyraögonsprincipen) – be en kollega med rollen Ekonomi "
                "granska och utfärda det"
            )
    return None


def issue_run(run_id: int, issue_date: dt.date | None = None) -> BillingRun:
    """Numbers the run's invoices and makes them final, all or nothing (R5, R8, R9, R11, R13).

    The issuer is the current actor; the person who made or last regenerated the draft may not
    issue it while dual control is on (R25).

    Everything is checked again before a number is final: the issue date, that the period has
    ended, every order of the draft against today's data, the accounts, and every document
    against the official rules. A refusal leaves the draft as it was and uses no number.
    """
    with transaction.atomic():
        hold_billing_data_lock()
        run = _locked_draft(run_id)
        issuer = current_actor()
        refusal = dual_control_refusal(run, issuer)
        if refusal:
            raise BillingError(refusal)
        invoices = list(
            run.invoices.select_related("account__customer").order_by(
                "account__code", "period_start", "id"
            )
        )
        if not invoices:
            raise BillingError(
                f"körning {run_id} har inga fakturor att utfärda – kassera den med "
                f"kortfaktura run discard {run_id}"
            )
        lock_series()
        day = issue_date or run.issue_date or timezone.localdate()
        issuing.check_issue_date(day)
        issuing.check_period_ended(run.period_to, day)
        _check_still_valid(run, invoices)
        issuing.snapshot_specification(run.pk)
        due = day + dt.timedelta(days=settings.PAYMENT_TERMS_DAYS)
        now = timezone.now()
        seller = seller_snapshot()
        seller_text = json.dumps(seller, ensure_ascii=False)
        buyers: dict[int, tuple[dict[str, Any], str]] = {}
        updates = []
        internal = [invoice for invoice in invoices if invoice.kind in INTERNAL_KINDS]
        external = [invoice for invoice in invoices if invoice.kind not in INTERNAL_KINDS]
        numbered = [
            *zip(external, take_numbers(len(external)), strict=True),
            *zip(internal, take_numbers(len(internal), INTERNAL_SERIES), strict=True),
        ]
        for invoice, number in numbered:
            if invoice.account_id not in buyers:
                buyer = buyer_snapshot(invoice.account)
                buyers[invoice.account_id] = (buyer, json.dumps(buyer, ensure_ascii=False))
            # The same values in memory, for the documents rendered before the commit.
            invoice.number, invoice.ocr = number, ocr_reference(number)
            invoice.issue_date, invoice.due_date = day, due
            invoice.seller, invoice.buyer = seller, buyers[invoice.account_id][0]
            updates.append(
                (number, invoice.ocr, day.isoformat(), due.isoformat(), seller_text,
                 buyers[invoice.account_id][1], invoice.pk)
            )  # fmt: skip
        bulk.update_rows(
            INVOICES,
            "id",
            ("number", "ocr", "issue_date", "due_date", "seller", "buyer"),
            updates,
            json_columns=("seller", "buyer"),
        )
        verdicts = issuing.check_documents(invoices)
        issued_at = connection.ops.adapt_datetimefield_value(now)
        # R19: each document's link in its series' chain, over what is stored now (the series
        # are locked, so no other link can come between).
        links, anchors = chain.link_new(
            ((invoice.pk, invoice.number or 0, invoice.kind) for invoice in invoices),
            {invoice.pk: _verdict_header(verdicts, invoice.pk) for invoice in invoices},
        )
        final = [
            (Invoice.Status.ISSUED.value, issued_at, *_verdict_columns(verdicts, invoice.pk),
             links[invoice.pk], invoice.pk)
            for invoice in invoices
        ]  # fmt: skip
        bulk.update_rows(
            INVOICES,
            "id",
            ("status", "issued_at", "content_sha256", "validation", "chain_hash"),
            final,
        )
        _pause_for_tests("ISSUE")
        run.status = BillingRun.Status.ISSUED
        run.issue_date = day
        run.issued_at = now
        run.save(update_fields=["status", "issue_date", "issued_at"])
        numbers = [invoice.number for invoice in invoices if invoice.number is not None]
        record(
            "run.issued",
            _run_label(run),
            {
                "status": {"before": BillingRun.Status.DRAFT.value, "after": run.status},
                "numbers": f"{min(numbers)}–{max(numbers)}",
                "invoices": len(invoices),
                "issue_date": day,
                "due_date": due,
                "net": sum((invoice.net for invoice in invoices), Decimal(0)),
                "vat": sum((invoice.vat for invoice in invoices), Decimal(0)),
                "payable": sum((invoice.payable for invoice in invoices), Decimal(0)),
                **_dual_control_details(run, issuer),
                "chain": [anchor.as_json() for anchor in anchors],
            },
        )
    return run


def _dual_control_details(run: BillingRun, issuer: str) -> dict[str, Any]:
    """R25 in the audit trail: who drafted what was issued, and whether dual control was on;
    an issuer who drafted the run themselves (possible only with it off) is named as such."""
    details: dict[str, Any] = {
        "drafted_by": run.drafter,
        "dual_control": "på" if settings.DUAL_CONTROL else "av",
    }
    if any(name and _same_person(name, issuer) for name in (run.created_by, run.drafted_by)):
        details["issued_by_drafter"] = True
    return details


def _verdict_columns(verdicts: dict[int, issuing.DocumentVerdict], pk: int) -> tuple[str, str]:
    verdict = verdicts.get(pk)
    return (verdict.sha256, verdict.validation) if verdict else ("", "")


def _verdict_header(verdicts: dict[int, issuing.DocumentVerdict], pk: int) -> dict[str, str]:
    return dict(zip(("content_sha256", "validation"), _verdict_columns(verdicts, pk), strict=True))


def _check_still_valid(run: BillingRun, invoices: list[Invoice]) -> None:
    """R13: what was valid when the draft was made must still be valid now."""
    incomplete = sorted(
        {
            f"{invoice.account.code} ({'; '.join(invoice.account.missing_data())})"
            for invoice in invoices
            if invoice.account.missing_data()
        }
    )
    if incomplete:
        raise BillingError(
            "fakturamottagare har blivit ofullständiga sedan utkastet skapades: "
            + ", ".join(incomplete)
            + f" – rätta kunduppgifterna och kör kortfaktura run regenerate {run.pk}"
        )
    customer_ids = frozenset(run.customers.values_list("id", flat=True)) or None
    stale = issuing.stale_orders(run.pk, _request(run, customer_ids), account_facts())
    if stale:
        raise BillingError(issuing.describe_stale(run.pk, stale))


def _lines_for(items: list[InvoiceItem]) -> list[tuple[InvoiceLine, list[InvoiceItem]]]:
    by_line: dict[int, list[InvoiceItem]] = defaultdict(list)
    for item in items:
        by_line[item.line_id].append(item)
    lines = {line.pk: line for line in InvoiceLine.objects.filter(pk__in=by_line)}
    return [(lines[pk], by_line[pk]) for pk in sorted(by_line, key=lambda pk: lines[pk].position)]


def credit_invoice(
    number: int,
    *,
    order_ids: Iterable[str] = (),
    reason: str,
    created_by: str = "",
    issue_date: dt.date | None = None,
) -> Invoice:
    """An issued credit note for the whole invoice or the chosen orders (R12).

    The credited orders become billable again, and import changes that waited because the orders
    were invoiced are applied now, so the next run bills the corrected orders.
    """
    if not reason.strip():
        raise UsageError("ange en orsak med --reason, t.ex. --reason 'Fel kund'")
    reason = checked_text("--reason", reason, REASON_LIMIT)
    wanted = list(dict.fromkeys(order_ids))
    with transaction.atomic():
        hold_billing_data_lock()
        invoice = (
            Invoice.objects.select_for_update()
            .select_related("account__customer")
            .filter(number=number, status=Invoice.Status.ISSUED)
            .first()
        )
        if invoice is None:
            raise BillingError(f"faktura {number} finns inte bland de utfärdade")
        if invoice.kind not in CHARGE_KINDS:
            raise BillingError(
                f"{number} är en {invoice.get_kind_display()} och kan inte krediteras – "
                "kreditera fakturan eller den interna debiteringen den gäller"
            )
        items = list(InvoiceItem.objects.filter(invoice=invoice, credited=False).order_by("id"))
        if wanted:
            by_order = {item.order_ref: item for item in items}
            missing = [order_id for order_id in wanted if order_id not in by_order]
            if missing:
                one = len(missing) == 1
                raise BillingError(
                    f"{'beställningen' if one else 'beställningarna'} {', '.join(missing)} "
                    f"finns inte okrediterad{'' if one else 'e'} på faktura {number} – se "
                    f"kortfaktura invoice list --json för fakturans order_ids"
                )
            items = [by_order[order_id] for order_id in wanted]
        if not items:
            raise BillingError(f"faktura {number} är redan helt krediterad")
        internal = invoice.kind == Invoice.Kind.INTERNAL_CHARGE
        lock_series(INTERNAL_SERIES if internal else SERIES)
        day = issue_date or timezone.localdate()
        issuing.check_issue_date(day)
        last = len(items) == InvoiceItem.objects.filter(invoice=invoice, credited=False).count()
        credit_note = _create_credit_note(invoice, items, reason, created_by, day, last=last)
        item_ids = [item.pk for item in items]
        for start in range(0, len(item_ids), 500):
            InvoiceItem.objects.filter(pk__in=item_ids[start : start + 500]).update(
                credited=True, credited_by=credit_note
            )
        apply_pending_changes(
            [item.order_id for item in items],
            decided_by=created_by,
            reason=reason.strip(),
            invoice_number=number,
            credit_note_number=credit_note.number,
        )
        credited = [item.order_ref for item in items]
        record(
            "internal_credit.issued" if internal else "credit_note.issued",
            f"{credit_note.get_kind_display()} {credit_note.number} för "
            f"{invoice.get_kind_display()} {number}",
            {
                "number": credit_note.number,
                "credits": number,
                "whole_invoice": not wanted,
                "orders": len(credited),
                "order_ids": credited[:AUDITED_ORDER_IDS],
                "reason": credit_note.reason,
                "issue_date": day,
                "payable": credit_note.payable,
                "chain": [
                    chain.Anchor(
                        chain.series_of(credit_note.kind),
                        int(credit_note.number or 0),
                        int(credit_note.number or 0),
                        credit_note.chain_hash,
                    ).as_json()
                ],
            },
            actor=created_by or None,
        )
    return credit_note


SNAPSHOT_FIELDS = (
    "order_ref", "order_date", "product_code", "unit_code", "holder_name", "holder_hsa_id"
)  # fmt: skip


def _credited_so_far(invoice: Invoice) -> tuple[core.Totals, list[core.Totals]]:
    """The invoice's totals and those of its credit notes issued so far, positive (R12)."""
    lines: dict[int, list[tuple[Decimal, Decimal]]] = defaultdict(list)
    notes = list(invoice.credit_notes.filter(status=Invoice.Status.ISSUED).order_by("number"))
    for invoice_id, net, rate in InvoiceLine.objects.filter(
        invoice_id__in=[invoice.pk, *(note.pk for note in notes)]
    ).values_list("invoice_id", "net", "vat_rate"):
        lines[invoice_id].append((abs(net), rate))
    charged = core.compute_totals(lines[invoice.pk])
    charged = core.Totals(
        invoice.net, charged.vat_by_rate, invoice.vat, invoice.rounding, invoice.payable
    )
    earlier = []
    for note in notes:
        vat_by_rate = tuple(
            (rate, base, abs(tax))
            for rate, base, tax in core.stated_vat_by_rate(lines[note.pk], note.vat_breakdown)
        )
        earlier.append(
            core.Totals(-note.net, vat_by_rate, -note.vat, -note.rounding, -note.payable)
        )
    return charged, earlier


def _create_credit_note(
    invoice: Invoice,
    items: list[InvoiceItem],
    reason: str,
    created_by: str,
    day: dt.date,
    *,
    last: bool,
) -> Invoice:
    """Born a draft, filled, checked like every document, then issued (the database refuses
    lines and items added to an issued document).

    ``last``: it credits the invoice's last uncredited orders, so it credits exactly what the
    invoice's credit notes have not credited yet (R12)."""
    grouped = _lines_for(items)
    nets = [
        ((line.unit_price * -len(line_items)).quantize(core.CENT), line.vat_rate)
        for line, line_items in grouped
    ]
    internal = invoice.kind == Invoice.Kind.INTERNAL_CHARGE
    breakdown = None
    if internal:
        # No VAT and payable = net (R17): exact nets never credit more than the charge.
        totals = core.internal_totals(net for net, _ in nets)
    else:
        charged, earlier = _credited_so_far(invoice)
        credited = core.credit_note_totals(
            [(-net, rate) for net, rate in nets], charged, earlier, last=last
        )
        totals = core.Totals(
            -credited.net,
            tuple((rate, -base, -tax) for rate, base, tax in credited.vat_by_rate),
            -credited.vat,
            -credited.rounding,
            -credited.payable,
        )
        breakdown = core.stored_breakdown(totals.vat_by_rate)
    number = take_numbers(1, INTERNAL_SERIES if internal else SERIES)[0]
    months = sorted(line.order_month for line, _ in grouped)
    word = "den interna debiteringen" if internal else "faktura"
    credit_note = Invoice(
        kind=Invoice.Kind.INTERNAL_CREDIT if internal else Invoice.Kind.CREDIT_NOTE,
        status=Invoice.Status.DRAFT,
        credits=invoice,
        number=number,
        ocr=ocr_reference(number),
        account=invoice.account,
        customer=invoice.customer,
        title=f"Kreditering av {word} {invoice.number}: {invoice.title}",
        is_legacy=invoice.is_legacy,
        period_start=max(months[0], invoice.period_start),
        period_end=min(core.month_end(months[-1]), invoice.period_end),
        issue_date=day,
        due_date=day,
        net=totals.net,
        vat=totals.vat,
        rounding=totals.rounding,
        payable=totals.payable,
        vat_breakdown=breakdown,
        reason=reason.strip(),
        seller=seller_snapshot(),
        buyer=dict(invoice.buyer),
        created_by=created_by,
    )
    credit_note.save()
    for position, ((line, line_items), (net, _)) in enumerate(zip(grouped, nets, strict=True), 1):
        credit_line = InvoiceLine.objects.create(
            invoice=credit_note,
            position=position,
            order_month=line.order_month,
            product_id=line.product_id,
            product_code=line.product_code,
            product_name=line.product_name,
            quantity=-len(line_items),
            unit_price=line.unit_price,
            vat_rate=line.vat_rate,
            net=net,
            revenue_account=line.revenue_account,
        )
        InvoiceItem.objects.bulk_create(
            InvoiceItem(
                invoice=credit_note,
                line=credit_line,
                order_id=item.order_id,
                unit_price=item.unit_price,
                is_credit=True,
                **{name: getattr(item, name) for name in SNAPSHOT_FIELDS},
            )
            for item in line_items
        )
    verdicts = issuing.check_documents([credit_note])
    links, _ = chain.link_new(
        [(credit_note.pk, number, credit_note.kind)],
        {credit_note.pk: _verdict_header(verdicts, credit_note.pk)},
    )
    credit_note.status = Invoice.Status.ISSUED
    credit_note.issued_at = timezone.now()
    credit_note.content_sha256, credit_note.validation = _verdict_columns(verdicts, credit_note.pk)
    credit_note.chain_hash = links[credit_note.pk]
    credit_note.save(
        update_fields=["status", "issued_at", "content_sha256", "validation", "chain_hash"]
    )
    return credit_note
