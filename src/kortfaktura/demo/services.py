"""``kortfaktura demo``: load the demo data through the same imports a user runs."""

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Max, Min

from kortfaktura.accounting.services import SieResult, export_sie
from kortfaktura.audit.actor import acting_as
from kortfaktura.billing import changes
from kortfaktura.billing import services as billing
from kortfaktura.billing.changes import Decision
from kortfaktura.billing.models import INTERNAL_KINDS, BillingRun, Invoice
from kortfaktura.customers.models import Customer
from kortfaktura.demo import generator
from kortfaktura.demo.bgmax import Paid, bgmax
from kortfaktura.documents.services import ExportResult, export_documents
from kortfaktura.imports.engine import ImportResult, ProgressCallback
from kortfaktura.imports.services import import_file
from kortfaktura.orders.models import OrderChange
from kortfaktura.payments.selectors import receivables
from kortfaktura.payments.services import ImportResult as PaymentImport
from kortfaktura.payments.services import import_payments

ProgressFactory = Callable[[str], AbstractContextManager[ProgressCallback]]
# The demo's users of the two roles that share billing (R25): one drafts, the other issues.
DRAFTER = "fakturering"
ISSUER = "ekonomi"


def reset_database() -> None:
    """Remove all data; only for the demo.

    The database refuses to delete issued documents, row by row or by TRUNCATE, as it should;
    so the demo's database is made anew. SQLite: the file is deleted. PostgreSQL: the schema is
    dropped and created again.
    """
    if connection.vendor == "sqlite":
        path = Path(str(connection.settings_dict["NAME"]))
        connection.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        return
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE")
        cursor.execute("CREATE SCHEMA public")
    call_command("migrate", interactive=False, verbosity=0)


def load_demo_data(
    directory: Path,
    today: dt.date,
    *,
    progress: ProgressFactory | None = None,
    orders_per_year: int = generator.ORDERS_PER_YEAR,
) -> tuple[generator.DemoFiles, list[ImportResult]]:
    story_has_run = BillingRun.objects.exists()
    files = generator.generate(
        directory, today, orders_per_year=orders_per_year, corrected=story_has_run
    )
    results = []
    for kind, path in (
        ("customers", files.customers),
        ("prices", files.prices),
        ("orders", files.orders),
        ("billed", files.billed),
    ):
        if progress is None:
            results.append(import_file(kind, path, created_by="demo"))
            continue
        with progress(f"Importerar {path.name}") as callback:
            results.append(import_file(kind, path, created_by="demo", progress=callback))
    Customer.objects.filter(orgnr__in=files.demo_orgnrs).update(is_demo_data=True)
    return files, results


@dataclass
class PeriodCheck:
    """What a preview of a period still finds after the story (it should find no invoice)."""

    legacy: bool
    period_from: dt.date
    period_to: dt.date
    invoices: int
    orders: int
    held_back: dict[str, int]


@dataclass
class StoryStep:
    """One step of the demo's billing story, as the summary prints it."""

    title: str
    explanation: str
    run: BillingRun | None = None
    credit_note: Invoice | None = None
    nothing_to_bill: billing.DraftResult | None = None  # a run that found nothing: none is kept
    import_result: ImportResult | None = None
    decisions: list[Decision] = field(default_factory=list)
    checks: list[PeriodCheck] = field(default_factory=list)

    @property
    def everything_billed(self) -> bool:
        return bool(self.checks) and all(check.invoices == 0 for check in self.checks)


def _bill_and_issue(
    title: str,
    explanation: str,
    period_from: dt.date,
    period_to: dt.date,
    issue_date: dt.date,
    *,
    legacy: bool = False,
    run_title: str = "",
) -> StoryStep:
    # Two people, as dual control asks (R25): the billing administrator drafts, Ekonomi issues
    # (the demo's users of those roles).
    with acting_as(DRAFTER):
        result = billing.create_run(
            period_from,
            period_to,
            title=run_title,
            legacy=legacy,
            issue_date=issue_date,
            created_by=DRAFTER,
        )
    if result.run.pk is None:
        # Nothing new to bill (as on a second demo run): no run is kept, but the held-back
        # orders are still shown.
        return StoryStep(title, explanation, nothing_to_bill=result)
    with acting_as(ISSUER):
        return StoryStep(title, explanation, run=billing.issue_run(result.run.pk))


