"""Tamper evidence in the review (DOMAIN.md R19): the hash chains of the documents and of the
audit trail, what the audit trail says was issued, and heads kept outside the system.

- Each document series' chain and the stored documents are checked in one pass
  (``checks.document_checks``); the audit trail's chain by ``audit.chain.verify``.
- Audit records of issuing (``run.issued``, credit notes, and the migration that started the
  chains) carry *anchors*: which numbers of which series they issued and the link of the last
  one. Every issued document must lie within an anchor, and the document an anchor ends with must
  still have the link it names: so a forged document (even with a correct link) is named, and so
  is the last document deleted with the series rolled back, while the audit trail still
  remembers it.
- ``--expect-head NUMBER:HASH`` / ``audit:ID:HASH``: a head copied out earlier (SIE export,
  review report, nightly notice). A chain rewritten consistently, or rolled back past the copy,
  no longer has that link there.
"""

from dataclasses import dataclass

from django.conf import settings

from kortfaktura.audit import chain as audit_chain
from kortfaktura.audit.models import AuditLink, AuditRecord
from kortfaktura.billing import chain
from kortfaktura.billing.chain import Anchor
from kortfaktura.billing.models import Invoice
from kortfaktura.review.checks import document_checks
from kortfaktura.review.report import (
    MIN_HASH,
    ChainBreak,
    ChainReport,
    Discrepancy,
    DocumentProblem,
    ExpectedHead,
)


@dataclass
class Integrity:
    chains: list[ChainReport]
    discrepancies: list[Discrepancy]
    problems: list[DocumentProblem]


def audit_anchors() -> list[tuple[int, Anchor]]:
    """(audit record id, anchor) from every record that says what it issued."""
    anchors = []
    rows = AuditRecord.objects.filter(details__has_key="chain").order_by("id")
    for pk, details in rows.values_list("id", "details").iterator(chunk_size=2000):
        entries = details.get("chain") if isinstance(details, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            try:
                anchor = Anchor(
                    str(entry["series"]), int(entry["first"]), int(entry["last"]),
                    str(entry["hash"]),
                )  # fmt: skip
            except (KeyError, TypeError, ValueError):
                continue
            if anchor.series in chain.SERIES_KINDS:
                anchors.append((int(pk), anchor))
    return anchors


def _issued_links(numbers: set[int]) -> dict[int, tuple[str, str]]:
    """number → (kind, chain hash) of these issued documents."""
    found: dict[int, tuple[str, str]] = {}
    wanted = sorted(numbers)
    for start in range(0, len(wanted), 500):
        for number, kind, link in Invoice.objects.filter(
            status=Invoice.Status.ISSUED, number__in=wanted[start : start + 500]
        ).values_list("number", "kind", "chain_hash"):
            found[int(number or 0)] = (kind, link)
    return found


def _anchor_breaks(anchors: list[tuple[int, Anchor]], reports: dict[str, ChainReport]) -> None:
    links = _issued_links({anchor.last for _, anchor in anchors})
    for record_id, anchor in anchors:
        report = reports[anchor.series]
        found = links.get(anchor.last)
        if found is None or chain.series_of(found[0]) != anchor.series:
            report.broken.append(
                ChainBreak(
                    anchor.last,
                    f"granskningspost {record_id} säger att dokument {anchor.last} utfärdades, "
                    f"men det finns inte bland de utfärdade (kedjan slutar vid "
                    f"{report.head_number or 'inget dokument'}) – det har tagits bort ur "
                    "databasen och nummerserien rullats tillbaka",
                )
            )
        elif found[1] != anchor.hash:
            report.broken.append(
                ChainBreak(
                    anchor.last,
                    f"granskningspost {record_id} säger att dokument {anchor.last} fick länken "
                    f"{anchor.hash[:MIN_HASH]}…, men det har nu {found[1][:MIN_HASH] or 'ingen'}… "
                    "– kedjan har skrivits om",
                )
            )


def _expected_breaks(expected: list[ExpectedHead], reports: dict[str, ChainReport]) -> None:
    documents = _issued_links({head.number for head in expected if not head.audit})
    audit_ids = [head.number for head in expected if head.audit]
    audit_links = dict(
        AuditLink.objects.filter(record_id__in=audit_ids).values_list("record_id", "hash")
    )
    for head in expected:
        copy = f"kopian av kedjans huvud ({head.hash[:MIN_HASH]}…)"
        if head.audit:
            report = reports[chain.AUDIT]
            link = audit_links.get(head.number)
            what = f"granskningspost {head.number}"
        else:
            found = documents.get(head.number)
            series = (
                chain.series_of(found[0])
                if found
                else chain.INTERNAL_SERIES
                if head.number >= int(settings.FIRST_INTERNAL_NUMBER)
                else chain.SERIES
            )
            report = reports[series]
            link = found[1] if found else None
            what = f"dokument {head.number}"
        if link is None:
            problem = (
                f"{copy} säger att {what} finns, men det finns inte i kedjan (den slutar vid "
                f"{report.head_number if report.head_number is not None else 'ingenting'}) – "
                "kedjan har rullats tillbaka: det som kom efter har tagits bort"
            )
        elif not link.startswith(head.hash):
            problem = (
                f"{what} har länken {link[:MIN_HASH]}…, men {copy} säger {head.hash[:MIN_HASH]}… "
                "– kedjan har skrivits om fram till dit (eller kopian hör till en annan databas)"
            )
        else:
            continue
        report.broken.append(ChainBreak(head.number, problem))


def check_integrity(expected: list[ExpectedHead] | None = None) -> Integrity:
    """Both chains, the anchors and the expected heads; every break is also a discrepancy."""
    anchors = audit_anchors()
    documents = document_checks(anchors)
    audit = audit_chain.verify()
    audit_report = ChainReport(
        chain.AUDIT, chain.AUDIT_LABEL, audit.length, audit.head_id, audit.head_hash,
        [ChainBreak(brk.record_id, brk.problem) for brk in audit.broken],
    )  # fmt: skip
    reports = {report.chain: report for report in [*documents.chains, audit_report]}
    before = {name: len(report.broken) for name, report in reports.items()}
    _anchor_breaks(anchors, reports)
    _expected_breaks(expected or [], reports)
    discrepancies = list(documents.discrepancies)
    for name, report in reports.items():
        # Document breaks found in the pass are in documents.discrepancies already.
        start = before[name] if name != chain.AUDIT else 0
        discrepancies.extend(
            Discrepancy("", "", brk.number if name != chain.AUDIT else None, brk.problem)
            for brk in report.broken[start:]
        )
    return Integrity(list(reports.values()), discrepancies, documents.problems)
