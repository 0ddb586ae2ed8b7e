"""The audit trail of every imported file and every row held back from it (DOMAIN.md R14)."""

from django.conf import settings
from django.db import models


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", "Kunder"
    PRICES = "prices", "Priser"
    ORDERS = "orders", "Beställningar"
    BILLED = "billed", "Tidigare fakturerat"


class ImportBatch(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Pågår"
        COMPLETED = "completed", "Klar"
        FAILED = "failed", "Misslyckad"

    kind = models.CharField("typ", max_length=16, choices=ImportKind.choices)
    file_name = models.CharField("fil", max_length=500)
    sha256 = models.CharField("SHA-256", max_length=64)
    size_bytes = models.BigIntegerField("storlek (byte)", default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField("fel", blank=True)
    imported = models.PositiveIntegerField("nya", default=0)
    updated = models.PositiveIntegerField("ändrade", default=0)
    unchanged = models.PositiveIntegerField("oförändrade", default=0)
    quarantined = models.PositiveIntegerField("i karantän", default=0)
    blank_lines = models.PositiveIntegerField("tomma rader", default=0)
    unknown_columns = models.JSONField("okända kolumner", default=list)
    created_by = models.CharField("importerad av", max_length=150, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "import"
        verbose_name_plural = "importer"
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.file_name} ({self.started_at:%Y-%m-%d %H:%M})"


class QuarantinedRow(models.Model):
    """An input row that was not imported, with the reason a person can act on."""

    batch = models.ForeignKey(
        ImportBatch, on_delete=models.CASCADE, related_name="quarantined_rows"
    )
    line = models.PositiveIntegerField("rad")
    raw = models.JSONField("radens innehåll")
    reason = models.TextField("orsak")

    class Meta:
        verbose_name = "rad i karantän"
        verbose_name_plural = "rader i karantän"
        ordering = ["batch", "line"]

    def __str__(self) -> str:
        return f"rad {self.line}: {self.reason}"
