"""Receipts from the Peppol inbox applied to deliveries (issue 11): real documents delivered to a
directory outbox, receipts left in a directory inbox (``file://``), read by ``deliver``."""

import json
import os
import stat
from collections.abc import Callable
from datetime import date, timedelta
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
AP = "0088:7300010000001"  # the access point (KORTFAKTURA_PEPPOL_AP_ID), sender of the MLRs
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
    settings.PEPPOL_AP_ID = AP
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


def ir(
    number: str,
    code: str,
    reason: str = "",
    day: int = 1,
    *,
    sender: str = VARGARDA_ENDPOINT,
    envelope: str | None = None,
    bare: bool = False,
    issued: date | None = None,
    **options: Any,
) -> bytes:
    """An Invoice Response from the buyer ``sender``, in an SBDH from ``envelope`` (the same
    endpoint unless told) as the access point delivers it; ``bare``: the UBL alone."""
    xml = invoice_response(
        number=number,
        status_code=code,
        reason=reason,
        sender=sender,
        receiver=options.pop("receiver", SELLER),
        issue_date=issued or date(2020, 4, day),
        response_id=f"IR-{number}-{code}-{day}",
        **options,
    )
    return xml if bare else wrap(xml, sender=envelope or sender, receiver=SELLER)


def mlr(
    instance_id: str,
    code: str,
    reason: str = "",
    day: int = 1,
    *,
    sender: str = AP,
    issued: date | None = None,
) -> bytes:
    return message_level_response(
        instance_id=instance_id,
        code=code,
        reason=reason,
        sender=sender,
        receiver=SELLER,
        issue_date=issued or date(2020, 4, day),
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
    # Read again, the file is known (same name, same checksum, left in the inbox): it is moved
    # and nothing new is recorded (issue 17: not a duplicate row on every reading).
    counts = read(cli, sent["inbox"])
    assert counts == {"applied": 0, "quarantined": 0, "duplicate": 0, "errors": []}
    assert names(sent["inbox"]) == [] and names(sent["inbox"] / "processed") == ["svar"]
    assert AuditRecord.objects.filter(action__startswith="delivery.receipt").count() == 1
    assert Receipt.objects.get().left_in_inbox is False


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
    """The official example answering ``number`` from the Vårgårda endpoint to the seller, in
    an SBDH from Vårgårda as the access point delivers it."""
    tree = etree.fromstring(path.read_bytes())
    reference = tree.find("cac:DocumentResponse/cac:DocumentReference/cbc:ID", NS)
    reference.text = number
    for party, endpoint in (("SenderParty", VARGARDA_ENDPOINT), ("ReceiverParty", SELLER)):
        element = tree.find(f"cac:{party}/cbc:EndpointID", NS)
        element.set("schemeID", endpoint.split(":")[0])
        element.text = endpoint.split(":")[1]
    xml = bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))
    return wrap(xml, sender=VARGARDA_ENDPOINT, receiver=SELLER)


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


# --- issue 17: a receipt counts only from who may send it, for what was handed over ----------


def today() -> date:
    from django.utils import timezone

    return timezone.localdate()


def quarantined(name: str) -> str:
    """The reason the receipt file ``name`` was quarantined with."""
    receipt = Receipt.objects.get(file_name=name)
    assert receipt.outcome == "quarantined", (name, receipt.outcome, receipt.reason)
    return receipt.reason


@pytest.mark.parametrize("status", ["failed", "queued", "sending"])
def test_a_receipt_never_delivers_what_was_not_handed_over(
    cli: Cli, sent: dict[str, Any], status: str
) -> None:
    """The outbox was on a full disk (failed), the document waits its turn (queued) or its
    hand-over was cut off (sending): neither the buyer's Invoice Response nor the access point's
    MLR makes it delivered, and the next run still hands it over (R20: only what was handed over
    can be delivered)."""
    from django.utils import timezone

    number = sent["1442"]
    delivery = row(number)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status,
        error="kunde inte skriva: disken är full" if status == "failed" else "",
        next_attempt_at=timezone.now() - timedelta(minutes=1) if status == "failed" else None,
    )
    counts = read(
        cli,
        sent["inbox"],
        ir=ir(number, "AP"),
        mlr=mlr(str(delivery.instance_id), "AP"),
    )
    assert counts == {"applied": 0, "quarantined": 2, "duplicate": 0, "errors": []}, counts
    for name in ("ir", "mlr"):
        assert "inte har lämnats över" in quarantined(name), quarantined(name)
    assert names(sent["inbox"] / "quarantine") == ["ir", "mlr"]
    # The same `deliver` handed it over after reading the inbox: sent, not delivered.
    entry = listed(cli, number)
    assert (entry["status"], entry["response_code"], entry["response_status"]) == ("sent", "", "")
    assert row(number).attempts == 2
    assert listed(cli, sent["1480"])["status"] == "sent"


