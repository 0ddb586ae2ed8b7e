"""The three ways a document reaches its recipient, behind one interface (like the renderers).

Where a document goes is decided from its buyer snapshot (``invoice.buyer``, taken when it was
issued), never from the account as it is today, so that a delivery can never reach someone who
was not the document's buyer (R20). Internal charges and credits are never sent through Peppol.
"""

import datetime as dt
import email.policy
import io
import json
import re
import smtplib
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import unquote, urlsplit

import typst
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from kortfaktura import swedish
from kortfaktura.billing.models import CREDIT_KINDS, INTERNAL_KINDS, Invoice
from kortfaktura.delivery import sbdh
from kortfaktura.delivery.models import Channel, Delivery
from kortfaktura.delivery.transport import (
    TransportError,
    check_url,
    open_outbox,
    redact,
    split_url,
)
from kortfaktura.documents.data import DocumentData, documents_for
from kortfaktura.documents.models import IssuedDocument
from kortfaktura.documents.pdf import FONT_DIRS, PdfRenderer
from kortfaktura.documents.services import os_reason, write_atomically
from kortfaktura.documents.spreadsheet import XlsxRenderer

SMTP_TIMEOUT = 30  # seconds


class MissingSetting(Exception):
    """A channel needs a setting that is empty or cannot work; the message names the variable
    (Swedish). Raised before anything is sent, so a typo never fails documents one by one."""

    def __init__(self, variable: str, channel: str, problem: str = "") -> None:
        super().__init__(
            problem
            or f"{variable} är inte satt – den behövs för leverans via {channel} "
            f"(se docs/operations.md, Inställningar)"
        )
        self.variable = variable


@dataclass(frozen=True)
class Route:
    channel: str
    recipient: str


def route(invoice: Invoice) -> Route:
    """The channel and recipient of a document, from its buyer snapshot."""
    buyer = invoice.buyer or {}
    endpoint = (
        f"{buyer['peppol_scheme']}:{buyer['peppol_id']}"
        if buyer.get("peppol_scheme") and buyer.get("peppol_id")
        else ""
    )
    email = str(buyer.get("email") or "").strip()
    wanted = buyer.get("delivery") or ("peppol" if endpoint else "email" if email else "print")
    internal = invoice.kind in INTERNAL_KINDS or bool(buyer.get("internal"))
    if wanted == Channel.PEPPOL and endpoint and not internal:
        return Route(Channel.PEPPOL, endpoint)
    if wanted in (Channel.PEPPOL, Channel.EMAIL) and email:
        return Route(Channel.EMAIL, email)
    return Route(Channel.PRINT, postal_address(buyer))


def postal_address(buyer: dict[str, object]) -> str:
    name = str(buyer.get("name") or "")
    account = str(buyer.get("account_name") or "")
    lines = [name]
    if account and account != name:
        lines.append(account)
    lines += [
        str(buyer.get("street") or ""),
        f"{buyer.get('postal_code') or ''} {buyer.get('city') or ''}".strip(),
    ]
    return "\n".join(line for line in lines if line)


class Sender(Protocol):
    channel: str

    def check(self) -> None:
        """Raises ``MissingSetting`` when the channel cannot be used."""

    def send(self, delivery: Delivery) -> None:
        """Hands one document over; raises ``TransportError``. Records ids on ``delivery``."""


def _document(invoice: Invoice) -> DocumentData:
    return documents_for([invoice])[0]


