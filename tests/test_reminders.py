"""Reminders of overdue invoices (R23) through ``kortfaktura remind`` on the real database, with
a real SMTP server (aiosmtpd on 127.0.0.1) and a real print folder: who gets one and who does
not, the e-mail and its PDF, never twice, the next step, and a server that refuses."""

import datetime as dt
import email
import email.policy
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader

import factories as make
from kortfaktura.audit import chain
from kortfaktura.audit.models import AuditRecord
from kortfaktura.billing import services
from kortfaktura.billing.models import Invoice
from kortfaktura.customers.models import BillingAccount, Customer
from kortfaktura.delivery.models import Delivery
from kortfaktura.imports.services import import_file
from kortfaktura.payments.models import Reminder
from kortfaktura.payments.services import import_content
from payment_files import simple_bgmax
from processes import free_port

pytestmark = pytest.mark.django_db
Cli = Callable[..., tuple[int, str, str]]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((sorted(envelope.rcpt_tos), message))
        return "250 OK"


@contextmanager
def serving(box: Mailbox, settings: Any) -> Iterator[None]:
    """A real SMTP server on 127.0.0.1 with ``box`` as its handler, and the settings to reach it."""
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.SMTP_URL = f"smtp://127.0.0.1:{controller.port}"
    settings.MAIL_FROM = "gits-fakturor@vgregion.example"
    try:
        yield
    finally:
        controller.stop()


@pytest.fixture
def mailbox(settings: Any, tmp_path: Path) -> Iterator[Mailbox]:
    box = Mailbox()
    settings.PRINT_DIR = str(tmp_path / "utskrift")
    with serving(box, settings):
        yield box


@pytest.fixture
def invoices(kommun: Customer, etk: make.Product) -> list[Invoice]:
    """Four invoices issued today, due in 30 days: Vårgårda (e-mail), Borås (print), Alingsås
    (disputed by its buyer) and Lerum (an order change waits for a decision)."""
    BillingAccount.objects.filter(customer=kommun).update(email="ekonomi@vargarda.example")
    make.order(kommun, "2020-03-10", etk)
    for name, number in (("Borås Stad", "2120002353"), ("Alingsås kommun", "2120001504"),
                         ("Lerum kommun", "2120001488")):  # fmt: skip
        other = make.customer(name, number=number)
        make.account(other, name[:3].upper(), peppol="")
        make.order(other, "2020-03-11", etk, order_id=f"{name[:3].upper()}-1")
    run = services.create_run(dt.date(2020, 3, 1), dt.date(2020, 3, 31)).run
    assert run.pk is not None
    issued = list(services.issue_run(run.pk).invoices.order_by("number"))
    assert len(issued) == 4
    return issued


