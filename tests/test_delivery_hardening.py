"""Delivery that cannot be fooled, the sending side (DOMAIN.md R20, R19; issue 17): an e-mail the
server accepted is sent whatever QUIT answers; no password reaches a message; only the stored,
hashed document leaves, to the receiver it names; one document that cannot be rendered never
stops a print batch; a setting that cannot work stops ``deliver`` before anything is queued.

Real servers on 127.0.0.1 (aiosmtpd, asyncssh), real files, the real database."""

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import psycopg
import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from lxml import etree
from pypdf import PdfReader

import test_delivery
import test_delivery_robustness
from kortfaktura.audit.models import AuditRecord
from kortfaktura.billing.models import Invoice, InvoiceItem
from kortfaktura.delivery import sbdh
from kortfaktura.delivery.models import Delivery
from kortfaktura.documents.models import IssuedDocument
from processes import SCRIPT, free_port
from test_delivery import NS, Cli, Mailbox, as_json
from test_delivery_robustness import World, wait_for

pytestmark = pytest.mark.django_db
UBL = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
# The issued documents of every channel and the channels' settings, as in test_delivery.py.
issued, channels, smtp = test_delivery.issued, test_delivery.channels, test_delivery.smtp


class ScriptedMailbox(Mailbox):
    """An SMTP server whose answers to DATA and QUIT a test chooses: ``None`` is the ordinary
    answer, ``"drop"`` closes the connection instead of answering."""

    def __init__(self, data: str | None = None, quit: str | None = None) -> None:
        super().__init__()
        self.data = data
        self.quit = quit

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data is not None:
            return self.data
        return await super().handle_DATA(server, session, envelope)

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        if self.quit == "drop":
            server.transport.abort()  # the line goes dead instead of an answer
            return "221 Bye"
        return self.quit or "221 Bye"


@pytest.fixture
def scripted(settings: Any) -> Iterator[Any]:
    controllers = []

    def start(**answers: str) -> ScriptedMailbox:
        box = ScriptedMailbox(**answers)
        controller = Controller(box, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append(controller)
        settings.SMTP_URL = f"smtp://127.0.0.1:{controller.port}"
        return box

    yield start
    for controller in controllers:
        controller.stop()


# 1. After a 250 for DATA the message is sent, whatever QUIT answers -------------------------


@pytest.mark.parametrize("quit", ["421 4.3.2 Service shutting down", "500 5.5.1 Unknown", "drop"])
def test_an_email_accepted_at_data_is_sent_whatever_quit_answers(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], scripted: Any, quit: str
) -> None:
    box = scripted(quit=quit)
    number = issued["1480"]["number"]
    code, result = as_json(cli, "deliver", number)
    assert code == 0 and result["failed"] == [], result
    assert [(r["status"], r["attempts"], r["error"]) for r in result["delivered"]] == [
        ("sent", 1, "")
    ]
    # Naming the number retries a failed delivery at once: a sent one is not sent again.
    code, again = as_json(cli, "deliver", number)
    assert code == 0 and again["delivered"] == [] and again["failed"] == [], again
    assert len(box.messages) == 1
    row = Delivery.objects.get(invoice__number=int(number))
    assert (row.status, row.next_attempt_at) == ("sent", None)


@pytest.mark.parametrize(
    ("answer", "retried"),
    [("451 4.3.0 Försök senare", True), ("554 5.6.0 Meddelandet vägras", False)],
)
def test_an_email_refused_at_data_fails_as_before(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], scripted: Any,
    answer: str, retried: bool,
) -> None:  # fmt: skip
    scripted(data=answer)
    number = issued["1480"]["number"]
    code, result = as_json(cli, "deliver", number)
    assert code == 0 and result["delivered"] == [], result
    [failed] = result["failed"]
    assert failed["status"] == "failed" and answer.split(maxsplit=1)[0] in failed["error"]
    assert (failed["next_attempt_at"] is not None) is retried


# 6. No password in any message ---------------------------------------------------------------

# (URL, its password as the server must receive it). "/", "@", ":", "%", "?" and "#" written as
# they are or percent-encoded, in passwords and user names.
SECRET_URLS = [
    ("smtp://gits:pa/ss-SECRET1@mail.example:587", "pa/ss-SECRET1"),
    ("smtp+starttls://gits:p@ss-SECRET2@mail.example:587", "p@ss-SECRET2"),
    ("smtps://gits:p:a:ss-SECRET3@mail.example", "p:a:ss-SECRET3"),
    ("smtp://gits:p%25ss%2F%40-SECRET4@mail.example:25", "p%ss/@-SECRET4"),
    ("smtp+starttls://gits@vgregion.se:p?ss#/-SECRET5@mail.example:587", "p?ss#/-SECRET5"),
    ("smtp://gi%74s%40vgr:%-SECRET6@mail.example", "%-SECRET6"),
]


