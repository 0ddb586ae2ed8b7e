"""Long work started from the web application or the API, run as a task of the task engine.

``start`` records the job (the database refuses a second running job for the same work) and
queues the task ``jobs.tasks.run_job`` in the same transaction: a job is never recorded without
its task, nor a task queued for a job that was refused. A ``kortfaktura worker`` process then
runs the registered work with the job's JSON arguments, acting as the user who asked; the page
polls the job row for its progress.

Work is registered by name (``register``) by the part that owns it – the web views, the API,
the review – in its ``AppConfig.ready``, so this lower layer never imports them. The work must
be a function of ``(progress, **arguments)`` with JSON arguments: a worker in another process
(or on another machine) runs it, possibly again after a worker died (docs/architecture.md,
"The task engine"); its services' own guards keep the effects exactly once.
"""

import importlib
import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from kortfaktura.audit.actor import acting_as
from kortfaktura.jobs.models import Job

logger = logging.getLogger("kortfaktura.jobs")

Progress = Callable[[int, int], None]
Work = Callable[..., dict[str, Any]]  # work(progress, **arguments) -> result

UNEXPECTED = (
    "ett oväntat fel inträffade – ingenting har ändrats av det misslyckade steget; "
    "försök igen, och kontakta förvaltningen om det upprepas (detaljer i serverns logg)"
)

_works: dict[str, Work | str] = {}


class JobBusy(Exception):
    """The same work is already running."""

    def __init__(self, running: Job) -> None:
        super().__init__(f"{running.label} pågår redan (startad av {running.created_by})")
        self.running = running


def register(name: str, work: Work | str) -> Work | str:
    """Makes ``work`` runnable by the name ``name`` (once; the same work again is fine).

    ``work`` is the function, or its place as ``"package.module:function"``: an app registers
    its works by place in ``AppConfig.ready``, so that a process starts without importing every
    page and endpoint, and the module is imported when a worker first runs the work."""
    known = _works.get(name)
    if known is not None and known is not work and _place(known) != _place(work):
        raise ValueError(f"arbetet {name} är redan registrerat")
    if known is None or callable(work):
        _works[name] = work
    return work


def _place(work: Work | str) -> str:
    return work if isinstance(work, str) else f"{work.__module__}:{work.__qualname__}"


def registered(name: str) -> Work:
    try:
        work = _works[name]
    except KeyError:
        raise LookupError(
            f"arbetet {name!r} finns inte i den här versionen – uppgradera alla arbetare till "
            "samma version som webbservern"
        ) from None
    if isinstance(work, str):
        module, _, attribute = work.partition(":")
        work = getattr(importlib.import_module(module), attribute)
        assert callable(work), name
        _works[name] = work
    return work


def running(kind: str, key: str) -> Job | None:
    return Job.objects.filter(kind=kind, key=key, status=Job.Status.RUNNING).first()


def start(
    kind: str,
    key: str,
    label: str,
    work: str,
    arguments: dict[str, Any] | None = None,
    *,
    actor: str,
) -> Job:
    """Record the job and queue its task; raise ``JobBusy`` when the same work is running.

    With the immediate backend (page tests) the work has run when this returns."""
    from django_tasks_db import DatabaseBackend

    from kortfaktura.jobs.tasks import run_job

    registered(work)  # a typo fails here, in the request, not later in a worker
    queued_here = isinstance(run_job.get_backend(), DatabaseBackend)
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind,
                key=key,
                label=label,
                created_by=actor,
                work=work,
                arguments=arguments or {},
            )
            if queued_here:
                # Queued in the job's own transaction: both are there, or neither.
                result = run_job.enqueue(job_id=job.pk)
                Job.objects.filter(pk=job.pk).update(task_id=str(result.id)[:64])
    except IntegrityError:
        busy = running(kind, key)
        if busy is None:  # it finished between the insert and this read: ask again
            return start(kind, key, label, work, arguments, actor=actor)
        raise JobBusy(busy) from None
    if not queued_here:
        # The immediate backend runs the work now: outside the job's transaction, so that a
        # failing work cannot take the job row with it.
        run_job.enqueue(job_id=job.pk)
    job.refresh_from_db()
    return job


def user_facing() -> tuple[type[BaseException], ...]:
    """The services' own errors, whose message is a Swedish sentence meant for the user. They
    are final: trying again would give the same answer."""
    from kortfaktura.access.services import AccessError
    from kortfaktura.accounting.services import SieError
    from kortfaktura.billing.services import BillingError
    from kortfaktura.delivery.channels import MissingSetting
    from kortfaktura.delivery.services import DeliveryError
    from kortfaktura.documents.services import ExportError
    from kortfaktura.imports.engine import ImportFailed
    from kortfaktura.payments.services import PaymentError
    from kortfaktura.review.services import ReportError

    return (
        AccessError,
        SieError,
        BillingError,
        DeliveryError,
        MissingSetting,
        ExportError,
        ImportFailed,
        PaymentError,
        ReportError,
    )


def message(error: BaseException) -> str:
    if isinstance(error, user_facing()):
        return str(error)
    return UNEXPECTED


def run(job_id: int, attempt: int = 1) -> dict[str, Any]:
    """Runs a job's work once (the task ``run_job``). A job that is no longer running (done, or
    failed by a person or an earlier try) is left as it is."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.status != Job.Status.RUNNING:
        return {"skipped": True}
    work = registered(job.work)
    if attempt > 1:
        Job.objects.filter(pk=job_id).update(
            attempts=attempt,
            error="",
            step=f"försök {attempt}: arbetet tas upp igen efter ett avbrott",
        )
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < 0.3 and done < total:
            return
        last = now
        Job.objects.filter(pk=job_id).update(done=done, total=total)

    try:
        with acting_as(job.created_by):
            result = work(progress, **job.arguments)
    except BaseException as error:
        if not isinstance(error, user_facing()):
            logger.exception("bakgrundsarbete %s misslyckades", job_id)
        # Kept for the page; the job is failed when the engine gives up (``finish_failed``).
        Job.objects.filter(pk=job_id).update(error=message(error), attempts=attempt)
        raise
    Job.objects.filter(pk=job_id).update(
        status=Job.Status.DONE, result=result or {}, finished_at=timezone.now(), attempts=attempt
    )
    return {"job": job_id}


def finish_failed(job_id: int, reason: str = "") -> None:
    """The engine gave up on the job's task: the job is failed with the reason its last try
    left (or ``reason``), so that the work can be asked for again."""
    job = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).first()
    if job is None:
        return
    Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(
        status=Job.Status.FAILED,
        error=job.error or reason or UNEXPECTED,
        finished_at=timezone.now(),
    )


def step(pk: int, text: str) -> None:
    Job.objects.filter(pk=pk).update(step=text[:300])