def test_an_mlr_counts_only_from_the_access_point(
    cli: Cli, sent: dict[str, Any], settings: Any
) -> None:
    first, second = row(sent["1442"]), row(sent["1480"])
    counts = read(
        cli,
        sent["inbox"],
        # Anybody can write the buyer's or any other endpoint into a file.
        buyer=mlr(str(first.instance_id), "AP", sender=VARGARDA_ENDPOINT),
        stranger=mlr(str(second.instance_id), "RE", "Okänd mottagare", sender="0088:1234567890128"),
        # The envelope decides who sent it, whatever the document inside says.
        envelope=wrap(mlr(str(first.instance_id), "AB"), sender="0088:1234567890128"),
    )
    assert counts == {"applied": 0, "quarantined": 3, "duplicate": 0, "errors": []}, counts
    assert AP in quarantined("buyer") and VARGARDA_ENDPOINT in quarantined("buyer")
    assert "0088:1234567890128" in quarantined("stranger")
    assert "0088:1234567890128" in quarantined("envelope")
    assert {listed(cli, sent[code])["status"] for code in ("1442", "1480")} == {"sent"}

    # Without KORTFAKTURA_PEPPOL_AP_ID nobody can be trusted to send an MLR.
    settings.PEPPOL_AP_ID = ""
    counts = read(cli, sent["inbox"], unset=mlr(str(first.instance_id), "AP"))
    assert counts["quarantined"] == 1 and counts["applied"] == 0, counts
    assert "KORTFAKTURA_PEPPOL_AP_ID" in quarantined("unset")
    assert listed(cli, sent["1442"])["status"] == "sent"

    settings.PEPPOL_AP_ID = AP
    counts = read(
        cli,
        sent["inbox"],
        bare=mlr(str(first.instance_id), "AP"),
        wrapped=wrap(mlr(str(second.instance_id), "AB"), sender=AP),
    )
    assert counts["applied"] == 2, counts
    assert {listed(cli, sent[code])["status"] for code in ("1442", "1480")} == {"delivered"}


def without_sender_party(xml: bytes) -> bytes:
    tree = etree.fromstring(xml)
    party = tree.find("cac:SenderParty", NS)
    tree.remove(party)
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))


