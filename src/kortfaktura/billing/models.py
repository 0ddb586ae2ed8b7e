"""Billing runs, invoices and credit notes (DOMAIN.md R4–R13).

The database itself guards the two promises finance relies on:
- an order is on at most one uncredited invoice item (partial unique index ``order_invoiced_once``);
- issued invoices, their lines and items never change (triggers, migration ``billing/0002``), and
  numbers are unique and come from one locked counter row in the issuing transaction.
Each issued document is also a link of its series' hash chain (``chain_hash``, billing/chain.py),
so that a change made by someone who can bypass the database's guards is still seen.
"""

from typing import Any

from django.db import models
from django.db.models import Q

from kortfaktura.billing import naming
from kortfaktura.catalog.models import Product
from kortfaktura.customers.models import BillingAccount, Customer
from kortfaktura.imports.fields import BulkAutoField
from kortfaktura.orders.models import Order


class Grouping(models.TextChoices):
    MONTH = "month", "en faktura per mottagare och beställningsmånad"
    RUN = "run", "en faktura per mottagare, ett avsnitt per beställningsmånad"


class BillingRun(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "utkast"
        ISSUED = "issued", "utfärdad"
        DISCARDED = "discarded", "kasserad"

    title = models.CharField("rubrik", max_length=300)
    period_from = models.DateField("beställda från")
    period_to = models.DateField("beställda till och med")
    customers = models.ManyToManyField(Customer, blank=True, related_name="+")
    is_legacy = models.BooleanField("separat fakturering av äldre period", default=False)
    grouping = models.CharField(max_length=8, choices=Grouping.choices, default=Grouping.MONTH)
    issue_date = models.DateField("fakturadatum", null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.CharField("skapad av", max_length=150, blank=True)
    # Who made or last regenerated the draft: that person may not issue it (R25, dual control).
    # Null on runs drafted before the column existed: their maker is ``created_by``. Nullable so
    # that SQLite adds the column in place and keeps the table's guards (billing/0007).
    drafted_by = models.CharField(  # noqa: DJ001
        "utkastet gjort av", max_length=150, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    discarded_at = models.DateTimeField(null=True, blank=True)
    not_billable = models.JSONField("ej fakturerbara per orsak", default=dict)

    class Meta:
        verbose_name = "faktureringskörning"
        verbose_name_plural = "faktureringskörningar"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_from__lte=models.F("period_to")), name="run_period_not_reversed"
            ),
        ]

    def __str__(self) -> str:
        return f"Körning {self.pk}: {self.title} ({self.get_status_display()})"

    @property
    def drafter(self) -> str:
        """Who made or last regenerated the draft (R25)."""
        return self.drafted_by or self.created_by


class HeldBackOrder(models.Model):
    """An order that a run could not bill, with the reason a person can act on."""

    id = BulkAutoField(primary_key=True)
    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="held_back")
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    reason = models.CharField(max_length=32)
    detail = models.TextField()

    class Meta:
        verbose_name = "tillbakahållen beställning"
        verbose_name_plural = "tillbakahållna beställningar"

    def __str__(self) -> str:
        return f"{self.order_id}: {self.detail}"


class InvoiceNumberSeries(models.Model):
    """The one number series shared by invoices and credit notes (R11); its row is locked while
    numbers are handed out, so concurrent issuing can neither skip nor repeat a number."""

    name = models.CharField(max_length=32, unique=True)
    next_number = models.PositiveBigIntegerField()

    def __str__(self) -> str:
        return f"{self.name}: nästa {self.next_number}"


class ImmutableDocumentError(Exception):
    """An issued invoice or credit note was about to change."""


# Kinds that bill orders, kinds that credit them, and the internal ones (R17).
CHARGE_KINDS = ("invoice", "internal_charge")
CREDIT_KINDS = ("credit_note", "internal_credit")
INTERNAL_KINDS = ("internal_charge", "internal_credit")