def remind(cli: Cli, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = cli("remind", *args, "--json")
    assert "Traceback" not in out + err
    return code, json.loads(out)


def test_who_gets_a_reminder_and_who_does_not_and_never_twice(
    invoices: list[Invoice], mailbox: Mailbox, cli: Cli, tmp_path: Path
) -> None:
    named = {invoice.customer.name.split()[0]: invoice for invoice in invoices}
    vargarda, boras = named["Vårgårda"], named["Borås"]
    alingsas, lerum = named["Alingsås"], named["Lerum"]
    assert vargarda.due_date is not None
    # Alingsås's buyer rejected the invoice (Invoice Response); Lerum has a change waiting.
    Delivery.objects.create(invoice=alingsas, channel="print", status="rejected",
                            response_status="rejected")  # fmt: skip
    moved = tmp_path / "flytt.csv"
    moved.write_text("order_id;ordered_at;orgnr;product_code\nLER-1;2020-03-11;2120002353;ETK\n",
                     encoding="utf-8")  # fmt: skip
    import_file("orders", moved)
    from kortfaktura.orders.models import OrderChange

    assert OrderChange.objects.filter(status="pending", order__order_id="LER-1").exists()
    # Borås has paid part of its invoice.
    import_content(simple_bgmax([(boras.ocr, "100.00", 1)], day="2026-12-20"), "b.txt")

    early = (vargarda.due_date + dt.timedelta(days=9)).isoformat()
    code, result = remind(cli, "--at", early)
    assert code == 0 and result["reminders"] == [] and result["skipped"] == []

    day = vargarda.due_date + dt.timedelta(days=10)
    code, planned = remind(cli, "--at", day.isoformat(), "--dry-run")
    assert sorted(r["number"] for r in planned["reminders"]) == sorted(
        [str(vargarda.number), str(boras.number)]
    )
    assert not Reminder.objects.exists() and mailbox.messages == []
    assert planned["warnings"] == []

    code, result = remind(cli, "--at", day.isoformat())
    assert code == 0, result
    new_due = (day + dt.timedelta(days=10)).isoformat()
    assert [(r["number"], r["channel"], r["open"], r["due_date"], r["step"], r["status"])
            for r in sorted(result["reminders"], key=lambda r: r["number"])] == sorted([
        (str(vargarda.number), "email", f"{vargarda.payable:.2f}", new_due, 1, "sent"),
        (str(boras.number), "print", f"{boras.payable - Decimal('100'):.2f}", new_due, 1, "sent"),
    ])  # fmt: skip
    assert {(s["number"], s["reason"].split()[0]) for s in result["skipped"]} == {
        (str(alingsas.number), "köparen"), (str(lerum.number), "en"),
    }  # fmt: skip
    # The e-mail: to the account's address, in Swedish, with the PDF.
    [(to, message)] = mailbox.messages
    assert to == ["ekonomi@vargarda.example"]
    assert message["Subject"].startswith(f"Påminnelse: faktura {vargarda.number}")
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert vargarda.ocr in body and "123-4566" in body and new_due in body
    [attachment] = list(message.iter_attachments())
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(_bytes_io(pdf)).pages)
    assert "Påminnelse" in text and vargarda.ocr in text and new_due in text
    # Borås on paper: a PDF in the print folder, with what is still open.
    [printed] = list((tmp_path / "utskrift").glob("paminnelse-*.pdf"))
    assert str(boras.number) in printed.name
    paper = " ".join(p.extract_text() for p in PdfReader(printed).pages)
    assert "338,00" in paper.replace("\xa0", " ")
    assert AuditRecord.objects.filter(action="reminder.sent").count() == 2

    # Never twice: the same day again, and the next day, send nothing new.
    for again in (day, day + dt.timedelta(days=1)):
        code, result = remind(cli, "--at", again.isoformat())
        assert code == 0 and result["reminders"] == []
    assert len(mailbox.messages) == 1 and Reminder.objects.count() == 2


def test_a_second_step_follows_the_first_reminders_due_date(
    invoices: list[Invoice], mailbox: Mailbox, cli: Cli, settings: Any
) -> None:
    settings.REMINDER_STEPS = 2
    vargarda = invoices[0]
    assert vargarda.due_date is not None
    first_day = vargarda.due_date + dt.timedelta(days=10)
    remind(cli, "--at", first_day.isoformat())
    first = Reminder.objects.get(invoice=vargarda)
    _, result = remind(cli, "--at", (first.due_date + dt.timedelta(days=9)).isoformat())
    assert str(vargarda.number) not in [r["number"] for r in result["reminders"]]
    second_day = first.due_date + dt.timedelta(days=10)
    _, result = remind(cli, "--at", second_day.isoformat())
    mine = [r for r in result["reminders"] if r["number"] == str(vargarda.number)]
    assert [(r["step"], r["status"]) for r in mine] == [(2, "sent")]
    # Paid in full meanwhile: no third step (and there is none with two steps anyway).
    assert Reminder.objects.filter(invoice=vargarda).count() == 2


