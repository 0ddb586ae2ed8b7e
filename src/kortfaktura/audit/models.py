"""The audit trail (DOMAIN.md R19): who changed what, when, with before and after.

A low layer: this app imports no other kortfaktura app, so every service can write to it.
The table is append-only; the database refuses UPDATE and DELETE (and TRUNCATE on
PostgreSQL), see migration ``audit/0001``.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

ACTOR_LENGTH = 150
ACTION_LENGTH = 64
OBJECT_LENGTH = 300


class AuditRecord(models.Model):
    at = models.DateTimeField("tid", default=timezone.now)
    actor = models.CharField("vem", max_length=ACTOR_LENGTH)
    action = models.CharField("vad", max_length=ACTION_LENGTH)
    object = models.CharField("objekt", max_length=OBJECT_LENGTH)
    # Changes as {field: {"before": x, "after": y}}, plus other facts (file, checksum, counts).
    details = models.JSONField("detaljer", default=dict, encoder=DjangoJSONEncoder)

    class Meta:
        verbose_name = "post i granskningsloggen"
        verbose_name_plural = "granskningslogg"
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["at"], name="audit_record_at"),
            models.Index(fields=["object"], name="audit_record_object"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object}"