def test_forged_invoice_responses_are_quarantined(cli: Cli, sent: dict[str, Any]) -> None:
    """Only an Invoice Response in an SBDH from the buyer's endpoint the document went to,
    addressed to the seller, whose UBL names the same two parties, counts."""
    number = sent["1442"]
    bare = ir(number, "RE", "Fel pris", bare=True)
    forged = {
        # The buyer's public endpoint in a bare UBL: anybody can write that.
        "bare": bare,
        # No sender at all, no envelope.
        "anonymous": without_sender_party(bare),
        # A stranger's envelope around a UBL that names the buyer.
        "stranger": ir(number, "RE", "Fel pris", envelope=GOTEBORG_ENDPOINT),
        # The buyer's envelope, addressed to somebody else.
        "elsewhere": wrap(bare, sender=VARGARDA_ENDPOINT, receiver="0007:5560000001"),
        # The buyer's envelope around a UBL that names another sender or receiver.
        "other-party": ir(
            number, "RE", "Fel pris", sender=GOTEBORG_ENDPOINT, envelope=VARGARDA_ENDPOINT
        ),
        "other-receiver": ir(number, "RE", "Fel pris", receiver="0007:5560000001"),
        # An envelope that says it carries an invoice.
        "not-a-response": wrap(bare).replace(
            b"<Type>ApplicationResponse</Type>", b"<Type>Invoice</Type>"
        ),
        # An envelope that is not an SBDH 1.3 (no HeaderVersion).
        "invalid": wrap(bare).replace(b"<HeaderVersion>1.0</HeaderVersion>", b""),
        # Two senders: which one is it?
        "two-senders": wrap(bare).replace(
            b"</Sender>",
            b'</Sender><Sender><Identifier Authority="iso6523-actorid-upis">'
            + GOTEBORG_ENDPOINT.encode()
            + b"</Identifier></Sender>",
        ),
    }
    counts = read(cli, sent["inbox"], **forged)
    assert counts == {
        "applied": 0, "quarantined": len(forged), "duplicate": 0, "errors": []}  # fmt: skip
    assert "saknar SBDH-kuvert" in quarantined("bare")
    assert "saknar SBDH-kuvert" in quarantined("anonymous")
    assert GOTEBORG_ENDPOINT in quarantined("stranger")
    assert VARGARDA_ENDPOINT in quarantined("stranger")
    assert "0007:5560000001" in quarantined("elsewhere")
    assert GOTEBORG_ENDPOINT in quarantined("other-party")
    assert "0007:5560000001" in quarantined("other-receiver")
    assert "ApplicationResponse" in quarantined("not-a-response")
    assert "SBDH" in quarantined("invalid")
    assert "SBDH" in quarantined("two-senders")
    for name in forged:
        assert quarantined(name)[0].isupper(), name  # a sentence, in Swedish
    entry = listed(cli, number)
    assert (entry["status"], entry["response_code"], entry["error"]) == ("sent", "", "")
    assert names(sent["inbox"] / "quarantine") == sorted(forged)
    # The real one from the buyer counts.
    assert read(cli, sent["inbox"], real=ir(number, "RE", "Fel pris"))["applied"] == 1
    assert listed(cli, number)["status"] == "rejected"


def test_a_receipt_from_the_future_is_refused(cli: Cli, sent: dict[str, Any]) -> None:
    """An acceptance dated 2099-12-31 would outrank every real answer: refused, and today's real
    rejection counts."""
    number = sent["1442"]
    future = date(2099, 12, 31)
    counts = read(
        cli,
        sent["inbox"],
        future=ir(number, "AP", issued=future),
        tomorrow=mlr(str(row(sent["1480"]).instance_id), "AP", issued=today() + timedelta(1)),
    )
    assert counts["quarantined"] == 2 and counts["applied"] == 0, counts
    assert "2099-12-31" in quarantined("future")
    assert (today() + timedelta(1)).isoformat() in quarantined("tomorrow")
    assert read(cli, sent["inbox"], real=ir(number, "RE", "Fel pris", issued=today()))[
        "applied"] == 1  # fmt: skip
    entry = listed(cli, number)
    assert (entry["status"], entry["response_code"]) == ("rejected", "RE")
    assert listed(cli, sent["1480"])["status"] == "sent"


def test_on_the_same_issue_date_the_last_to_arrive_counts(cli: Cli, sent: dict[str, Any]) -> None:
    """The buyer rejected and then, the same day, accepted: the acceptance counts (receipts of
    one delivery are ordered by issue date, then by arrival, never by status)."""
    number = sent["1442"]
    read(cli, sent["inbox"], a=ir(number, "RE", "Fel pris", day=3))
    assert listed(cli, number)["status"] == "rejected"
    read(cli, sent["inbox"], b=ir(number, "AP", day=3))
    entry = listed(cli, number)
    assert (entry["status"], entry["response_status"], entry["error"]) == (
        "delivered", "accepted", "")  # fmt: skip
    read(cli, sent["inbox"], c=ir(number, "PD", day=3))
    read(cli, sent["inbox"], d=ir(number, "IP", day=3))
    assert listed(cli, number)["response_status"] == "in_process"
    # An earlier issue date never overrides a later one, however late it arrives.
    read(cli, sent["inbox"], e=ir(number, "RE", "För sent", day=2))
    assert listed(cli, number)["response_status"] == "in_process"
    assert list(Receipt.objects.order_by("file_name").values_list("changed", flat=True)) == [
        True, True, True, True, False]  # fmt: skip
    # A transport acknowledgement still never lifts a rejection, even on the same day.
    read(cli, sent["inbox"], f=ir(number, "RE", "Fel pris igen", day=3))
    read(cli, sent["inbox"], g=mlr(str(row(number).instance_id), "AP", day=3))
    assert listed(cli, number)["status"] == "rejected"


