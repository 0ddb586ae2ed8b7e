"""Reads about deliveries: how far a run's documents have come (R20)."""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef

from kortfaktura.billing.models import Invoice
from kortfaktura.delivery.models import Delivery

FAILED = (Delivery.Status.FAILED, Delivery.Status.REJECTED, Delivery.Status.UNCERTAIN)
WAITING = (Delivery.Status.QUEUED, Delivery.Status.SENDING)


@dataclass(frozen=True)
class RunDeliveries:
    """A run's issued documents by the state of their latest delivery."""

    documents: int
    delivered: int  # a receipt says the receiver has it
    sent: int  # handed to its channel (mail server, access point, print); no receipt (yet)
    waiting: int  # not handed over yet: no delivery, queued or being sent
    failed: int  # failed, rejected or uncertain: a person looks at them on Leveranser

    @property
    def handed_over(self) -> int:
        return self.delivered + self.sent

    @property
    def percent(self) -> int:
        return round(100 * self.handed_over / self.documents) if self.documents else 100


def run_deliveries(run_id: int) -> RunDeliveries:
    """Counted in the database: each document by its latest delivery row (a resend's, if any)."""
    documents = Invoice.objects.filter(run_id=run_id, status=Invoice.Status.ISSUED).count()
    newer = Delivery.objects.filter(invoice_id=OuterRef("invoice_id"), pk__gt=OuterRef("pk"))
    counts = dict(
        Delivery.objects.filter(invoice__run_id=run_id, invoice__status=Invoice.Status.ISSUED)
        .exclude(Exists(newer))
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    failed = sum(counts.get(status, 0) for status in FAILED)
    delivered = counts.get(Delivery.Status.DELIVERED, 0)
    sent = counts.get(Delivery.Status.SENT, 0)
    return RunDeliveries(
        documents=documents,
        delivered=delivered,
        sent=sent,
        waiting=documents - delivered - sent - failed,
        failed=failed,
    )
