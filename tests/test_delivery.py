"""Delivery (DOMAIN.md R20; issue 11): Peppol through a directory outbox with an SBDH envelope,
e-mail through a real SMTP server on 127.0.0.1 (aiosmtpd), print as one merged PDF per run;
each document exactly once, to the buyer of its snapshot."""

import email
import email.policy
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from lxml import etree
from pypdf import PdfReader

from conftest import (
    CUSTOMER_HEADER,
    GOTEBORG,
    ORDER_HEADER,
    PRICE_HEADER,
    VGR,
    customer_row,
    order_row,
)
from kortfaktura.audit.models import AuditRecord
from kortfaktura.billing.models import Invoice
from kortfaktura.delivery import sbdh
from kortfaktura.delivery.models import Delivery
from kortfaktura.documents import validation
from kortfaktura.documents.models import IssuedDocument
from processes import free_port

pytestmark = pytest.mark.django_db
Cli = Callable[..., tuple[int, str, str]]
CsvFile = Callable[..., Path]
MARCH = ("--from", "2020-03-01", "--to", "2020-03-31")
SBDH_XSD = Path(settings.PEPPOL_RULES_DIR) / "sbdh" / "xsd"
NS = {"s": sbdh.SBDH_NS}


def as_json(cli: Cli, *args: str) -> tuple[int, Any]:
    code, out, err = cli(*args, "--json")
    return code, json.loads(out) if out.strip() else err


def _customers(peppol_1442: str = "0007:2120001454") -> list[list[str]]:
    return [
        customer_row(peppol_id=peppol_1442),
        customer_row(GOTEBORG, "Göteborgs Stad", "1480", peppol_id="", delivery="email",
                     email="faktura@goteborg.example"),
        customer_row(GOTEBORG, "Göteborgs Stad", "GBG-P", unit_codes="P-1", peppol_id="",
                     delivery="print"),
        # VGR's own units set to Peppol: internal charges never go that way (R17, R20).
        customer_row(VGR, "Västra Götalandsregionen", "VGR-RS", peppol_id="0007:2321000131",
                     delivery="peppol", email="ekonomi@vgr.example"),
        customer_row(VGR, "Västra Götalandsregionen", "VGR-SU", unit_codes="SU-MED",
                     peppol_id="0007:2321000131", delivery="peppol"),
    ]  # fmt: skip


