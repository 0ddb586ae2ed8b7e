"""``kortfaktura audit [--since DATE] [--object TEXT]``: the audit trail (DOMAIN.md R19)."""

import argparse
from typing import Any

from django.utils import timezone
from rich.table import Table
from rich.text import Text

from kortfaktura.audit.selectors import record_json, records
from kortfaktura.audit.wording import ACTION_LABELS, DETAIL_LABELS, VALUE_WORDS
from kortfaktura.cli.output import console, print_json
from kortfaktura.cli.parsing import Subparsers, date_argument

ORDER = {name: position for position, name in enumerate(DETAIL_LABELS)}
DETAIL_LIMIT = 12  # entries shown per record; --json has them all
VALUE_LIMIT = 60  # characters of one value


def _value(value: Any) -> str:
    if value is None:
        return "–"
    if value == "":
        return "(tomt)"
    if value is True:
        return "ja"
    if value is False:
        return "nej"
    if isinstance(value, list):
        text = ", ".join(_value(item) for item in value) if value else "(inga)"
    else:
        text = str(value)
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


def _word(name: str, value: Any) -> str:
    words = VALUE_WORDS.get(name, {})
    return words.get(value, _value(value)) if isinstance(value, str) else _value(value)


def _label(name: str) -> str:
    return DETAIL_LABELS.get(name, name)


def _is_change(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"before", "after"}


def compact_details(details: dict[str, Any]) -> str:
    """``fält: före → efter`` for each change, then the other facts as ``namn: värde``."""
    details = dict(sorted(details.items(), key=lambda item: ORDER.get(item[0], len(ORDER))))
    changes = [
        f"{_label(name)}: {_word(name, value['before'])} → {_word(name, value['after'])}"
        for name, value in details.items()
        if _is_change(value)
    ]
    facts = [
        f"{_label(name)}: {_word(name, value[:16] + '…' if name == 'sha256' and value else value)}"
        for name, value in details.items()
        if not _is_change(value)
    ]
    parts = changes + facts
    if len(parts) > DETAIL_LIMIT:
        parts = [*parts[:DETAIL_LIMIT], f"… {len(parts) - DETAIL_LIMIT} till (se --json)"]
    return "; ".join(parts)


def audit_command(args: argparse.Namespace) -> int:
    found = records(since=args.since, object_text=args.object)
    if args.json:
        print_json([record_json(entry) for entry in found])
        return 0
    if not found:
        conditions = []
        if args.since:
            conditions.append(f"från {args.since.isoformat()}")
        if args.object:
            conditions.append(f"som gäller '{args.object}'")
        console.print(
            "Inga poster i granskningsloggen" + (f" {' '.join(conditions)}." if conditions else ".")
        )
        return 0
    table = Table(title="Granskningslogg")
    for column in ("Tid", "Vem", "Vad", "Objekt", "Detaljer"):
        table.add_column(column, overflow="fold")
    for entry in found:
        table.add_row(
            *(
                Text(cell)  # as written: a file name such as "[1].csv" is no markup
                for cell in (
                    f"{timezone.localtime(entry.at):%Y-%m-%d %H:%M:%S}",
                    entry.actor,
                    ACTION_LABELS.get(entry.action, entry.action),
                    entry.object,
                    compact_details(entry.details),
                )
            )
        )
    console.print(table)
    console.print(f"{len(found)} {'post' if len(found) == 1 else 'poster'}.")
    return 0


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="granskningsloggen: vem ändrade vad och när",
        description=(
            "Visar granskningsloggen (DOMAIN.md R19): varje import, ändring av kunder och priser, "
            "körning, kreditfaktura, beslut om ändringar och export, med vem, när och värdena "
            "före och efter. Loggen kan inte ändras eller tas bort, inte ens direkt i databasen."
        ),
    )
    parser.add_argument(
        "--since",
        type=date_argument,
        metavar="DATUM",
        help="bara poster från och med DATUM (svensk tid), ÅÅÅÅ-MM-DD, t.ex. 2026-11-01",
    )
    parser.add_argument(
        "--object",
        metavar="TEXT",
        help="bara poster vars objekt eller åtgärd innehåller TEXT (oavsett versaler), t.ex. "
        '"körning 5", "faktura 104863", "kund 212000-1454" eller "import"',
    )
    parser.add_argument("--json", action="store_true", help="maskinläsbart resultat på stdout")
    parser.set_defaults(handler=audit_command, needs_database=True)
