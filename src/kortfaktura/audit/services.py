"""Writing the audit trail (DOMAIN.md R19).

Every service that changes data calls ``record`` inside the same transaction as the change: a
change that is rolled back leaves no record, and a committed change always has one. Heavy paths
record once per batch or run, never once per order.
"""

import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from kortfaktura.audit import chain
from kortfaktura.audit.actor import claimed_by, current_actor
from kortfaktura.audit.models import ACTION_LENGTH, OBJECT_LENGTH, AuditRecord


def _plain(details: Mapping[str, Any]) -> dict[str, Any]:
    """JSON values as they will be read back (decimals and dates as text, tuples as lists)."""

    def default(value: object) -> object:
        if isinstance(value, set | frozenset):
            return sorted(value, key=str)
        return DjangoJSONEncoder().default(value)

    plain: dict[str, Any] = json.loads(json.dumps(dict(details), default=default))
    return plain


def record(
    action: str,
    object: str,
    details: Mapping[str, Any] | None = None,
    *,
    actor: str | None = None,
) -> AuditRecord:
    """Append one record: ``actor`` (default: ``current_actor()``) did ``action`` to ``object``.

    ``object`` is a label a person can search for, e.g. ``körning 5``, ``faktura 104863``,
    ``kund 212000-1454``; ``details`` holds ``{field: {"before": x, "after": y}}`` for changed
    values and other facts (file name, checksum, counts).
    """
    facts = dict(details or {})
    name = (actor or "").strip()[:150] or current_actor()
    if (system_user := claimed_by(name)) is not None:
        facts["claimed_by"] = system_user  # KORTFAKTURA_ACTOR names someone else
    return AuditRecord.objects.create(
        actor=name,
        action=action[:ACTION_LENGTH],
        object=object[:OBJECT_LENGTH],
        details=_plain(facts),
    )


def record_many(
    entries: Iterable[tuple[str, str, Mapping[str, Any]]], *, actor: str | None = None
) -> list[AuditRecord]:
    """``record`` for many (action, object, details) at once, in the caller's transaction: one
    insert for the records and, on SQLite, one for their links (PostgreSQL links them at
    commit, in the order written). For a run that records one fact per document."""
    name = (actor or "").strip()[:150] or current_actor()
    system_user = claimed_by(name)
    records = []
    for action, label, details in entries:
        facts = dict(details)
        if system_user is not None:
            facts["claimed_by"] = system_user
        row = AuditRecord(
            at=timezone.now(),
            actor=name,
            action=action[:ACTION_LENGTH],
            object=label[:OBJECT_LENGTH],
            details=_plain(facts),
        )
        row.content_hash = chain.content_hash(
            row.at, row.actor, row.action, row.object, row.details
        )
        records.append(row)
    if not records:
        return records
    with transaction.atomic():
        created = AuditRecord.objects.bulk_create(records)
        if connection.vendor != "postgresql":
            chain.append_links([(row.pk, row.content_hash) for row in created])
    return created


def changed_fields(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    fields: Iterable[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """``{field: {"before": x, "after": y}}`` for each field whose value differs; with
    ``before`` None (something new) every field, with ``before`` null."""
    names = list(fields) if fields is not None else list(after)
    changes: dict[str, dict[str, Any]] = {}
    for name in names:
        old = None if before is None else before.get(name)
        new = after.get(name)
        if before is None or old != new:
            changes[name] = {"before": old, "after": new}
    return changes
