"""``kortfaktura demo``: the demo data goes through the same imports a user runs."""

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from kortfaktura.billing.models import Invoice, InvoiceItem
from kortfaktura.documents.validation import get_validator
from kortfaktura.orders.models import Order, PreviouslyInvoiced
from processes import run

TODAY = "2026-11-27"


@pytest.mark.django_db
def test_demo_loads_everything_and_is_idempotent(
    cli: Callable[..., tuple[int, str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "DATA_DIR", tmp_path)
    code, out, err = cli(
        "demo", "--orders-per-year", "400", "--today", TODAY, "--json", "--no-documents"
    )
    assert code == 0, err
    report = json.loads(out)
    customers, orders, imports = (
        report["loaded"]["customers"],
        report["loaded"]["orders"],
        report["imports"],
    )
    assert customers["by_kind"] == {"kommun": 49, "region": 1, "privat vårdgivare": 3}
    assert customers["billing_accounts"] == 55
    assert customers["demo_orgnr"] == 50  # all but Göteborg, Vårgårda and VGR
    assert [a["account_code"] for a in customers["incomplete_accounts"]] == ["1438"]
    assert orders["first_order_date"] == "2019-01-01"
    assert orders["last_order_date"] <= "2026-10-31"
    assert orders["unknown_customer"] == 12
    assert len(orders["by_status"]) == 7
    assert [price["product_code"] for price in report["loaded"]["prices"]] == [
        "ETK",
        "MOBIL",
        "PUK",
        "RESERV",
    ]
    order_import = next(result for result in imports if result["kind"] == "orders")
    assert order_import["quarantined"] == 5
    reasons = " ".join(row["reason"] for row in order_import["rows"])
    for expected in ("2021-02-30", "order_id saknas", "orgnr saknas", "kontrollsiffran", "tappad"):
        assert expected in reasons
    assert orders["total"] == order_import["imported"] == Order.objects.count()

    billed = set(PreviouslyInvoiced.objects.values_list("order_id", flat=True))
    billed_dates = Order.objects.filter(order_id__in=billed).values_list("order_date", flat=True)
    assert billed and max(billed_dates) <= dt.date(2019, 10, 31)

    story = {step["title"]: step for step in report["story"]}
    legacy = story["Separat fakturering av äldre period"]["run"]
    assert legacy["status"] == "issued" and legacy["legacy"] and legacy["invoice_count"] > 0
    assert "som inte fakturerats tidigare" in legacy["title"]
    backlog = story["Det pausade flödet, månad för månad"]["run"]
    assert backlog["status"] == "issued"
    assert (backlog["period_from"], backlog["period_to"]) == ("2020-02-29", "2026-10-31")
    held = {}
    for entry in backlog["held_back"]:
        held.setdefault(entry["reason"], []).append(entry["order_id"])
    assert set(held) >= {"no_price", "unknown_customer"}
    assert len(held["unknown_customer"]) == 12
    correction = story["Rättade kunduppgifter"]["import"]
    assert (correction["imported"], correction["updated"]) == (1, 1)
    decided = story["Ändringar av fakturerade beställningar"]
    assert (decided["import"]["updated"], decided["import"]["pending_changes"]) == (2, 2)
    accepted, rejected = decided["decisions"]
    assert accepted["status"] == "accepted" and rejected["status"] == "rejected"
    assert [change["field"] for change in accepted["changes"]] == ["unit_code"]
    assert [change["field"] for change in rejected["changes"]] == ["product_code"]
    credit = decided["credit_note"]
    # The moved order belongs to one of VGR's own units: an internal credit, no VAT (R17).
    assert credit["type"] == "internal_credit" and len(credit["order_ids"]) == 1
    assert credit["vat"] == "0.00" and credit["credits"] is not None
    assert accepted["credit_notes"] == [credit["number"]]
    assert credit["order_ids"] == [accepted["changes"][0]["order_id"]]
    mistaken = rejected["changes"][0]["order_id"]
    assert Order.objects.get(order_id=mistaken).product_code == "ETK"  # the invoice stands
    rebilled = story["Nästa körning tar det som nu är fakturerbart"]["run"]
    expected = {
        *held["unknown_customer"],
        *held.get("account_incomplete", []),
        *credit["order_ids"],
    }
    rebilled_orders = set(
        InvoiceItem.objects.filter(invoice__run_id=rebilled["id"]).values_list(
            "order__order_id", flat=True
        )
    )
    assert rebilled_orders == expected
    assert [entry["reason"] for entry in rebilled["held_back"]] == ["no_price"] * len(
        held["no_price"]
    )
    moved = InvoiceItem.objects.get(
        invoice__run_id=rebilled["id"], order__order_id=credit["order_ids"][0]
    )
    assert moved.invoice.account.code == "VGR-SU"  # billed again to the unit that ordered it
    # Dals-Ed's orders of the legacy period, held back for the missing buyer reference, are billed
    # by a separate legacy run once the reference is there (with few orders there may be none).
    legacy_again = story["Äldre perioden igen: det som blivit fakturerbart"]["run"]
    assert legacy_again["legacy"] and "som inte fakturerats tidigare" in legacy_again["title"]
    dals_ed = {
        entry["order_id"]
        for entry in legacy["held_back"]
        if entry["reason"] == "account_incomplete"
    }
    billed_again = set(
        InvoiceItem.objects.filter(invoice__run_id=legacy_again.get("id", -1)).values_list(
            "order__order_id", flat=True
        )
    )
    assert billed_again == dals_ed
    assert legacy_again["status"] == ("issued" if dals_ed else "empty")
    assert story["Körningen igen – inget nytt"]["run"]["status"] == "empty"
    check = story["Allt fakturerbart är fakturerat"]
    assert check["everything_billed"] is True
    assert [entry["invoices"] for entry in check["checks"]] == [0, 0]
    assert_nothing_billable_is_left(cli)
    assert_the_demo_delivered(report["delivery"], tmp_path / "demo")
    # The bank's file: most invoices paid in full by OCR, some open; the ledger agrees.
    paid = report["payments"]
    assert paid["payments"] == paid["matched"] > 0 and paid["unmatched"] == 0
    ledger = json.loads(cli("receivables", "--json", "--at", TODAY)[1])
    assert len(ledger["items"]) == paid["open_invoices"] > 0
    assert ledger["total_open"] == paid["total_open"]
    issued_before = Invoice.objects.filter(status="issued").count()

    code, out, _ = cli(
        "demo", "--orders-per-year", "400", "--today", TODAY, "--json", "--no-documents"
    )
    assert code == 0
    second = json.loads(out)
    for result in second["imports"]:
        assert (result["imported"], result["updated"]) == (0, 0), result["kind"]
    for step in second["story"]:
        if "run" in step:
            assert step["run"]["status"] == "empty", step["title"]
        assert "credit_note" not in step
    assert Invoice.objects.filter(status="issued").count() == issued_before
    assert_nothing_billable_is_left(cli)
    again = second["delivery"]
    assert (again["documents"], again["receipts"], again["access_point_rejected"]) == (0, {}, None)
    assert again["counts"] == report["delivery"]["counts"]  # nothing delivered twice
    # The same bank file again books nothing (R21).
    assert second["payments"]["already_imported"] is True
    assert second["payments"]["total_open"] == paid["total_open"]


def assert_the_demo_delivered(delivery: dict[str, Any], directory: Path) -> None:
    """Issue 11: the demo delivers through a directory outbox, e-mail to files and print, and
    plays an access point answering with receipts and one rejection."""
    counts = {(row["channel"], row["status"]): row["count"] for row in delivery["counts"]}
    assert delivery["documents"] == delivery["delivered"] == sum(counts.values()) > 0
    assert delivery["failed"] == [] and delivery["not_delivered"] > 0
    peppol = sum(count for (channel, _), count in counts.items() if channel == "peppol")
    emails = sum(count for (channel, _), count in counts.items() if channel == "email")
    assert peppol and emails  # the moved order's internal credit goes by e-mail
    outbox = directory / "peppol" / "ut"
    assert len(list(outbox.glob("*.xml"))) == peppol
    assert len(list((directory / "epost").glob("*.eml"))) == emails
    rejected = delivery["access_point_rejected"]
    assert rejected["code"] == "RE" and rejected["reason"] == "Referensen saknas"
    receipts = delivery["receipts"]
    assert receipts["IR RE"] == 1 and sum(receipts.values()) == peppol
    inbox = directory / "peppol" / "in"
    waiting = [path for path in inbox.iterdir() if path.is_file()]
    assert len(waiting) == delivery["inbox_waiting"]
    if delivery["inbox_waiting"] == 0:  # the receipts were read: the statuses tell the story
        assert [row["number"] for row in delivery["rejected"]] == [rejected["number"]]
        assert "Referensen saknas" in delivery["rejected"][0]["error"]
        # Every answer counted (none quarantined): the access point's and the buyers' (R20).
        assert counts[("peppol", "rejected")] == 1
        assert counts[("peppol", "delivered")] == peppol - 1
        assert not list((inbox / "quarantine").glob("*"))
    else:  # not read yet: every receipt waits in the inbox, nothing lost
        assert delivery["inbox_waiting"] == peppol


def assert_nothing_billable_is_left(cli: Callable[..., tuple[int, str, str]]) -> None:
    """Issue 7 item 12: after the demo, neither period has anything billable left."""
    for period in (
        ("--legacy", "--from", "2019-01-01", "--to", "2020-02-28"),
        ("--from", "2020-02-29", "--to", "2026-10-31"),
    ):
        code, out, err = cli("bill", *period, "--issue-date", TODAY, "--preview", "--json")
        assert code == 0, err
        assert json.loads(out)["invoices"] == [], period


def test_demo_through_the_console_script_on_a_fresh_database(
    fresh: tuple[dict[str, str], Path],
) -> None:
    env, cwd = fresh
    result = run(env, cwd, "demo", "--orders-per-year", "300", "--today", TODAY)
    assert result.returncode == 0, result.stderr
    assert "Kunder: 53 (49 kommun, 3 privat vårdgivare, 1 region)" in result.stdout
    assert "Ofullständig mottagare 1438 Dals-Eds kommun" in result.stdout
    assert "5 rader hölls tillbaka i karantän" in result.stdout
    assert "Körning 1 utfärdad" in result.stdout
    assert "Intern kreditering" in result.stdout  # the moved order of VGR's own unit
    assert "Interna debiteringar till regionens egna enheter (utan moms)" in result.stdout
    assert "Inget nytt att fakturera" in result.stdout
    assert (cwd / "var" / "demo" / "bestallningar.csv").is_file()
    assert "alla klarade Peppols och EN 16931:s regler" in result.stdout
    assert "Leverans" in result.stdout and "Referensen saknas" in result.stdout
    assert list((cwd / "var" / "demo" / "peppol" / "ut").glob("*.xml"))

    # Every invoice and credit note the demo issued, checked again here with the official rules.
    listed = json.loads(run(env, cwd, "invoice", "list", "--json").stdout)
    numbers = {document["number"] for document in listed}
    internal = {
        document["number"]
        for document in listed
        if document["type"] in ("internal_charge", "internal_credit")
    }
    assert {d["type"] for d in listed} >= {"invoice", "internal_charge", "internal_credit"}
    assert all(number.startswith("9") and len(number) == 8 for number in internal)
    documents = cwd / "var" / "demo" / "dokument"
    ubl_files = sorted((documents / "ubl").glob("*.xml"))
    assert {path.stem for path in ubl_files} == numbers - internal  # never by Peppol (R17)
    assert {path.stem for path in (documents / "pdf").glob("*.pdf")} == numbers
    validator = get_validator()
    assert validator is not None, "the official Peppol rules are missing"
    for path in ubl_files:
        findings = validator.validate(path.read_bytes())
        assert validator.fatal(findings) == [], (path.name, [str(f) for f in findings])
