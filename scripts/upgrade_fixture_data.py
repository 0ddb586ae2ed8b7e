"""Fills an empty database with a small, complete history through the command line, and writes a
manifest of what it holds. Run by scripts/make-upgrade-fixtures.sh with the OLD code on the path
(a release before a schema change), once on SQLite and once on PostgreSQL:

    python scripts/upgrade_fixture_data.py WORK_DIR MANIFEST.json

The database is the one the environment names (KORTFAKTURA_DATA_DIR or DATABASE_URL). What it
makes: customers (a Peppol municipality, one by e-mail, a private provider on paper, and VGR's own
unit, which gets internal charges), prices, orders and earlier-invoicing records; an ordinary run
and a legacy run, issued; a partial credit note and an internal credit; a change to an invoiced
order accepted (a credit note) and one rejected; a draft run left open; every document delivered
(Peppol outbox, e-mail as files, print) and one Peppol delivery confirmed by a Message Level
Response; an SIE export; a user with an API token. The manifest records each issued document's
number, kind and the SHA-256 of its stored UBL, the counts of the audit trail and deliveries, and
the review's verdict, so that the upgrade test can tell that nothing was lost or changed.

Only the command line (``kortfaktura.cli.main.main``) and a few model reads are used, so that the
script runs against older code too.
"""

import csv
import datetime as dt
import hashlib
import io
import json
import os
import sys
import uuid
from contextlib import redirect_stdout
from pathlib import Path
from zoneinfo import ZoneInfo

SELLER = "0007:2321000131"
VARGARDA, GOTEBORG, VGR = "2120001454", "2120001355", "2321000131"


def luhn_orgnr(stem: str) -> str:
    digits = [int(c) for c in stem]
    total = sum(d if i % 2 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits))
    return stem + str((10 - total % 10) % 10)


PRIVATE = luhn_orgnr("556677889")


def local_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Europe/Stockholm")).date()


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def kortfaktura(actor: str, *arguments: str) -> object:
    """One command as ``actor``; its JSON answer. Any failure stops the script."""
    from kortfaktura.cli.main import main

    os.environ["KORTFAKTURA_ACTOR"] = actor
    out = io.StringIO()
    with redirect_stdout(out):
        status = main([*arguments, "--json"])
    if status != 0:
        raise SystemExit(f"kortfaktura {' '.join(arguments)} → {status}\n{out.getvalue()}")
    return json.loads(out.getvalue()) if out.getvalue().strip() else None


def orders_rows() -> list[list[str]]:
    rows = []
    # (customer, unit, product, month, count): the backlog period (2020-03 – 2020-05) ...
    plan = [
        (VARGARDA, "", "ETK", "2020-03", 4),
        (VARGARDA, "", "PUK", "2020-04", 2),
        (GOTEBORG, "", "ETK", "2020-03", 3),
        (GOTEBORG, "", "ETK", "2020-05", 2),
        (PRIVATE, "", "ETK", "2020-04", 2),
        (VGR, "SU-MED", "ETK", "2020-03", 3),
        (VGR, "SU-MED", "RESERV", "2020-05", 1),
        # ... the legacy period (one of these was invoiced by the earlier system) ...
        (VARGARDA, "", "ETK", "2019-06", 3),
        # ... and June 2020, left in an open draft.
        (GOTEBORG, "", "ETK", "2020-06", 2),
    ]
    for orgnr, unit, product, month, count in plan:
        for day in range(1, count + 1):
            number = len(rows) + 1
            rows.append(
                [
                    f"U{number:05d}",
                    f"{month}-{day + 9:02d} 10:{number % 60:02d}",
                    orgnr,
                    unit,
                    product,
                    f"Kortinnehavare {number}",
                    f"SE2321000131-P{number:012d}",
                    "collected",
                    "",
                ]
            )
    return rows


ORDER_HEADER = [
    "order_id", "ordered_at", "orgnr", "unit_code", "product_code", "holder_name",
    "holder_hsa_id", "status", "status_at",
]  # fmt: skip