def test_a_file_that_cannot_be_moved_is_recorded_once(cli: Cli, sent: dict[str, Any]) -> None:
    """``processed`` and ``quarantine`` are files, not folders: nothing can be moved out of the
    inbox. Reading again and again (``--watch``) records each file once and reports the move
    error once per run; once the folders are there, the files are moved and nothing is added."""
    inbox = sent["inbox"]
    (inbox / "processed").write_text("ingen katalog")
    (inbox / "quarantine").write_text("ingen katalog")
    files = {"svar": ir(sent["1442"], "AP"), "skräp": b"<not-closed"}
    first = read(cli, inbox, **files)
    assert (first["applied"], first["quarantined"], first["duplicate"]) == (1, 1, 0), first
    assert len(first["errors"]) == 2, first
    for _ in range(3):
        again = read(cli, inbox)
        assert (again["applied"], again["quarantined"], again["duplicate"]) == (0, 0, 0), again
        assert sorted(error.split(":")[0] for error in again["errors"]) == ["skräp", "svar"]
    assert Receipt.objects.count() == 2
    assert AuditRecord.objects.filter(action__startswith="delivery.receipt").count() == 2
    assert names(inbox) == ["processed", "quarantine", "skräp", "svar"]
    (inbox / "processed").unlink()
    (inbox / "quarantine").unlink()
    assert read(cli, inbox) == {"applied": 0, "quarantined": 0, "duplicate": 0, "errors": []}
    assert names(inbox) == [] and names(inbox / "processed") == ["svar"]
    assert names(inbox / "quarantine") == ["skräp"]
    assert Receipt.objects.count() == 2
    assert AuditRecord.objects.filter(action__startswith="delivery.receipt").count() == 2
    # Put back by a person, the same file is read again (and is a duplicate of the applied one).
    (inbox / "svar").write_bytes(files["svar"])
    assert read(cli, inbox)["duplicate"] == 1
    assert listed(cli, sent["1442"])["status"] == "delivered"


# --- issue 17: the inbox reads regular files only, and not huge ones ------------------------


