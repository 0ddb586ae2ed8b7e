"""Receipts from the Peppol inbox applied to deliveries (issue 11): real documents delivered to a
directory outbox, receipts left in a directory inbox (``file://``), read by ``deliver``."""

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from conftest import CUSTOMER_HEADER, GOTEBORG, ORDER_HEADER, PRICE_HEADER, customer_row, order_row
from kortfaktura.audit.models import AuditRecord
from kortfaktura.delivery import inbox as inbox_module
from kortfaktura.delivery.models import Delivery, Receipt
from kortfaktura.delivery.receipts import invoice_response, message_level_response
from kortfaktura.delivery.transport import FileInbox, TransportError
from test_receipts import EXPECTED, IR_EXAMPLES, use_case, wrap

pytestmark = pytest.mark.django_db
Cli = Callable[..., tuple[int, str, str]]
CsvFile = Callable[..., Path]
SELLER = "0007:2321000131"
VARGARDA_ENDPOINT = "0007:2120001454"
GOTEBORG_ENDPOINT = "0007:2120001355"
AP = "0088:7300010000001"  # the buyer's access point, sender of the MLRs
NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}


def as_json(cli: Cli, *args: str) -> tuple[int, Any]:
    code, out, err = cli(*args, "--json")
    return code, json.loads(out) if out.strip() else err


