"""Products (artikel/korttyp) and their effective-dated prices (prislista)."""

from decimal import Decimal

from django.db import models
from django.db.models import F, Q

DEFAULT_VAT_RATE = Decimal("25")


class Product(models.Model):
    code = models.CharField("artikelkod", max_length=32, unique=True)
    name = models.CharField("benämning", max_length=200)
    cancelled_billable = models.BooleanField(
        "makulerad beställning faktureras",
        default=False,
        help_text="Om en beställning som makulerats före produktion ändå ska faktureras.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "artikel"
        verbose_name_plural = "artiklar"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class Price(models.Model):
    """The unit price of a product for orders placed from ``valid_from`` to ``valid_to``.

    Periods of one product never overlap: enforced by the import service on both backends, by an
    exclusion constraint on PostgreSQL and by triggers on SQLite (see migration 0002).
    """

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="prices")
    valid_from = models.DateField("gäller från")
    valid_to = models.DateField("gäller till och med", null=True, blank=True)
    unit_price = models.DecimalField("à-pris exkl. moms", max_digits=12, decimal_places=2)
    vat_rate = models.DecimalField(
        "momssats (%)", max_digits=5, decimal_places=2, default=DEFAULT_VAT_RATE
    )
    revenue_account = models.CharField(
        "intäktskonto",
        max_length=10,
        blank=True,
        db_default="",
        help_text="Kontot i bokföringen (SIE); tomt = standardkontot för momssatsen.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "pris"
        verbose_name_plural = "priser"
        ordering = ["product__code", "valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["product", "valid_from"], name="price_unique_start"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                name="price_period_not_reversed",
                violation_error_message="Slutdatum får inte ligga före startdatum.",
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="price_not_negative"),
            models.CheckConstraint(
                condition=Q(vat_rate__gte=0) & Q(vat_rate__lte=100), name="price_vat_rate_percent"
            ),
        ]

    def __str__(self) -> str:
        end = self.valid_to.isoformat() if self.valid_to else "tills vidare"
        return f"{self.product.code} {self.unit_price} kr ({self.valid_from.isoformat()}–{end})"