class PeppolSender:
    channel: str = Channel.PEPPOL

    def check(self) -> None:
        if not settings.PEPPOL_OUTBOX:
            raise MissingSetting("KORTFAKTURA_PEPPOL_OUTBOX", "Peppol")
        try:
            check_url(settings.PEPPOL_OUTBOX, "KORTFAKTURA_PEPPOL_OUTBOX")
        except TransportError as error:
            raise MissingSetting("KORTFAKTURA_PEPPOL_OUTBOX", "Peppol", error.message) from None

    def envelope(self, delivery: Delivery) -> bytes:
        invoice = delivery.invoice
        if invoice.kind in INTERNAL_KINDS:
            raise TransportError("en intern debitering skickas aldrig via Peppol", transient=False)
        try:
            ubl = IssuedDocument.objects.get(invoice=invoice).unpacked()
        except IssuedDocument.DoesNotExist:
            raise TransportError(
                f"faktura {invoice.number} har inget lagrat Peppol-dokument från utfärdandet",
                transient=False,
            ) from None
        assert delivery.instance_id is not None
        document: Literal["invoice", "credit_note"] = (
            "credit_note" if invoice.kind in CREDIT_KINDS else "invoice"
        )
        # The envelope is the same bytes every time for a row (its creation time is the row's),
        # so a hand-over repeated after a crash is a no-op in the outbox.
        return sbdh.wrap(
            ubl,
            sender=settings.PEPPOL_SENDER,
            receiver=delivery.recipient,
            document=document,
            instance_id=str(delivery.instance_id),
            created=delivery.created_at.astimezone(dt.UTC).replace(microsecond=0),
        )

    def send(self, delivery: Delivery) -> None:
        content = self.envelope(delivery)
        outbox = open_outbox(settings.PEPPOL_OUTBOX, settings.SSH_KEY)
        outbox.put(f"{delivery.instance_id}.xml", content)


def _order_months(document: DocumentData) -> str:
    months = sorted({line.order_month for line in document.lines})
    return ", ".join(f"{month:%Y-%m}" for month in months)


def mail_text(document: DocumentData) -> tuple[str, str]:
    """Subject and body of the e-mail of a document, in Swedish."""
    seller = document.seller
    label = document.type_label
    subject = f"{label} {document.number} från {seller.get('name', '')}".strip()
    lines = [
        "Hej,",
        "",
        f"Här kommer {label.lower()} {document.number} från {seller.get('name', '')} "
        f"({document.title}).",
        "",
        f"{label}snummer: {document.number}",
        f"Belopp: {swedish.money(document.payable)}",
    ]
    if document.is_internal:
        lines.append("Intern debitering: ingen betalning, bokförs på kostnadsstället.")
    elif document.is_credit_note:
        lines.append(f"Krediterar faktura {document.credited_number}.")
    else:
        lines += [
            f"Förfallodatum: {document.due_date.isoformat()}",
            f"OCR: {document.ocr}",
            f"Bankgiro: {seller.get('bankgiro', '')}",
        ]
    lines += [
        f"Beställningsmånader: {_order_months(document)}",
        "",
        "Fakturan och specifikationen över beställda kort finns i bilagorna (PDF och Excel).",
        "",
        "Med vänlig hälsning",
        f"{seller.get('name', '')} {seller.get('department', '')}".strip(),
        str(seller.get("email", "")),
    ]
    return subject, "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SmtpServer:
    scheme: str
    host: str
    port: int
    user: str
    password: str


def smtp_server(url: str) -> SmtpServer:
    parts = split_url(url)
    scheme = parts.scheme.lower()
    defaults = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
    if scheme not in defaults or not parts.hostname:
        raise TransportError(
            f"KORTFAKTURA_SMTP_URL={redact(url)!r} går inte att använda – ange t.ex. "
            "smtp://värd:25, smtp+starttls://användare:lösenord@värd:587, smtps://värd:465 "
            "eller file:///katalog (meddelandena som filer, ingen server)",
            transient=False,
        )
    try:
        port = parts.port or defaults[scheme]
    except ValueError:
        raise TransportError(
            f"KORTFAKTURA_SMTP_URL har en ogiltig port: {redact(url)!r}", False
        ) from None
    return SmtpServer(
        scheme, parts.hostname, port, unquote(parts.username or ""), unquote(parts.password or "")
    )