def test_links_special_files_and_huge_files_are_refused(
    cli: Cli, sent: dict[str, Any], settings: Any, tmp_path: Path
) -> None:
    inbox = sent["inbox"]
    secret = tmp_path / "hemligt.txt"
    secret.write_text("root:$6$HEMLIGT-LÖSENORDSHASH:19000:0:99999:7:::\n")
    (inbox / "länk.xml").symlink_to(secret)
    os.link(secret, inbox / "hård.xml")  # the same file under a second name
    (inbox / "katalog-länk").symlink_to(tmp_path)
    os.mkfifo(inbox / "rör.xml")
    (inbox / "en-katalog").mkdir()
    (inbox / "en-katalog" / "inuti.xml").write_bytes(b"<x/>")
    receipt = ir(sent["1442"], "AP")
    settings.INBOX_MAX_BYTES = len(receipt)
    (inbox / "stor.xml").write_bytes(receipt + b" ")
    counts = read(cli, inbox, **{"svar.xml": receipt})
    assert counts == {"applied": 1, "quarantined": 5, "duplicate": 0, "errors": []}, counts
    assert listed(cli, sent["1442"])["status"] == "delivered"
    quarantine = inbox / "quarantine"
    regular = [p.name for p in quarantine.iterdir() if stat.S_ISREG(os.lstat(p).st_mode)]
    assert sorted(regular) == ["hård.xml", "stor.xml"]
    assert sorted(p.name for p in quarantine.iterdir()) == [
        "hård.xml", "katalog-länk", "länk.xml", "rör.xml", "stor.xml"]  # fmt: skip
    # The links themselves were moved, not what they point to.
    assert os.readlink(quarantine / "länk.xml") == str(secret)
    assert os.readlink(quarantine / "katalog-länk") == str(tmp_path)
    assert secret.read_text().startswith("root:") and (tmp_path / "inbox").is_dir()
    assert stat.S_ISFIFO(os.lstat(quarantine / "rör.xml").st_mode)
    # A folder in the inbox is left alone (processed/ and quarantine/ are folders too).
    assert (inbox / "en-katalog" / "inuti.xml").read_bytes() == b"<x/>"
    assert sorted(p.name for p in inbox.iterdir()) == ["en-katalog", "processed", "quarantine"]
    reasons = {r.file_name: r for r in Receipt.objects.filter(outcome="quarantined")}
    assert set(reasons) == {"hård.xml", "katalog-länk", "länk.xml", "rör.xml", "stor.xml"}
    assert "symbolisk länk" in reasons["länk.xml"].reason
    assert "hård länk" in reasons["hård.xml"].reason
    assert "symbolisk länk" in reasons["katalog-länk"].reason
    assert "vanlig fil" in reasons["rör.xml"].reason
    assert "KORTFAKTURA_INBOX_MAX_BYTES" in reasons["stor.xml"].reason
    # Nothing of a file that was not read is stored: no checksum, no content.
    assert {r.sha256 for r in reasons.values()} == {""}
    import hashlib

    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    assert not Receipt.objects.filter(sha256=digest).exists()
    details = json.dumps(list(AuditRecord.objects.values_list("details", flat=True)))
    assert digest not in details and "HEMLIGT" not in details
    # Read again, nothing is added: the refused files are in quarantine/.
    assert read(cli, inbox) == {"applied": 0, "quarantined": 0, "duplicate": 0, "errors": []}


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another user needs root")
def test_files_of_another_user_are_moved_without_hard_links() -> None:
    """The access point's files belong to its own user: with fs.protected_hardlinks (the
    default) Kortfaktura's user may not hard-link them, nor a link or a FIFO of another user.
    They are moved anyway, the link as a link."""
    import pwd
    import shutil
    import tempfile

    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="kf-inbox-"))  # not under pytest's 0700 directories
    try:
        base.chmod(0o755)
        inbox = base / "inbox"
        inbox.mkdir()
        (inbox / "svar.xml").write_bytes(b"<a/>")
        (inbox / "svar.xml").chmod(0o644)
        (inbox / "länk.xml").symlink_to("/etc/passwd")
        os.mkfifo(inbox / "rör.xml")
        os.chown(inbox, nobody.pw_uid, nobody.pw_gid)  # the files stay root's
        pid = os.fork()
        if pid == 0:  # the child acts as Kortfaktura's user
            code = 1
            try:
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
                box = FileInbox(f"file://{inbox}")
                box.move("svar.xml", "processed")
                box.move("länk.xml", "quarantine")
                box.move("rör.xml", "quarantine")
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert sorted(p.name for p in inbox.iterdir()) == ["processed", "quarantine"]
        assert (inbox / "processed" / "svar.xml").read_bytes() == b"<a/>"
        assert os.readlink(inbox / "quarantine" / "länk.xml") == "/etc/passwd"
        assert stat.S_ISFIFO(os.lstat(inbox / "quarantine" / "rör.xml").st_mode)
    finally:
        shutil.rmtree(base)


def test_a_link_in_place_of_a_folder_is_not_followed(tmp_path: Path) -> None:
    """``processed`` made a link to another directory: nothing is moved there."""
    inbox, elsewhere = tmp_path / "inbox", tmp_path / "annanstans"
    inbox.mkdir()
    elsewhere.mkdir()
    (inbox / "processed").symlink_to(elsewhere)
    (inbox / "svar.xml").write_bytes(b"<a/>")
    with pytest.raises(TransportError) as caught:
        FileInbox(f"file://{inbox}").move("svar.xml", "processed")
    assert "ingen katalog utan en länk" in caught.value.message
    assert list(elsewhere.iterdir()) == [] and (inbox / "svar.xml").read_bytes() == b"<a/>"
