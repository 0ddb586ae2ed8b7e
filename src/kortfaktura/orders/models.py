"""Orders (beställning) as the card system reports them, and what an earlier system invoiced."""

from django.db import models
from django.db.models import Q

from kortfaktura.catalog.models import Product
from kortfaktura.customers.models import Customer
from kortfaktura.imports.fields import BulkAutoField
from kortfaktura.imports.models import ImportBatch
from kortfaktura.orders.parsing import ORDER_STATUSES


class OrderStatus(models.TextChoices):
    ORDERED = "ordered", "Beställd"
    PHOTOGRAPHED = "photographed", "Fotograferad"
    PRODUCED = "produced", "Producerad"
    COLLECTED = "collected", "Uthämtad"
    EXPIRED = "expired", "Utgången"
    REVOKED = "revoked", "Spärrad"
    CANCELLED = "cancelled", "Makulerad"


class Order(models.Model):
    """One ordered card.

    ``orgnr``, ``unit_code`` and ``product_code`` are kept as given in the file; ``customer`` and
    ``product`` are the resolved references, empty while unknown, so that an order of a customer
    that is not yet in the customer data is kept and billed once it is (DOMAIN.md R14).
    """

    id = BulkAutoField(primary_key=True)
    order_id = models.CharField("beställnings-id", max_length=64, unique=True)
    ordered_at = models.CharField("beställd (som angiven)", max_length=40)
    order_date = models.DateField("beställningsdatum", db_index=True)
    orgnr = models.CharField("organisationsnummer", max_length=10)
    unit_code = models.CharField("enhetskod", max_length=64, blank=True)
    product_code = models.CharField("artikelkod", max_length=32)
    # The references are a resolved cache of ``orgnr`` and ``product_code`` (the values as given,
    # which stay the truth), refreshed by ``resolve_order_references``. They carry no index and no
    # database-level foreign key: billing selects by order date, and on PostgreSQL each foreign
    # key costs every one of the million rows an import writes a row-by-row trigger (≈ 8 µs).
    # Django still refuses to delete a customer or product that orders refer to (PROTECT).
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
        db_constraint=False,
    )
    product = models.ForeignKey(
        Product,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
        db_constraint=False,
    )
    holder_name = models.CharField("kortinnehavare", max_length=200, blank=True)
    holder_hsa_id = models.CharField("HSA-id", max_length=64, blank=True)
    status = models.CharField(
        "status", max_length=16, choices=OrderStatus.choices, default=OrderStatus.ORDERED
    )
    status_at = models.CharField("status nådd (som angiven)", max_length=40, blank=True)
    first_batch = models.ForeignKey(
        ImportBatch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    last_batch = models.ForeignKey(
        ImportBatch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        verbose_name = "beställning"
        verbose_name_plural = "beställningar"
        ordering = ["order_date", "order_id"]
        # A customer's orders in date order: a Kund's pages and the search by customer (web and
        # API) read one page of them instead of scanning a million rows.
        indexes = [
            models.Index(fields=["customer", "order_date"], name="order_customer_date"),
            models.Index(fields=["orgnr", "order_date"], name="order_orgnr_date"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ORDER_STATUSES),
                name="order_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} ({self.order_date.isoformat()})"


# Fields whose change alters what or when an order is billed (DOMAIN.md R14); the order date
# follows ``ordered_at``.
BILLING_RELEVANT_FIELDS = ("ordered_at", "order_date", "orgnr", "unit_code", "product_code")


class OrderChange(models.Model):
    """A change that an import made to an existing order.

    A change of an order that is not on an issued invoice is carried out at once (``applied``).
    A change of an invoiced order's billing data (``BILLING_RELEVANT_FIELDS``) is not: it is kept
    ``pending`` until a person decides (DOMAIN.md R14). ``accepted``: the order was credited on
    its invoice and the change carried out, so the next run bills the order with the new data;
    ``rejected``: the invoice stands and the order keeps the data it was invoiced with. A decision
    records who, when, why and on which invoice (and credit note). ``superseded``: a later import
    gave the field another value before anyone decided.
    """

    id = BulkAutoField(primary_key=True)

    class Status(models.TextChoices):
        APPLIED = "applied", "Genomförd"
        PENDING = "pending", "Väntar på beslut"
        ACCEPTED = "accepted", "Godkänd"
        REJECTED = "rejected", "Avvisad"
        # A waiting change that a later import replaced (another value, or the invoiced one
        # again) before anyone decided; not listed by ``changes list``.
        SUPERSEDED = "superseded", "Ersatt av senare import"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="changes")
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="order_changes")
    field = models.CharField("fält", max_length=32)
    old_value = models.CharField("före", max_length=200, blank=True)
    new_value = models.CharField("efter", max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.APPLIED)
    # The decision on a change of an invoiced order. Imports write changes in bulk without these
    # columns, hence the database defaults.
    decided_at = models.DateTimeField("beslutad", null=True, blank=True)
    decided_by = models.CharField("beslutad av", max_length=150, blank=True, db_default="")
    decision_reason = models.TextField("beslutets orsak", blank=True, db_default="")
    invoice_number = models.PositiveBigIntegerField("gäller faktura", null=True, blank=True)
    credit_note_number = models.PositiveBigIntegerField("kreditfaktura", null=True, blank=True)

    class Meta:
        verbose_name = "ändring av beställning"
        verbose_name_plural = "ändringar av beställningar"
        ordering = ["order", "id"]
        indexes = [
            models.Index(
                fields=["order"], condition=Q(status="pending"), name="order_change_pending"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["applied", "pending", "accepted", "rejected", "superseded"]
                ),
                name="order_change_status_known",
            ),
            models.CheckConstraint(
                condition=(Q(status__in=["applied", "pending"]) & Q(decided_at__isnull=True))
                | (
                    Q(status__in=["accepted", "rejected", "superseded"])
                    & Q(decided_at__isnull=False)
                ),
                name="order_change_decision_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order.order_id}: {self.field} {self.old_value!r} → {self.new_value!r}"


class PreviouslyInvoiced(models.Model):
    """An order that an earlier system already invoiced (tidigare fakturerad).

    Keyed by the card system's order id, not a foreign key: the record may arrive before the order.
    """

    order_id = models.CharField("beställnings-id", max_length=64, unique=True)
    invoice_number = models.CharField("fakturanummer", max_length=64)
    invoice_date = models.DateField("fakturadatum", null=True, blank=True)
    batch = models.ForeignKey(
        ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "tidigare fakturerad beställning"
        verbose_name_plural = "tidigare fakturerade beställningar"
        ordering = ["order_id"]

    def __str__(self) -> str:
        return f"{self.order_id} → {self.invoice_number}"
