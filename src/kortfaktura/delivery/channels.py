"""The three ways a document reaches its recipient, behind one interface (like the renderers).

Where a document goes is decided from its buyer snapshot (``invoice.buyer``, taken when it was
issued), never from the account as it is today, so that a delivery can never reach someone who
was not the document's buyer (R20). Internal charges and credits are never sent through Peppol.
"""

import contextlib
import datetime as dt
import email.policy
import io
import json
import os
import re
import smtplib
import ssl
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

import typst
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from lxml import etree

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

from kortfaktura import swedish
from kortfaktura.billing import naming
from kortfaktura.billing.models import CREDIT_KINDS, INTERNAL_KINDS, Invoice
from kortfaktura.delivery import sbdh
from kortfaktura.delivery.models import Channel, Delivery
from kortfaktura.delivery.transport import (
    FileOutbox,
    MaybeSent,
    TransportError,
    check_url,
    open_outbox,
    overlap,
    redact,
    split_url,
)
from kortfaktura.documents import wording
from kortfaktura.documents.data import DocumentData, documents_for
from kortfaktura.documents.models import IssuedDocument
from kortfaktura.documents.pdf import FONT_DIRS, PdfRenderer, RenderError
from kortfaktura.documents.services import (
    ExportError,
    os_reason,
    verified_content,
    write_atomically,
)
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


def label(invoice: Invoice) -> str:
    """``faktura 100001``: how a message names a document."""
    return f"{invoice.get_kind_display()} {invoice.number}"


def stored_documents(invoices: Iterable[Invoice]) -> dict[int, IssuedDocument]:
    """The stored documents of ``invoices`` in one query, by invoice id (a batch of deliveries
    reads them at once instead of one query each)."""
    by_id = {invoice.pk: invoice for invoice in invoices}
    found = {}
    for stored in IssuedDocument.objects.filter(invoice_id__in=list(by_id)):
        stored.invoice = by_id[stored.invoice_id]  # the row in hand: no query for the hash
        found[stored.invoice_id] = stored
    return found


def stored_ubl(
    invoice: Invoice, prefetched: Mapping[int, IssuedDocument] | None = None
) -> bytes | None:
    """The document's UBL as it was stored when it was issued, checked against its hash (the
    check ``invoice export`` makes); None when none was stored (internal charges). Nothing
    leaves for a document whose stored bytes no longer match: ``TransportError`` (not
    transient) naming the document (R20). ``prefetched``: from ``stored_documents``."""
    if prefetched is not None:
        stored = prefetched.get(invoice.pk)
    else:
        stored = IssuedDocument.objects.select_related("invoice").filter(invoice=invoice).first()
    if stored is None:
        return None
    try:
        return verified_content(stored)
    except ExportError as error:
        raise TransportError(f"{label(invoice)} skickas inte: {error}", transient=False) from None
    except Exception:  # bytes that do not even unpack: as much a forgery as a wrong hash
        raise TransportError(
            f"{label(invoice)} skickas inte: det lagrade dokumentet går inte att läsa – det har "
            "ändrats efteråt; se genomlysningen (kortfaktura review) och utred",
            transient=False,
        ) from None


UBL_BUYER_ENDPOINT = (
    "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
    "AccountingCustomerParty/"
    "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}Party/"
    "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}EndpointID"
)


