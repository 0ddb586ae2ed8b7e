"""Reads about jobs for the pages and the API: whether a running job's task still waits in the
queue, and whether any worker is there to take it."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max

from kortfaktura.jobs.models import Job, WorkerBeat


@dataclass(frozen=True)
class Queued:
    """A job whose task no worker has taken yet."""

    since: dt.datetime
    retry_at: dt.datetime | None  # a try failed: the next one waits until then
    worker_seen: dt.datetime | None  # the last sign of life of any running worker

    @property
    def no_worker(self) -> bool:
        return self.worker_seen is None


def queued(job: Job) -> Queued | None:
    """``Queued`` while ``job`` waits for a worker; None when it runs or has ended."""
    if job.status != Job.Status.RUNNING or not job.task_id:
        return None
    task = (
        DBTaskResult.objects.filter(pk=job.task_id, status=TaskResultStatus.READY)
        .values("enqueued_at", "run_after")
        .first()
    )
    if task is None:
        return None
    now = timezone.now()
    run_after = task["run_after"]
    lease = dt.timedelta(seconds=settings.WORKER_LEASE)
    seen = (
        WorkerBeat.objects.filter(stopped_at__isnull=True, seen_at__gte=now - lease)
        .order_by("-seen_at")
        .values_list("seen_at", flat=True)
        .first()
    )
    return Queued(
        since=task["enqueued_at"],
        retry_at=run_after if now < run_after < get_date_max() else None,
        worker_seen=seen,
    )