@pytest.fixture
def issued(cli: Cli, csv_file: CsvFile) -> dict[str, Any]:
    code, result = as_json(cli, "import", "customers", str(csv_file(CUSTOMER_HEADER, _customers())))
    assert code == 0 and result["quarantined"] == 0, result
    prices = [["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""]]
    code, result = as_json(cli, "import", "prices", str(csv_file(PRICE_HEADER, prices)))
    assert code == 0, result
    orders = [
        order_row("V1", "2020-03-02 09:00"),
        order_row("G1", "2020-03-03 09:00", GOTEBORG),
        order_row("P1", "2020-03-04 09:00", GOTEBORG, unit_code="P-1"),
        order_row("R1", "2020-03-05 09:00", VGR),
        order_row("S1", "2020-03-06 09:00", VGR, unit_code="SU-MED"),
    ]
    code, result = as_json(cli, "import", "orders", str(csv_file(ORDER_HEADER, orders)))
    assert code == 0 and result["quarantined"] == 0, result
    code, draft = as_json(cli, "bill", *MARCH)
    assert code == 0, draft
    code, run = as_json(cli, "run", "issue", str(draft["id"]))
    assert code == 0, run
    docs = {doc["account_code"]: doc for doc in run["invoices"]}
    docs["run"] = run["id"]
    return docs


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()


@pytest.fixture
def channels(tmp_path: Path, settings: Any, smtp: tuple[Mailbox, int]) -> dict[str, Any]:
    outbox, prints = tmp_path / "outbox", tmp_path / "print"
    outbox.mkdir()
    settings.PEPPOL_OUTBOX = f"file://{outbox}"
    settings.SMTP_URL = f"smtp://127.0.0.1:{smtp[1]}"
    settings.MAIL_FROM = "gits-fakturor@vgregion.example"
    settings.PRINT_DIR = str(prints)
    return {"outbox": outbox, "print": prints, "mailbox": smtp[0]}


def by_number(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["number"]: row for row in rows}


def test_each_document_goes_its_channel_once(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    code, result = as_json(cli, "deliver")
    assert code == 0, result
    assert result["failed"] == [] and len(result["delivered"]) == 5
    sent = by_number(result["delivered"])
    channel = {code: sent[issued[code]["number"]]["channel"] for code in
               ("1442", "1480", "GBG-P", "VGR-RS", "VGR-SU")}  # fmt: skip
    assert channel == {"1442": "peppol", "1480": "email", "GBG-P": "print",
                       "VGR-RS": "email", "VGR-SU": "print"}  # fmt: skip
    for row in result["delivered"]:
        assert set(row) >= {"number", "channel", "status", "attempts", "error", "updated_at"}
        assert row["status"] == "sent" and row["attempts"] == 1

    # Peppol: one file named by the instance identifier.
    files = sorted(channels["outbox"].iterdir())
    peppol = Delivery.objects.get(channel="peppol")
    assert [f.name for f in files] == [f"{peppol.instance_id}.xml"]
    # E-mail: two messages (invoice and internal charge), to the snapshot's addresses.
    mailbox = channels["mailbox"]
    assert sorted(rcpt[0] for rcpt, _ in mailbox.messages) == [
        "ekonomi@vgr.example", "faktura@goteborg.example"]  # fmt: skip
    # Print: one merged PDF for the run, cover page + two documents.
    pdfs = list(channels["print"].glob("*.pdf"))
    assert len(pdfs) == 1
    reader = PdfReader(pdfs[0])
    cover = reader.pages[0].extract_text()
    assert issued["GBG-P"]["number"] in cover and issued["VGR-SU"]["number"] in cover
    assert "Att posta" in cover and len(reader.pages) >= 3

    # Exactly once: a second run sends nothing new.
    code, again = as_json(cli, "deliver")
    assert code == 0 and again["delivered"] == [] and again["failed"] == []
    assert again["skipped"] == 5
    assert len(list(channels["outbox"].iterdir())) == 1 and len(mailbox.messages) == 2
    assert len(list(channels["print"].glob("*.pdf"))) == 1
    actions = list(AuditRecord.objects.filter(action__startswith="delivery.").values_list(
        "action", flat=True))  # fmt: skip
    assert actions.count("delivery.queued") == 5 and actions.count("delivery.sent") == 5

    code, listed = as_json(cli, "delivery", "list")
    assert code == 0 and len(listed) == 5 and {r["status"] for r in listed} == {"sent"}
    code, out, _ = cli("delivery", "list", "--status", "failed")
    assert code == 0 and "Inga leveranser" in out


def test_peppol_envelope_is_valid_and_goes_to_the_snapshot_endpoint(
    cli: Cli, csv_file: CsvFile, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    # The account's endpoint changes after issuing: the document still goes to its buyer.
    changed = csv_file(CUSTOMER_HEADER, _customers(peppol_1442="0007:5555555555"))
    code, result = as_json(cli, "import", "customers", str(changed))
    assert code == 0 and result["updated"] >= 1, result
    code, result = as_json(cli, "deliver", issued["1442"]["number"])
    assert code == 0 and [r["channel"] for r in result["delivered"]] == ["peppol"], result

    row = Delivery.objects.get(channel="peppol")
    content = (channels["outbox"] / f"{row.instance_id}.xml").read_bytes()
    schema = etree.XMLSchema(etree.parse(str(SBDH_XSD / "StandardBusinessDocumentHeader.xsd")))
    tree = etree.fromstring(content)
    schema.assertValid(tree)
    header = tree.find("s:StandardBusinessDocumentHeader", NS)
    assert header.findtext("s:HeaderVersion", namespaces=NS) == "1.0"
    sender = header.find("s:Sender/s:Identifier", NS)
    receiver = header.find("s:Receiver/s:Identifier", NS)
    assert (sender.text, sender.get("Authority")) == ("0007:2321000131", "iso6523-actorid-upis")
    assert (receiver.text, receiver.get("Authority")) == ("0007:2120001454", "iso6523-actorid-upis")
    ident = header.find("s:DocumentIdentification", NS)
    assert ident.findtext("s:Standard", namespaces=NS) == sbdh.UBL_NS["invoice"]
    assert ident.findtext("s:TypeVersion", namespaces=NS) == "2.1"
    assert ident.findtext("s:Type", namespaces=NS) == "Invoice"
    assert ident.findtext("s:InstanceIdentifier", namespaces=NS) == str(row.instance_id)
    scopes = {
        scope.findtext("s:Type", namespaces=NS): scope.findtext("s:InstanceIdentifier",
                                                                 namespaces=NS)
        for scope in header.findall("s:BusinessScope/s:Scope", NS)
    }  # fmt: skip
    assert scopes == {
        "DOCUMENTID": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##"
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1",
        "PROCESSID": "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0",
        "COUNTRY_C1": "SE",
    }
    # The payload is the stored UBL, unchanged, and passes the official rules.
    payload = sbdh.unwrap(content)
    stored = IssuedDocument.objects.get(invoice__number=int(issued["1442"]["number"])).unpacked()
    assert etree.tostring(etree.fromstring(payload), method="c14n") == etree.tostring(
        etree.fromstring(stored), method="c14n"
    )
    validator = validation.get_validator()
    assert validator is not None
    assert validator.fatal(validator.validate(payload)) == []
    # Handing the same row over again is a no-op (same name, same bytes).
    from kortfaktura.delivery.channels import PeppolSender

    PeppolSender().send(row)
    assert len(list(channels["outbox"].iterdir())) == 1


def test_credit_note_envelope(cli: Cli, issued: dict[str, Any], channels: dict[str, Any]) -> None:
    code, credit = as_json(cli, "credit", issued["1442"]["number"], "--reason", "fel antal")
    assert code == 0, credit
    code, result = as_json(cli, "deliver", credit["number"])
    assert code == 0 and result["delivered"][0]["channel"] == "peppol", result
    row = Delivery.objects.get(invoice__number=int(credit["number"]))
    content = (channels["outbox"] / f"{row.instance_id}.xml").read_bytes()
    tree = etree.fromstring(content)
    etree.XMLSchema(etree.parse(str(SBDH_XSD / "StandardBusinessDocumentHeader.xsd"))).assertValid(
        tree
    )
    assert tree.findtext(".//s:DocumentIdentification/s:Type", namespaces=NS) == "CreditNote"
    validator = validation.get_validator()
    assert validator is not None
    assert validator.fatal(validator.validate(sbdh.unwrap(content))) == []


def test_email_has_swedish_text_and_attachments(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    number = issued["1480"]["number"]
    code, result = as_json(cli, "deliver", number)
    assert code == 0 and result["delivered"][0]["channel"] == "email", result
    [(recipients, message)] = channels["mailbox"].messages
    assert recipients == ["faktura@goteborg.example"]
    invoice = Invoice.objects.get(number=int(number))
    row = Delivery.objects.get(invoice=invoice)
    assert message["Message-ID"].strip() == row.message_id and row.message_id
    assert message["From"] == "gits-fakturor@vgregion.example"
    assert number in message["Subject"] and "Faktura" in message["Subject"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    for text in (number, invoice.ocr, "123-4566", "2020-03", invoice.due_date.isoformat(),
                 "Förfallodatum", "Bankgiro"):  # fmt: skip
        assert text in body, text
    names = [part.get_filename() for part in message.iter_attachments()]
    assert names == [f"faktura-{number}.pdf", f"faktura-{number}-specifikation.xlsx"]
    pdf = next(message.iter_attachments()).get_content()
    assert number in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def test_email_to_files_is_what_smtp_would_receive(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any, tmp_path: Path
) -> None:
    """KORTFAKTURA_SMTP_URL=file:///dir (the demo's e-mail, no server): one RFC 5322 file per
    message, named after its Message-ID, with the bytes the SMTP server gets."""
    number = issued["1480"]["number"]
    code, result = as_json(cli, "deliver", number)
    assert code == 0 and result["delivered"], result
    [(_, by_smtp)] = channels["mailbox"].messages
    mail_dir = tmp_path / "epost"
    settings.SMTP_URL = f"file://{mail_dir}"
    code, result = as_json(cli, "deliver", "--resend", number)
    assert code == 0 and result["delivered"][0]["channel"] == "email", result
    assert len(channels["mailbox"].messages) == 1  # nothing went to the server
    resent = Delivery.objects.filter(invoice__number=int(number)).exclude(resend_of=None).get()
    [path] = mail_dir.iterdir()
    assert path.name == resent.message_id.strip("<>") + ".eml"
    raw = path.read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF as on the wire
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Message-ID"].strip() == resent.message_id
    assert message["To"] == "faktura@goteborg.example" and message["Date"]
    for header in ("Subject", "From", "To"):
        assert message[header] == by_smtp[header], header
    assert [part.get_filename() for part in message.iter_attachments()] == [
        part.get_filename() for part in by_smtp.iter_attachments()
    ]
    assert not [name for name in mail_dir.iterdir() if name.name.startswith(".")]


def test_email_to_files_needs_an_absolute_directory(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any
) -> None:
    settings.SMTP_URL = "file://var/epost"
    code, result = as_json(cli, "deliver", issued["1480"]["number"])
    # A setting that cannot work stops the delivery before anything is queued (issue 17).
    assert code == 1 and "absolut katalog" in result["error"], result
    assert not Delivery.objects.exists()


def test_a_refused_connection_is_a_retryable_failure(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any
) -> None:
    working = settings.SMTP_URL
    settings.SMTP_URL = f"smtp://127.0.0.1:{free_port()}"
    number = issued["1480"]["number"]
    code, result = as_json(cli, "deliver", number)
    assert code == 0 and result["delivered"] == [], result
    [failed] = result["failed"]
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert "vägrade anslutningen" in failed["error"]
    row = Delivery.objects.get(invoice__number=int(number))
    assert row.next_attempt_at is not None
    # Not yet due: an ordinary run leaves it; naming the number retries at once.
    code, result = as_json(cli, "deliver", "--run", str(issued["run"]))
    assert all(r["number"] != number for r in result["delivered"] + result["failed"])
    settings.SMTP_URL = working
    code, result = as_json(cli, "deliver", number)
    assert [(r["status"], r["attempts"]) for r in result["delivered"]] == [("sent", 2)]
    assert len(channels["mailbox"].messages) == 1


def test_an_email_left_sending_becomes_uncertain_and_is_not_sent_again(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    from kortfaktura.delivery.services import queue_deliveries

    queue_deliveries(Invoice.objects.filter(status="issued"))
    queue_deliveries(Invoice.objects.filter(status="issued"))  # idempotent
    assert Delivery.objects.count() == 5
    Delivery.objects.filter(channel="email").update(status="sending", attempts=1)
    Delivery.objects.filter(channel="peppol").update(status="sending", attempts=1)
    code, result = as_json(cli, "deliver")
    assert code == 0, result
    assert channels["mailbox"].messages == []
    assert set(Delivery.objects.filter(channel="email").values_list("status", flat=True)) == {
        "uncertain"
    }
    # Peppol is safe to repeat: the same file name and bytes.
    assert Delivery.objects.get(channel="peppol").status == "sent"
    code, listed = as_json(cli, "delivery", "list", "--status", "uncertain")
    assert len(listed) == 2 and "--resend" in listed[0]["error"]


def test_dry_run_sends_nothing(cli: Cli, issued: dict[str, Any], channels: dict[str, Any]) -> None:
    code, result = as_json(cli, "deliver", "--dry-run")
    assert code == 0 and result["dry_run"] is True and len(result["planned"]) == 5
    assert Delivery.objects.count() == 0
    assert list(channels["outbox"].iterdir()) == [] and channels["mailbox"].messages == []
    code, out, _ = cli("deliver", "--dry-run")
    assert code == 0 and "Provkörning" in out


def test_resend_creates_a_new_recorded_row(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    number = issued["1480"]["number"]
    assert as_json(cli, "deliver", number)[0] == 0
    code, result = as_json(cli, "deliver", "--resend", number)
    assert code == 0 and [r["status"] for r in result["delivered"]] == ["sent"], result
    rows = list(Delivery.objects.filter(invoice__number=int(number)).order_by("id"))
    assert len(rows) == 2 and rows[1].resend_of_id == rows[0].pk
    assert rows[0].message_id != rows[1].message_id
    assert len(channels["mailbox"].messages) == 2
    assert AuditRecord.objects.filter(action="delivery.resent").count() == 1
    # By another channel, e.g. print; an internal charge can never be resent by Peppol.
    code, result = as_json(cli, "deliver", "--resend", number, "--channel", "print")
    assert code == 0 and result["delivered"][0]["channel"] == "print", result
    code, result = as_json(cli, "deliver", "--resend", issued["VGR-RS"]["number"],
                           "--channel", "peppol")  # fmt: skip
    assert code == 1 and "Peppol" in result["error"]


def test_internal_charges_never_go_to_peppol(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    code, result = as_json(cli, "deliver", issued["VGR-RS"]["number"], issued["VGR-SU"]["number"])
    assert code == 0, result
    assert sorted(r["channel"] for r in result["delivered"]) == ["email", "print"]
    assert list(channels["outbox"].iterdir()) == []


@pytest.mark.parametrize(
    ("setting", "variable"),
    [("PEPPOL_OUTBOX", "KORTFAKTURA_PEPPOL_OUTBOX"), ("SMTP_URL", "KORTFAKTURA_SMTP_URL"),
     ("MAIL_FROM", "KORTFAKTURA_MAIL_FROM"), ("PRINT_DIR", "KORTFAKTURA_PRINT_DIR")],
)  # fmt: skip
def test_a_missing_setting_exits_1_naming_the_variable(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any,
    setting: str, variable: str,
) -> None:  # fmt: skip
    setattr(settings, setting, "")
    code, out, err = cli("deliver", "--json")
    assert code == 1 and variable in err and variable in json.loads(out)["error"]
    assert Delivery.objects.count() == 0 and channels["mailbox"].messages == []


def test_file_outbox_is_atomic_and_refuses_other_content(tmp_path: Path) -> None:
    from kortfaktura.delivery.transport import TransportError, open_inbox, open_outbox

    outbox = open_outbox(f"file://{tmp_path}", "")
    outbox.put("a.xml", b"<a/>")
    outbox.put("a.xml", b"<a/>")  # same content: nothing happens
    assert outbox.exists("a.xml") and not outbox.exists("b.xml")
    with pytest.raises(TransportError) as refused:
        outbox.put("a.xml", b"<b/>")
    assert not refused.value.transient and "annat innehåll" in refused.value.message
    assert [p.name for p in tmp_path.iterdir()] == ["a.xml"]  # no temporary file left
    inbox = open_inbox(f"file://{tmp_path}", "")
    assert inbox.list() == ["a.xml"] and inbox.read("a.xml") == b"<a/>"
    inbox.move("a.xml", "handled")
    assert inbox.list() == [] and (tmp_path / "handled" / "a.xml").exists()
    with pytest.raises(TransportError):
        open_outbox("ftp://example/x", "")


def test_every_channel_uses_the_snapshot_not_todays_account(
    cli: Cli, csv_file: CsvFile, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    """After issuing, every account gets another endpoint, address and street: the documents
    still reach the buyers they were issued to (R20)."""
    rows = _customers(peppol_1442="0007:5555555555")
    rows[1][7] = "annan@example.com"  # 1480's e-mail
    rows[2][8] = "Annan gata 9"  # GBG-P's street
    rows[3][7] = "annan@vgr.example"  # VGR-RS's e-mail
    code, result = as_json(cli, "import", "customers", str(csv_file(CUSTOMER_HEADER, rows)))
    assert code == 0 and result["updated"] >= 3, result
    code, result = as_json(cli, "deliver")
    assert code == 0 and len(result["delivered"]) == 5, result
    recipients = {row.invoice.account.code: row.recipient for row in Delivery.objects.all()}
    assert recipients["1442"] == "0007:2120001454"
    assert recipients["1480"] == "faktura@goteborg.example"
    assert recipients["VGR-RS"] == "ekonomi@vgr.example"
    assert "Box 1" in recipients["GBG-P"] and "Annan gata" not in recipients["GBG-P"]
    assert sorted(r[0][0] for r in channels["mailbox"].messages) == [
        "ekonomi@vgr.example", "faktura@goteborg.example"]  # fmt: skip
    cover = PdfReader(next(channels["print"].glob("*.pdf"))).pages[0].extract_text()
    assert "Box 1" in cover and "Annan gata" not in cover


def test_peppol_through_a_real_sftp_outbox(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], tmp_path: Path, settings: Any
) -> None:
    """The same hand-over to an access point reached over SFTP (asyncssh on 127.0.0.1)."""
    import asyncssh

    from test_sftp import SftpTestServer

    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(key.export_private_key())
    root = tmp_path / "sftp-root"
    (root / "outbox").mkdir(parents=True)  # the test server records writes there
    server = SftpTestServer(root, key)
    try:
        settings.PEPPOL_OUTBOX = server.url("outbox")
        settings.SSH_KEY = str(key_file)
        code, result = as_json(cli, "deliver", issued["1442"]["number"])
        assert code == 0 and result["failed"] == [], [r["error"] for r in result["failed"]]
        peppol = Delivery.objects.get(channel="peppol")
        (written,) = sorted((root / "outbox").iterdir())
        assert written.name == f"{peppol.instance_id}.xml"
        assert b"StandardBusinessDocumentHeader" in written.read_bytes()
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PEPPOL_OUTBOX", "http://example.com/x", "går inte att använda"),
        ("PEPPOL_OUTBOX", "file://var/ut", "annan dator"),
        ("PEPPOL_OUTBOX", "file:var/ut", "absolut sökväg"),
        ("SMTP_URL", "smtp+startls://gits:Hemligt123@mail.example:587", "går inte att använda"),
        ("MAIL_FROM", "garbage", "ingen e-postadress"),
        ("PRINT_DIR", "relativ/utskrift", "absolut sökväg"),
    ],
)
def test_a_setting_that_cannot_work_stops_before_anything_is_sent(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any,
    variable: str, value: str, expected: str,
) -> None:  # fmt: skip
    setattr(settings, variable, value)
    code, out, err = cli("deliver")
    assert code == 1 and expected in " ".join(err.split()) and "Hemligt123" not in err + out
    assert not Delivery.objects.exists()  # nothing queued, nothing failed


def test_a_receipt_file_name_that_is_not_utf8_is_filed_away(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any, tmp_path: Path
) -> None:
    import os

    inbox = tmp_path / "inkorg"
    inbox.mkdir()
    settings.PEPPOL_INBOX = f"file://{inbox}"
    os.close(os.open(os.fsencode(str(inbox)) + b"/bad-\xff.xml", os.O_CREAT | os.O_WRONLY))
    code, out, _ = cli("deliver")
    assert code == 0 and "Skickade: 5" in out and "inte UTF-8" in out
    assert [p.name for p in (inbox / "quarantine").iterdir()] == ["bad-\udcff.xml"]


def test_print_rows_are_claimed_only_when_their_batch_is_written(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    from kortfaktura.delivery import services

    report = services.deliver(stop=lambda: Delivery.objects.filter(status="sent").count() >= 1)
    assert len(report.delivered) == 1
    assert not Delivery.objects.filter(status__in=["sending", "uncertain"]).exists()
    code, _, _ = cli("deliver")
    assert code == 0 and not Delivery.objects.exclude(status="sent").exists()
