from django.db import models
from django.db.models import Q


class Job(models.Model):
    """One piece of long work started from the web application, with its progress and result.

    The partial unique index lets only one job per ``(kind, key)`` be queued or running: a second
    request for the same work (the same run issued twice, two imports at once) is refused by the
    database, not only by code.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "pågår"
        DONE = "done", "klart"
        FAILED = "failed", "misslyckades"

    kind = models.CharField(max_length=32)
    key = models.CharField(max_length=100)
    label = models.CharField("vad", max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)
    step = models.CharField("just nu", max_length=300, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # What the task engine runs: the registered work's name and its JSON arguments
    # (jobs.services.register), and the engine's task that runs it.
    work = models.CharField(max_length=64, blank=True)
    arguments = models.JSONField(default=dict, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key"],
                condition=Q(status="running"),
                name="one_running_job_per_work",
            )
        ]
        indexes = [models.Index(fields=["kind", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return 0
        return min(100, int(self.done * 100 / self.total))

    @property
    def finished(self) -> bool:
        return self.status != self.Status.RUNNING


class WorkerBeat(models.Model):
    """A worker process that reports that it lives (``kortfaktura worker``). A task whose worker
    has not reported for ``WORKER_LEASE`` seconds – or whose process is gone from this machine –
    is taken up again by another worker (jobs.engine.reap)."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["-seen_at"], name="jobs_worker_seen")]

    def __str__(self) -> str:
        return f"arbetare {self.worker_id} ({self.host}:{self.pid})"
