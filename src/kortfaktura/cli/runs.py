"""``run list`` and ``run preview`` (INTERFACES.md; DOMAIN.md R25): the runs newest first, and a
draft's documents as PDFs marked UTKAST, for the person who issues it to open first."""

import argparse
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.table import Table

from kortfaktura import swedish
from kortfaktura.billing import selectors
from kortfaktura.billing.models import BillingRun
from kortfaktura.cli.output import console, fail, print_json
from kortfaktura.documents.drafts import preview_run
from kortfaktura.documents.services import ExportError

STATUS_WORDS = {"draft": "utkast", "issued": "utfärdad", "discarded": "kasserad"}


def run_list_json(runs: list[BillingRun]) -> list[dict[str, Any]]:
    """``run show --json`` without ``invoices`` and ``held_back``, plus who made the run."""
    orgnrs: dict[int, list[str]] = {}
    through = BillingRun.customers.through
    for run_id, orgnr in through.objects.filter(
        billingrun_id__in=[run.pk for run in runs]
    ).values_list("billingrun_id", "customer__orgnr"):
        orgnrs.setdefault(run_id, []).append(orgnr)
    return [
        {
            "id": run.pk,
            "status": run.status,
            "title": run.title,
            "legacy": run.is_legacy,
            "period_from": run.period_from.isoformat(),
            "period_to": run.period_to.isoformat(),
            "per": run.grouping,
            "issue_date": run.issue_date.isoformat() if run.issue_date else None,
            "customers": sorted(orgnrs.get(run.pk, [])),
            "not_billable": run.not_billable,
            "created_by": run.created_by,
            "drafted_by": run.drafter,
            "created_at": run.created_at.isoformat(),
            "issued_at": run.issued_at.isoformat() if run.issued_at else None,
            "documents": getattr(run, "document_count", None) or 0,
            "payable": f"{getattr(run, 'payable_sum', None) or 0:.2f}",
        }
        for run in runs
    ]


def run_list(args: argparse.Namespace) -> int:
    rows = BillingRun.objects.order_by("-created_at", "-id")
    if args.status:
        rows = rows.filter(status=args.status)
    runs = list(selectors.runs_with_figures(rows))
    if args.json:
        print_json(run_list_json(runs))
        return 0
    if not runs:
        console.print(
            "Inga körningar" + (f" med status {STATUS_WORDS[args.status]}." if args.status else ".")
        )
        return 0
    table = Table()
    for column, justify in (
        ("Körning", "right"),
        ("Status", "left"),
        ("Beställda", "left"),
        ("Rubrik", "left"),
        ("Dokument", "right"),
        ("Att betala", "right"),
        ("Utkast av", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for run in runs:
        table.add_row(
            str(run.pk),
            STATUS_WORDS.get(run.status, run.status),
            f"{run.period_from.isoformat()} – {run.period_to.isoformat()}",
            run.title,
            swedish.count(getattr(run, "document_count", None) or 0),
            swedish.money(getattr(run, "payable_sum", None) or Decimal(0), currency=False),
            run.drafter or "–",
        )
    console.print(table)
    return 0


def run_preview(args: argparse.Namespace) -> int:
    try:
        result = preview_run(args.run_id, Path(args.out))
    except ExportError as error:
        if args.json:
            print_json({"error": str(error)})
        fail(str(error))
        return 1
    if args.json:
        print_json(
            {
                "run_id": result.run_id,
                "directory": str(result.directory),
                "files": [path.name for path in result.files],
                "failed": [{"file": name, "reason": why} for name, why in result.failed.items()],
            }
        )
    else:
        console.print(
            f"{swedish.counted(len(result.files), 'utkast', 'utkast')} till körning "
            f"{result.run_id} skrivna som PDF märkta UTKAST i {result.directory} (utan nummer; "
            "numren ges när körningen utfärdas)."
        )
        for name, reason in result.failed.items():
            fail(f"{name}: {reason}")
    return 1 if result.failed else 0


def handle(args: argparse.Namespace) -> int | None:
    """``run list`` and ``run preview``; None for the other actions of ``run``."""
    if args.action == "list":
        if args.run_id is not None:
            fail("run list tar inget körningsnummer – skriv kortfaktura run list [--status draft]")
            return 2
        return run_list(args)
    if args.action == "preview":
        if args.out is None:
            fail("ange en katalog med --out, t.ex. kortfaktura run preview 5 --out utkast/")
            return 2
        return run_preview(args)
    if args.status or args.out:
        fail("--status gäller bara run list och --out bara run preview")
        return 2
    return None


def add_arguments(run_parser: argparse.ArgumentParser) -> None:
    run_parser.add_argument(
        "--status",
        choices=list(STATUS_WORDS),
        help="run list: bara körningar med status draft (utkast), issued (utfärdad) eller "
        "discarded (kasserad), t.ex. --status draft",
    )
    run_parser.add_argument(
        "--out",
        metavar="KATALOG",
        help="run preview: katalogen som utkastens PDF:er skrivs i, t.ex. --out utkast/",
    )