def fill(work: Path) -> None:
    files = work / "files"
    files.mkdir(parents=True, exist_ok=True)
    kortfaktura("anna", "init")
    customers = write_csv(
        files / "kunder.csv",
        [
            "orgnr",
            "name",
            "account_code",
            "unit_codes",
            "buyer_reference",
            "peppol_id",
            "email",
            "street",
            "postal_code",
            "city",
            "delivery",
            "cost_centre",
        ],
        [
            [
                VARGARDA,
                "Vårgårda kommun",
                "1442",
                "",
                "GITS-1442",
                "0007:2120001454",
                "",
                "Box 1",
                "447 80",
                "Vårgårda",
                "peppol",
                "",
            ],
            [
                GOTEBORG,
                "Göteborgs Stad",
                "GBG",
                "",
                "GITS-GBG",
                "",
                "faktura@goteborg.example",
                "Box 2",
                "404 82",
                "Göteborg",
                "email",
                "",
            ],
            [
                PRIVATE,
                "Älvstrandens Omsorg AB",
                "ALV",
                "",
                "",
                "",
                "",
                "Strandvägen 3",
                "417 01",
                "Göteborg",
                "print",
                "",
            ],
            [
                VGR,
                "Västra Götalandsregionen",
                "VGR-RS",
                "",
                "VGR-RS",
                "",
                "ekonomi@vgregion.example",
                "Regionens Hus",
                "405 44",
                "Göteborg",
                "email",
                "KS-1000",
            ],
            [
                VGR,
                "Västra Götalandsregionen",
                "VGR-SU",
                "SU-MED",
                "VGR-SU",
                "",
                "ekonomi.su@vgregion.example",
                "Blå stråket 5",
                "413 45",
                "Göteborg",
                "email",
                "KS-4711",
            ],
        ],
    )
    kortfaktura("anna", "import", "customers", str(customers))
    prices = write_csv(
        files / "priser.csv",
        ["product_code", "product_name", "unit_price", "vat_rate", "valid_from", "valid_to"],
        [
            ["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""],
            ["RESERV", "Reservkort", "200", "25", "2019-01-01", ""],
            ["PUK", "PUK-kod", "150", "25", "2019-01-01", ""],
        ],
    )
    kortfaktura("anna", "import", "prices", str(prices))
    orders = orders_rows()
    kortfaktura("anna", "import", "orders", str(write_csv(files / "b.csv", ORDER_HEADER, orders)))
    billed = write_csv(
        files / "fakturerat.csv",
        ["order_id", "invoice_number", "invoice_date"],
        [[next(row[0] for row in orders if row[1].startswith("2019-")), "A-2019-77", "2019-07-31"]],
    )
    kortfaktura("anna", "import", "billed", str(billed))

    backlog = kortfaktura(
        "anna", "bill", "--from", "2020-02-29", "--to", "2020-05-31", "--title", "Backlog 2020"
    )
    kortfaktura("bertil", "run", "issue", str(backlog["id"]))  # type: ignore[index]
    legacy = kortfaktura("anna", "bill", "--legacy", "--from", "2019-01-01", "--to", "2020-02-28")
    kortfaktura("bertil", "run", "issue", str(legacy["id"]))  # type: ignore[index]

    invoices = kortfaktura("anna", "invoice", "list")
    assert isinstance(invoices, list)
    by = {(i["orgnr"].replace("-", ""), i["lines"][0]["order_month"]): i for i in invoices}
    vargarda_march = by[(VARGARDA, "2020-03")]
    internal = next(i for i in invoices if i["type"] == "internal_charge")
    kortfaktura(
        "cecilia",
        "credit",
        str(vargarda_march["number"]),
        "--order",
        vargarda_march["order_ids"][0],
        "--reason",
        "Kortet beställdes av misstag",
    )
    kortfaktura("cecilia", "credit", str(internal["number"]), "--reason", "Fel kostnadsställe")

    # The card system changes two invoiced orders: one change is accepted, one rejected (R14).
    goteborg_march = by[(GOTEBORG, "2020-03")]
    moved = {goteborg_march["order_ids"][0]: "SU-MED", goteborg_march["order_ids"][1]: "X-1"}
    corrected = [[*row[:3], moved[row[0]], *row[4:]] for row in orders if row[0] in moved]
    kortfaktura(
        "anna", "import", "orders", str(write_csv(files / "r.csv", ORDER_HEADER, corrected))
    )
    pending = kortfaktura("anna", "changes", "list")
    assert isinstance(pending, list) and len(pending) == 2, pending
    ids = {change["order_id"]: str(change["id"]) for change in pending}
    first, second = list(moved)
    kortfaktura(
        "cecilia", "changes", "accept", ids[first], "--reason", "Rätt enhet enligt kortsystemet"
    )
    kortfaktura("cecilia", "changes", "reject", ids[second], "--reason", "Fel i kortsystemet")

    # Everything issued so far is delivered; one Peppol delivery is then confirmed by an MLR.
    kortfaktura("anna", "deliver")
    from kortfaktura.delivery.models import Delivery
    from kortfaktura.delivery.receipts import message_level_response

    peppol = Delivery.objects.filter(channel="peppol").order_by("pk").first()
    assert peppol is not None and peppol.instance_id is not None
    inbox = Path(os.environ["KORTFAKTURA_PEPPOL_INBOX"].removeprefix("file://"))
    (inbox / "mlr-1.xml").write_bytes(
        message_level_response(
            instance_id=str(peppol.instance_id),
            code="AP",
            reason="",
            sender="0088:7300010000001",
            receiver=SELLER,
            issue_date=local_today(),
            response_id=str(uuid.uuid4()),
        )
    )
    kortfaktura("anna", "deliver")
    kortfaktura("anna", "bill", "--from", "2020-06-01", "--to", "2020-06-30", "--title", "Juni")
    today = local_today()
    kortfaktura(
        "cecilia",
        "export",
        "sie",
        "--from",
        f"{today.year}-01-01",
        "--to",
        today.isoformat(),
        "--out",
        str(work / "bokforing.se"),
    )
    sys.stdin = io.StringIO("Hemligt-lösenord-2026\n")
    kortfaktura("anna", "user", "add", "granskaren", "--role", "granskare")
    kortfaktura("anna", "token", "create", "granskaren")


def manifest() -> dict[str, object]:
    from django.db import connection

    from kortfaktura.audit.models import AuditRecord
    from kortfaktura.billing.models import Invoice
    from kortfaktura.delivery.models import Delivery
    from kortfaktura.documents.models import IssuedDocument

    documents = [
        {
            "number": str(document.invoice.number),
            "kind": document.invoice.kind,
            "sha256": hashlib.sha256(document.unpacked()).hexdigest(),
            "content_sha256": document.invoice.content_sha256,
        }
        for document in IssuedDocument.objects.select_related("invoice").order_by("invoice__number")
    ]
    review = kortfaktura("anna", "review")
    assert isinstance(review, dict) and review["balanced"] is True, review
    return {
        "backend": connection.vendor,
        "documents": documents,
        "invoices": Invoice.objects.count(),
        "issued": Invoice.objects.filter(status="issued").count(),
        "drafts": Invoice.objects.filter(status="draft").count(),
        "audit_records": AuditRecord.objects.count(),
        "deliveries": sorted(
            [str(d.invoice.number), d.channel, d.status]
            for d in Delivery.objects.select_related("invoice")
        ),
        "review_balanced": review["balanced"],
        "months": review["months"],
    }


def main() -> int:
    work, target = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    channels = {
        "KORTFAKTURA_PEPPOL_OUTBOX": work / "peppol" / "ut",
        "KORTFAKTURA_PEPPOL_INBOX": work / "peppol" / "in",
        "KORTFAKTURA_SMTP_URL": work / "epost",
        "KORTFAKTURA_PRINT_DIR": work / "utskrift",
    }
    for variable, directory in channels.items():
        directory.mkdir(parents=True, exist_ok=True)
        uri = variable != "KORTFAKTURA_PRINT_DIR"
        os.environ[variable] = f"file://{directory}" if uri else str(directory)
    os.environ["KORTFAKTURA_MAIL_FROM"] = "gits-fakturor@vgregion.example"
    os.environ["KORTFAKTURA_DOCUMENT_WORKERS"] = "1"
    fill(work)
    found = manifest()
    target.write_text(json.dumps(found, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(
        f"{found['backend']}: {len(found['documents'])} utfärdade dokument, "  # type: ignore[arg-type]
        f"{found['audit_records']} poster i granskningsloggen, "
        f"{len(found['deliveries'])} leveranser → {target}"  # type: ignore[arg-type]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
