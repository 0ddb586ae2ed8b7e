"""A tamper-evident history (DOMAIN.md R19; issue 17, part "chain").

Someone with write access to the database (the guards switched off: triggers disabled on
PostgreSQL, dropped on SQLite, inside the test's transaction) forges what issue 17 lists; each
forgery must make ``kortfaktura review`` exit 1 and name it, and an untouched history must pass.
``--expect-head`` must catch what only a copy outside the system can: a chain rewritten
consistently from the start, and the last document deleted with everything after it.
"""

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

import sie_reader
from conftest import (
    CUSTOMER_HEADER,
    GOTEBORG,
    ORDER_HEADER,
    PRICE_HEADER,
    VGR,
    customer_row,
    order_row,
)
from kortfaktura.audit.chain import content_hash, flush_pending_links, link_hash
from kortfaktura.audit.models import AuditLink, AuditRecord
from kortfaktura.billing import chain
from kortfaktura.billing.models import Invoice, InvoiceItem, InvoiceLine, InvoiceNumberSeries
from kortfaktura.documents.data import documents_for
from kortfaktura.documents.models import IssuedDocument
from kortfaktura.documents.ubl import UblRenderer
from kortfaktura.orders.models import Order

pytestmark = pytest.mark.django_db
Cli = Callable[..., tuple[int, str, str]]
CsvFile = Callable[..., Path]
PERIOD = ("--from", "2020-03-01", "--to", "2020-04-30")


def as_json(cli: Cli, *args: str) -> tuple[int, Any]:
    code, out, err = cli(*args, "--json")
    return code, json.loads(out) if out.strip() else err


def imported(cli: Cli, kind: str, path: Path) -> None:
    code, result = as_json(cli, "import", kind, str(path))
    assert code == 0 and result["quarantined"] == 0, result