def run_billing_story(files: generator.DemoFiles, today: dt.date) -> list[StoryStep]:
    """The whole story of DOMAIN.md §1: legacy period separately, the paused period month by
    month, corrections of customer data and of invoiced orders (a credit note), runs that bill
    what became billable – in both periods – and a check that nothing billable is left."""
    legacy_from, legacy_to = billing.legacy_period()
    backlog_from = legacy_to + dt.timedelta(days=1)
    cutoff = files.cutoff
    steps = [
        _bill_and_issue(
            "Separat fakturering av äldre period",
            f"Beställningar {legacy_from} – {legacy_to} som det tidigare systemet inte "
            "fakturerade, på egna fakturor med perioden i rubriken (R7).",
            legacy_from,
            legacy_to,
            today,
            legacy=True,
        ),
        _bill_and_issue(
            "Det pausade flödet, månad för månad",
            f"Alla beställningar {backlog_from} – {cutoff}: en faktura per fakturamottagare och "
            "beställningsmånad (R5, R6, R8).",
            backlog_from,
            cutoff,
            today,
            run_title=f"eTjänstekort beställda {backlog_from} – {cutoff}",
        ),
    ]
    correction = import_file("customers", generator.write_corrections(files), created_by="demo")
    steps.append(
        StoryStep(
            "Rättade kunduppgifter",
            "Den nya vårdgivaren läggs in och Dals-Eds kommun får sin beställarreferens; "
            "beställningarna som hölls tillbaka finns kvar och kan nu faktureras (R14, R15).",
            import_result=correction,
        )
    )
    decided = _decide_order_changes(files, today)
    if decided is not None:
        steps.append(decided)
    steps.append(
        _bill_and_issue(
            "Nästa körning tar det som nu är fakturerbart",
            "Samma period igen: bara det som rättats eller krediterats föreslås (R5).",
            backlog_from,
            cutoff,
            today,
            run_title=f"eTjänstekort beställda {backlog_from} – {cutoff}, kompletterande",
        )
    )
    steps.append(
        _bill_and_issue(
            "Äldre perioden igen: det som blivit fakturerbart",
            f"Dals-Eds beställningar {legacy_from} – {legacy_to} hölls tillbaka för att "
            "beställarreferensen saknades; nu faktureras de i en egen, separat körning med "
            "perioden i rubriken (R7), inte tillsammans med de vanliga fakturorna.",
            legacy_from,
            legacy_to,
            today,
            legacy=True,
            run_title="eTjänstekort, kompletterande",
        )
    )
    steps.append(
        _bill_and_issue(
            "Körningen igen – inget nytt",
            "Att köra en redan fakturerad period igen föreslår ingenting.",
            backlog_from,
            cutoff,
            today,
        )
    )
    steps.append(_check_everything_billed(cutoff, today))
    return steps


def _decide_order_changes(files: generator.DemoFiles, today: dt.date) -> StoryStep | None:
    """The card system corrects two invoiced orders. The changes wait for a decision (R14): the
    order that was placed by the wrong unit is accepted (credited, billed again to the right
    unit); the mistaken change of a product is rejected (the invoice stands)."""
    path, corrections = generator.write_order_corrections(files)
    if corrections is None:
        return None
    result = import_file("orders", path, created_by="demo")
    waiting: dict[str, list[int]] = {}
    for change_id, order_id in (
        OrderChange.objects.filter(batch_id=result.batch_id, status=OrderChange.Status.PENDING)
        .order_by("id")
        .values_list("id", "order__order_id")
    ):
        waiting.setdefault(order_id, []).append(change_id)
    decisions = []
    if corrections.moved_order_id in waiting:
        decisions.append(
            changes.accept_changes(
                waiting[corrections.moved_order_id],
                reason="Kortet beställdes av Sahlgrenska, inte Skaraborg – krediteras och "
                "faktureras Sahlgrenska",
                decided_by="demo",
                issue_date=today,
            )
        )
    if corrections.mistaken_order_id in waiting:
        decisions.append(
            changes.reject_changes(
                waiting[corrections.mistaken_order_id],
                reason="Ett eTjänstekort levererades; artikeln ändrades av misstag i kortsystemet",
                decided_by="demo",
            )
        )
    credit_notes = [note for decision in decisions for note in decision.credit_notes]
    return StoryStep(
        "Ändringar av fakturerade beställningar",
        "Kortsystemet rättar två beställningar som redan är fakturerade. Ändringarna genomförs "
        "inte i tysthet utan väntar på beslut (R14, kortfaktura changes list): den ena godkänns "
        "(kortfaktura changes accept) – beställningen krediteras och faktureras igen i nästa "
        "körning på rätt enhet (R12); den andra avvisas (kortfaktura changes reject) – fakturan "
        "står kvar.",
        import_result=result,
        credit_note=credit_notes[0] if credit_notes else None,
        decisions=decisions,
    )