class Invoice(models.Model):
    class Kind(models.TextChoices):
        INVOICE = "invoice", "faktura"
        CREDIT_NOTE = "credit_note", "kreditfaktura"
        # VGR's own units are part of the seller: they get internal charges, not invoices (R17).
        INTERNAL_CHARGE = "internal_charge", "intern debitering"
        INTERNAL_CREDIT = "internal_credit", "intern kreditering"

    class Status(models.TextChoices):
        DRAFT = "draft", "utkast"
        ISSUED = "issued", "utfärdad"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.INVOICE)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    run = models.ForeignKey(
        BillingRun, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    credits = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    number = models.PositiveBigIntegerField("fakturanummer", null=True, blank=True, unique=True)
    ocr = models.CharField("OCR-nummer", max_length=30, blank=True)
    account = models.ForeignKey(BillingAccount, on_delete=models.PROTECT, related_name="invoices")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    title = models.CharField("rubrik", max_length=300)
    is_legacy = models.BooleanField(default=False)
    period_start = models.DateField("första beställningsdag i perioden")
    period_end = models.DateField("sista beställningsdag i perioden")
    issue_date = models.DateField("fakturadatum", null=True, blank=True)
    due_date = models.DateField("förfallodatum", null=True, blank=True)
    currency = models.CharField(max_length=3, default="SEK")
    net = models.DecimalField("netto", max_digits=14, decimal_places=2)
    vat = models.DecimalField("moms", max_digits=14, decimal_places=2)
    rounding = models.DecimalField("öresavrundning", max_digits=6, decimal_places=2)
    payable = models.DecimalField("att betala", max_digits=14, decimal_places=2)
    # A credit note's VAT per rate as issued, {"25.00": "87.50", ...}: the credit notes of one
    # invoice never credit more VAT than it (R12), so a credit note's VAT per rate is not always
    # R10 on its own lines. Null: R10 on the lines (invoices, internal documents and credit
    # notes issued before this column existed).
    vat_breakdown = models.JSONField("moms per momssats", null=True, blank=True)
    reason = models.TextField("orsak (kreditfaktura)", blank=True)
    seller = models.JSONField("säljare vid utfärdandet", default=dict)
    buyer = models.JSONField("köpare vid utfärdandet", default=dict)
    # Set when issuing: the SHA-256 of the Peppol document as issued, and whether it passed the
    # official rules then, so that the review checks a hash instead of validating again.
    content_sha256 = models.CharField(max_length=64, blank=True, db_default="")
    validation = models.CharField(max_length=16, blank=True, db_default="")
    # Set when issuing: this document's link in its number series' hash chain (billing/chain.py,
    # R19), over its header, lines, items, stored document and the previous document's link.
    chain_hash = models.CharField(max_length=64, blank=True, db_default="")
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "faktura"
        verbose_name_plural = "fakturor"
        ordering = ["number", "id"]
        indexes = [models.Index(fields=["run"], name="invoice_run_idx")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind__in=CREDIT_KINDS) & Q(credits__isnull=False))
                | (Q(kind__in=CHARGE_KINDS) & Q(credits__isnull=True)),
                name="credit_note_refers_to_invoice",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=INTERNAL_KINDS)
                | (Q(vat=0) & Q(rounding=0) & Q(payable=models.F("net"))),
                name="internal_charge_without_vat",
            ),
            models.CheckConstraint(
                condition=Q(status="draft")
                | (Q(number__isnull=False) & Q(issue_date__isnull=False) & ~Q(ocr="")),
                name="issued_invoice_has_number",
            ),
        ]

    _stored_status: str | None = None

    def __str__(self) -> str:
        label = self.get_kind_display()
        return f"{label} {self.number}" if self.number else f"{label} (utkast {self.pk})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "_stored_status", None) == self.Status.ISSUED:
            raise ImmutableDocumentError(f"{self} är utfärdad och kan inte ändras")
        super().save(*args, **kwargs)
        self._stored_status = self.status

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.status == self.Status.ISSUED:
            raise ImmutableDocumentError(f"{self} är utfärdad och kan inte tas bort")
        return super().delete(*args, **kwargs)

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> "Invoice":
        instance = super().from_db(*args, **kwargs)
        instance._stored_status = instance.status
        return instance

    @property
    def heading(self) -> str:
        """The document named by its own order months, not its run's period (billing.naming);
        the stored ``title`` stays as issued."""
        return naming.heading(self)


class InvoiceLine(models.Model):
    """Quantity of one product ordered in one month, at one price (R6, R9)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    order_month = models.DateField("beställningsmånad")  # the first day of the month
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    product_code = models.CharField(max_length=32)
    product_name = models.CharField(max_length=200)
    quantity = models.IntegerField("antal")  # negative on a credit note
    unit_price = models.DecimalField("à-pris", max_digits=12, decimal_places=2)
    vat_rate = models.DecimalField("momssats", max_digits=5, decimal_places=2)
    net = models.DecimalField("belopp", max_digits=14, decimal_places=2)
    # The revenue account of the price row the line was priced with ("" = the default for its
    # VAT rate, settings), kept with the line so that bookkeeping it again gives the same voucher.
    revenue_account = models.CharField("intäktskonto", max_length=10, blank=True, db_default="")

    class Meta:
        verbose_name = "fakturarad"
        verbose_name_plural = "fakturarader"
        ordering = ["invoice", "position"]

    def __str__(self) -> str:
        return f"{self.order_month:%Y-%m} {self.product_code} {self.quantity} × {self.unit_price}"


class InvoiceItem(models.Model):
    """One order on one invoice line: the specification, and the exactly-once guard (R4).

    ``credited`` can only become true together with ``credited_by``, an issued credit note of
    this invoice that has an item for the same order; the database checks it (billing/0003).
    """

    id = BulkAutoField(primary_key=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="items")
    # No extra indexes on a table that gets a row per billed order: the partial unique index
    # below serves lookups by order, ``invoice`` serves the specification.
    line = models.ForeignKey(
        InvoiceLine, on_delete=models.CASCADE, related_name="items", db_index=False
    )
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="invoice_items", db_index=False
    )
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    is_credit = models.BooleanField(default=False)  # an item of a credit note
    credited = models.BooleanField(default=False)  # this invoice item has been credited
    credited_by = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # The specification as issued (R13): copied from the order when the invoice is issued (from
    # the credited item for a credit note), so that later imports never alter the document.
    order_ref = models.CharField("beställnings-id", max_length=64, blank=True, db_default="")
    order_date = models.DateField("beställningsdatum", null=True, blank=True)
    product_code = models.CharField(max_length=32, blank=True, db_default="")
    unit_code = models.CharField(max_length=64, blank=True, db_default="")
    holder_name = models.CharField(max_length=200, blank=True, db_default="")
    holder_hsa_id = models.CharField(max_length=64, blank=True, db_default="")

    class Meta:
        verbose_name = "fakturerad beställning"
        verbose_name_plural = "fakturerade beställningar"
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(is_credit=False, credited=False),
                name="order_invoiced_once",
                violation_error_message="Beställningen finns redan på en okrediterad faktura.",
            ),
            models.CheckConstraint(
                condition=Q(credited=False, credited_by__isnull=True)
                | Q(credited=True, credited_by__isnull=False, is_credit=False),
                name="credited_names_its_credit_note",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} på faktura {self.invoice_id}"
