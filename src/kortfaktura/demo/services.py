"""``kortfaktura demo``: load the demo data through the same imports a user runs."""

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from django.core.management import call_command
from django.db import connection

from kortfaktura.billing import services as billing
from kortfaktura.billing.models import BillingRun, Invoice, InvoiceItem
from kortfaktura.customers.models import Customer
from kortfaktura.demo import generator
from kortfaktura.documents.services import ExportResult, export_documents
from kortfaktura.imports.engine import ImportResult, ProgressCallback
from kortfaktura.imports.services import import_file

ProgressFactory = Callable[[str], AbstractContextManager[ProgressCallback]]


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
class StoryStep:
    """One step of the demo's billing story, as the summary prints it."""

    title: str
    explanation: str
    run: BillingRun | None = None
    credit_note: Invoice | None = None
    nothing_to_bill: billing.DraftResult | None = None  # a run that found nothing: none is kept
    import_result: ImportResult | None = None


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
    result = billing.create_run(
        period_from,
        period_to,
        title=run_title,
        legacy=legacy,
        issue_date=issue_date,
        created_by="demo",
    )
    if result.run.pk is None:
        # Nothing new to bill (as on a second demo run): no run is kept, but the held-back
        # orders are still shown.
        return StoryStep(title, explanation, nothing_to_bill=result)
    return StoryStep(title, explanation, run=billing.issue_run(result.run.pk))


def run_billing_story(files: generator.DemoFiles, today: dt.date) -> list[StoryStep]:
    """The whole story of DOMAIN.md §1: legacy period separately, the paused period month by
    month, corrections and a credit note, and a re-run that finds nothing new."""
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
    credit_note = _credit_one_order()
    if credit_note is not None:
        steps.append(
            StoryStep(
                "Kreditering av en beställning",
                "En beställning krediteras; den blir fakturerbar igen och tas med i nästa "
                "körning under sin egen beställningsmånad (R12).",
                credit_note=credit_note,
            )
        )
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
            "Körningen igen – inget nytt",
            "Att köra en redan fakturerad period igen föreslår ingenting.",
            backlog_from,
            cutoff,
            today,
        )
    )
    return steps


def _credit_one_order() -> Invoice | None:
    """Credits one order of the Skaraborg invoices, once per database (the demo is re-runnable)."""
    if Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).exists():
        return None
    invoice = (
        Invoice.objects.filter(
            kind=Invoice.Kind.INVOICE, status=Invoice.Status.ISSUED, account__code="VGR-SKAS"
        )
        .order_by("-number")
        .first()
    )
    if invoice is None:
        return None
    order_id = (
        InvoiceItem.objects.filter(invoice=invoice, credited=False)
        .order_by("order__order_id")
        .values_list("order__order_id", flat=True)
        .first()
    )
    if order_id is None:
        return None
    return billing.credit_invoice(
        invoice.number or 0,
        order_ids=[order_id],
        reason="Kortet beställdes av fel enhet – ska faktureras på nytt",
        created_by="demo",
        issue_date=invoice.issue_date,
    )


def export_story_documents(
    directory: Path, *, progress: ProgressFactory | None = None
) -> list[ExportResult]:
    """Every issued invoice and credit note as a Peppol UBL file and as a PDF."""
    documents = list(Invoice.objects.filter(status=Invoice.Status.ISSUED).order_by("number"))
    results = []
    for file_format in ("ubl", "pdf"):
        if progress is None:
            results.append(export_documents(documents, file_format, directory / file_format))
            continue
        with progress(f"Skriver {file_format.upper()}") as callback:
            results.append(
                export_documents(documents, file_format, directory / file_format, progress=callback)
            )
    return results
