"""Exports to the finance system (SIE 4, docs/accounting.md): what was exported, when, by whom,
and the figures, so that the review can set the exports against the documents."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class SieExport(models.Model):
    made_at = models.DateTimeField("gjord", default=timezone.now)
    made_by = models.CharField("gjord av", max_length=150)
    period_from = models.DateField("utfärdade från")
    period_to = models.DateField("utfärdade till och med")
    file = models.CharField("fil", max_length=1000)  # absolute path
    sha256 = models.CharField("kontrollsumma (SHA-256)", max_length=64)
    vouchers = models.PositiveIntegerField("verifikationer")
    documents = models.PositiveIntegerField("dokument")
    debit = models.DecimalField("debet", max_digits=16, decimal_places=2)
    credit = models.DecimalField("kredit", max_digits=16, decimal_places=2)
    first_number = models.PositiveBigIntegerField("lägsta dokumentnummer", null=True, blank=True)
    last_number = models.PositiveBigIntegerField("högsta dokumentnummer", null=True, blank=True)
    # The balance per account as exported, and the chart and series used: the review compares
    # them with what the documents give now, account by account.
    by_account = models.JSONField("saldo per konto", default=dict, blank=True)
    chart = models.JSONField("kontoplan och serie", default=dict, blank=True)
    # Why a period that an earlier export covers was exported again (the web asks for it, so
    # that the same documents are not booked twice without a person deciding it).
    reason = models.TextField("orsak till ny export av perioden", blank=True, default="")

    class Meta:
        verbose_name = "SIE-export"
        verbose_name_plural = "SIE-exporter"
        ordering = ["made_at", "id"]
        indexes = [models.Index(fields=["period_from", "period_to"], name="sie_export_period")]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_from__lte=models.F("period_to")),
                name="sie_export_period_not_reversed",
            ),
            models.CheckConstraint(
                condition=Q(debit=models.F("credit")), name="sie_export_balances"
            ),
        ]

    def __str__(self) -> str:
        return f"SIE {self.period_from}–{self.period_to} ({self.vouchers} verifikationer)"