@pytest.mark.parametrize(("url", "password"), SECRET_URLS)
def test_redact_masks_the_whole_password_and_keeps_the_rest(url: str, password: str) -> None:
    from kortfaktura.delivery.transport import redact, split_url

    shown = redact(url)
    assert "SECRET" not in shown and "***@mail.example" in shown, shown
    assert shown.startswith(url.split("://", maxsplit=1)[0] + "://gi")  # the scheme and user stay
    parts = split_url(url)
    assert (parts.hostname, unquote(parts.password or "")) == ("mail.example", password)


@pytest.mark.parametrize(
    "url",
    [
        "sftp://ap:pa/ss-SECRET7@ap.example:2222/peppol/ut",
        "sftp://ap/user:p@ss-SECRET8@ap.example/ut",
        "sftp://ap:SECRET9@ap.example:x/ut",
        "smtp:gits:SECRET10@mail.example",
        "gits:SECRET11@mail.example:587",
        "file://gits:SECRET12@localhost/srv/ut",
    ],
)
def test_redact_masks_mistyped_addresses_too(url: str) -> None:
    from kortfaktura.delivery.transport import redact

    assert "SECRET" not in redact(url) and "***" in redact(url)


def test_redact_leaves_addresses_without_a_password_alone() -> None:
    from kortfaktura.delivery.transport import redact

    for url in ("smtp://mail.example:25", "sftp://ap@ap.example:22/ut", "file:///srv/ut@2020",
                "sftp://gits@vgregion.se@ap.example/ut"):  # fmt: skip
        assert redact(url) == url


def _everything_shown(cli: Cli, *outputs: str) -> str:
    """What a person can read: the given outputs, the delivery list and the audit trail."""
    texts = list(outputs)
    for args in (("delivery", "list"), ("delivery", "list", "--json"), ("audit", "--json")):
        _, out, err = cli(*args)
        texts += [out, err]
    return "\n".join(texts)


class Login:
    """An aiosmtpd authenticator that takes one user and password and records every try."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.tries: list[tuple[str, str]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> Any:  # fmt: skip
        from aiosmtpd.smtp import AuthResult

        tried = (auth_data.login.decode(), auth_data.password.decode())
        self.tries.append(tried)
        return AuthResult(success=tried == (self.user, self.password), handled=False)


@pytest.mark.parametrize(("url", "password"), SECRET_URLS)
def test_an_smtp_password_with_special_characters_logs_in_and_never_shows(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any,
    url: str, password: str,
) -> None:  # fmt: skip
    from kortfaktura.delivery.transport import split_url

    box, login = Mailbox(), Login("", "")
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), auth_required=True,
                            auth_require_tls=False, authenticator=login)  # fmt: skip
    controller.start()
    # The same user part, written the same way, to this server (plain SMTP: it has no TLS).
    userinfo = url.split("://", 1)[1].rsplit("@mail.example", 1)[0]
    settings.SMTP_URL = f"smtp://{userinfo}@127.0.0.1:{controller.port}"
    login.user, login.password = unquote(split_url(settings.SMTP_URL).username or ""), password
    try:
        number = issued["1480"]["number"]
        code, out, err = cli("deliver", number)
        assert code == 0 and "Skickade: 1" in out, out + err
        assert login.tries == [(login.user, password)] and len(box.messages) == 1
        # A wrong password: the server refuses, the message says so, the password is not shown.
        login.password = "något annat"
        code, json_out, err2 = cli("deliver", "--resend", number, "--json")
        assert code == 0 and "godtog inte inloggningen" in json_out, json_out + err2
        shown = _everything_shown(cli, out, err, json_out, err2)
    finally:
        controller.stop()
    assert "SECRET" not in shown


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("SMTP_URL", "smtpx://gits:pa/ss-SECRET1@mail.example:587"),
        ("SMTP_URL", "smtp://gits:p@ss-SECRET2@mail.example:port"),
        ("SMTP_URL", "smtp://gits:p@ss-SECRET2@:25"),
        ("SMTP_URL", "file://gits:SECRET3@mail.example/srv/epost"),
        ("PEPPOL_OUTBOX", "sftp://gits:pa/ss-SECRET4@ap.example:2222/ut"),
        ("PEPPOL_OUTBOX", "sftp://gits:p@ss-SECRET5@ap.example/ut"),
        ("PEPPOL_OUTBOX", "sftp://gits:SECRET6@ap.example:x/ut"),
        ("PEPPOL_OUTBOX", "ftp://gits:SECRET7@ap.example/ut"),
        ("PEPPOL_OUTBOX", "file://gits:p%40ss-SECRET8@ap.example/ut"),
    ],
)
def test_a_setting_with_a_password_is_never_shown_whole(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any,
    variable: str, url: str,
) -> None:  # fmt: skip
    setattr(settings, variable, url)
    code, out, err = cli("deliver")
    code_json, out_json, err_json = cli("deliver", "--json")
    assert "SECRET" not in _everything_shown(cli, out, err, out_json, err_json)
    assert code == 1 == code_json and f"KORTFAKTURA_{variable}" in err, out + err
    assert "***" in err and not Delivery.objects.exists()


def test_the_sftp_outbox_and_inbox_never_show_a_password() -> None:
    """The messages of the SFTP outbox and inbox themselves (used by --watch on every round)."""
    from kortfaktura.delivery.sftp import SftpError, SftpInbox, SftpOutbox

    for url in ("sftp://gits:pa/ss-SECRET1@127.0.0.1:2222/ut",
                "sftp://gits:SECRET2@127.0.0.1:x/ut",
                "sftp://gits:p@ss-SECRET3@127.0.0.1:70000/ut"):  # fmt: skip
        for kind in (SftpOutbox, SftpInbox):
            with pytest.raises(SftpError) as refused:
                kind(url, None)
            assert "SECRET" not in refused.value.message and not refused.value.transient


# 7. Only the stored, hashed document leaves, to the receiver it names --------------------------


def _without_guards() -> None:
    """Let raw SQL do what the database otherwise refuses, as someone with write access to it
    can: triggers off (PostgreSQL) or dropped (SQLite), inside the test's transaction."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
            return
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TRIGGER "{name}"')