def _check_everything_billed(cutoff: dt.date, today: dt.date) -> StoryStep:
    """A preview of both periods: after the story it proposes no invoice."""
    legacy_from, legacy_to = billing.legacy_period()
    checks = []
    for legacy, period_from, period_to in (
        (True, legacy_from, legacy_to),
        (False, legacy_to + dt.timedelta(days=1), cutoff),
    ):
        proposal = billing.create_run(
            period_from, period_to, legacy=legacy, issue_date=today, preview=True
        ).proposal
        held_back: dict[str, int] = {}
        for entry in proposal.held_back:
            held_back[str(entry.reason)] = held_back.get(str(entry.reason), 0) + 1
        checks.append(
            PeriodCheck(
                legacy,
                period_from,
                period_to,
                len(proposal.invoices),
                sum(len(invoice.order_pks) for invoice in proposal.invoices),
                held_back,
            )
        )
    return StoryStep(
        "Allt fakturerbart är fakturerat",
        "En förhandsgranskning av den äldre perioden och av det vanliga flödet (ingenting "
        "sparas): det som går att fakturera är fakturerat, det som återstår hålls tillbaka med "
        "en orsak som någon kan åtgärda.",
        checks=checks,
    )


def export_story_documents(
    directory: Path, *, progress: ProgressFactory | None = None
) -> list[ExportResult]:
    """Every issued invoice and credit note as a Peppol UBL file and as a PDF; the internal
    charges and credits of VGR's own units (R17) as PDF only, since they never go by Peppol."""
    every = list(Invoice.objects.filter(status=Invoice.Status.ISSUED).order_by("number"))
    results = []
    for file_format in ("ubl", "pdf"):
        documents = (
            [document for document in every if document.kind not in INTERNAL_KINDS]
            if file_format == "ubl"
            else every
        )
        if progress is None:
            results.append(export_documents(documents, file_format, directory / file_format))
            continue
        with progress(f"Skriver {file_format.upper()}") as callback:
            results.append(
                export_documents(documents, file_format, directory / file_format, progress=callback)
            )
    return results


def export_story_bookkeeping(directory: Path) -> SieResult | None:
    """Every document the demo issued, booked in one SIE 4 file (``bokforing.se``)."""
    days = Invoice.objects.filter(status=Invoice.Status.ISSUED).aggregate(
        first=Min("issue_date"), last=Max("issue_date")
    )
    if days["first"] is None:
        return None
    return export_sie(days["first"], days["last"], directory / "bokforing.se")


DEMO_MAIL_FROM = "gits-fakturor@vgregion.example"
# The Peppol id of the demo's simulated access point: the only sender whose MLRs count (R20).
DEMO_ACCESS_POINT = "0088:7300010000001"
REJECTION_REASON = "Referensen saknas"


@dataclass
class Receipts:
    """What the demo's access point answered, by kind and code, and its one rejection."""

    written: dict[str, int] = field(default_factory=dict)  # e.g. {"MLR AP": 80, "IR PD": 1}
    rejected_number: int | None = None
    rejected_reason: str = ""


@dataclass
class DeliveryStory:
    """The demo's delivery: the documents of the story's later runs (and its credit notes)
    through a directory outbox, e-mail to files and a print batch, answered by a simulated
    access point; ``counts`` is ``delivery list`` summed per channel and status."""

    directories: dict[str, Path]
    documents: int  # delivered by the demo
    left: int  # issued documents without a delivery, for ``kortfaktura deliver``
    delivered: int = 0
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # number, channel, error
    receipts: Receipts = field(default_factory=Receipts)
    inbox_waiting: int = 0  # receipts still in the inbox after the second delivery
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # as delivery list has them