@pytest.fixture
def history(cli: Cli, csv_file: CsvFile) -> dict[str, Any]:
    """One run over March–April 2020: Vårgårda March (V1, V2), Vårgårda April (VA) and Göteborg
    March (G1) as invoices 100001–100003, and VGR's R1 as internal charge 90000001."""
    imported(
        cli,
        "customers",
        csv_file(
            CUSTOMER_HEADER,
            [
                customer_row(),
                customer_row(GOTEBORG, "Göteborgs Stad", "1480", peppol_id="0007:2120001355"),
                customer_row(
                    VGR, "Västra Götalandsregionen", "VGR-RS", peppol_id="", delivery="print"
                ),
            ],
        ),
    )
    imported(
        cli,
        "prices",
        csv_file(PRICE_HEADER, [["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""]]),
    )
    imported(
        cli,
        "orders",
        csv_file(
            ORDER_HEADER,
            [
                order_row("V1", "2020-03-02 09:00"),
                order_row("V2", "2020-03-20 09:00"),
                order_row("VA", "2020-04-03 09:00"),
                order_row("G1", "2020-03-05 09:00", GOTEBORG),
                order_row("R1", "2020-03-10 09:00", VGR),
            ],
        ),
    )
    code, draft = as_json(cli, "bill", *PERIOD)
    assert code == 0, draft
    code, issued = as_json(cli, "run", "issue", str(draft["id"]))
    assert code == 0, issued
    numbers = {
        (invoice["account_code"], invoice["lines"][0]["order_month"]): int(invoice["number"])
        for invoice in issued["invoices"]
    }
    assert numbers == {
        ("1442", "2020-03"): 100001,
        ("1442", "2020-04"): 100002,
        ("1480", "2020-03"): 100003,
        ("VGR-RS", "2020-03"): 90000001,
    }
    flush_pending_links()  # PostgreSQL: as if committed (the links are written at commit)
    return {"heads": {head.chain: head for head in chain.chain_heads()}}


def without_guards() -> None:
    """What someone with write access can do: the database's refusals switched off, inside
    the test's own transaction (triggers off on PostgreSQL, dropped on SQLite)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER "{name}"')


def sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def review(cli: Cli, *args: str) -> tuple[int, dict[str, Any]]:
    code, result = as_json(cli, "review", *args)
    assert isinstance(result, dict), result
    return code, result


def named(result: dict[str, Any], *, number: int | None = None, order: str = "") -> list[str]:
    return [
        d["problem"]
        for d in result["discrepancies"]
        if (number is None or d["number"] == number) and (not order or d["order_id"] == order)
    ]


def chain_of(result: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [entry for entry in result["chains"] if entry["chain"] == name]
    return found


# An untouched history ---------------------------------------------------------------------------


def test_an_untouched_history_passes_and_shows_each_chains_head(
    cli: Cli, history: dict[str, Any]
) -> None:
    code, result = review(cli)
    assert code == 0 and result["balanced"] is True, result["discrepancies"]
    heads = history["heads"]
    assert {entry["chain"]: entry["ok"] for entry in result["chains"]} == {
        "invoices": True,
        "internal": True,
        "audit": True,
    }
    invoices = chain_of(result, "invoices")
    assert (invoices["length"], invoices["head_number"]) == (3, 100003)
    assert invoices["head_hash"] == heads["invoices"].hash and len(invoices["head_hash"]) == 64
    assert chain_of(result, "internal")["expect"] == f"90000001:{heads['internal'].hash}"
    audit = chain_of(result, "audit")
    assert audit["length"] == AuditRecord.objects.count() and audit["broken"] == []
    # Each head checks out against the chain it came from.
    code, again = review(
        cli, "--expect-head", heads["invoices"].expect, heads["internal"].expect,
        "--expect-head", chain_of(result, "audit")["expect"],
    )  # fmt: skip
    assert code == 0 and again["balanced"] is True, again["discrepancies"]
    code, out, _ = cli("review")
    assert code == 0 and "Kedjor" in out and heads["invoices"].expect in out


def test_a_credit_note_extends_the_chain_and_the_review_still_passes(
    cli: Cli, history: dict[str, Any]
) -> None:
    code, credit = as_json(cli, "credit", "100001", "--order", "V2", "--reason", "Fel kund")
    assert code == 0, credit
    code, result = review(cli, "--expect-head", history["heads"]["invoices"].expect)
    assert code == 0, result["discrepancies"]
    invoices = chain_of(result, "invoices")
    assert (invoices["length"], invoices["head_number"]) == (4, 100004)


def test_an_items_canonical_text_is_the_same_json_on_both_databases(
    history: dict[str, Any],
) -> None:
    """The database writes each item's part of the content hash (billing/chain.py); SQLite and
    PostgreSQL must write exactly what ``json.dumps`` writes, whatever the text holds."""
    tricky = 'Å "citat" \\ ny\nrad\ttab\x01\x1f\x7f \u2028 名 😀'
    without_guards()
    invoice = Invoice.objects.get(number=100001)
    item = invoice.items.order_by("order_id").first()
    assert item is not None
    InvoiceItem.objects.filter(pk=item.pk).update(
        holder_name=tricky, holder_hsa_id="SE2321000131-E000000000001", order_date=None
    )
    (rows,) = chain.read_documents([invoice.pk])
    assert rows.items[0] == json.dumps(
        [1, item.order_id, item.order_ref, None, item.product_code, item.unit_code, tricky,
         "SE2321000131-E000000000001", 35000, 0],
        ensure_ascii=False,
        separators=(",", ":"),
    )  # fmt: skip
    assert rows.items[1].startswith(f"[1,{item.order_id + 1},")


# The forgeries of issue 17 ----------------------------------------------------------------------


def test_a_document_rewritten_to_175_kr_while_its_ubl_says_1750_is_named(
    cli: Cli, history: dict[str, Any]
) -> None:
    """Header, lines and items of invoice 100003 consistently changed to a tenth: the totals
    tie to the lines and the months balance, so only the chain and the stored UBL tell."""
    without_guards()
    invoice = Invoice.objects.get(number=100003)
    sql(
        "UPDATE billing_invoiceline SET unit_price = 35, net = 35 WHERE invoice_id = %s",
        [invoice.pk],
    )
    sql("UPDATE billing_invoiceitem SET unit_price = 35 WHERE invoice_id = %s", [invoice.pk])
    sql(
        "UPDATE billing_invoice SET net = 35, vat = 8.75, rounding = 0.25, payable = 44 "
        "WHERE id = %s",
        [invoice.pk],
    )  # fmt: skip
    code, result = review(cli)
    assert code == 1 and result["balanced"] is False
    assert all(month["balanced"] for month in result["months"])  # no month tells
    problems = named(result, number=100003)
    assert any("stämmer inte med sin länk i kedjan" in p for p in problems), problems
    (ubl,) = [p for p in problems if "Peppol-dokumentet" in p]
    assert "att betala: dokumentet 438,00 kr, raderna 44,00 kr" in ubl.replace("\xa0", " ")
    assert "rad 1 à-pris: dokumentet 350.00, raderna 35.00" in ubl
    assert chain_of(result, "invoices")["ok"] is False
    assert result["summary"].startswith("Historiken har ändrats i databasen: kedjan för fakturor")
    code, out, _ = cli("review")
    assert code == 1 and "Allt stämmer" not in out and "100003" in out


def _forge_credit_note(link: bool) -> Invoice:
    """A whole credit note for G1 on invoice 100003, as Kortfaktura would have written it –
    lines, items, the credited flag, a valid stored UBL whose hash is on the note, the series
    moved on – but written straight into the database; with ``link`` even its chain link,
    computed as Kortfaktura computes it."""
    original = Invoice.objects.get(number=100003)
    line = original.lines.get()
    item = original.items.get()
    note = Invoice.objects.create(
        kind=Invoice.Kind.CREDIT_NOTE, status=Invoice.Status.ISSUED, credits=original,
        number=100004, ocr="1000046", account=original.account, customer=original.customer,
        title="Kreditering av faktura 100003", period_start=original.period_start,
        period_end=original.period_end, issue_date=original.issue_date,
        due_date=original.issue_date, net=Decimal("-350.00"), vat=Decimal("-87.50"),
        rounding=Decimal("-0.50"), payable=Decimal("-438.00"), reason="Fel",
        seller=original.seller, buyer=original.buyer,
    )  # fmt: skip
    credit_line = InvoiceLine.objects.create(
        invoice=note, position=1, order_month=line.order_month, product=line.product,
        product_code=line.product_code, product_name=line.product_name, quantity=-1,
        unit_price=line.unit_price, vat_rate=line.vat_rate, net=Decimal("-350.00"),
    )  # fmt: skip
    InvoiceItem.objects.create(
        invoice=note, line=credit_line, order=item.order, unit_price=item.unit_price,
        is_credit=True, order_ref=item.order_ref, order_date=item.order_date,
        product_code=item.product_code, unit_code=item.unit_code,
    )  # fmt: skip
    InvoiceItem.objects.filter(pk=item.pk).update(credited=True, credited_by=note)
    (document,) = documents_for([Invoice.objects.get(pk=note.pk)])
    xml = UblRenderer().render(document)
    IssuedDocument.objects.create(invoice=note, content=IssuedDocument.pack(xml))
    Invoice.objects.filter(pk=note.pk).update(
        content_sha256=hashlib.sha256(xml).hexdigest(), validation="passed"
    )
    if link:
        (rows,) = chain.read_documents([note.pk])
        previous = Invoice.objects.get(number=100003).chain_hash
        Invoice.objects.filter(pk=note.pk).update(
            chain_hash=link_hash(previous, rows.content_hash())
        )
    InvoiceNumberSeries.objects.filter(name="invoices").update(next_number=100005)
    return note


def test_a_forged_credit_note_with_a_matching_hash_is_named(
    cli: Cli, history: dict[str, Any]
) -> None:
    without_guards()
    _forge_credit_note(link=False)
    code, result = review(cli)
    assert code == 1 and result["balanced"] is False
    assert result["invalid_documents"] == []  # its stored UBL matches its hash and its rows
    problems = named(result, number=100004)
    assert any("ingen länk i kedjan" in p for p in problems), problems
    assert any("nämns inte i granskningsloggen" in p for p in problems), problems


def test_a_forged_credit_note_even_with_a_correct_link_is_named(
    cli: Cli, history: dict[str, Any]
) -> None:
    """The chain alone cannot tell a forger who knows the algorithm from Kortfaktura at the
    head of the chain; the audit trail, which names every document it issued, can."""
    without_guards()
    _forge_credit_note(link=True)
    code, result = review(cli)
    assert code == 1
    problems = named(result, number=100004)
    assert problems and all("länk" not in p for p in problems), problems
    assert any("nämns inte i granskningsloggen" in p for p in problems)


def test_a_deleted_middle_invoice_is_named_by_its_number(cli: Cli, history: dict[str, Any]) -> None:
    """Invoice 100002 (VA) deleted: its order is offered for billing again and every month
    still balances; the chain names the missing number."""
    without_guards()
    middle = Invoice.objects.get(number=100002)
    IssuedDocument.objects.filter(invoice=middle).delete()
    sql("DELETE FROM billing_invoiceitem WHERE invoice_id = %s", [middle.pk])
    sql("DELETE FROM billing_invoiceline WHERE invoice_id = %s", [middle.pk])
    sql("DELETE FROM billing_invoice WHERE id = %s", [middle.pk])
    code, result = review(cli)
    assert code == 1 and result["balanced"] is False
    assert all(month["balanced"] for month in result["months"])
    assert [entry["order_id"] for entry in result["unbilled"]] == ["VA"]  # offered again
    problems = named(result, number=100003)
    assert any("dokument 100002 saknas i kedjan" in p for p in problems), problems


def test_the_last_invoice_deleted_and_the_series_rolled_back_is_named(
    cli: Cli, history: dict[str, Any]
) -> None:
    without_guards()
    last = Invoice.objects.get(number=100003)
    IssuedDocument.objects.filter(invoice=last).delete()
    sql("DELETE FROM billing_invoiceitem WHERE invoice_id = %s", [last.pk])
    sql("DELETE FROM billing_invoiceline WHERE invoice_id = %s", [last.pk])
    sql("DELETE FROM billing_invoice WHERE id = %s", [last.pk])
    InvoiceNumberSeries.objects.filter(name="invoices").update(next_number=100003)
    code, result = review(cli)
    assert code == 1 and result["numbering"]["gaps"] == []  # no gap left to see
    problems = named(result, number=100003)
    assert any(
        "säger att dokument 100003 utfärdades" in p and "rullats tillbaka" in p for p in problems
    ), problems
    # A head copied out before says the same, in its own words.
    code, result = review(cli, "--expect-head", history["heads"]["invoices"].expect)
    assert code == 1
    assert any("finns inte i kedjan (den slutar vid 100002)" in p for p in named(result))


def test_deleted_and_changed_audit_records_are_named(cli: Cli, history: dict[str, Any]) -> None:
    records = list(AuditRecord.objects.order_by("id").values_list("id", flat=True))
    gone, changed = records[1], records[3]
    without_guards()
    sql("DELETE FROM audit_auditlink WHERE record_id = %s", [gone])
    sql("DELETE FROM audit_auditrecord WHERE id = %s", [gone])
    sql("UPDATE audit_auditrecord SET actor = 'någon annan' WHERE id = %s", [changed])
    code, result = review(cli)
    assert code == 1 and result["balanced"] is False
    audit = chain_of(result, "audit")
    assert audit["ok"] is False
    problems = [entry["problem"] for entry in audit["broken"]]
    assert any(f"mellan post {records[0]} och {records[2]}" in p for p in problems), problems
    assert any(f"granskningspost {changed}" in p and "innehållet" in p for p in problems)
    assert all(any(p == d for d in named(result)) for p in problems)  # also discrepancies


def test_an_audit_record_written_past_kortfaktura_is_named(
    cli: Cli, history: dict[str, Any]
) -> None:
    without_guards()
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    sql(
        "INSERT INTO audit_auditrecord (at, actor, action, object, details, content_hash) "
        "VALUES (%s, 'x', 'run.issued', 'körning 9', %s, '')",
        [connection.ops.adapt_datetimefield_value(at), "{}"],
    )
    code, result = review(cli)
    assert code == 1
    assert any("ingår inte i kedjan" in p for p in named(result))


def test_an_invoiced_orders_changed_orgnr_is_named_by_order(
    cli: Cli, history: dict[str, Any]
) -> None:
    without_guards()
    Order.objects.filter(order_id="V1").update(orgnr=GOTEBORG.replace("-", ""))
    code, result = review(cli)
    assert code == 1 and result["balanced"] is False
    (problem,) = named(result, order="V1")
    assert "organisationsnummer 2120001454" in problem and "2120001355" in problem
    assert "utan att någon import registrerat ändringen" in problem


def test_a_forged_credit_flag_is_named_by_order(cli: Cli, history: dict[str, Any]) -> None:
    without_guards()
    invoice = Invoice.objects.get(number=100001)
    # credited_by must name an issued document (a check constraint), but none credits V1.
    InvoiceItem.objects.filter(invoice=invoice, order_ref="V1").update(
        credited=True, credited_by=invoice
    )
    code, result = review(cli)
    assert code == 1
    problems = named(result, order="V1")
    assert any("markerad som krediterad" in p and "100001" in p for p in problems), problems
    assert "V1" in [entry["order_id"] for entry in result["unbilled"]]


# Heads kept outside the system ------------------------------------------------------------------


def _rewrite_everything() -> None:
    """The consistent rewrite: a document changed, then every link after it computed again as
    Kortfaktura computes them, the audit record that names the head changed to match, and the
    whole audit chain linked again. Nothing inside the database can tell any more."""
    without_guards()
    sql("UPDATE billing_invoice SET title = 'Något annat' WHERE number = 100001")
    with connection.cursor() as cursor:
        chain.chain_existing(cursor)
    new_head = Invoice.objects.get(number=100003).chain_hash
    for record in AuditRecord.objects.filter(action="run.issued"):
        details = dict(record.details)
        details["chain"] = [
            {**anchor, "hash": new_head} if anchor["series"] == "invoices" else anchor
            for anchor in details["chain"]
        ]
        sql(
            "UPDATE audit_auditrecord SET details = %s, content_hash = %s WHERE id = %s",
            [
                json.dumps(details),
                content_hash(record.at, record.actor, record.action, record.object, details),
                record.pk,
            ],
        )
    sql("DELETE FROM audit_auditlink")
    previous = ""
    for seq, record in enumerate(AuditRecord.objects.order_by("id"), start=1):
        previous = link_hash(previous, record.content_hash)
        AuditLink.objects.create(record=record, seq=seq, hash=previous)


def test_expect_head_catches_a_consistent_rewrite_of_the_whole_chain(
    cli: Cli, history: dict[str, Any]
) -> None:
    heads = history["heads"]
    _rewrite_everything()
    code, result = review(cli)
    assert code == 0, result["discrepancies"]  # the limit of what the database can prove
    code, result = review(cli, "--expect-head", heads["invoices"].expect)
    assert code == 1 and result["balanced"] is False
    (problem,) = named(result, number=100003)
    assert "kedjan har skrivits om" in problem and heads["invoices"].hash[:16] in problem
    code, result = review(cli, "--expect-head", heads["audit"].expect)
    assert code == 1
    assert any(f"granskningspost {heads['audit'].number}" in p for p in named(result))
    code, out, _ = cli("review", "--expect-head", heads["audit"].expect)  # as a person reads it
    assert code == 1 and "  granskningsloggen: granskningspost" in out, out
    # The internal chain was not touched: its head still checks out.
    code, result = review(cli, "--expect-head", heads["internal"].expect)
    assert code == 0


def test_expect_head_catches_the_chain_rolled_back_with_its_audit_trail(
    cli: Cli, history: dict[str, Any]
) -> None:
    """The last document and the audit records from its issue on deleted together: every
    link left is valid, and only the copy of the head shows that history was cut off."""
    heads = history["heads"]
    issued = AuditRecord.objects.get(action="run.issued")
    without_guards()
    code, _ = review(cli)
    assert code == 0
    later = list(AuditRecord.objects.filter(id__gte=issued.pk).values_list("id", flat=True))
    for record_id in later:
        sql("DELETE FROM audit_auditlink WHERE record_id = %s", [record_id])
        sql("DELETE FROM audit_auditrecord WHERE id = %s", [record_id])
    code, result = review(cli, "--expect-head", heads["audit"].expect)
    assert code == 1
    assert any(
        f"granskningspost {heads['audit'].number}" in p and "rullats tillbaka" in p
        for p in named(result)
    ), named(result)


def test_a_head_that_is_no_head_is_wrong_usage(cli: Cli, history: dict[str, Any]) -> None:
    for wrong in ("100003", "100003:xyz", "100003:abc", "audit:x:" + "a" * 64, "0:" + "g" * 64):
        code, _, err = cli("review", "--expect-head", wrong)
        assert code == 2 and "kedjehuvud" in err, (wrong, err)
    code, result = review(cli, "--expect-head", "100009:" + "a" * 64)
    assert code == 1
    assert any("dokument 100009 finns" in p for p in named(result))


# Heads going out -------------------------------------------------------------------------------


def test_the_sie_export_carries_the_heads_and_they_check_out(
    cli: Cli, history: dict[str, Any], tmp_path: Path
) -> None:
    issued = Invoice.objects.get(number=100001).issue_date
    assert issued is not None
    target = tmp_path / "bok.se"
    code, exported = as_json(
        cli, "export", "sie", "--from", issued.isoformat(), "--to", issued.isoformat(),
        "--out", str(target),
    )  # fmt: skip
    assert code == 0, exported
    (prose,) = sie_reader.parse(target).labels["#PROSA"]
    heads = re.findall(r"(?:audit:)?\d+:[0-9a-f]{64}", prose[0])
    assert heads == [head["expect"] for head in exported["chains"]]
    assert heads[:2] == [history["heads"]["invoices"].expect, history["heads"]["internal"].expect]
    code, result = review(cli, "--expect-head", *heads)
    assert code == 0, result["discrepancies"]


def test_the_reports_show_the_heads(cli: Cli, history: dict[str, Any], tmp_path: Path) -> None:
    from openpyxl import load_workbook

    html, xlsx = tmp_path / "g.html", tmp_path / "g.xlsx"
    code, _, err = cli("review", "--html", str(html), "--xlsx", str(xlsx))
    assert code == 0, err
    page = html.read_text(encoding="utf-8")
    head = history["heads"]["invoices"]
    assert 'id="kedjor"' in page and head.expect in page
    sheet = load_workbook(xlsx)["Kedjor"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Kedja"
    assert ("fakturor och kreditfakturor", 3, 100003, head.hash, "ja", head.expect) in rows
    record = AuditRecord.objects.filter(action="review.report").get()
    assert head.expect in record.details["heads"]


# Real processes, real commits ------------------------------------------------------------------

WRITER = """
import os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kortfaktura.settings")
import django
django.setup()
from django.db import transaction
from kortfaktura.audit.services import record
from kortfaktura.billing.numbering import lock_series

name, rounds, order, start = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
time.sleep(max(0.0, start - time.time()))  # all writers begin together
for round_ in range(rounds):
    with transaction.atomic():
        # The two orders in which a writer could take the series lock and write the trail: a
        # lock on the chain's head taken by record() would deadlock these two writers.
        if order == "series-first":
            lock_series()
        record("test.write", f"{name} {round_}", {"step": 1})
        time.sleep(0.005)
        if order == "record-first":
            lock_series()
        record("test.write", f"{name} {round_}", {"step": 2})
    record("test.write", f"{name} {round_}", {"step": 3})
print("klar")
"""


def test_concurrent_audit_writers_give_one_valid_chain(
    fresh: tuple[dict[str, str], Path],
) -> None:
    import subprocess
    import sys
    import time

    from processes import run

    env, cwd = fresh
    assert run(env, cwd, "init").returncode == 0
    script = cwd / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    rounds = 25
    start = str(time.time() + 8)
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), name, str(rounds), order, start],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, order in (("a", "series-first"), ("b", "record-first"), ("c", "none"))
    ]
    for writer in writers:
        out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0 and "klar" in out, err
    checked = run(env, cwd, "review", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    audit = chain_of(json.loads(checked.stdout), "audit")
    assert audit["ok"] is True, audit["broken"]
    assert audit["length"] == 3 * rounds * 3


UPGRADE = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kortfaktura.settings")
import django
django.setup()
from django.core.management import call_command
# Back to the schema of the release before the chains: no links, no chain hashes.
call_command("migrate", "audit", "0001", verbosity=0)
print("klar")
"""


def test_a_database_from_before_the_chains_is_chained_by_init(
    fresh: tuple[dict[str, str], Path],
) -> None:
    """Documents and audit records that exist when the chains arrive are chained by the
    migrations, so an upgraded database comes out with valid chains and a balanced review."""
    import subprocess
    import sys

    from conftest import write_csv
    from processes import issuer, run

    env, cwd = fresh
    assert run(env, cwd, "init").returncode == 0
    files = {
        "customers": write_csv(
            cwd / "kunder.csv", CUSTOMER_HEADER,
            [customer_row(), customer_row(VGR, "Västra Götalandsregionen", "VGR-RS",
                                          peppol_id="", delivery="print")],
        ),
        "prices": write_csv(
            cwd / "priser.csv",
            PRICE_HEADER,
            [["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""]],
        ),
        "orders": write_csv(
            cwd / "best.csv", ORDER_HEADER,
            [order_row("V1", "2020-03-02 09:00"), order_row("V2", "2020-03-03 09:00"),
             order_row("R1", "2020-03-04 09:00", VGR)],
        ),
    }  # fmt: skip
    for kind, path in files.items():
        assert run(env, cwd, "import", kind, str(path)).returncode == 0
    drafted = run(env, cwd, "bill", "--from", "2020-03-01", "--to", "2020-03-31", "--json")
    assert drafted.returncode == 0, drafted.stderr
    run_id = str(json.loads(drafted.stdout)["id"])
    issued = run(issuer(env, ["run", "issue"]), cwd, "run", "issue", run_id)
    assert issued.returncode == 0, issued.stderr
    credited = run(env, cwd, "credit", "100001", "--order", "V2", "--reason", "Fel")
    assert credited.returncode == 0, credited.stderr
    before = json.loads(run(env, cwd, "review", "--json").stdout)
    script = cwd / "downgrade.py"
    script.write_text(UPGRADE, encoding="utf-8")
    down = subprocess.run(
        [sys.executable, str(script)], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert down.returncode == 0 and "klar" in down.stdout, down.stderr
    assert run(env, cwd, "review").returncode == 1  # "kör kortfaktura init"
    assert run(env, cwd, "init").returncode == 0
    after = run(env, cwd, "review", "--json")
    assert after.returncode == 0, after.stdout + after.stderr
    result = json.loads(after.stdout)
    assert result["balanced"] is True and all(entry["ok"] for entry in result["chains"])
    # The documents get the very links they had when issued; the trail is linked anew, with
    # one more record that names where the chains stood.
    assert chain_of(result, "invoices")["expect"] == chain_of(before, "invoices")["expect"]
    assert chain_of(result, "internal")["expect"] == chain_of(before, "internal")["expect"]
    assert chain_of(result, "audit")["length"] == chain_of(before, "audit")["length"] + 1
    trail = json.loads(run(env, cwd, "audit", "--json").stdout)
    assert trail[-1]["action"] == "chain.started"
    assert [a["last"] for a in trail[-1]["details"]["chain"]] == [100002, 90000001]
