"""The audit trail as a hash chain (DOMAIN.md R19: tamper-evident).

Each record has a *content hash*: SHA-256 over the canonical JSON (``canonical_json``) of
``[at, actor, action, object, details]``, ``at`` in UTC with microseconds. Each record is then a
*link* of the chain (``AuditLink``): its position ``seq`` (1, 2, …) and
``hash = sha256(previous link's hash + content hash)`` over the two hex strings (the first link's
previous hash is ""). Changing, deleting or inserting a record anywhere breaks every link after
it; rewriting the whole chain is seen against a head (position and hash) kept outside the system.

Who writes the link, and when:

- PostgreSQL: many transactions write records at once (imports, issuing, logins, the web).
  Taking a lock on the chain's head when a record is written would hold it until that
  transaction commits, and could deadlock with the number series lock taken in another order.
  So the record gets only its content hash when it is written (no lock), and a
  ``DEFERRABLE INITIALLY DEFERRED`` constraint trigger (migration ``audit/0002``) chains the
  transaction's records at commit: it takes an advisory lock for the rest of the commit, reads
  the last link and appends, in the order the records were written. Commits are serialized only
  for that moment.
- SQLite: transactions are serialized already (``IMMEDIATE``), so the link is written in Python
  in the same transaction as the record.

Both write the same links; ``verify`` reads them in ``seq`` order on either database.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

GENESIS = ""
# The advisory lock that serializes the appending of links at commit (PostgreSQL).
ADVISORY_LOCK = 727_190_019
TRIGGER = "audit_record_chain"
RECORDS = "audit_auditrecord"
LINKS = "audit_auditlink"
FETCH = 2_000


def _normalized(value: Any) -> Any:
    """JSON values as both databases give them back: a float with an integral value (jsonb reads
    ``1.0`` back as ``1.0``, but ``1e16`` as ``10000000000000000``) is written as an integer."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(key): _normalized(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalized(item) for item in value]
    return value


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, text as UTF-8 (not escaped); decimals, dates and times as
    Django's JSON encoder writes them (text)."""
    plain = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    return json.dumps(_normalized(plain), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def utc_text(at: dt.datetime) -> str:
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_hash(at: dt.datetime, actor: str, action: str, object: str, details: Any) -> str:
    payload = canonical_json([utc_text(at), actor, action, object, details])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def link_hash(previous: str, content: str) -> str:
    """The chain step, the same for the audit trail and the documents (billing.chain)."""
    return hashlib.sha256((previous + content).encode("utf-8")).hexdigest()


def append_link(record_id: int, content: str) -> tuple[int, str]:
    """SQLite: the next link for a record just written, in the caller's transaction (which
    holds SQLite's write lock, so no other link can come between the read and the insert)."""
    return append_links([(record_id, content)])


def append_links(records: list[tuple[int, str]]) -> tuple[int, str]:
    """SQLite: ``append_link`` for several records just written, in their order; the last
    link's position and hash."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT seq, hash FROM {LINKS} ORDER BY seq DESC LIMIT 1")
        last = cursor.fetchone()
        seq, chained = (int(last[0]), str(last[1])) if last else (0, GENESIS)
        rows = []
        for record_id, content in records:
            seq, chained = seq + 1, link_hash(chained, content)
            rows.append((record_id, seq, chained))
        cursor.executemany(f"INSERT INTO {LINKS} (record_id, seq, hash) VALUES (%s, %s, %s)", rows)
    return seq, chained


def flush_pending_links() -> None:
    """PostgreSQL: links of records this transaction wrote are appended at commit; inside an
    open transaction (a test, a caller's ``atomic``) they are appended now, so that a review
    made in the same transaction sees them. Outside a transaction there is nothing pending.
    This takes the chain's lock until the transaction ends: call it only where the transaction
    takes no other lock afterwards (the review, a test)."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"SET CONSTRAINTS {TRIGGER} IMMEDIATE")
            cursor.execute(f"SET CONSTRAINTS {TRIGGER} DEFERRED")


@dataclass(frozen=True)
class Break:
    """A place where the chain does not hold: the record (or the missing ones) and why."""

    record_id: int | None
    problem: str  # Swedish


@dataclass
class AuditChain:
    length: int = 0  # links read
    head_seq: int | None = None
    head_id: int | None = None
    head_hash: str = ""
    broken: list[Break] = field(default_factory=list)


def _rows() -> Iterator[tuple[Any, ...]]:
    from kortfaktura.audit.models import AuditLink

    yield from (
        AuditLink.objects.order_by("seq")
        .values_list(
            "seq",
            "hash",
            "record_id",
            "record__at",
            "record__actor",
            "record__action",
            "record__object",
            "record__details",
            "record__content_hash",
        )
        .iterator(chunk_size=FETCH)
    )


def verify() -> AuditChain:
    """Every link in ``seq`` order: the record's content against its content hash, the link
    against the one before it, positions without gaps, and records that are in no link."""
    from kortfaktura.audit.models import AuditLink, AuditRecord

    flush_pending_links()
    chain = AuditChain()
    previous = GENESIS
    previous_id: int | None = None
    expected = 1
    for seq, stored, record_id, at, actor, action, obj, details, content in _rows():
        chain.length += 1
        if seq != expected:
            chain.broken.append(_gap(expected, seq, previous_id, record_id))
            gap_links = AuditLink.objects.filter(seq=seq - 1).values_list("hash", flat=True)
            previous = next(iter(gap_links), previous)
        if content_hash(at, actor, action, obj, details) != content:
            chain.broken.append(
                Break(
                    record_id,
                    f"granskningspost {record_id} ({action}, {utc_text(at)[:10]}): innehållet "
                    "stämmer inte med sin kontrollsumma – posten har ändrats i databasen efter "
                    "att den skrevs",
                )
            )
        elif link_hash(previous, content) != stored:
            chain.broken.append(
                Break(
                    record_id,
                    f"granskningspost {record_id} ({action}): länken i kedjan stämmer inte – "
                    "posten eller posten före den har ändrats, tagits bort eller lagts in, eller "
                    "kedjan har skrivits om härifrån",
                )
            )
        previous, previous_id, expected = stored, record_id, seq + 1
        chain.head_seq, chain.head_id, chain.head_hash = seq, record_id, stored
    orphans = AuditLink.objects.exclude(record_id__in=AuditRecord.objects.values("id"))
    for seq, record_id in orphans.order_by("seq").values_list("seq", "record_id")[:100]:
        chain.broken.append(
            Break(
                record_id,
                f"granskningspost {record_id} (länk {seq}) har tagits bort ur granskningsloggen",
            )
        )
    unlinked = AuditRecord.objects.filter(link__isnull=True).order_by("id")
    for record_id, action, at in unlinked.values_list("id", "action", "at")[:100]:
        chain.broken.append(
            Break(
                record_id,
                f"granskningspost {record_id} ({action}, {utc_text(at)[:10]}) ingår inte i "
                "kedjan – den har skrivits direkt i databasen, förbi Kortfaktura",
            )
        )
    return chain


def _gap(expected: int, seq: int, before: int | None, after: int) -> Break:
    if seq < expected:
        return Break(after, f"granskningspost {after}: länk {seq} förekommer två gånger")
    count = seq - expected
    which = f"länk {expected}" if count == 1 else f"länkarna {expected}–{seq - 1}"
    where = f"mellan post {before} och {after}" if before is not None else f"före post {after}"
    return Break(
        after,
        f"{which} saknas i granskningsloggen {where} – "
        f"{'en post har' if count == 1 else f'{count} poster har'} tagits bort",
    )


def head() -> tuple[int, str] | None:
    """(record id, hash) of the last link. On PostgreSQL the links of a transaction that is
    still open are not there yet: the head is the last committed one. (It does not flush them:
    that would take the chain's lock in the middle of the caller's transaction.)"""
    from kortfaktura.audit.models import AuditLink

    last = AuditLink.objects.order_by("-seq").values_list("record_id", "hash").first()
    return (int(last[0]), str(last[1])) if last else None