def test_a_refusing_server_fails_the_reminder_says_so_and_it_is_sent_later(
    invoices: list[Invoice], mailbox: Mailbox, cli: Cli, settings: Any
) -> None:
    vargarda = invoices[0]
    assert vargarda.due_date is not None
    day = (vargarda.due_date + dt.timedelta(days=10)).isoformat()
    working = settings.SMTP_URL
    settings.SMTP_URL = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    code, out, err = cli("remind", "--at", day)
    assert code == 1 and "skickades inte" in err and "Traceback" not in out + err
    assert Reminder.objects.get(invoice=vargarda).status == "failed"
    settings.SMTP_URL = working
    code, result = remind(cli, "--at", day)
    mine = [r for r in result["reminders"] if r["number"] == str(vargarda.number)]
    assert code == 0 and [r["status"] for r in mine] == ["sent"]
    assert len(mailbox.messages) == 1


def test_a_failed_reminder_of_an_invoice_paid_meanwhile_is_not_sent(
    invoices: list[Invoice], mailbox: Mailbox, cli: Cli, settings: Any
) -> None:
    vargarda = invoices[0]
    assert vargarda.due_date is not None
    day = (vargarda.due_date + dt.timedelta(days=10)).isoformat()
    working = settings.SMTP_URL
    settings.SMTP_URL = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    assert cli("remind", "--at", day)[0] == 1
    settings.SMTP_URL = working
    paid = simple_bgmax([(vargarda.ocr, f"{vargarda.payable:.2f}", 7)], day="2026-12-20")
    import_content(paid, "betalt.txt")
    code, result = remind(cli, "--at", day)
    assert code == 0 and str(vargarda.number) not in [r["number"] for r in result["reminders"]]
    assert mailbox.messages == [] and Reminder.objects.get(invoice=vargarda).status == "failed"