def _forge_stored_document(number: str) -> None:
    """Someone with write access to the database changes a stored UBL (the guards off)."""
    stored = IssuedDocument.objects.get(invoice__number=int(number))
    forged = IssuedDocument.pack(stored.unpacked().replace(b"1234566", b"99999999"))
    assert forged != stored.content
    _without_guards()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {IssuedDocument._meta.db_table} SET content = %s WHERE invoice_id = %s",
            [forged, stored.invoice_id],
        )


def test_a_stored_document_that_no_longer_matches_its_hash_is_not_sent(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    peppol, mail, post = (issued[code]["number"] for code in ("1442", "1480", "GBG-P"))
    for number in (peppol, mail, post):
        _forge_stored_document(number)
    code, result = as_json(cli, "deliver")
    assert code == 0, result
    failed = {row["number"]: row for row in result["failed"]}
    assert sorted(failed) == sorted([peppol, mail, post])
    for number, row in failed.items():
        assert row["status"] == "failed" and row["next_attempt_at"] is None  # no retry
        assert number in row["error"] and "kontrollsumman" in row["error"], row
    # Nothing of them left: no file in the outbox, no e-mail to Göteborg, and the print batch
    # holds only the internal charge (internal charges have no stored UBL to check).
    assert list(channels["outbox"].iterdir()) == []
    assert [rcpts for rcpts, _ in channels["mailbox"].messages] == [["ekonomi@vgr.example"]]
    [batch] = channels["print"].glob("*.pdf")
    cover = PdfReader(batch).pages[0].extract_text()
    assert issued["VGR-SU"]["number"] in cover and post not in cover
    assert sorted(row["number"] for row in result["delivered"]) == sorted(
        [issued["VGR-RS"]["number"], issued["VGR-SU"]["number"]]
    )
    # Named again, they are tried again and refused again.
    code, again = as_json(cli, "deliver", peppol)
    assert code == 0 and [row["number"] for row in again["failed"]] == [peppol]
    assert list(channels["outbox"].iterdir()) == []


def test_the_envelope_goes_to_the_buyer_the_document_names_not_an_edited_snapshot(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    number = issued["1442"]["number"]
    invoice = Invoice.objects.get(number=int(number))
    _without_guards()
    Invoice.objects.filter(pk=invoice.pk).update(buyer={**invoice.buyer, "peppol_id": "5555555555"})
    code, result = as_json(cli, "deliver", number)
    assert code == 0 and [row["channel"] for row in result["delivered"]] == ["peppol"], result
    assert result["delivered"][0]["recipient"] == "0007:2120001454"
    row = Delivery.objects.get(invoice=invoice)
    content = (channels["outbox"] / f"{row.instance_id}.xml").read_bytes()
    envelope = etree.fromstring(content)
    receiver = envelope.findtext(".//s:Receiver/s:Identifier", namespaces=NS)
    [endpoint] = etree.fromstring(sbdh.unwrap(content)).xpath(
        "cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", namespaces=UBL
    )
    assert receiver == f"{endpoint.get('schemeID')}:{endpoint.text}" == "0007:2120001454"
    assert row.recipient == "0007:2120001454"
    [sent] = AuditRecord.objects.filter(action="delivery.sent", object=f"faktura {number}")
    assert sent.details["recipient"] == "0007:2120001454"
    assert sent.details["snapshot_recipient"] == "0007:5555555555"


# 8b. One document that cannot be rendered never stops a print batch ----------------------------


def _unrenderable_holder(number: str) -> None:
    """An issued document whose specification names a holder with a glyph no font has (as
    documents issued before issuing checked for it can)."""
    _without_guards()
    InvoiceItem.objects.filter(invoice__number=int(number)).update(holder_name="Anna 𓀀 Berg")


def test_a_print_batch_writes_every_document_but_the_one_that_cannot_be_rendered(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    broken, other = issued["GBG-P"]["number"], issued["VGR-SU"]["number"]
    _unrenderable_holder(broken)
    code, result = as_json(cli, "deliver", "--run", str(issued["run"]))
    assert code == 0, result
    [failed] = result["failed"]
    assert failed["number"] == broken and failed["channel"] == "print"
    assert failed["next_attempt_at"] is None  # it fails the same way every time
    assert f"faktura {broken}" in failed["error"] and "𓀀" in failed["error"], failed
    assert other in [row["number"] for row in result["delivered"]]
    [batch] = channels["print"].glob("*.pdf")
    cover = PdfReader(batch).pages[0].extract_text()
    assert other in cover and broken not in cover
    assert Delivery.objects.get(invoice__number=int(other)).status == "sent"


def test_an_email_that_cannot_be_rendered_fails_naming_the_document(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    number = issued["1480"]["number"]
    _unrenderable_holder(number)
    code, result = as_json(cli, "deliver", number)
    assert code == 0, result
    [failed] = result["failed"]
    assert f"faktura {number}" in failed["error"] and "𓀀" in failed["error"], failed
    assert failed["next_attempt_at"] is None and channels["mailbox"].messages == []


# 9. A setting that cannot work stops deliver before anything is read, queued or sent ----------


def _outbox_problems(tmp_path: Path) -> list[tuple[str, str]]:
    afile = tmp_path / "en-fil"
    afile.write_text("x")
    return [
        (f"file://{tmp_path}/utkrog", "finns inte"),  # a typo
        (f"file://{afile}", "ingen katalog"),
    ]


@pytest.mark.parametrize("case", [0, 1])
def test_an_outbox_that_cannot_take_documents_stops_deliver_before_anything_is_queued(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any, tmp_path: Path,
    case: int,
) -> None:  # fmt: skip
    url, words = _outbox_problems(tmp_path)[case]
    settings.PEPPOL_OUTBOX = url
    code, out, err = cli("deliver", "--json")
    assert code == 1, out + err
    message = json.loads(out)["error"]
    assert "KORTFAKTURA_PEPPOL_OUTBOX" in message and words in message, message
    assert not Delivery.objects.exists() and channels["mailbox"].messages == []
    assert not list(channels["print"].glob("*.pdf")) if channels["print"].exists() else True


@pytest.mark.parametrize(
    ("inbox", "words"),
    [("{outbox}", "samma katalog"), ("{outbox}/svar", "inuti"), ("{parent}", "omsluter")],
)
def test_an_inbox_that_is_the_outbox_or_overlaps_it_stops_deliver(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any,
    inbox: str, words: str,
) -> None:  # fmt: skip
    outbox = channels["outbox"]
    (outbox / "svar").mkdir()
    handed_over = outbox / "0b9e-4a1c.xml"  # a document the access point has not taken yet
    handed_over.write_bytes(b"<Invoice/>")
    settings.PEPPOL_INBOX = "file://" + inbox.format(outbox=outbox, parent=outbox.parent)
    code, out, err = cli("deliver")
    assert code == 1, out + err
    flat = " ".join(err.split())
    assert "KORTFAKTURA_PEPPOL_INBOX" in flat and words in flat, flat
    assert handed_over.read_bytes() == b"<Invoice/>"  # not read as a receipt, not moved
    assert not (outbox / "quarantine").exists() and not (outbox / "processed").exists()
    assert not Delivery.objects.exists()


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("PRINT_DIR", "{inbox}", "samma katalog"),
        ("PRINT_DIR", "{outbox}/utskrift", "ligger inuti"),
        ("SMTP_URL", "file://{outbox}", "samma katalog"),
    ],
)
def test_a_print_or_mail_folder_among_the_peppol_folders_stops_deliver(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any, tmp_path: Path,
    variable: str, value: str, words: str,
) -> None:  # fmt: skip
    """Found by a tester: a print batch in the inbox went to quarantine/ as a receipt, and
    e-mails and print files in the outbox were handed to the access point."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    settings.PEPPOL_INBOX = f"file://{inbox}"
    setattr(settings, variable, value.format(inbox=inbox, outbox=channels["outbox"]))
    code, out, err = cli("deliver")
    assert code == 1, out + err
    flat = " ".join(err.split())
    assert f"KORTFAKTURA_{variable}" in flat and words in flat, flat
    assert not Delivery.objects.exists()
    assert [path.name for path in inbox.iterdir()] == []


def test_an_sftp_inbox_on_the_outbox_is_refused_too(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any
) -> None:
    settings.PEPPOL_OUTBOX = "sftp://ap@ap.example:2222/peppol/ut"
    settings.PEPPOL_INBOX = "sftp://ap@AP.example:2222/peppol/ut/"
    code, _, err = cli("deliver")
    err = " ".join(err.split())
    assert code == 1 and "KORTFAKTURA_PEPPOL_INBOX" in err and "samma katalog" in err
    settings.PEPPOL_INBOX = "sftp://ap@ap.example:2222/peppol/in"  # beside it: fine
    from kortfaktura.delivery.channels import check_inbox

    check_inbox()


def test_a_print_directory_that_cannot_be_made_stops_deliver(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], settings: Any, tmp_path: Path
) -> None:
    (tmp_path / "en-fil").write_text("x")
    settings.PRINT_DIR = str(tmp_path / "en-fil" / "utskrift")
    code, out, err = cli("deliver")
    assert code == 1 and "KORTFAKTURA_PRINT_DIR" in err and "kan inte skapas" in err, out + err
    assert not Delivery.objects.exists()
    settings.PRINT_DIR = str(tmp_path / "ny" / "utskrift")  # missing but can be made: fine
    code, out, err = cli("deliver")
    assert code == 0 and "Skickade: 5" in out, out + err


def test_the_web_page_path_leaves_a_channel_that_cannot_work_queued_and_names_it(
    issued: dict[str, Any], channels: dict[str, Any], settings: Any, tmp_path: Path
) -> None:
    from kortfaktura.delivery import services

    settings.PEPPOL_OUTBOX = f"file://{tmp_path}/utkrog"
    report = services.deliver(skip_unconfigured=True)
    assert len(report.delivered) == 4 and not report.failed
    reason, waiting = report.unconfigured["peppol"]
    assert waiting == 1 and "KORTFAKTURA_PEPPOL_OUTBOX" in reason and "finns inte" in reason
    assert Delivery.objects.get(channel="peppol").status == "queued"
    assert "KORTFAKTURA_PEPPOL_OUTBOX" in report.unconfigured_text()


def test_nothing_but_whole_documents_is_ever_in_the_file_outbox(tmp_path: Path) -> None:
    """While a large document is written, the outbox is watched: no temporary file shows."""
    from kortfaktura.delivery.transport import open_outbox

    outbox = tmp_path / "ut"
    outbox.mkdir()
    seen: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.update(os.listdir(outbox))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for number in range(3):
            open_outbox(f"file://{outbox}").put(f"doc-{number}.xml", b"<x/>" * 8_000_000)
    finally:
        done.set()
        watcher.join()
    assert seen and seen <= {"doc-0.xml", "doc-1.xml", "doc-2.xml"}, seen
    assert sorted(os.listdir(outbox)) == ["doc-0.xml", "doc-1.xml", "doc-2.xml"]
    assert os.listdir(tmp_path / ".ut.kortfaktura-tmp") == []  # beside it, and cleaned up


# 10. Resending several, a run's uncertain ones, and confirming an uncertain one ---------------


def _uncertain(*numbers: str) -> None:
    """Deliveries interrupted mid-send (as a killed worker leaves them): uncertain."""
    from kortfaktura.delivery.services import queue_deliveries, recover_interrupted

    invoices = Invoice.objects.filter(number__in=[int(n) for n in numbers])
    queue_deliveries(invoices)
    Delivery.objects.filter(invoice__in=invoices).update(status="sending", attempts=1)
    recover_interrupted()
    assert set(Delivery.objects.filter(invoice__in=invoices).values_list("status", flat=True)) == {
        "uncertain"
    }


def test_resend_takes_several_numbers_either_way(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    mail, internal = issued["1480"]["number"], issued["VGR-RS"]["number"]
    assert as_json(cli, "deliver")[0] == 0
    for args in (("--resend", mail, internal), ("--resend", mail, "--resend", internal)):
        code, result = as_json(cli, "deliver", *args)
        assert code == 0, result
        assert sorted(row["number"] for row in result["delivered"]) == sorted([mail, internal])
        assert all(row["resend_of"] is not None for row in result["delivered"])
    assert len(channels["mailbox"].messages) == 2 + 4
    assert AuditRecord.objects.filter(action="delivery.resent").count() == 4
    # One number that is not a document: nothing is recorded for the others either.
    code, result = as_json(cli, "deliver", "--resend", mail, "999999")
    assert code == 1 and "999999" in result["error"]
    assert AuditRecord.objects.filter(action="delivery.resent").count() == 4


def test_a_never_delivered_document_sent_another_way_goes_out_once(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    """A Peppol customer's document that a person sends by print before its first delivery
    goes out by print only, then and later (R20: once, unless a person asks again)."""
    number = issued["1442"]["number"]  # a Peppol customer
    code, result = as_json(cli, "deliver", "--resend", number, "--channel", "print")
    assert code == 0, result
    assert [(row["number"], row["channel"]) for row in result["delivered"]] == [(number, "print")]
    for again in (("deliver", number), ("deliver",)):
        code, later = as_json(cli, *again)
        assert code == 0 and number not in [row["number"] for row in later["delivered"]], later
    assert list(
        Delivery.objects.filter(invoice__number=int(number)).values_list("channel", flat=True)
    ) == ["print"]
    assert not [path for path in channels["outbox"].iterdir() if path.suffix == ".xml"]


def test_resend_a_runs_uncertain_deliveries(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any]
) -> None:
    mail, internal = issued["1480"]["number"], issued["VGR-RS"]["number"]
    _uncertain(mail, internal)
    code, planned = as_json(cli, "deliver", "--resend", "--run", str(issued["run"]),
                            "--status", "uncertain", "--dry-run")  # fmt: skip
    assert code == 0 and sorted(r["number"] for r in planned["planned"]) == sorted([mail, internal])
    code, result = as_json(cli, "deliver", "--resend", "--run", str(issued["run"]),
                           "--status", "uncertain")  # fmt: skip
    assert code == 0, result
    assert sorted(row["number"] for row in result["delivered"]) == sorted([mail, internal])
    assert len(channels["mailbox"].messages) == 2
    # Resent: not uncertain-and-waiting any more, so a second time resends nothing.
    code, out, _ = cli("deliver", "--resend", "--run", str(issued["run"]), "--status", "uncertain")
    assert code == 0 and "inga ovissa" in out and len(channels["mailbox"].messages) == 2
    code, _, err = cli("deliver", "--resend", "--run", str(issued["run"]))
    assert code == 1 and "--status uncertain" in " ".join(err.split())


def test_confirm_records_that_a_person_checked_an_uncertain_delivery(
    cli: Cli, issued: dict[str, Any], channels: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    mail, internal = issued["1480"]["number"], issued["VGR-RS"]["number"]
    _uncertain(mail, internal)
    monkeypatch.setenv("KORTFAKTURA_ACTOR", "anna.fakturering")
    code, _, err = cli("deliver", "--confirm", mail)
    assert code == 1 and "--reason" in err
    code, result = as_json(cli, "deliver", "--confirm", mail, internal, "--reason",
                           "kunden bekräftade per telefon")  # fmt: skip
    assert code == 0 and result["delivered"] == [] and len(result["confirmed"]) == 2, result
    assert set(Delivery.objects.values_list("status", flat=True)) >= {"sent"}
    for number in (mail, internal):
        row = Delivery.objects.get(invoice__number=int(number))
        assert (row.status, row.error) == ("sent", "")
        [audit] = AuditRecord.objects.filter(action="delivery.confirmed",
                                             object__endswith=number)  # fmt: skip
        assert audit.actor == "anna.fakturering"
        assert audit.details["reason"] == "kunden bekräftade per telefon"
    assert channels["mailbox"].messages == []  # nothing was sent
    # A delivery that is not uncertain cannot be confirmed: exit 1, nothing changed.
    before = list(Delivery.objects.values_list("id", "status"))
    code, _, err = cli("deliver", "--confirm", mail, issued["1442"]["number"], "--reason", "x")
    assert code == 1 and "ingen oviss leverans" in err
    assert list(Delivery.objects.values_list("id", "status")) == before
    assert AuditRecord.objects.filter(action="delivery.confirmed").count() == 2


# Real processes: kill -9 in a print batch, a busy database under --watch, --watch output ------

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
make_world, mailbox = test_delivery_robustness.make_world, test_delivery_robustness.mailbox


def _start(world: World, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(SCRIPT), *args], env={**world.env, **env}, cwd=world.cwd,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _kill_at(world: World, step: str) -> None:
    """Runs ``deliver`` until it reports the pause hook ``step``, then kills it with SIGKILL."""
    worker = _start(world, "deliver", **{f"KORTFAKTURA_TEST_PAUSE_IN_{step.upper()}": "60"})
    try:
        assert worker.stderr is not None
        line = worker.stderr.readline()
        assert f"testpaus i {step}" in line, line + worker.stderr.read()
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()


def _batches(world: World) -> list[Path]:
    folder = world.cwd / "print"
    return sorted(folder.glob("utskrift-*.pdf")) if folder.exists() else []


@pytest.mark.parametrize("step", ["deliver_print_rendered", "deliver_print_marked"])
def test_a_print_batch_killed_before_its_file_exists_is_printed_once_by_the_next_run(
    make_world: Callable[..., World], step: str
) -> None:
    world = make_world(["print"] * 3)
    numbers = world.issue("03")
    _kill_at(world, step)
    assert _batches(world) == []  # no batch file for anyone to print
    rows = world.deliveries()
    expected = "queued" if step == "deliver_print_rendered" else "sending"
    assert {row["status"] for row in rows.values()} == {expected}
    result = world.json("deliver")
    assert sorted(row["number"] for row in result["delivered"]) == sorted(numbers)
    assert result["uncertain"] == 0
    assert {row["status"] for row in world.deliveries().values()} == {"sent"}
    [batch] = _batches(world)
    cover = PdfReader(batch).pages[0].extract_text()
    assert all(number in cover for number in numbers)
    assert sorted(p.name for p in (world.cwd / "print").iterdir()) == [batch.name]


def test_a_print_batch_killed_after_its_file_exists_is_uncertain_naming_the_file(
    make_world: Callable[..., World],
) -> None:
    world = make_world(["print"] * 3)
    numbers = world.issue("03")
    _kill_at(world, "deliver_print_written")
    [batch] = _batches(world)
    assert {row["status"] for row in world.deliveries().values()} == {"sending"}
    result = world.json("deliver")
    assert result["delivered"] == [] and result["failed"] == [] and result["uncertain"] == 3
    rows = world.deliveries()
    for number in numbers:
        assert rows[number]["status"] == "uncertain"
        assert str(batch) in rows[number]["error"] and "--confirm" in rows[number]["error"]
    assert _batches(world) == [batch]  # not printed again on its own
    # A person finds them in the file and confirms: sent, nothing printed again.
    world.env["KORTFAKTURA_ACTOR"] = "anna.fakturering"
    confirmed = world.json("deliver", "--confirm", *numbers, "--reason", f"finns i {batch.name}")
    assert len(confirmed["confirmed"]) == 3 and confirmed["delivered"] == []
    assert {row["status"] for row in world.deliveries().values()} == {"sent"}
    assert _batches(world) == [batch]
    audit = world.json("audit", "--object", "faktura")
    confirms = [entry for entry in audit if entry["action"] == "delivery.confirmed"]
    assert len(confirms) == 3 and {entry["actor"] for entry in confirms} == {"anna.fakturering"}


@pytest.mark.skipif(ON_POSTGRES, reason="the SQLite file's write lock; PostgreSQL has none")
def test_watch_survives_a_locked_sqlite_database_and_finishes_the_row(
    make_world: Callable[..., World],
) -> None:
    world = make_world(["peppol", "peppol"])
    numbers = world.issue("03")
    database = world.cwd / "var" / "kortfaktura.sqlite3"
    locker = sqlite3.connect(database, isolation_level=None, timeout=30)
    # Another process writes, for seconds: the service's rounds cannot queue anything.
    locker.execute("BEGIN IMMEDIATE")
    # A short busy timeout, so that the lock makes "database is locked" at once.
    service = _start(world, "deliver", "--watch", "--interval", "1",
                     KORTFAKTURA_SQLITE_TIMEOUT="0.3",
                     KORTFAKTURA_TEST_PAUSE_IN_DELIVER_SEND="1")  # fmt: skip
    said: list[str] = []
    try:
        time.sleep(3)
        locker.execute("ROLLBACK")
        assert service.stderr is not None
        while "testpaus i deliver_send" not in (line := service.stderr.readline()):
            assert line, "the service ended"
            said.append(line)  # a document has been handed over, ``sent`` is not recorded
        # The lock comes back while the outcome is to be recorded, for longer than the
        # retries last: the outcome is kept and recorded in a later round.
        locker.execute("BEGIN IMMEDIATE")
        time.sleep(12)
        locker.execute("ROLLBACK")
        wait_for(lambda: {r["status"] for r in world.deliveries().values()} == {"sent"},
                 what="both documents to be recorded sent")  # fmt: skip
        service.send_signal(signal.SIGTERM)
        out, err = service.communicate(timeout=30)
    finally:
        locker.close()
        if service.poll() is None:
            service.kill()
    err = "".join(said) + err
    assert service.returncode == 0, err
    assert "databasen är upptagen" in " ".join(err.split()), err  # said, one line a round
    assert "Traceback" not in err and "database is locked" not in err + out
    rows = world.deliveries()
    assert sorted(rows) == sorted(numbers)
    assert {(row["status"], row["attempts"]) for row in rows.values()} == {("sent", 1)}
    assert len(world.files()) == 2
    actions = [entry["action"] for entry in world.json("audit", "--object", "faktura")]
    assert actions.count("delivery.sent") == 2 and "delivery.uncertain" not in actions


def test_watch_never_shows_a_password(make_world: Callable[..., World]) -> None:
    world = make_world(["email"])
    world.issue("03")
    # An inbox address with a password: refused before the service starts, masked.
    inbox = "sftp://gits:pa/ss-SECRET1@127.0.0.1:1/in"
    service = _start(world, "deliver", "--watch", "--interval", "1",
                     KORTFAKTURA_PEPPOL_INBOX=inbox)  # fmt: skip
    try:
        out, err = service.communicate(timeout=8)
    except subprocess.TimeoutExpired:  # a service that goes on, printing every round
        service.send_signal(signal.SIGTERM)
        out, err = service.communicate(timeout=30)
    assert "SECRET" not in out + err
    assert service.returncode == 1 and "KORTFAKTURA_PEPPOL_INBOX" in err and "***" in err
    # An e-mail server that refuses the login: said every round it is tried, never the password.
    box, login = Mailbox(), Login("gits", "något annat")
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), auth_required=True,
                            auth_require_tls=False, authenticator=login)  # fmt: skip
    controller.start()
    try:
        smtp = f"smtp://gits:p@ss/-SECRET2@127.0.0.1:{controller.port}"
        service = _start(world, "deliver", "--watch", "--interval", "1",
                         KORTFAKTURA_SMTP_URL=smtp)  # fmt: skip
        wait_for(lambda: bool(login.tries), what="a login")
        time.sleep(2.5)
        service.send_signal(signal.SIGTERM)
        out, err = service.communicate(timeout=30)
    finally:
        controller.stop()
        if service.poll() is None:
            service.kill()
    assert login.tries[0] == ("gits", "p@ss/-SECRET2")
    assert "godtog inte inloggningen" in out
    shown = out + err + world.cli("audit", "--json").stdout + world.cli("delivery", "list").stdout
    assert "SECRET" not in shown


def _cut_connections(world: World) -> int:
    """Ends every session on the world's PostgreSQL database, as a restarted server or a
    failed-over network does."""
    url = world.env["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        ).fetchall()
    return len(rows)


@pytest.mark.skipif(not ON_POSTGRES, reason="a lost connection to PostgreSQL")
def test_watch_survives_a_lost_postgresql_connection(make_world: Callable[..., World]) -> None:
    world = make_world(["peppol", "peppol"])
    numbers = world.issue("03")
    service = _start(world, "deliver", "--watch", "--interval", "1",
                     KORTFAKTURA_TEST_PAUSE_IN_DELIVER_SEND="1")  # fmt: skip
    said: list[str] = []
    try:
        assert service.stderr is not None
        while "testpaus i deliver_send" not in (line := service.stderr.readline()):
            assert line, "the service ended"
            said.append(line)
        # Handed over, not yet recorded: the connection goes.
        assert _cut_connections(world) >= 1
        wait_for(lambda: {r["status"] for r in world.deliveries().values()} == {"sent"},
                 what="both documents to be recorded sent")  # fmt: skip
        # Between rounds: the next round meets a dead connection, says so, and goes on.
        _cut_connections(world)
        time.sleep(2.5)
        later = world.issue("04")
        wait_for(lambda: all(world.deliveries()[n]["status"] == "sent" for n in later),
                 what="documents issued afterwards to be delivered")  # fmt: skip
        service.send_signal(signal.SIGTERM)
        out, err = service.communicate(timeout=30)
    finally:
        if service.poll() is None:
            service.kill()
    err = "".join(said) + err
    assert service.returncode == 0, err
    assert "Traceback" not in err + out
    rows = world.deliveries()
    assert sorted(rows) == sorted(numbers + later)
    assert {(row["status"], row["attempts"]) for row in rows.values()} == {("sent", 1)}
    assert len(world.files()) == 4