@pytest.fixture
def sent(cli: Cli, csv_file: CsvFile, tmp_path: Path, settings: Any) -> dict[str, Any]:
    """Two invoices delivered through Peppol to a directory outbox, and an empty inbox."""
    customers = [
        customer_row(peppol_id=VARGARDA_ENDPOINT),
        customer_row(GOTEBORG, "Göteborgs Stad", "1480", peppol_id=GOTEBORG_ENDPOINT),
    ]
    code, result = as_json(cli, "import", "customers", str(csv_file(CUSTOMER_HEADER, customers)))
    assert code == 0 and result["quarantined"] == 0, result
    prices = [["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""]]
    assert as_json(cli, "import", "prices", str(csv_file(PRICE_HEADER, prices)))[0] == 0
    orders = [order_row("V1", "2020-03-02 09:00"), order_row("G1", "2020-03-03 09:00", GOTEBORG)]
    code, result = as_json(cli, "import", "orders", str(csv_file(ORDER_HEADER, orders)))
    assert code == 0 and result["quarantined"] == 0, result
    code, draft = as_json(cli, "bill", "--from", "2020-03-01", "--to", "2020-03-31")
    assert code == 0, draft
    code, run = as_json(cli, "run", "issue", str(draft["id"]))
    assert code == 0, run
    outbox, inbox = tmp_path / "outbox", tmp_path / "inbox"
    outbox.mkdir()
    inbox.mkdir()
    settings.PEPPOL_OUTBOX = f"file://{outbox}"
    settings.PEPPOL_INBOX = f"file://{inbox}"
    code, result = as_json(cli, "deliver")
    assert code == 0 and len(result["delivered"]) == 2 and result["failed"] == [], result
    assert result["receipts"] == {"applied": 0, "quarantined": 0, "duplicate": 0, "errors": []}
    numbers = {doc["account_code"]: str(doc["number"]) for doc in run["invoices"]}
    return {"inbox": inbox, "outbox": outbox, **numbers}


def row(number: str) -> Delivery:
    return Delivery.objects.get(invoice__number=int(number), channel="peppol")


def listed(cli: Cli, number: str) -> dict[str, Any]:
    code, rows = as_json(cli, "delivery", "list")
    assert code == 0
    return next(r for r in rows if r["number"] == number)


def ir(number: str, code: str, reason: str = "", day: int = 1, **options: Any) -> bytes:
    return invoice_response(
        number=number,
        status_code=code,
        reason=reason,
        sender=options.pop("sender", VARGARDA_ENDPOINT),
        receiver=SELLER,
        issue_date=date(2020, 4, day),
        response_id=f"IR-{number}-{code}-{day}",
        **options,
    )


def mlr(instance_id: str, code: str, reason: str = "", day: int = 1) -> bytes:
    return message_level_response(
        instance_id=instance_id,
        code=code,
        reason=reason,
        sender=AP,
        receiver=SELLER,
        issue_date=date(2020, 4, day),
        response_id=f"MLR-{instance_id}-{code}",
    )


def read(cli: Cli, inbox: Path, **files: bytes) -> dict[str, Any]:
    """Leave ``files`` in the inbox and run ``deliver``; its receipt counts."""
    for name, content in files.items():
        (inbox / name).write_bytes(content)
    code, result = as_json(cli, "deliver")
    assert code == 0, result
    counts: dict[str, Any] = result["receipts"]
    return counts


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def test_mlr_acceptance_marks_the_delivery_delivered(cli: Cli, sent: dict[str, Any]) -> None:
    delivery = row(sent["1442"])
    counts = read(cli, sent["inbox"], **{"mlr-1.xml": mlr(str(delivery.instance_id), "AP")})
    assert counts == {"applied": 1, "quarantined": 0, "duplicate": 0, "errors": []}
    entry = listed(cli, sent["1442"])
    assert (entry["status"], entry["response_code"], entry["error"]) == ("delivered", "AP", "")
    assert entry["response_status"] == ""  # an MLR says nothing of the buyer's decision
    assert listed(cli, sent["1480"])["status"] == "sent"
    assert names(sent["inbox"]) == [] and names(sent["inbox"] / "processed") == ["mlr-1.xml"]
    receipt = Receipt.objects.get()
    assert (receipt.outcome, receipt.kind, receipt.code, receipt.delivery_id) == (
        "applied", "mlr", "AP", delivery.pk)  # fmt: skip
    assert receipt.file_name == "mlr-1.xml" and len(receipt.sha256) == 64
    audit = AuditRecord.objects.get(action="delivery.receipt")
    assert audit.object.endswith(sent["1442"]) and audit.details["delivery_status"] == "delivered"


def test_mlr_in_an_sbdh_and_an_mlr_rejection(cli: Cli, sent: dict[str, Any]) -> None:
    first, second = row(sent["1442"]), row(sent["1480"])
    counts = read(
        cli,
        sent["inbox"],
        a=wrap(mlr(str(first.instance_id), "AB"), sender=AP, receiver=SELLER),
        b=mlr(str(second.instance_id), "RE", "Mottagaren finns inte i accesspunkten"),
    )
    assert counts["applied"] == 2, counts
    assert listed(cli, sent["1442"])["status"] == "delivered"
    rejected = listed(cli, sent["1480"])
    assert (rejected["status"], rejected["response_code"]) == ("rejected", "RE")
    assert "Mottagaren finns inte i accesspunkten" in rejected["error"]


def test_invoice_response_rejection_has_code_and_reason(cli: Cli, sent: dict[str, Any]) -> None:
    counts = read(cli, sent["inbox"], r=ir(sent["1442"], "RE", "Referenskoden saknas"))
    assert counts["applied"] == 1, counts
    entry = listed(cli, sent["1442"])
    assert (entry["status"], entry["response_code"], entry["response_status"]) == (
        "rejected", "RE", "rejected")  # fmt: skip
    assert "Referenskoden saknas" in entry["error"]
    code, rows = as_json(cli, "delivery", "list", "--status", "rejected")
    assert code == 0 and [r["number"] for r in rows] == [sent["1442"]]
    # The plain listing shows the reason too.
    code, out, _ = cli("delivery", "list")
    assert code == 0 and "Referenskoden saknas" in out


def test_paid_after_accepted_and_older_receipts_change_nothing(
    cli: Cli, sent: dict[str, Any]
) -> None:
    number = sent["1442"]
    read(cli, sent["inbox"], a=ir(number, "AP", day=3))
    assert listed(cli, number)["response_status"] == "accepted"
    read(cli, sent["inbox"], b=ir(number, "PD", day=5))
    entry = listed(cli, number)
    assert (entry["status"], entry["response_status"], entry["response_code"]) == (
        "delivered", "paid", "PD")  # fmt: skip
    assert row(number).response_at is not None
    # An "in process" and an MLR issued before the payment arrive late: stored, nothing changes.
    counts = read(cli, sent["inbox"], c=ir(number, "IP", day=4), d=mlr(
        str(row(number).instance_id), "AP", day=1))  # fmt: skip
    assert counts["applied"] == 2, counts
    assert listed(cli, number)["response_status"] == "paid"
    assert list(Receipt.objects.order_by("file_name").values_list("changed", flat=True)) == [
        True, True, False, False]  # fmt: skip

    # A rejection is not undone by an older acceptance; a newer one may (the buyer changed mind).
    other = sent["1480"]
    read(cli, sent["inbox"], e=ir(other, "RE", "Fel pris", day=10, sender=GOTEBORG_ENDPOINT))
    read(cli, sent["inbox"], f=ir(other, "AP", day=9, sender=GOTEBORG_ENDPOINT))
    assert listed(cli, other)["status"] == "rejected"
    read(cli, sent["inbox"], g=mlr(str(row(other).instance_id), "AP", day=11))
    assert listed(cli, other)["status"] == "rejected"  # the transport ack lifts nothing
    read(cli, sent["inbox"], h=ir(other, "AP", day=12, sender=GOTEBORG_ENDPOINT))
    entry = listed(cli, other)
    assert (entry["status"], entry["response_status"], entry["error"]) == (
        "delivered", "accepted", "")  # fmt: skip


def test_receipt_for_an_unknown_document_is_quarantined(cli: Cli, sent: dict[str, Any]) -> None:
    counts = read(
        cli,
        sent["inbox"],
        unknown=ir("999999", "AP"),
        lost=mlr("6f1c0c49-3c84-4d52-9d5c-0c3e8a1f0b11", "AP"),
        stranger=ir(sent["1442"], "RE", "Inte vår faktura", sender=GOTEBORG_ENDPOINT),
    )
    assert counts == {"applied": 0, "quarantined": 3, "duplicate": 0, "errors": []}
    assert names(sent["inbox"] / "quarantine") == ["lost", "stranger", "unknown"]
    assert names(sent["inbox"]) == []
    reasons = dict(Receipt.objects.values_list("file_name", "reason"))
    assert "999999" in reasons["unknown"] and "inte har skickats via Peppol" in reasons["unknown"]
    assert "6f1c0c49-3c84-4d52-9d5c-0c3e8a1f0b11" in reasons["lost"]
    assert GOTEBORG_ENDPOINT in reasons["stranger"] and VARGARDA_ENDPOINT in reasons["stranger"]
    assert {r.outcome for r in Receipt.objects.all()} == {"quarantined"}
    assert {r["status"] for r in as_json(cli, "delivery", "list")[1]} == {"sent"}
    assert AuditRecord.objects.filter(action="delivery.receipt_quarantined").count() == 3


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "tom"),
        (b"<not-closed", "inte välformad XML"),
        (b"%PDF-1.4 \x00\xff binary", "inte välformad XML"),
        (b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>', "Invoice"),
    ],
    ids=["empty", "broken", "binary", "invoice"],
)
def test_garbage_is_quarantined_not_dropped(
    cli: Cli, sent: dict[str, Any], content: bytes, reason: str
) -> None:
    counts = read(cli, sent["inbox"], **{"skräp.xml": content})
    assert counts["quarantined"] == 1 and counts["applied"] == 0, counts
    assert (sent["inbox"] / "quarantine" / "skräp.xml").read_bytes() == content
    receipt = Receipt.objects.get()
    assert receipt.outcome == "quarantined" and reason in receipt.reason
    assert receipt.reason.startswith("Filen")  # Swedish, says what the file is


