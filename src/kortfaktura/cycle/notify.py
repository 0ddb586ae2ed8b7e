"""Notifications by e-mail (R24): the users of a role who have an address are told, with a link,
when something waits for them – each event once (``Notification.key`` is unique).

Ekonomi when a draft waits (the schedule's monthly draft, or a person's draft when its maker
asks from the run's page: then only those who may issue it, R25); Granskare when the nightly
review does not balance or something needs a person; Fakturering when rows were quarantined
or a delivery failed or was rejected.

The message goes through ``KORTFAKTURA_SMTP_URL`` with the delivery channel's SMTP code
(``file:///dir`` writes a ``.eml`` file, as for e-mailed documents). Without the setting, or
with no user of the role having an address, the notification is kept in the table with that
reason and Översikt shows it; nothing is lost.
"""

import logging
from email.message import EmailMessage
from email.utils import formatdate

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from kortfaktura.access.roles import ROLES
from kortfaktura.audit.services import record
from kortfaktura.billing.models import BillingRun
from kortfaktura.cycle.models import Notification
from kortfaktura.delivery.channels import new_message_id, send_mail
from kortfaktura.delivery.transport import TransportError, redact

logger = logging.getLogger("kortfaktura.cycle")

EKONOMI, GRANSKARE, FAKTURERING = "ekonomi", "granskare", "fakturering"


def link(path: str) -> str:
    """An address in the web application (``KORTFAKTURA_BASE_URL`` + path), or the path alone
    with a note when the setting is missing."""
    if settings.BASE_URL:
        return f"{settings.BASE_URL}{path}"
    return f"{path} (i Kortfaktura; sätt KORTFAKTURA_BASE_URL för en hel länk)"


def recipients(role: str) -> list[str]:
    """The addresses of the active users of ``role``, sorted."""
    groups = [ROLES[role].name]
    users = get_user_model().objects.filter(is_active=True, groups__name__in=groups)
    return sorted({user.email for user in users if user.email})


def notify(
    key: str, role: str, subject: str, body: str, *, to: list[str] | None = None
) -> Notification | None:
    """Tell the users of ``role`` about the event ``key``, once: a second call with the same
    key sends nothing (None) unless the first could not be sent, which is tried again. ``to``:
    these addresses instead of the role's (some of its users may not be the ones to act)."""
    try:
        with transaction.atomic():
            notice = Notification.objects.create(key=key, role=role, subject=subject, body=body)
    except IntegrityError:
        notice = Notification.objects.get(key=key)
        if notice.status in (Notification.Status.SENT, Notification.Status.SENDING):
            return None
    to = sorted(set(to)) if to is not None else recipients(role)
    notice.recipients = to
    if not to:
        notice.status = Notification.Status.NO_RECIPIENTS
        notice.error = (
            f"ingen aktiv användare med rollen {ROLES[role].name} har en e-postadress – ange "
            "en med kortfaktura user add … --email eller på sidan Användare"
        )
    elif not settings.SMTP_URL or not settings.MAIL_FROM:
        notice.status = Notification.Status.FAILED
        notice.error = "KORTFAKTURA_SMTP_URL och KORTFAKTURA_MAIL_FROM behövs för aviseringar"
    else:
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = settings.MAIL_FROM
        message["To"] = ", ".join(to)
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = new_message_id()
        message.set_content(body)
        try:
            send_mail(message, to)
        except TransportError as error:
            notice.status = Notification.Status.FAILED
            notice.error = redact(error.message)
        else:
            notice.status = Notification.Status.SENT
            notice.sent_at = timezone.now()
    notice.save(update_fields=["recipients", "status", "error", "sent_at"])
    with transaction.atomic():
        record(
            "cycle.notified",
            f"avisering {key}",
            {
                "role": role,
                "subject": subject,
                "recipients": to,
                "status": notice.status,
                **({"error": notice.error} if notice.error else {}),
            },
        )
    if notice.status == Notification.Status.FAILED:
        logger.warning("aviseringen %s skickades inte: %s", key, notice.error)
    return notice


def mail_ready() -> bool:
    """Whether notifications can be sent at all (an SMTP server and a sender are set)."""
    return bool(settings.SMTP_URL and settings.MAIL_FROM)


def draft_key(run: BillingRun) -> str:
    """The event "this draft waits to be issued", for the draft as it is now: regenerating it
    makes new documents (new ids), and their issuers may be told again."""
    first = run.invoices.order_by("pk").values_list("pk", flat=True).first()
    return f"draft-waiting:{run.pk}:{first or 0}"


def draft_notification(run: BillingRun) -> Notification | None:
    """The notification already made about the draft as it is now, if any."""
    return Notification.objects.filter(key=draft_key(run)).first()


def tell_issuers(run: BillingRun, addresses: list[str], asked_by: str) -> Notification | None:
    """Tell the people who may issue the draft ``run`` (R25: not the one who made it) that it
    waits for them, with a link; once per draft (None: they were told already)."""
    subject = f"Kortfaktura: körning {run.pk} väntar på att utfärdas"
    body = (
        f"{asked_by} har gjort ett utkast som väntar på dig: körning {run.pk}, {run.title} "
        f"(beställda {run.period_from} – {run.period_to}).\n\n"
        "Granska dokumenten och utfärda körningen – fyraögonsprincipen gör att den som gjorde "
        f"utkastet inte kan utfärda det själv:\n\n{link(f'/korningar/{run.pk}/')}\n"
    )
    return notify(draft_key(run), EKONOMI, subject, body, to=addresses)
