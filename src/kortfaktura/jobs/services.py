"""Starting long work in a background thread of the server, with progress in the database.

``start`` records the job (the database refuses a second running job for the same work) and
runs ``work(progress)`` in a thread, acting as the user who asked. The page polls the job row.
A server that stops mid-job leaves the row running; ``fail_interrupted`` (called by ``serve``
at start-up) marks such rows failed so the work can be asked for again.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from kortfaktura.audit.actor import acting_as
from kortfaktura.jobs.models import Job

logger = logging.getLogger("kortfaktura.jobs")

Progress = Callable[[int, int], None]
Work = Callable[[Progress], dict[str, Any]]

UNEXPECTED = (
    "ett oväntat fel inträffade – ingenting har ändrats av det misslyckade steget; "
    "försök igen, och kontakta förvaltningen om det upprepas (detaljer i serverns logg)"
)


class JobBusy(Exception):
    """The same work is already running."""

    def __init__(self, running: Job) -> None:
        super().__init__(f"{running.label} pågår redan (startad av {running.created_by})")
        self.running = running


def running(kind: str, key: str) -> Job | None:
    return Job.objects.filter(kind=kind, key=key, status=Job.Status.RUNNING).first()


def start(kind: str, key: str, label: str, work: Work, *, actor: str) -> Job:
    """Record the job and start it; raise ``JobBusy`` when the same work is running."""
    try:
        with transaction.atomic():
            job = Job.objects.create(kind=kind, key=key, label=label, created_by=actor)
    except IntegrityError:
        busy = running(kind, key)
        if busy is None:  # it finished between the insert and this read: ask again
            return start(kind, key, label, work, actor=actor)
        raise JobBusy(busy) from None
    if getattr(settings, "JOBS_IN_BACKGROUND", True):
        thread = threading.Thread(
            target=_run, args=(job.pk, work, actor), name=f"job-{job.pk}", daemon=True
        )
        thread.start()
    else:
        _run(job.pk, work, actor, in_thread=False)
        job.refresh_from_db()
    return job


def _user_facing() -> tuple[type[BaseException], ...]:
    """The services' own errors, whose message is a Swedish sentence meant for the user."""
    from kortfaktura.access.services import AccessError
    from kortfaktura.accounting.services import SieError
    from kortfaktura.billing.services import BillingError
    from kortfaktura.delivery.channels import MissingSetting
    from kortfaktura.delivery.services import DeliveryError
    from kortfaktura.documents.services import ExportError
    from kortfaktura.imports.engine import ImportFailed
    from kortfaktura.review.services import ReportError

    return (
        AccessError,
        SieError,
        BillingError,
        DeliveryError,
        MissingSetting,
        ExportError,
        ImportFailed,
        ReportError,
    )


def _message(error: BaseException) -> str:
    if isinstance(error, _user_facing()):
        return str(error)
    return UNEXPECTED


def _run(pk: int, work: Work, actor: str, *, in_thread: bool = True) -> None:
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < 0.3 and done < total:
            return
        last = now
        Job.objects.filter(pk=pk).update(done=done, total=total)

    try:
        with acting_as(actor):
            result = work(progress)
        Job.objects.filter(pk=pk).update(
            status=Job.Status.DONE, result=result or {}, finished_at=timezone.now()
        )
    except BaseException as error:  # a job must always end, whatever happened
        if not isinstance(error, _user_facing()):
            logger.exception("bakgrundsarbete %s misslyckades", pk)
        Job.objects.filter(pk=pk).update(
            status=Job.Status.FAILED, error=_message(error), finished_at=timezone.now()
        )
        if not isinstance(error, Exception):
            raise
    finally:
        if in_thread:
            close_old_connections()
            connection.close()


def fail_interrupted() -> int:
    """Mark jobs that were running when the server stopped as failed."""
    return Job.objects.filter(status=Job.Status.RUNNING).update(
        status=Job.Status.FAILED,
        error="servern startades om medan arbetet pågick – starta det igen",
        finished_at=timezone.now(),
    )


def step(pk: int, text: str) -> None:
    Job.objects.filter(pk=pk).update(step=text[:300])