def buyer_endpoint(invoice: Invoice, ubl: bytes) -> str:
    """``scheme:id`` of the buyer's ``cac:AccountingCustomerParty/cac:Party/cbc:EndpointID`` in
    the document itself: the receiver the document names, which a changed snapshot cannot
    redirect (R20)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        endpoint = etree.fromstring(ubl, parser).find(UBL_BUYER_ENDPOINT)
    except etree.XMLSyntaxError:
        endpoint = None
    scheme = "" if endpoint is None else (endpoint.get("schemeID") or "").strip()
    identifier = "" if endpoint is None else (endpoint.text or "").strip()
    if not scheme or not identifier:
        raise TransportError(
            f"{label(invoice)} skickas inte via Peppol: dokumentet anger ingen Peppol-adress för "
            "köparen (cac:AccountingCustomerParty/cac:Party/cbc:EndpointID med schemeID) – "
            "skicka det med e-post eller utskrift (kortfaktura deliver --resend NUMMER "
            "--channel email)",
            transient=False,
        )
    return f"{scheme}:{identifier}"


RELATIONS = {"same": "är samma katalog som", "inside": "ligger inuti", "around": "omsluter"}


def apart_from_peppol(variable: str, url: str, channel: str, shown: str = "") -> None:
    """A folder another channel writes to must be apart from the Peppol outbox and inbox: in the
    outbox the access point would take its files (an e-mail, a print batch) for documents to
    send; in the inbox the receipt reading would move them to ``quarantine/``."""
    for other_variable, other in (
        ("KORTFAKTURA_PEPPOL_OUTBOX", settings.PEPPOL_OUTBOX),
        ("KORTFAKTURA_PEPPOL_INBOX", settings.PEPPOL_INBOX),
    ):
        if not other:
            continue
        try:
            check_url(other, other_variable)
        except TransportError:
            continue  # said by that setting's own check
        relation = overlap(url, other)
        if relation:
            raise MissingSetting(
                variable, channel,
                f"{variable}={shown or repr(redact(url))} {RELATIONS[relation]} {other_variable}="
                f"{redact(other)!r} – där hör bara Peppol-filer hemma. Ange en egen katalog, "
                "t.ex. /srv/kortfaktura/utskrift bredvid Peppol-katalogerna",
            )  # fmt: skip


def check_inbox() -> None:
    """``KORTFAKTURA_PEPPOL_INBOX``, when set, must be an address that can work and must not be
    the outbox, inside it, or around it: reading receipts there would take the access point's
    new documents for receipts and move them to ``quarantine/``."""
    inbox, outbox = settings.PEPPOL_INBOX, settings.PEPPOL_OUTBOX
    if not inbox:
        return
    variable = "KORTFAKTURA_PEPPOL_INBOX"
    try:
        check_url(inbox, variable)
    except TransportError as error:
        raise MissingSetting(variable, "Peppol-kvitton", error.message) from None
    if not outbox:
        return
    try:
        check_url(outbox, "KORTFAKTURA_PEPPOL_OUTBOX")
    except TransportError:
        return  # said by the Peppol channel's own check when it is needed
    relation = overlap(inbox, outbox)
    if relation:
        where = RELATIONS[relation]
        raise MissingSetting(
            variable, "Peppol-kvitton",
            f"{variable}={redact(inbox)!r} {where} KORTFAKTURA_PEPPOL_OUTBOX="
            f"{redact(outbox)!r} – då skulle kvittoläsningen ta de fakturor som just lämnats till "
            "accesspunkten för kvitton och flytta dem till quarantine/. Ange inkorgen som "
            "accesspunkten lämnar svar i, t.ex. file:///srv/peppol/in bredvid file:///srv/peppol/ut",
        )  # fmt: skip


class PeppolSender:
    channel: str = Channel.PEPPOL

    def __init__(self, prefetched: Mapping[int, IssuedDocument] | None = None) -> None:
        self.prefetched = prefetched

    def check(self) -> None:
        variable = "KORTFAKTURA_PEPPOL_OUTBOX"
        if not settings.PEPPOL_OUTBOX:
            raise MissingSetting(variable, "Peppol")
        try:
            check_url(settings.PEPPOL_OUTBOX, variable)
            outbox = open_outbox(settings.PEPPOL_OUTBOX, settings.SSH_KEY)
            if isinstance(outbox, FileOutbox):
                outbox.check()
        except TransportError as error:
            message = error.message
            if not message.startswith(variable):
                message = f"{variable}={redact(settings.PEPPOL_OUTBOX)!r}: {message}"
            raise MissingSetting(variable, "Peppol", message) from None
        check_inbox()

    def envelope(self, delivery: Delivery) -> bytes:
        """The stored UBL, checked against its hash, in an SBDH addressed to the buyer the UBL
        names. Sets ``delivery.recipient`` to that endpoint: a row queued from a snapshot that
        was changed after issuing must not record (or send to) another customer."""
        invoice = delivery.invoice
        if invoice.kind in INTERNAL_KINDS:
            raise TransportError("en intern debitering skickas aldrig via Peppol", transient=False)
        ubl = stored_ubl(invoice, self.prefetched)
        if ubl is None:
            raise TransportError(
                f"{label(invoice)} har inget lagrat Peppol-dokument från utfärdandet",
                transient=False,
            )
        delivery.recipient = buyer_endpoint(invoice, ubl)
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
    # Named by its own order months, not by the run's title (issue 21): a catch-up run's
    # title names years of dates while each document covers one month.
    covers = naming.heading(document, credited=False)
    subject = f"{label} {document.number} från {seller.get('name', '')} – {covers}"
    lines = [
        "Hej,",
        "",
        f"Här kommer {label.lower()} {document.number} från {seller.get('name', '')} ({covers}).",
        "",
        f"{wording.number_label(document)}: {document.number}",
        f"Belopp: {swedish.money(document.payable)}",
    ]
    if document.is_internal:
        lines.append("Intern debitering: ingen betalning, bokförs på kostnadsstället.")
    elif document.is_credit_note:
        lines.append(f"Krediterar {wording.credited_text(document)}.")
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
        try:
            if settings.SMTP_URL.lower().startswith("file:"):
                message_directory(settings.SMTP_URL)
            else:
                smtp_server(settings.SMTP_URL)
        except (TransportError, ValueError) as error:
            message = error.message if isinstance(error, TransportError) else (
                f"KORTFAKTURA_SMTP_URL={redact(settings.SMTP_URL)!r} går inte att tolka – "
                "ange t.ex. smtp+starttls://användare:lösenord@värd:587"
            )  # fmt: skip
            raise MissingSetting("KORTFAKTURA_SMTP_URL", "e-post", message) from None
        if settings.SMTP_URL.lower().startswith("file:"):
            apart_from_peppol("KORTFAKTURA_SMTP_URL", settings.SMTP_URL, "e-post")

    def message(self, delivery: Delivery) -> EmailMessage:
        """The e-mail with the PDF and the specification, rendered from the document's rows;
        refused (``TransportError``, not transient) when its stored UBL no longer matches its
        hash, or when it cannot be rendered."""
        stored_ubl(delivery.invoice)
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
            render_pdf(delivery.invoice, document), maintype="application", subtype="pdf",
            filename=f"{stem}.pdf",
        )  # fmt: skip
        message.add_attachment(
            XlsxRenderer().render(document), maintype="application",
            subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename=f"{stem}-specifikation.xlsx",
        )  # fmt: skip
        return message

    def send(self, delivery: Delivery) -> None:
        send_mail(self.message(delivery), [delivery.recipient])


class _SMTP(smtplib.SMTP):
    """Knows whether the end of the message (``CRLF.CRLF``, smtplib's last write in DATA) has
    been written: a connection lost after that, before the server's answer, may have delivered
    the message (RFC 1047's "duplicate messages" problem), so it is not tried again."""

    message_end_sent = False

    def send(self, s: "ReadableBuffer | str") -> None:
        super().send(s)
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.message_end_sent = True


class _SMTP_SSL(smtplib.SMTP_SSL, _SMTP):
    """``smtps://``: TLS from the start, and the same knowledge of the message's end."""


def send_mail(message: EmailMessage, to: list[str]) -> None:
    """One message through ``KORTFAKTURA_SMTP_URL`` (``file://`` writes it as a file); raises
    ``TransportError``. Documents and notifications both go this way."""
    with MailSession() as session:
        session.send(wire_bytes(message), to, str(message["Message-ID"]))


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as an SMTP server receives it (CRLF line ends; UTF-8 headers where an
    address is beyond ASCII, which then goes with SMTPUTF8)."""
    addresses = f"{message['From'] or ''}{message['To'] or ''}"
    return message.as_bytes(policy=email.policy.SMTP.clone(utf8=not addresses.isascii()))


class MailSession:
    """Several messages through ``KORTFAKTURA_SMTP_URL`` over one connection, opened at the first
    message and again after a failure (a run of reminders need not connect once per message).
    ``send`` takes the message as the bytes an SMTP server receives, so that it can be put
    together in another process."""

    def __init__(self) -> None:
        self.url = settings.SMTP_URL
        self.client: _SMTP | _SMTP_SSL | None = None

    def __enter__(self) -> "MailSession":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            client.close()

    def send(self, content: bytes, to: list[str], message_id: str) -> None:
        """Raises ``TransportError``, or ``MaybeSent`` when the connection was lost after the
        whole message left and before the server answered."""
        if urlsplit(self.url).scheme.lower() == "file":
            write_message_file(self.url, content, message_id)
            return
        server = smtp_server(self.url)
        try:
            if self.client is None:
                self.client = self._connect(server)
            self.client.message_end_sent = False
            # An address beyond ASCII needs SMTPUTF8, as smtplib's send_message would ask.
            international = not all(address.isascii() for address in [settings.MAIL_FROM, *to])
            options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
            self.client.sendmail(settings.MAIL_FROM, to, content, mail_options=options)
        except (smtplib.SMTPException, OSError) as error:
            client = self.client
            # The server said no (a 4xx/5xx to MAIL, RCPT or DATA) on a connection that lives.
            refused = (
                isinstance(error, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused)
                and getattr(error, "smtp_code", 0) != 421
            )
            if client is not None and not refused:
                self.client = None  # lost: the next message opens a new connection
                client.close()
            elif client is not None:
                self._reset(client)
            if (
                client is not None
                and client.message_end_sent
                and not isinstance(error, smtplib.SMTPResponseException)
            ):
                # The whole message left and no answer came: the server may have taken it.
                reason = _smtp_reason(server, error).message
                raise MaybeSent(
                    f"{reason} efter att hela meddelandet skickats men innan servern svarade "
                    "– det kan ha kommit fram"
                ) from None
            raise _smtp_reason(server, error) from None
        # The server answered 250 to DATA: it has taken responsibility for the message
        # (RFC 5321, 4.1.1.4), so it is sent. What QUIT answers later (421, 500, a dropped line)
        # changes nothing; treating it as a failure would send the same message again.

    def _connect(self, server: Any) -> "_SMTP | _SMTP_SSL":
        client: _SMTP | _SMTP_SSL
        if server.scheme == "smtps":
            client = _SMTP_SSL(
                server.host, server.port, timeout=SMTP_TIMEOUT,
                context=ssl.create_default_context(),
            )  # fmt: skip
        else:
            client = _SMTP(server.host, server.port, timeout=SMTP_TIMEOUT)
        try:
            if server.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if server.user:
                client.login(server.user, server.password)
        except BaseException:
            client.close()
            raise
        return client

    def _reset(self, client: "_SMTP | _SMTP_SSL") -> None:
        """After a refusal (4xx/5xx) the connection stays: RSET clears the refused transaction;
        a connection that cannot even do that is closed."""
        try:
            client.rset()
        except (smtplib.SMTPException, OSError):
            self.client = None
            client.close()


def message_file_name(message_id: str) -> str:
    """``<1.2.kortfaktura@host>`` → ``1.2.kortfaktura@host.eml``: a plain file name."""
    name = re.sub(r"[^A-Za-z0-9.@_+-]", "_", message_id.strip().strip("<>")).lstrip(".")
    if not name:
        raise TransportError("e-postmeddelandet saknar Message-ID", transient=False)
    return f"{name}.eml"


def message_directory(url: str) -> Path:
    """The directory of ``KORTFAKTURA_SMTP_URL=file:///dir``: an absolute local path."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.netloc not in ("", "localhost") or not path.startswith("/"):
        raise TransportError(
            f"KORTFAKTURA_SMTP_URL={redact(url)!r}: ange en absolut katalog, t.ex. "
            "file:///srv/epost",
            transient=False,
        )
    return Path(path)


def render_pdf(invoice: Invoice, document: DocumentData) -> bytes:
    """The document's PDF; ``TransportError`` (not transient: it fails the same way every time)
    naming the document and the cause, e.g. a character no font has."""
    try:
        return PdfRenderer().render(document)
    except RenderError as error:
        raise TransportError(
            f"{label(invoice)} kunde inte göras till PDF: {error}", transient=False
        ) from None
    except Exception as error:  # any other failure of one document: said, never a traceback
        text = " ".join(str(error).split())[:300] or type(error).__name__
        raise TransportError(
            f"{label(invoice)} kunde inte göras till PDF: {text}", transient=False
        ) from None


def write_message_file(url: str, content: bytes, message_id: str) -> Path:
    """``KORTFAKTURA_SMTP_URL=file:///dir``: the message as an RFC 5322 file (CRLF line ends,
    the bytes an SMTP server would receive) named after its Message-ID, written atomically
    (temporary name, then rename). For the demo and for trying things out without a server."""
    directory = message_directory(url)
    target = directory / message_file_name(message_id)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomically(target, content)
    except OSError as error:
        raise TransportError(f"kunde inte skriva {target}: {os_reason(error)}") from None
    return target


def new_message_id() -> str:
    domain = (settings.MAIL_FROM.rpartition("@")[2] or "kortfaktura.local").strip(">")
    return make_msgid("kortfaktura", domain=domain)


TEMPORARY_SUFFIX = ".tmp"


@dataclass
class PrintBatch:
    """One print file: a cover page listing what to post to whom, then every document."""

    path: Path
    content: bytes
    deliveries: list[Delivery]

    @property
    def temporary(self) -> Path:
        return temporary_batch(self.path)


def temporary_batch(path: Path) -> Path:
    """Where a batch is written before it gets its name: a dot file beside it, so that nobody
    ever prints half a batch, and so that a batch whose rows were marked ``sending`` but which
    never got its name can be told from one that did (``services.recover_interrupted``)."""
    return path.with_name(f".{path.name}{TEMPORARY_SUFFIX}")


def _unwritable(directory: Path) -> str:
    """Why documents cannot be written to ``directory`` (created when missing), or ""."""
    if directory.exists():
        if not directory.is_dir():
            return "finns men är ingen katalog"
        try:  # a real probe: permissions, ACLs and read-only file systems all answer here
            descriptor, probe = tempfile.mkstemp(prefix=".kortfaktura-", suffix=".tmp",
                                                 dir=directory)  # fmt: skip
            os.close(descriptor)
            os.unlink(probe)
        except OSError as error:
            return f"går inte att skriva i: {os_reason(error)}"
        return ""
    ancestor = directory.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"kan inte skapas: {ancestor} är ingen katalog"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"kan inte skapas: {ancestor} går inte att skriva i"
    return ""


class PrintSender:
    """Print is sent in batches (``services``): each document rendered on its own (one that
    cannot be rendered fails alone), then one file per run, written under a temporary name and
    then given its own."""

    channel: str = Channel.PRINT

    def check(self) -> None:
        variable = "KORTFAKTURA_PRINT_DIR"
        if not settings.PRINT_DIR:
            raise MissingSetting(variable, "utskrift")
        if not Path(settings.PRINT_DIR).is_absolute():
            raise MissingSetting(
                variable, "utskrift",
                f"{variable}={settings.PRINT_DIR!r} ska vara en absolut sökväg till "
                "en katalog, t.ex. /srv/kortfaktura/utskrift",
            )  # fmt: skip
        problem = _unwritable(Path(settings.PRINT_DIR))
        if problem:
            raise MissingSetting(
                variable, "utskrift",
                f"{variable}={settings.PRINT_DIR!r} {problem} – ange en katalog som tjänsten "
                "får skapa och skriva i",
            )  # fmt: skip
        apart_from_peppol(
            variable, f"file://{settings.PRINT_DIR}", "utskrift", repr(settings.PRINT_DIR)
        )

    def render(self, delivery: Delivery, document: DocumentData) -> bytes:
        """One document's PDF, after the check of its stored UBL; ``TransportError`` (not
        transient) naming the document when either fails."""
        stored_ubl(delivery.invoice)
        return render_pdf(delivery.invoice, document)

    def batch(self, items: list[tuple[Delivery, DocumentData, bytes]], *, title: str) -> PrintBatch:
        """The batch of rendered documents: its file name and content (nothing written)."""
        from pypdf import PdfReader, PdfWriter

        readers = [PdfReader(io.BytesIO(pdf)) for _, _, pdf in items]
        now = dt.datetime.now(dt.UTC).astimezone()
        rows = [
            {
                "number": str(delivery.invoice.number),
                "type": document.type_label,
                "recipient": delivery.recipient,
                "pages": str(len(reader.pages)),
            }
            for (delivery, document, _), reader in zip(items, readers, strict=True)
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
        name = f"utskrift-{slug}-{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}.pdf"
        return PrintBatch(
            Path(settings.PRINT_DIR) / name, buffer.getvalue(), [item[0] for item in items]
        )

    def stage(self, batch: PrintBatch) -> None:
        """Write the batch under its temporary name, whole and on disk (created exclusively:
        never through a link someone put there)."""
        try:
            batch.path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            descriptor = os.open(batch.temporary, flags, 0o644)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(batch.content)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            with contextlib.suppress(OSError):
                batch.temporary.unlink()
            raise TransportError(f"kunde inte skriva {batch.path}: {os_reason(error)}") from None

    def publish(self, batch: PrintBatch) -> None:
        """Give the staged batch its name: from here on it exists for the people who print."""
        try:
            os.rename(batch.temporary, batch.path)
        except OSError as error:
            raise TransportError(f"kunde inte skriva {batch.path}: {os_reason(error)}") from None

    def send(self, delivery: Delivery) -> None:
        """One document on its own (the ``Sender`` interface; ``deliver`` sends batches)."""
        document = _document(delivery.invoice)
        batch = self.batch(
            [(delivery, document, self.render(delivery, document))],
            title=f"faktura {delivery.invoice.number}",
        )
        self.stage(batch)
        self.publish(batch)


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