def test_the_same_receipt_twice_is_a_duplicate(cli: Cli, sent: dict[str, Any]) -> None:
    content = ir(sent["1442"], "RE", "Fel belopp")
    assert read(cli, sent["inbox"], **{"svar.xml": content})["applied"] == 1
    # The buyer's decision changes meanwhile; the repeated old file must not undo it.
    assert read(cli, sent["inbox"], later=ir(sent["1442"], "AP", day=2))["applied"] == 1
    counts = read(cli, sent["inbox"], **{"svar.xml": content, "kopia.xml": content})
    assert counts == {"applied": 0, "quarantined": 0, "duplicate": 2, "errors": []}
    assert listed(cli, sent["1442"])["status"] == "delivered"
    # The second svar.xml is kept beside the first: nothing in the inbox is ever overwritten.
    assert names(sent["inbox"] / "processed") == ["kopia.xml", "later", "svar-1.xml", "svar.xml"]
    assert Receipt.objects.filter(outcome="applied").count() == 2
    assert Receipt.objects.filter(outcome="duplicate").count() == 2
    assert AuditRecord.objects.filter(action="delivery.receipt").count() == 2


def test_a_crash_between_commit_and_move_is_harmless(
    cli: Cli, sent: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: FileInbox, name: str, folder: str) -> None:
        raise TransportError("disken är full")

    monkeypatch.setattr(FileInbox, "move", fail)
    counts = read(cli, sent["inbox"], svar=ir(sent["1442"], "PD"))
    assert counts["applied"] == 1 and counts["errors"] == ["svar: disken är full"], counts
    assert names(sent["inbox"]) == ["svar"]  # still there, nothing lost
    monkeypatch.undo()
    counts = read(cli, sent["inbox"])
    assert counts == {"applied": 0, "quarantined": 0, "duplicate": 1, "errors": []}
    assert names(sent["inbox"]) == [] and names(sent["inbox"] / "processed") == ["svar"]
    assert AuditRecord.objects.filter(action="delivery.receipt").count() == 1


