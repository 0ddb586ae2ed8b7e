"""Reads about imports: the JSON of one import's result and of the imports kept in the trail."""

from typing import Any

from kortfaktura.imports.engine import ImportResult
from kortfaktura.imports.models import ImportBatch, QuarantinedRow


def import_json(result: ImportResult) -> dict[str, Any]:
    """``import --json``: the counts, and for orders the changes that wait for a decision."""
    from kortfaktura.billing import changes

    data = result.as_json()
    if result.kind == "orders":
        data["pending_changes"] = changes.recorded_for_decision(result.batch_id)
        data["pending_changes_total"] = changes.pending_count()
    return data


def batch_json(batch: ImportBatch, *, with_rows: bool = False) -> dict[str, Any]:
    """An import as the history keeps it: the same counts as ``import --json`` (the ``rows``
    only when asked for, since a large file can hold back many), its status and its error."""
    data: dict[str, Any] = {
        "id": batch.pk,
        "batch_id": batch.pk,
        "kind": batch.kind,
        "file": batch.file_name,
        "sha256": batch.sha256,
        "size_bytes": batch.size_bytes,
        "status": batch.status,
        "error": batch.error or None,
        "imported": batch.imported,
        "updated": batch.updated,
        "unchanged": batch.unchanged,
        "quarantined": batch.quarantined,
        "blank_lines": batch.blank_lines,
        "unknown_columns": list(batch.unknown_columns or []),
        "created_by": batch.created_by,
        "started_at": batch.started_at.isoformat(),
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
    }
    if with_rows:
        data["rows"] = [
            {"line": line, "reason": reason}
            for line, reason in QuarantinedRow.objects.filter(batch=batch)
            .order_by("line", "id")
            .values_list("line", "reason")
        ]
    return data


def quarantine_json(rows: Any) -> list[dict[str, Any]]:
    """Rows held back, with what they held (personal numbers were masked when they were kept)."""
    return [{"line": row.line, "reason": row.reason, "raw": row.raw} for row in rows]
