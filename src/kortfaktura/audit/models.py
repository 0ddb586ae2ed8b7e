"""The audit trail (DOMAIN.md R19): who changed what, when, with before and after.

A low layer: this app imports no other kortfaktura app, so every service can write to it.
The table is append-only; the database refuses UPDATE and DELETE (and TRUNCATE on
PostgreSQL), see migration ``audit/0001``. Each record is also a link of a hash chain
(``AuditLink``, ``audit/chain.py``, migration ``audit/0002``), so that a change made by someone
who can bypass the database's refusal is still seen.
"""

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from kortfaktura.audit import chain

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
    # SHA-256 of the record's content (audit/chain.py), written with the record; the chain
    # links it to the record before (AuditLink).
    content_hash = models.CharField(max_length=64, blank=True, db_default="")

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

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A new record gets its content hash, and on SQLite its link, in one transaction; on
        PostgreSQL the link is appended when the transaction commits (audit/chain.py)."""
        if not self._state.adding:
            super().save(*args, **kwargs)  # refused by the database: the trail is append-only
            return
        if timezone.is_naive(self.at):
            self.at = timezone.make_aware(self.at)
        self.content_hash = chain.content_hash(
            self.at, self.actor, self.action, self.object, self.details
        )
        with transaction.atomic():
            super().save(*args, **kwargs)
            if connection.vendor != "postgresql":
                chain.append_link(self.pk, self.content_hash)


class AuditLink(models.Model):
    """A record's place in the chain: its position and ``sha256(previous hash + content hash)``.

    Written once, never changed (the database refuses UPDATE and DELETE, audit/0002)."""

    record = models.OneToOneField(
        AuditRecord, primary_key=True, on_delete=models.PROTECT, related_name="link"
    )
    seq = models.PositiveBigIntegerField("plats i kedjan", unique=True)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = "länk i granskningsloggens kedja"
        verbose_name_plural = "granskningsloggens kedja"

    def __str__(self) -> str:
        return f"{self.seq}: {self.hash[:16]}"