def _bytes_io(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def test_the_invoice_page_shows_its_reminders(
    invoices: list[Invoice], mailbox: Mailbox, cli: Cli
) -> None:
    from django.test import Client

    import webtools

    vargarda = invoices[0] if invoices[0].customer.name.startswith("Vår") else invoices[1]
    assert vargarda.due_date is not None
    remind(cli, "--at", (vargarda.due_date + dt.timedelta(days=10)).isoformat())
    staff = Client()
    staff.force_login(webtools.user("ekonomi"))
    page = " ".join(staff.get(f"/fakturor/{vargarda.number}/").content.decode().split())
    assert "Påminnelse 1" in page and "e-post till ekonomi@vargarda.example" in page
    kund = Client()
    kund.force_login(webtools.user("kund", vargarda.customer.orgnr))
    own = " ".join(kund.get(f"/fakturor/{vargarda.number}/").content.decode().split())
    assert "Påminnelse 1" in own and "ekonomi@vargarda.example" not in own


class CountingMailbox(Mailbox):
    """Counts connections (EHLO/HELO) and refuses the recipients named in ``refuse``."""

    def __init__(self, refuse: set[str]) -> None:
        super().__init__()
        self.refuse = refuse
        self.connections = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def overdue_by_mail(kommun: Customer, etk: make.Product) -> list[Invoice]:
    """Seven invoices to seven customers, each with its own e-mail address."""
    customers = [kommun]
    for index in range(6):
        customers.append(make.customer(f"Kund {index}", number=make.orgnr()))
    for index, customer in enumerate(customers):
        if customer != kommun:
            make.account(customer, f"K{index}", peppol="")
        BillingAccount.objects.filter(customer=customer).update(
            email=f"ekonomi-{index}@kund.example"
        )
        make.order(customer, "2020-03-10", etk, order_id=f"K-{index}")
    run = services.create_run(dt.date(2020, 3, 1), dt.date(2020, 3, 31)).run
    assert run.pk is not None
    return list(services.issue_run(run.pk).invoices.order_by("number"))


def test_many_reminders_are_composed_by_worker_processes_and_sent_over_one_connection(
    overdue_by_mail: list[Invoice], settings: Any, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    from kortfaktura.payments import reminders

    monkeypatch.setattr(reminders, "PARALLEL_FROM", 2)
    monkeypatch.setattr(reminders, "CHUNK", 3)
    settings.DOCUMENT_WORKERS = 2
    box = CountingMailbox(refuse={"ekonomi-3@kund.example"})
    with serving(box, settings):
        due = overdue_by_mail[0].due_date
        assert due is not None
        code, result = remind(cli, "--at", (due + dt.timedelta(days=10)).isoformat())
    assert code == 1  # one was refused
    statuses = {r["number"]: r["status"] for r in result["reminders"]}
    assert sorted(statuses.values()) == ["failed"] + ["sent"] * 6
    # Each sent reminder once, to its own customer, named by the Message-ID it was sent with.
    received = {str(message["Message-ID"]): (to, message) for to, message in box.messages}
    assert len(box.messages) == len(received) == 6
    for reminder in Reminder.objects.select_related("invoice").filter(status="sent"):
        to, message = received[reminder.reference]
        assert to == [reminder.recipient]
        assert message["Subject"].startswith(f"Påminnelse: faktura {reminder.invoice.number}")
    refused = Reminder.objects.get(status="failed")
    assert refused.recipient == "ekonomi-3@kund.example" and "550" in refused.error
    # The refusal did not cost the connection: one for the whole run.
    assert box.connections == 1
    assert AuditRecord.objects.filter(action="reminder.sent").count() == 6
    # Recorded many at a time, the audit trail's chain still holds.
    chain.flush_pending_links()
    verified = chain.verify()
    assert verified.broken == [] and verified.length == AuditRecord.objects.count()


def test_a_dropped_connection_mid_run_is_opened_again_for_the_next_reminders(
    overdue_by_mail: list[Invoice], settings: Any, cli: Cli
) -> None:
    class Dropping(CountingMailbox):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            if "ekonomi-2@kund.example" in envelope.rcpt_tos:
                return "421 4.3.2 closing"  # a temporary refusal that ends the connection
            return await super().handle_DATA(server, session, envelope)

    box = Dropping(refuse=set())
    with serving(box, settings):
        due = overdue_by_mail[0].due_date
        assert due is not None
        code, result = remind(cli, "--at", (due + dt.timedelta(days=10)).isoformat())
    assert code == 1
    assert sorted(r["status"] for r in result["reminders"]) == ["failed"] + ["sent"] * 6
    assert len(box.messages) == 6


def test_a_reminder_left_sending_by_a_dead_process_is_never_sent_twice(
    invoices: list[Invoice], mailbox: Mailbox, cli: Cli, tmp_path: Path
) -> None:
    named = {invoice.customer.name.split()[0]: invoice for invoice in invoices}
    vargarda, boras = named["Vårgårda"], named["Borås"]
    assert vargarda.due_date is not None
    day = vargarda.due_date + dt.timedelta(days=10)
    code, result = remind(cli, "--at", day.isoformat(), "--dry-run")
    # A process claimed both and died: the e-mail may have left, the print file was written.
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    for invoice, channel in ((vargarda, "email"), (boras, "print")):
        Reminder.objects.create(
            invoice=invoice, step=1, reminded_on=day, open_amount=invoice.payable,
            due_date=day + dt.timedelta(days=10), channel=channel, status="sending",
            recipient="ekonomi@vargarda.example" if channel == "email" else "Borås",
            created_by="test",
        )  # fmt: skip
    Reminder.objects.update(updated_at=long_ago)
    folder = tmp_path / "utskrift"
    folder.mkdir()
    (folder / f"paminnelse-{boras.number}-1.pdf").write_bytes(b"%PDF-1.7 written whole")
    code, result = remind(cli, "--at", day.isoformat())
    reminded = {r["number"]: r["status"] for r in result["reminders"]}
    # Said in this run's result (so Ekonomi is told of the uncertain one), sent by nobody.
    assert code == 0 and reminded[str(vargarda.number)] == "uncertain"
    assert reminded[str(boras.number)] == "sent"
    assert Reminder.objects.get(invoice=vargarda).status == "uncertain"
    assert Reminder.objects.get(invoice=boras).status == "sent"
    assert mailbox.messages == []
    assert AuditRecord.objects.filter(action="reminder.uncertain").count() == 1


def test_a_print_reminder_left_sending_without_its_file_is_written_later(
    invoices: list[Invoice], mailbox: Mailbox, cli: Cli, tmp_path: Path
) -> None:
    boras = next(i for i in invoices if i.customer.name.startswith("Borås"))
    assert boras.due_date is not None
    day = boras.due_date + dt.timedelta(days=10)
    Reminder.objects.create(
        invoice=boras, step=1, reminded_on=day, open_amount=boras.payable,
        due_date=day + dt.timedelta(days=10), channel="print", status="sending",
        recipient="Borås", created_by="test",
    )  # fmt: skip
    remind(cli, "--at", day.isoformat())
    # Claimed a moment ago: perhaps by a process still at work, so left alone.
    assert Reminder.objects.get(invoice=boras).status == "sending"
    Reminder.objects.update(updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    _, result = remind(cli, "--at", day.isoformat())
    assert (str(boras.number), "sent") in [(r["number"], r["status"]) for r in result["reminders"]]
    assert (
        (tmp_path / "utskrift" / f"paminnelse-{boras.number}-1.pdf")
        .read_bytes()
        .startswith(b"%PDF")
    )


def test_a_reminder_fee_and_late_interest_where_switched_on_are_shown_never_added(
    invoices: list[Invoice], mailbox: Mailbox, cli: Cli, settings: Any, tmp_path: Path
) -> None:
    settings.REMINDER_FEE = Decimal("60.00")
    settings.LATE_INTEREST = True
    settings.REFERENCE_RATES = ((dt.date.min, Decimal("2.25")),)
    vargarda = next(i for i in invoices if i.customer.name.startswith("Vårgårda"))
    assert vargarda.due_date is not None
    day = vargarda.due_date + dt.timedelta(days=20)
    code, result = remind(cli, "--at", day.isoformat())
    mine = next(r for r in result["reminders"] if r["number"] == str(vargarda.number))
    # Räntelagen: (reference rate + 8) percent a year on the open amount, 20 days of 365.
    expected = (vargarda.payable * Decimal("10.25") / 100 * 20 / 365).quantize(Decimal("0.01"))
    assert (mine["fee"], mine["interest"]) == ("60.00", f"{expected:.2f}")
    assert mine["open"] == f"{vargarda.payable:.2f}"  # the invoice's open amount, nothing added
    [(_, message)] = mailbox.messages
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "påminnelseavgift 60,00 kr" in body and "faktureras separat" in body
    [attachment] = list(message.iter_attachments())
    pdf = " ".join(p.extract_text() for p in PdfReader(_bytes_io(attachment.get_content())).pages)
    pdf = pdf.replace("\xa0", " ")
    assert "Påminnelseavgift" in pdf and "Dröjsmålsränta, 10,25 % per år" in pdf
    assert f"{expected:.2f}".replace(".", ",") in pdf
    # The receivables still owe the invoice's amount only.
    code, out, _ = cli("receivables", "--json", "--at", day.isoformat())
    [item] = [i for i in json.loads(out)["items"] if i["number"] == str(vargarda.number)]
    assert code == 0 and item["open"] == f"{vargarda.payable:.2f}"


@pytest.mark.parametrize(
    "environment, said",
    [
        ({"KORTFAKTURA_REMINDER_FEE": "75"}, "KORTFAKTURA_REMINDER_FEE"),
        ({"KORTFAKTURA_REMINDER_FEE": "sextio"}, "KORTFAKTURA_REMINDER_FEE"),
        ({"KORTFAKTURA_LATE_INTEREST": "1"}, "KORTFAKTURA_REFERENCE_RATE"),
        ({"KORTFAKTURA_LATE_INTEREST": "ja"}, "KORTFAKTURA_LATE_INTEREST"),
        ({"KORTFAKTURA_LATE_INTEREST": "1", "KORTFAKTURA_REFERENCE_RATE": "NaN"},
         "KORTFAKTURA_REFERENCE_RATE"),
        ({"KORTFAKTURA_LATE_INTEREST": "1", "KORTFAKTURA_REFERENCE_RATE": "2026-13-01=2"},
         "KORTFAKTURA_REFERENCE_RATE"),
        ({"KORTFAKTURA_LATE_INTEREST": "1", "KORTFAKTURA_REFERENCE_RATE": "2027-01-01=1_5"},
         "'2027-01-01=1_5'"),
        ({"KORTFAKTURA_LATE_INTEREST": "1", "KORTFAKTURA_REFERENCE_RATE": "1e1"}, "'1e1'"),
        ({"KORTFAKTURA_LATE_INTEREST": "1", "KORTFAKTURA_REFERENCE_RATE": "20270101=2"},
         "'20270101=2'"),
        ({"KORTFAKTURA_LATE_INTEREST": "1", "KORTFAKTURA_REFERENCE_RATE": "2027-W01-1=2"},
         "'2027-W01-1=2'"),
        ({"KORTFAKTURA_REMINDER_DAYS": "tio"}, "KORTFAKTURA_REMINDER_DAYS"),
        ({"KORTFAKTURA_REMINDER_DUE_DAYS": "0"}, "KORTFAKTURA_REMINDER_DUE_DAYS"),
    ],
)  # fmt: skip
def test_a_reminder_setting_that_cannot_work_is_refused_in_swedish(
    environment: dict[str, str], said: str, tmp_path: Path
) -> None:
    import os
    import subprocess

    from processes import SCRIPT

    env = {**os.environ, "KORTFAKTURA_DATA_DIR": str(tmp_path), **environment}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [str(SCRIPT), "remind", "--dry-run"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert said in done.stderr and ("ska vara" in done.stderr or "kräver" in done.stderr)


def test_a_failed_reminder_goes_later_with_that_days_figures_unless_disputed_meanwhile(
    invoices: list[Invoice], mailbox: Mailbox, cli: Cli, settings: Any
) -> None:
    from kortfaktura.payments.services import open_dispute

    named = {invoice.customer.name.split()[0]: invoice for invoice in invoices}
    vargarda, boras = named["Vårgårda"], named["Borås"]
    BillingAccount.objects.filter(customer=boras.customer).update(email="ekonomi@boras.example")
    assert vargarda.due_date is not None
    day = vargarda.due_date + dt.timedelta(days=10)
    working = settings.SMTP_URL
    settings.SMTP_URL = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    assert cli("remind", "--at", day.isoformat())[0] == 1
    mailed = Reminder.objects.filter(invoice__in=[vargarda, boras])
    assert set(mailed.values_list("status", flat=True)) == {"failed"}
    # Meanwhile Vårgårda pays part, and Ekonomi marks Borås's invoice disputed.
    import_content(simple_bgmax([(vargarda.ocr, "100.00", 3)], day="2026-12-20"), "del.txt")
    open_dispute(boras.number, "Kunden bestrider beloppet")
    settings.SMTP_URL = working
    later = day + dt.timedelta(days=14)
    code, result = remind(cli, "--at", later.isoformat())
    assert code == 0
    sent = {r["number"]: r for r in result["reminders"]}
    assert str(boras.number) not in sent
    assert (str(boras.number), "markerad") in [
        (s["number"], s["reason"].split()[0]) for s in result["skipped"]
    ]
    mine = sent[str(vargarda.number)]
    new_due = (later + dt.timedelta(days=10)).isoformat()
    assert (mine["open"], mine["due_date"]) == (f"{vargarda.payable - 100:.2f}", new_due)
    [(to, message)] = mailbox.messages
    assert to == ["ekonomi@vargarda.example"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    open_text = f"{vargarda.payable - 100:.2f}".replace(".", ",")
    assert open_text in body.replace("\xa0", " ") and new_due in body
    [attachment] = list(message.iter_attachments())
    pdf = " ".join(p.extract_text() for p in PdfReader(_bytes_io(attachment.get_content())).pages)
    assert later.isoformat() in pdf and new_due in pdf and open_text in pdf.replace("\xa0", " ")
    stored = Reminder.objects.get(invoice=vargarda)
    assert (stored.reminded_on, stored.open_amount) == (later, vargarda.payable - 100)
    assert Reminder.objects.get(invoice=boras).status == "failed"  # waits, as the dispute does


def test_a_chunk_that_a_slow_server_holds_too_long_leaves_the_rest_for_the_next_run(
    overdue_by_mail: list[Invoice], settings: Any, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    import asyncio

    from kortfaktura.payments import reminders

    class Slow(Mailbox):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            await asyncio.sleep(0.4)
            return await super().handle_DATA(server, session, envelope)

    monkeypatch.setattr(reminders, "CHUNK_DEADLINE", 0.5)
    box = Slow()
    with serving(box, settings):
        due = overdue_by_mail[0].due_date
        assert due is not None
        day = (due + dt.timedelta(days=10)).isoformat()
        code, first = remind(cli, "--at", day)
        statuses = [r["status"] for r in first["reminders"]]
        # Some went before the deadline; the rest were recorded failed, none left sending.
        assert code == 1 and 1 <= statuses.count("sent") < 7 and "sending" not in statuses
        assert not Reminder.objects.filter(status="sending").exists()
        monkeypatch.setattr(reminders, "CHUNK_DEADLINE", 600.0)
        code, _ = remind(cli, "--at", day)
    assert code == 0 and len(box.messages) == 7  # each once
    assert set(Reminder.objects.values_list("status", flat=True)) == {"sent"}


def test_a_dry_run_says_when_a_missing_setting_would_fail_the_reminders(
    invoices: list[Invoice], cli: Cli, settings: Any
) -> None:
    settings.SMTP_URL, settings.PRINT_DIR = "", ""
    vargarda = invoices[0]
    assert vargarda.due_date is not None
    day = (vargarda.due_date + dt.timedelta(days=10)).isoformat()
    code, planned = remind(cli, "--at", day, "--dry-run")
    assert code == 0 and len(planned["warnings"]) == 2
    assert "KORTFAKTURA_SMTP_URL" in planned["warnings"][0]
    assert "KORTFAKTURA_PRINT_DIR" in planned["warnings"][1]
    code, out, _ = cli("remind", "--at", day, "--dry-run")
    assert "Obs:" in out and "KORTFAKTURA_PRINT_DIR behövs" in " ".join(out.split())


def test_late_interest_takes_each_half_years_reference_rate_and_says_which_days_lack_one(
    invoices: list[Invoice], mailbox: Mailbox, cli: Cli, settings: Any
) -> None:
    from kortfaktura.payments.reminders import late_interest

    settings.LATE_INTEREST = True
    day = dt.date
    settings.REFERENCE_RATES = (
        (day(2026, 1, 1), Decimal("2.00")),
        (day(2026, 7, 1), Decimal("1.75")),
    )
    # 20 days of June at 10 %, 10 days of July at 9,75 % (räntelagen 9 §: the half-year's rate).
    rate, interest = late_interest(Decimal("1000.00"), day(2026, 6, 11), day(2026, 7, 11))
    expected = Decimal("1000") * (Decimal("0.10") * 20 + Decimal("0.0975") * 10) / 365
    assert (rate, interest) == (Decimal("9.75"), expected.quantize(Decimal("0.01")))
    # A due date before the first rate given: no guess, the invoice waits and the reason says why.
    vargarda = invoices[0]
    assert vargarda.due_date is not None and vargarda.due_date >= day(2026, 1, 1)
    settings.REFERENCE_RATES = ((vargarda.due_date + dt.timedelta(days=1), Decimal("2.00")),)
    reminded = (vargarda.due_date + dt.timedelta(days=10)).isoformat()
    _, result = remind(cli, "--at", reminded)
    reasons = {s["number"]: s["reason"] for s in result["skipped"]}
    assert "KORTFAKTURA_REFERENCE_RATE" in reasons[str(vargarda.number)]
    assert str(vargarda.number) not in [r["number"] for r in result["reminders"]]


def test_a_dispute_or_payment_that_comes_while_a_run_goes_on_holds_the_later_chunks_reminder(
    overdue_by_mail: list[Invoice], settings: Any, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    from kortfaktura.payments import reminders
    from kortfaktura.payments.services import open_dispute

    monkeypatch.setattr(reminders, "CHUNK", 3)
    box = Mailbox()
    last, before_last = overdue_by_mail[-1], overdue_by_mail[-2]
    recorded = reminders._record_outcomes

    def meanwhile(sent: list[Reminder]) -> None:
        recorded(sent)
        if len(sent) == 3 and not Reminder.objects.filter(invoice=last, status="sent").exists():
            # After the first chunk: Ekonomi marks one disputed, the bank pays part of another.
            open_dispute(last.number, "Kunden ringde under körningen")
            import_content(simple_bgmax([(before_last.ocr, "10.00", 8)], day="2026-12-20"), "m")

    monkeypatch.setattr(reminders, "_record_outcomes", meanwhile)
    with serving(box, settings):
        due = overdue_by_mail[0].due_date
        assert due is not None
        _, result = remind(cli, "--at", (due + dt.timedelta(days=10)).isoformat())
    sent = {r["number"] for r in result["reminders"] if r["status"] == "sent"}
    assert str(last.number) not in sent and str(before_last.number) not in sent
    assert len(sent) == 5 and len(box.messages) == 5
    reasons = {s["number"]: s["reason"] for s in result["skipped"]}
    assert reasons[str(last.number)].startswith("markerad som bestridd")
    assert "under körningen" in reasons[str(before_last.number)]
    # Neither is lost: both wait, queued, for the next run (which holds the disputed one).
    assert set(
        Reminder.objects.filter(invoice__in=[last, before_last]).values_list("status", flat=True)
    ) == {"queued"}


def test_the_rate_said_is_the_one_counted_and_a_rate_holds_no_longer_than_its_half_year(
    settings: Any,
) -> None:
    from kortfaktura.payments.reminders import ReminderError, late_interest

    settings.LATE_INTEREST = True
    day = dt.date
    settings.REFERENCE_RATES = (
        (day(2027, 1, 1), Decimal("1.50")),
        (day(2027, 2, 1), Decimal("1.25")),
    )
    # Reminded on the day the rate changes: every day counted is at the old rate, and says so.
    rate, interest = late_interest(Decimal("688.00"), day(2027, 1, 6), day(2027, 2, 1))
    expected = (Decimal("688") * Decimal("0.095") * 26 / 365).quantize(Decimal("0.01"))
    assert (rate, interest) == (Decimal("9.50"), expected)
    # The first half-year's last rate does not carry over into the next half-year unasked.
    settings.REFERENCE_RATES = ((day(2026, 7, 1), Decimal("1.75")),)
    with pytest.raises(ReminderError, match="2027-01-01"):
        late_interest(Decimal("100.00"), day(2026, 12, 1), day(2027, 3, 1))
    # One rate without a date: the operator's choice for every day.
    settings.REFERENCE_RATES = ((day.min, Decimal("2.00")),)
    assert late_interest(Decimal("365.00"), day(2026, 12, 1), day(2027, 3, 1)) == (
        Decimal("10.00"),
        Decimal("9.00"),
    )