def delivery_settings(directory: Path) -> dict[str, str]:
    """The delivery settings of the demo (its own process only): everything under ``directory``."""
    return {
        "PEPPOL_OUTBOX": f"file://{directory / 'peppol' / 'ut'}",
        "PEPPOL_INBOX": f"file://{directory / 'peppol' / 'in'}",
        "PEPPOL_AP_ID": DEMO_ACCESS_POINT,
        "SMTP_URL": f"file://{directory / 'epost'}",
        "MAIL_FROM": DEMO_MAIL_FROM,
        "PRINT_DIR": str(directory / "utskrift"),
    }


def _story_documents(steps: list[StoryStep]) -> list[int]:
    """The documents of the story's runs after the first two (the whole history, ≈ 4 800
    documents, is left to ``kortfaktura deliver``) and its credit notes."""
    numbers: set[int] = set()
    for step in steps[2:]:
        if step.run is not None:
            numbers.update(
                number
                for number in step.run.invoices.filter(status=Invoice.Status.ISSUED).values_list(
                    "number", flat=True
                )
                if number is not None
            )
        if step.credit_note is not None and step.credit_note.number is not None:
            numbers.add(step.credit_note.number)
    return sorted(numbers)


def deliver_story(directory: Path, steps: list[StoryStep], today: dt.date) -> DeliveryStory:
    """Deliver the story's later documents, play the access point, deliver again (which reads
    the receipts, where the inbox is read) and count ``delivery list`` per channel and status."""
    from django.db.models import Count
    from django.test.utils import override_settings

    from kortfaktura.delivery import services as delivery
    from kortfaktura.delivery.models import Delivery
    from kortfaktura.delivery.transport import FileInbox

    overrides = delivery_settings(directory)
    folders = {
        "peppol_outbox": directory / "peppol" / "ut",
        "peppol_inbox": directory / "peppol" / "in",
        "email": directory / "epost",
        "print": directory / "utskrift",
    }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    numbers = [
        number
        for number in _story_documents(steps)
        if not Delivery.objects.filter(invoice__number=number).exists()
    ]
    with override_settings(**overrides):
        story = DeliveryStory(folders, documents=len(numbers), left=0)
        if numbers:
            first = delivery.deliver(numbers=numbers)
            story.delivered = len(first.delivered)
            story.receipts = play_access_point(
                folders["peppol_inbox"],
                [row for row in first.delivered if row.channel == "peppol"],
                today,
            )
            second = delivery.deliver(numbers=numbers)
            story.delivered += len(second.delivered)
            story.failed = [
                (int(row.invoice.number or 0), row.channel, row.error) for row in second.failed
            ]
        story.inbox_waiting = len(FileInbox(overrides["PEPPOL_INBOX"]).list())
    story.left = (
        Invoice.objects.filter(status=Invoice.Status.ISSUED)
        .exclude(deliveries__isnull=False)
        .count()
    )
    story.counts = {
        (row["channel"], row["status"]): row["n"]
        for row in Delivery.objects.values("channel", "status")
        .annotate(n=Count("id"))
        .order_by("channel", "status")
    }
    story.rejected = [
        (int(number or 0), error)
        for number, error in Delivery.objects.filter(status=Delivery.Status.REJECTED)
        .order_by("invoice__number")
        .values_list("invoice__number", "error")
    ]
    return story