def test_a_resend_is_answered_on_its_own_row(cli: Cli, sent: dict[str, Any]) -> None:
    code, result = as_json(cli, "deliver", "--resend", sent["1442"])
    assert code == 0 and result["delivered"], result
    read(cli, sent["inbox"], svar=ir(sent["1442"], "IP"))
    rows = Delivery.objects.filter(invoice__number=int(sent["1442"])).order_by("id")
    assert [(r.resend_of_id is None, r.response_status) for r in rows] == [
        (True, ""), (False, "in_process")]  # fmt: skip


def test_no_inbox_nothing_read_and_dry_run_reads_nothing(
    cli: Cli, sent: dict[str, Any], settings: Any
) -> None:
    (sent["inbox"] / "svar").write_bytes(ir(sent["1442"], "AP"))
    code, result = as_json(cli, "deliver", "--dry-run")
    assert code == 0 and "receipts" not in result
    settings.PEPPOL_INBOX = ""
    assert read(cli, sent["inbox"]) == {
        "applied": 0, "quarantined": 0, "duplicate": 0, "errors": []}  # fmt: skip
    assert names(sent["inbox"]) == ["svar"] and not Receipt.objects.exists()
    settings.PEPPOL_INBOX = f"file://{sent['inbox']}/saknas"
    counts = read(cli, sent["inbox"])
    assert counts["applied"] == 0 and "inkorgen" in counts["errors"][0], counts


def official(path: Path, number: str) -> bytes:
    """The official example answering ``number`` from the Vårgårda endpoint."""
    tree = etree.fromstring(path.read_bytes())
    reference = tree.find("cac:DocumentResponse/cac:DocumentReference/cbc:ID", NS)
    reference.text = number
    endpoint = tree.find("cac:SenderParty/cbc:EndpointID", NS)
    endpoint.set("schemeID", "0007")
    endpoint.text = VARGARDA_ENDPOINT.split(":")[1]
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))


def test_every_official_invoice_response_sets_a_status(cli: Cli, sent: dict[str, Any]) -> None:
    assert {use_case(path) for path in IR_EXAMPLES} == set(EXPECTED)
    number = sent["1442"]
    for path in IR_EXAMPLES:
        Receipt.objects.all().delete()
        Delivery.objects.filter(pk=row(number).pk).update(
            status="sent", error="", response_code="", response_status=""
        )
        counts = read(cli, sent["inbox"], **{path.name: official(path, number)})
        assert counts["applied"] == 1, (path.name, counts)
        code, status = EXPECTED[use_case(path)]
        entry = listed(cli, number)
        assert entry["response_code"] == code, path.name
        if status == "rejected":
            assert entry["status"] == "rejected" and entry["error"], path.name
        else:
            assert (entry["status"], entry["response_status"]) == ("delivered", status), path.name
    assert len(names(sent["inbox"] / "processed")) == len(IR_EXAMPLES)


def test_read_receipts_directly(sent: dict[str, Any]) -> None:
    (sent["inbox"] / "svar").write_bytes(ir(sent["1442"], "UQ", "Vilken beställning?"))
    report = inbox_module.read_receipts()
    assert [r.status for r in report.applied] == ["under_query"]
    assert row(sent["1442"]).response_status == "under_query"
    assert "Vilken beställning?" in report.applied[0].reason
    assert inbox_module.read_receipts().counts()["applied"] == 0  # nothing left to read


def test_a_file_is_applied_once_even_by_two_workers(sent: dict[str, Any]) -> None:
    """The database refuses a second applied row for the same file (two workers reading the
    same inbox at once): the loser records a duplicate."""
    from django.db import IntegrityError, transaction

    delivery = row(sent["1442"])
    values = {"file_name": "svar", "sha256": "a" * 64, "delivery": delivery}
    Receipt.objects.create(**values, outcome="applied")
    with pytest.raises(IntegrityError), transaction.atomic():
        Receipt.objects.create(**values, outcome="applied")
    Receipt.objects.create(**values, outcome="duplicate")
    Receipt.objects.create(**values, outcome="quarantined")
    assert Receipt.objects.count() == 3
