"""One row per document and channel: what was handed over where, and what became of it (R20).

The unique constraint ``delivery_once_per_channel`` allows one ordinary delivery per document and
channel; a resend that a person asks for is a new row that names the row it repeats
(``resend_of``), so that it is recorded and never mistaken for the first delivery.
"""

from django.db import models
from django.db.models import Q

from kortfaktura.billing.models import Invoice


class Channel(models.TextChoices):
    PEPPOL = "peppol", "Peppol"
    EMAIL = "email", "e-post"
    PRINT = "print", "utskrift"


class Delivery(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "i kö"
        SENDING = "sending", "skickas"
        SENT = "sent", "skickad"
        DELIVERED = "delivered", "levererad"
        FAILED = "failed", "misslyckad"
        REJECTED = "rejected", "avvisad"
        UNCERTAIN = "uncertain", "oviss"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    response_code = models.CharField(max_length=32, blank=True)
    # Peppol: the buyer's status from its latest Invoice Response (in_process, accepted, paid, …)
    # and when that response was read; see kortfaktura.delivery.inbox.
    response_status = models.CharField(max_length=32, blank=True)
    response_at = models.DateTimeField(null=True, blank=True)
    # Peppol: the SBDH InstanceIdentifier (also the outbox file name); e-mail: the Message-ID.
    instance_id = models.UUIDField(null=True, blank=True, unique=True)
    message_id = models.CharField(max_length=300, blank=True)
    # The endpoint or address the document goes to, from the document's buyer snapshot.
    recipient = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resend_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="resends"
    )

    class Meta:
        verbose_name = "leverans"
        verbose_name_plural = "leveranser"
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "channel"],
                condition=Q(resend_of__isnull=True),
                name="delivery_once_per_channel",
                violation_error_message="Dokumentet har redan en leverans i den kanalen.",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["peppol", "email", "print"]),
                name="delivery_channel_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} av {self.invoice_id}: {self.get_status_display()}"


class Receipt(models.Model):
    """A file read from the Peppol inbox: a receipt applied to a delivery, a duplicate of one
    already applied, or a file quarantined with the reason (kortfaktura.delivery.inbox).

    A file refused unread (a link, a special file, a file over the size limit) has no checksum
    (``sha256`` ""), so it can never be taken for a file that was read."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "tillämpat"
        QUARANTINED = "quarantined", "i karantän"
        DUPLICATE = "duplicate", "dubblett"

    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    kind = models.CharField(max_length=20, blank=True)  # mlr | invoice_response | "" (unread)
    code = models.CharField(max_length=8, blank=True)
    status = models.CharField(max_length=32, blank=True)
    reason = models.TextField(blank=True)
    refers_to = models.CharField(max_length=200, blank=True)
    issue_date = models.DateField(null=True, blank=True)
    sender = models.CharField(max_length=200, blank=True)
    delivery = models.ForeignKey(
        Delivery, null=True, blank=True, on_delete=models.PROTECT, related_name="receipts"
    )
    # Whether the receipt changed the delivery (an older receipt than one applied does not).
    changed = models.BooleanField(default=False)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    received_at = models.DateTimeField(auto_now_add=True)
    # The file could not be moved out of the inbox: while it is still there (same name, same
    # checksum), reading it again does not record it again.
    left_in_inbox = models.BooleanField(default=False)

    class Meta:
        verbose_name = "kvitto"
        verbose_name_plural = "kvitton"
        ordering = ["id"]
        indexes = [models.Index(fields=["sha256"], name="receipt_sha256_idx")]
        constraints = [
            # The same file is applied once, even by two workers at the same time.
            models.UniqueConstraint(
                fields=["sha256"],
                condition=Q(outcome="applied"),
                name="receipt_applied_once",
                violation_error_message="Kvittot är redan tillämpat.",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["applied", "quarantined", "duplicate"]),
                name="receipt_outcome_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name}: {self.get_outcome_display()}"
