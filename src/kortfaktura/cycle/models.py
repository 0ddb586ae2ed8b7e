"""The monthly cycle's own records (R24): which step was queued for which slot, and which
notification was sent for which event – each once, by a unique key the database enforces."""

from django.db import models


class StepRun(models.Model):
    """One step due at one slot (``schedule tick``): the unique (step, slot) makes sure a step
    is queued once however many workers tick at the same moment."""

    class Status(models.TextChoices):
        QUEUED = "queued", "i kö"
        RUNNING = "running", "pågår"
        DONE = "done", "klar"
        FAILED = "failed", "misslyckades"

    step = models.CharField("steg", max_length=32)
    slot = models.DateTimeField("planerad tid")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "schemalagt steg"
        verbose_name_plural = "schemalagda steg"
        constraints = [
            models.UniqueConstraint(fields=["step", "slot"], name="cycle_step_once_per_slot")
        ]
        indexes = [models.Index(fields=["step", "-slot"], name="cycle_step_latest")]

    def __str__(self) -> str:
        return f"{self.step} {self.slot:%Y-%m-%d %H:%M} ({self.get_status_display()})"


class Notification(models.Model):
    """One e-mail about one event (``key``), to the users of a role: sent once."""

    class Status(models.TextChoices):
        SENDING = "sending", "skickas"
        SENT = "sent", "skickad"
        NO_RECIPIENTS = "no_recipients", "ingen mottagare"
        FAILED = "failed", "misslyckades"

    key = models.CharField(max_length=200, unique=True)
    role = models.CharField("roll", max_length=16)
    subject = models.CharField("ämne", max_length=300)
    body = models.TextField("text")
    recipients = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SENDING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "avisering"
        verbose_name_plural = "aviseringar"

    def __str__(self) -> str:
        return f"{self.key}: {self.subject}"