def _smtp_reason(server: SmtpServer, error: Exception) -> TransportError:
    where = f"{server.host}:{server.port}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        details = "; ".join(
            f"{address}: {code} {message.decode(errors='replace')}"
            for address, (code, message) in error.recipients.items()
        )
        permanent = all(code >= 500 for code, _ in error.recipients.values())
        return TransportError(f"e-postservern {where} tog inte emot mottagaren ({details})",
                              transient=not permanent)  # fmt: skip
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return TransportError(f"e-postservern {where} godtog inte inloggningen", False)
    if isinstance(error, smtplib.SMTPResponseException):
        message = error.smtp_error.decode(errors="replace") if isinstance(
            error.smtp_error, bytes) else str(error.smtp_error)  # fmt: skip
        return TransportError(
            f"e-postservern {where} svarade {error.smtp_code} {message}",
            transient=error.smtp_code < 500,
        )
    if isinstance(error, ConnectionRefusedError):
        return TransportError(f"e-postservern {where} vägrade anslutningen")
    if isinstance(error, smtplib.SMTPServerDisconnected | ConnectionError):
        return TransportError(f"e-postservern {where} bröt anslutningen")
    if isinstance(error, TimeoutError):
        return TransportError(f"e-postservern {where} svarade inte inom {SMTP_TIMEOUT} s")
    if isinstance(error, ssl.SSLError):
        return TransportError(f"TLS mot e-postservern {where} misslyckades: {error}")
    if isinstance(error, OSError):
        return TransportError(f"e-postservern {where} gick inte att nå: {os_reason(error)}")
    return TransportError(f"e-posten till {where} misslyckades: {error}")


class EmailSender:
    channel: str = Channel.EMAIL

    def check(self) -> None:
        if not settings.SMTP_URL:
            raise MissingSetting("KORTFAKTURA_SMTP_URL", "e-post")
        if not settings.MAIL_FROM:
            raise MissingSetting("KORTFAKTURA_MAIL_FROM", "e-post")
        try:
            validate_email(settings.MAIL_FROM)
        except ValidationError:
            raise MissingSetting(
                "KORTFAKTURA_MAIL_FROM", "e-post",
                f"KORTFAKTURA_MAIL_FROM={settings.MAIL_FROM!r} är ingen e-postadress – ange "
                "avsändaren, t.ex. gits-fakturor@vgregion.se",
            ) from None  # fmt: skip
        if not settings.SMTP_URL.lower().startswith("file:"):
            try:
                smtp_server(settings.SMTP_URL)
            except (TransportError, ValueError) as error:
                message = error.message if isinstance(error, TransportError) else (
                    f"KORTFAKTURA_SMTP_URL={redact(settings.SMTP_URL)!r} går inte att tolka – "
                    "ange t.ex. smtp+starttls://användare:lösenord@värd:587"
                )  # fmt: skip
                raise MissingSetting("KORTFAKTURA_SMTP_URL", "e-post", message) from None

    def message(self, delivery: Delivery) -> EmailMessage:
        document = _document(delivery.invoice)
        subject, body = mail_text(document)
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = settings.MAIL_FROM
        message["To"] = delivery.recipient
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = delivery.message_id
        message.set_content(body)
        stem = f"{document.type_label.lower().replace(' ', '-')}-{document.number}"
        message.add_attachment(
            PdfRenderer().render(document), maintype="application", subtype="pdf",
            filename=f"{stem}.pdf",
        )  # fmt: skip
        message.add_attachment(
            XlsxRenderer().render(document), maintype="application",
            subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename=f"{stem}-specifikation.xlsx",
        )  # fmt: skip
        return message

    def send(self, delivery: Delivery) -> None:
        if urlsplit(settings.SMTP_URL).scheme.lower() == "file":
            write_message_file(settings.SMTP_URL, self.message(delivery))
            return
        server = smtp_server(settings.SMTP_URL)
        message = self.message(delivery)
        client: smtplib.SMTP | None = None
        try:
            if server.scheme == "smtps":
                client = smtplib.SMTP_SSL(
                    server.host, server.port, timeout=SMTP_TIMEOUT,
                    context=ssl.create_default_context(),
                )  # fmt: skip
            else:
                client = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT)
            if server.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if server.user:
                client.login(server.user, server.password)
            client.send_message(
                message, from_addr=settings.MAIL_FROM, to_addrs=[delivery.recipient]
            )
        except (smtplib.SMTPException, OSError) as error:
            if client is not None:
                client.close()
            raise _smtp_reason(server, error) from None
        # The server answered 250 to DATA: it has taken responsibility for the message
        # (RFC 5321, 4.1.1.4), so it is sent. What QUIT answers (421, 500, a dropped line)
        # changes nothing; treating it as a failure would send the same message again.
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            client.close()


def message_file_name(message_id: str) -> str:
    """``<1.2.kortfaktura@host>`` → ``1.2.kortfaktura@host.eml``: a plain file name."""
    name = re.sub(r"[^A-Za-z0-9.@_+-]", "_", message_id.strip().strip("<>")).lstrip(".")
    if not name:
        raise TransportError("e-postmeddelandet saknar Message-ID", transient=False)
    return f"{name}.eml"


