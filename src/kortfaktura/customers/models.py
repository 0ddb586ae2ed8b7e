"""Customers (kund) and their billing accounts (fakturamottagare)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from kortfaktura.customers.identifiers import format_orgnr, is_public_body


class Customer(models.Model):
    """A legal entity, identified by its organisationsnummer."""

    orgnr = models.CharField("organisationsnummer", max_length=10, unique=True)
    name = models.CharField("namn", max_length=200)
    is_demo_data = models.BooleanField(
        "demodata",
        default=False,
        help_text="Organisationsnumret är påhittat för demonstration och inte verifierat.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "kund"
        verbose_name_plural = "kunder"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(orgnr__regex=r"^[0-9]{10}$"),
                name="customer_orgnr_ten_digits",
                violation_error_message="Organisationsnumret ska bestå av 10 siffror.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({format_orgnr(self.orgnr)})"

    @property
    def is_public_body(self) -> bool:
        return is_public_body(self.orgnr)

    @property
    def is_seller(self) -> bool:
        """The seller's own legal entity (VGR's förvaltningar): internal charges (R17)."""
        return self.orgnr == settings.SELLER["orgnr"]


class DeliveryChannel(models.TextChoices):
    PEPPOL = "peppol", "Peppol"
    EMAIL = "email", "E-post"
    PRINT = "print", "Papper"


class BillingAccount(models.Model):
    """Where one customer's invoices go (fakturamottagare)."""

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="accounts", verbose_name="kund"
    )
    code = models.CharField("kod", max_length=64, unique=True)
    name = models.CharField("namn", max_length=200)
    is_default = models.BooleanField(
        "standardmottagare",
        default=False,
        help_text="Tar emot kundens beställningar vars enhet inte är kopplad till annan mottagare.",
    )
    buyer_reference = models.CharField("beställarreferens (BT-10)", max_length=100, blank=True)
    peppol_scheme = models.CharField("Peppol-schema", max_length=4, blank=True)
    peppol_id = models.CharField("Peppol-id", max_length=50, blank=True)
    email = models.EmailField("e-post", blank=True)
    street = models.CharField("gatuadress", max_length=200)
    postal_code = models.CharField("postnummer", max_length=10)
    city = models.CharField("ort", max_length=100)
    delivery = models.CharField(
        "leveranssätt",
        max_length=10,
        choices=DeliveryChannel.choices,
        default=DeliveryChannel.PEPPOL,
    )
    cost_centre = models.CharField(
        "kostnadsställe",
        max_length=64,
        blank=True,
        db_default="",
        help_text="Enhetens kostnadsställe i ekonomisystemet; för interna debiteringar (R17).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "fakturamottagare"
        verbose_name_plural = "fakturamottagare"
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(is_default=True),
                name="one_default_account_per_customer",
                violation_error_message="Kunden har redan en standardmottagare.",
            ),
            models.CheckConstraint(
                condition=(Q(peppol_scheme="") & Q(peppol_id=""))
                | (Q(peppol_scheme__in=["0007", "0088"]) & ~Q(peppol_id="")),
                name="account_peppol_scheme_known",
                violation_error_message="Peppol-schemat ska vara 0007 eller 0088 och ha ett id.",
            ),
            models.CheckConstraint(
                condition=Q(delivery__in=["peppol", "email", "print"]),
                name="account_delivery_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"

    @property
    def peppol_endpoint(self) -> str:
        return f"{self.peppol_scheme}:{self.peppol_id}" if self.peppol_scheme else ""

    @property
    def is_internal(self) -> bool:
        """One of the seller's own units: it gets internal charges, not invoices (R17)."""
        return self.customer.is_seller

    def missing_data(self) -> list[str]:
        """What keeps this account's invoices from being sent correctly (DOMAIN.md R15).

        An internal charge never goes through Peppol and has no buyer to return it, so an
        internal account needs neither a buyer reference nor a Peppol address (R17)."""
        problems = []
        if self.is_internal:
            if not self.cost_centre.strip():
                problems.append("kostnadsställe saknas (den interna debiteringen bokförs på det)")
            if self.delivery == DeliveryChannel.EMAIL and not self.email:
                problems.append("leverans via e-post men e-postadress saknas")
            if not (self.street and self.postal_code and self.city):
                problems.append("fakturaadressen är ofullständig")
            return problems
        if self.customer.is_public_body and not self.buyer_reference:
            problems.append("beställarreferens saknas (offentlig köpare returnerar fakturan)")
        if self.delivery == DeliveryChannel.PEPPOL and not self.peppol_scheme:
            problems.append("leverans via Peppol men Peppol-adress saknas")
        if self.delivery == DeliveryChannel.EMAIL and not self.email:
            problems.append("leverans via e-post men e-postadress saknas")
        if not (self.street and self.postal_code and self.city):
            problems.append("fakturaadressen är ofullständig")
        return problems


class UnitCode(models.Model):
    """An ordering unit (enhet/kostnadsställe) mapped to one of its customer's billing accounts."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="unit_codes")
    account = models.ForeignKey(BillingAccount, on_delete=models.CASCADE, related_name="unit_codes")
    code = models.CharField("enhetskod", max_length=64)

    class Meta:
        verbose_name = "enhetskod"
        verbose_name_plural = "enhetskoder"
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "code"],
                name="unit_code_unique_per_customer",
                violation_error_message="Enhetskoden är redan kopplad till en annan mottagare.",
            ),
        ]

    def __str__(self) -> str:
        return self.code