def play_access_point(inbox: Path, sent: list[Any], today: dt.date) -> Receipts:
    """Answer the Peppol documents as an access point and their buyers would: one Invoice
    Response rejecting an invoice (RE, "Referensen saknas"), one accepting (AP) and one saying
    paid (PD), and a Message Level Response AP for every other document. Each comes in an SBDH
    as the access point delivers it: an Invoice Response from the buyer's endpoint the document
    went to, an MLR from the access point (``DEMO_ACCESS_POINT``), both to the seller. Written
    atomically into the inbox, where ``deliver`` reads them."""
    from django.conf import settings
    from django.utils import timezone

    from kortfaktura.delivery import receipts, sbdh
    from kortfaktura.documents.services import write_atomically

    # A receipt cannot be issued after the day it arrives: with --today in the future the
    # simulated answers are dated today.
    issued = min(today, timezone.localdate())
    created = timezone.now().replace(microsecond=0)
    answered = Receipts()
    invoices = [row for row in sent if row.invoice.kind == Invoice.Kind.INVOICE]
    responses = dict(zip((row.pk for row in invoices), ("RE", "AP", "PD"), strict=False))
    for row in sent:
        code = responses.get(row.pk)
        if code is None:
            name = f"mlr-{row.instance_id}.xml"
            content = sbdh.wrap_response(
                receipts.message_level_response(
                    instance_id=str(row.instance_id),
                    code="AP",
                    reason="",
                    sender=DEMO_ACCESS_POINT,
                    receiver=settings.PEPPOL_SENDER,
                    issue_date=issued,
                    response_id=f"MLR-{row.instance_id}",
                ),
                sender=DEMO_ACCESS_POINT,
                receiver=settings.PEPPOL_SENDER,
                kind="mlr",
                instance_id=f"mlr-{row.instance_id}",
                created=created,
            )
            label = "MLR AP"
        else:
            reason = REJECTION_REASON if code == "RE" else ""
            name = f"ir-{row.invoice.number}-{code}.xml"
            content = sbdh.wrap_response(
                receipts.invoice_response(
                    number=str(row.invoice.number),
                    status_code=code,
                    reason=reason,
                    sender=row.recipient,
                    receiver=settings.PEPPOL_SENDER,
                    issue_date=issued,
                    response_id=f"IR-{row.invoice.number}-{code}",
                    sender_name=str((row.invoice.buyer or {}).get("name") or "") or None,
                    document_type_code="380",
                ),
                sender=row.recipient,
                receiver=settings.PEPPOL_SENDER,
                kind="invoice_response",
                instance_id=f"ir-{row.invoice.number}-{code}",
                created=created,
            )
            label = f"IR {code}"
            if code == "RE":
                answered.rejected_number = row.invoice.number
                answered.rejected_reason = reason
        write_atomically(inbox / name, content)
        answered.written[label] = answered.written.get(label, 0) + 1
    return answered


DEMO_PASSWORD = "Kortfaktura-demo-2026"


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    role_name: str
    organisation: str


def create_demo_users() -> list[DemoUser]:
    """One user per role, all with the demo password; the Kund belongs to the first municipality
    that has issued invoices. Running the demo again resets their roles and passwords."""
    from kortfaktura.access.roles import ROLES
    from kortfaktura.access.services import add_user
    from kortfaktura.billing.models import Invoice

    first = (
        Invoice.objects.filter(status=Invoice.Status.ISSUED, customer__orgnr__startswith="2")
        .exclude(customer__orgnr=settings.SELLER["orgnr"])
        .select_related("customer")
        .order_by("customer__name")
        .first()
    )
    users = []
    for key, role in ROLES.items():
        if key == "kund" and first is None:
            continue
        orgnr = first.customer.orgnr if key == "kund" and first is not None else None
        add_user(key, key, DEMO_PASSWORD, orgnr)
        users.append(DemoUser(key, key, role.name, first.customer.name if orgnr and first else ""))
    return users


@dataclass
class PaymentStory:
    file: Path
    imported: PaymentImport
    open_invoices: int
    total_open: Decimal


def pay_story(directory: Path, today: dt.date) -> PaymentStory:
    """The bank's file for the issued invoices, as a customer ledger would see it in a month:
    most paid in full by OCR number, every tenth not yet paid, every 25th paid in part; read
    like any payment file (R21), so that Kundreskontra and the reminders have something to show."""
    invoices = list(
        Invoice.objects.filter(status=Invoice.Status.ISSUED, kind=Invoice.Kind.INVOICE)
        .order_by("number")
        .values_list("number", "ocr", "payable")
    )
    paid = []
    for index, (_, ocr, payable) in enumerate(invoices, start=1):
        if index % 10 == 0 or payable <= 0:
            continue
        amount = payable / 2 if index % 25 == 0 else payable
        paid.append(Paid(ocr, int(amount * 100), serial=index))
    path = directory / "betalningar" / f"bgmax-{today:%Y%m%d}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bgmax(paid, str(settings.SELLER["bankgiro"]), today))
    imported = import_payments(path)
    ledger = receivables(at=today)
    return PaymentStory(path, imported, len(ledger.items), ledger.total_open)