def write_message_file(url: str, message: EmailMessage) -> Path:
    """``KORTFAKTURA_SMTP_URL=file:///dir``: the message as an RFC 5322 file (CRLF line ends,
    the bytes an SMTP server would receive) named after its Message-ID, written atomically
    (temporary name, then rename). For the demo and for trying things out without a server."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.netloc not in ("", "localhost") or not path.startswith("/"):
        raise TransportError(
            f"KORTFAKTURA_SMTP_URL={redact(url)!r}: ange en absolut katalog, t.ex. "
            "file:///srv/epost",
            transient=False,
        )
    directory = Path(path)
    target = directory / message_file_name(str(message["Message-ID"] or ""))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomically(target, message.as_bytes(policy=email.policy.SMTP))
    except OSError as error:
        raise TransportError(f"kunde inte skriva {target}: {os_reason(error)}") from None
    return target


def new_message_id() -> str:
    domain = (settings.MAIL_FROM.rpartition("@")[2] or "kortfaktura.local").strip(">")
    return make_msgid("kortfaktura", domain=domain)


@dataclass
class PrintBatch:
    path: Path
    deliveries: list[Delivery]


class PrintSender:
    channel: str = Channel.PRINT

    def check(self) -> None:
        if not settings.PRINT_DIR:
            raise MissingSetting("KORTFAKTURA_PRINT_DIR", "utskrift")
        if not Path(settings.PRINT_DIR).is_absolute():
            raise MissingSetting(
                "KORTFAKTURA_PRINT_DIR", "utskrift",
                f"KORTFAKTURA_PRINT_DIR={settings.PRINT_DIR!r} ska vara en absolut sökväg till "
                "en katalog, t.ex. /srv/kortfaktura/utskrift",
            )  # fmt: skip

    def send(self, delivery: Delivery) -> None:
        self.send_batch([delivery], title=f"faktura {delivery.invoice.number}")

    def send_batch(self, deliveries: list[Delivery], *, title: str) -> Path:
        """One PDF: a cover page listing what to post to whom, then every document."""
        from pypdf import PdfReader, PdfWriter

        directory = Path(settings.PRINT_DIR)
        invoices = [delivery.invoice for delivery in deliveries]
        documents = documents_for(invoices)  # in the order of ``invoices``
        rendered = [PdfRenderer().render(document) for document in documents]
        readers = [PdfReader(io.BytesIO(pdf)) for pdf in rendered]
        now = dt.datetime.now(dt.UTC).astimezone()
        rows = [
            {
                "number": str(delivery.invoice.number),
                "type": document.type_label,
                "recipient": delivery.recipient,
                "pages": str(len(reader.pages)),
            }
            for delivery, document, reader in zip(deliveries, documents, readers, strict=True)
        ]
        cover = _cover_pdf(
            {
                "title": title,
                "created": now.strftime("%Y-%m-%d %H:%M"),
                "count": len(rows),
                "rows": rows,
            }
        )
        writer = PdfWriter()
        for reader in [PdfReader(io.BytesIO(cover)), *readers]:
            for page in reader.pages:
                writer.add_page(page)
        buffer = io.BytesIO()
        writer.write(buffer)
        slug = title.replace(" ", "-").replace("–", "-")
        path = directory / f"utskrift-{slug}-{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}.pdf"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            write_atomically(path, buffer.getvalue())
        except OSError as error:
            raise TransportError(f"kunde inte skriva {path}: {os_reason(error)}") from None
        return path


def _cover_pdf(data: dict[str, object]) -> bytes:
    template = Path(__file__).parent / "templates" / "cover.typ"
    pdf = typst.compile(
        str(template),
        font_paths=[str(directory) for directory in FONT_DIRS],
        ignore_system_fonts=True,
        sys_inputs={"data": json.dumps(data, ensure_ascii=False)},
    )
    assert isinstance(pdf, bytes)
    return pdf


SENDERS: dict[str, Callable[[], Sender]] = {
    "peppol": PeppolSender,
    "email": EmailSender,
    "print": PrintSender,
}
