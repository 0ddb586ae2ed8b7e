"""Notifications by e-mail (R24): the users of a role who have an address are told, with a link,
when something waits for them – each event once (``Notification.key`` is unique).

Ekonomi when a draft waits; Granskare when the nightly review does not balance or something
needs a person; Fakturering when rows were quarantined or a delivery failed or was rejected.

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


def notify(key: str, role: str, subject: str, body: str) -> Notification | None:
    """Tell the users of ``role`` about the event ``key``, once: a second call with the same
    key sends nothing (None) unless the first could not be sent, which is tried again."""
    try:
        with transaction.atomic():
            notice = Notification.objects.create(key=key, role=role, subject=subject, body=body)
    except IntegrityError:
        notice = Notification.objects.get(key=key)
        if notice.status in (Notification.Status.SENT, Notification.Status.SENDING):
            return None
    to = recipients(role)
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
