"""Payment files and payments (DOMAIN.md R21).

Exactly once is the database's promise, not only the code's: a file's content (SHA-256) is
imported once (unique), and a payment is stored once per source and the bank's own identity of
it (BgMax: Bankgirot's serial number; camt.054: AcctSvcrRef) – unique, so a later file that
repeats a payment, or two imports racing, cannot book it twice.
"""

from django.db import models
from django.db.models import Q

from kortfaktura.billing.models import Invoice


class PaymentFile(models.Model):
    class Format(models.TextChoices):
        BGMAX = "bgmax", "BgMax (Bankgirot)"
        CAMT_054 = "camt.054", "ISO 20022 camt.054"

    format = models.CharField(max_length=16, choices=Format.choices)
    file_name = models.CharField("filnamn", max_length=255)
    sha256 = models.CharField(max_length=64, unique=True)
    bankgiro = models.CharField(max_length=20, blank=True)
    created = models.CharField("skapad enligt filen", max_length=40, blank=True)
    payments = models.PositiveIntegerField("nya betalningar", default=0)
    duplicates = models.PositiveIntegerField("redan inlästa", default=0)
    amount = models.DecimalField("belopp", max_digits=16, decimal_places=2, default=0)
    # What the file says it paid in, per deposit (BgMax 15) or notification (camt.054): the
    # review ties each file's payments to these.
    deposits = models.JSONField("insättningar", default=list)
    imported_by = models.CharField(max_length=150, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "betalningsfil"
        verbose_name_plural = "betalningsfiler"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Betalningsfil {self.pk}: {self.file_name}"


class Payment(models.Model):
    class Status(models.TextChoices):
        MATCHED = "matched", "matchad"
        UNMATCHED = "unmatched", "ej matchad"
        ASSIGNED = "assigned", "manuellt kopplad"
        REFUND = "refund", "ska betalas tillbaka"

    file = models.ForeignKey(PaymentFile, on_delete=models.PROTECT, related_name="rows")
    source = models.CharField(max_length=16, choices=PaymentFile.Format.choices)
    external_id = models.CharField("bankens referens", max_length=64)
    line = models.PositiveIntegerField("rad i filen", default=0)
    kind = models.CharField(max_length=10, default="payment")  # payment | deduction
    paid_on = models.DateField("betalningsdag")
    amount = models.DecimalField("belopp", max_digits=14, decimal_places=2)
    reference = models.CharField("referens", max_length=140, blank=True)
    extra_references = models.JSONField(default=list, blank=True)
    information = models.TextField("meddelande", blank=True)
    payer = models.CharField("betalare", max_length=140, blank=True)
    payer_orgnr = models.CharField(max_length=20, blank=True)
    payer_account = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    matched_by = models.CharField(max_length=10, blank=True)  # ocr | number | person
    reason = models.TextField("motivering", blank=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # The SIE export that booked it (bank against receivables); a payment is booked once.
    booked_in = models.ForeignKey(
        "accounting.SieExport",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
    )

    class Meta:
        verbose_name = "betalning"
        verbose_name_plural = "betalningar"
        ordering = ["id"]
        indexes = [
            models.Index(fields=["invoice"], name="payment_invoice_idx"),
            models.Index(fields=["status"], name="payment_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="payment_booked_once"),
            models.CheckConstraint(
                condition=(Q(status__in=["matched", "assigned"]) & Q(invoice__isnull=False))
                | (Q(status__in=["unmatched", "refund"]) & Q(invoice__isnull=True)),
                name="payment_status_names_its_document",
            ),
            models.CheckConstraint(
                condition=Q(kind="payment") | Q(kind="deduction"), name="payment_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return f"Betalning {self.pk}: {self.amount} kr ({self.get_status_display()})"


class Reminder(models.Model):
    """One reminder of one overdue invoice at one step (R23): sent once. The row is committed
    ``sending`` before anything leaves; an e-mail whose server did not answer after the whole
    message is ``uncertain`` and never sent again by itself (as a delivery, R20)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "i kö"
        SENDING = "sending", "skickas"
        SENT = "sent", "skickad"
        FAILED = "failed", "misslyckades"
        UNCERTAIN = "uncertain", "oviss"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="reminders")
    step = models.PositiveSmallIntegerField("steg")
    reminded_on = models.DateField("påminnelsedag")
    open_amount = models.DecimalField("öppet belopp", max_digits=14, decimal_places=2)
    due_date = models.DateField("ny förfallodag")
    channel = models.CharField(max_length=10)  # email | print
    recipient = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    reference = models.CharField("meddelande-id eller fil", max_length=300, blank=True)
    # Off by default (R23); where switched on, shown on the reminder and never added to an
    # invoice: the fee (inkassolagen) and the interest from the due date to the reminder's day
    # at the rate (räntelagen: the reference rate + 8 percentage points).
    fee = models.DecimalField("påminnelseavgift", max_digits=10, decimal_places=2, default=0)
    interest = models.DecimalField("dröjsmålsränta", max_digits=14, decimal_places=2, default=0)
    interest_rate = models.DecimalField(
        "räntesats, procent", max_digits=6, decimal_places=2, null=True, blank=True
    )
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "step"], name="reminder_once_per_step"),
        ]
        indexes = [models.Index(fields=["status"], name="reminder_status_idx")]

    def __str__(self) -> str:
        return f"påminnelse {self.step} om faktura {self.invoice_id}"


class Dispute(models.Model):
    """A person's note that the customer disputes an invoice (R23: no reminder while it is
    open), and, later, that the dispute is settled. At most one open per invoice – the
    database's promise."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="disputes")
    reason = models.TextField("varför")
    opened_by = models.CharField(max_length=150)
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_by = models.CharField(max_length=150, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.TextField("hur det löstes", blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(closed_at__isnull=True),
                name="dispute_one_open_per_invoice",
            ),
        ]

    def __str__(self) -> str:
        return f"bestridande av faktura {self.invoice_id}"
