"""The task engine's worker: django-tasks-db's worker with leases, retries and the schedule.

The library (django_tasks_db) keeps the queue as rows of its own table in our database, claims a
row in one transaction (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, an exclusive
transaction on SQLite) and runs it. What it leaves to us, and this module adds:

- **A worker that dies.** The library marks a task RUNNING when claimed and nothing ever looks
  at it again: a worker killed mid-task (SIGKILL, power cut) would leave it RUNNING forever. Each
  worker here reports in ``WorkerBeat`` (at least every ``WORKER_HEARTBEAT`` seconds, also from a
  thread while a task runs). Before claiming, a worker ``reap``s: a RUNNING task whose worker is
  dead – its process is gone from this machine, or, on another machine, it has not reported for
  ``WORKER_LEASE`` seconds – is put back in the queue, or failed with its reason after
  ``TASK_ATTEMPTS`` tries. A live worker on this machine is never reaped however long a task
  takes (SQLite may hold its heartbeat back behind a long write).
- **Retries with backoff.** A task that raises an unexpected error is queued again after
  ``TASK_BACKOFF * 2**(n-1)`` seconds, up to ``TASK_ATTEMPTS`` tries; the services' own errors
  (a Swedish sentence for the user, ``jobs.services.user_facing``) are final at once.
- **Exactly once** stays with the services: a task that is run again meets the database's
  constraints and states (an issued run is not issued again, a file is imported once, a
  delivery handed over is not handed over again). The engine gives at-least-once.
- **Every minute** the worker calls what the upper layers registered with ``every_minute`` (the
  monthly cycle's ``schedule.tick``); ``burst`` calls them once, runs until nothing is due, and
  returns.

When the engine gives up on a task it sends django-tasks' ``task_finished`` with status FAILED,
as the library does for a task that raised: the job or schedule step that owns it listens.
"""

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.db.utils import OperationalError
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks import TaskContext, TaskResultStatus
from django_tasks.signals import task_finished, task_started
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from kortfaktura.jobs.models import WorkerBeat

logger = logging.getLogger("kortfaktura.engine")

MINUTE = 60.0
_every_minute: list[Callable[[], Any]] = []


class WorkerDied(Exception):
    """The worker that ran a task stopped in the middle of it (killed, machine lost)."""


def every_minute(hook: Callable[[], Any]) -> Callable[[], Any]:
    """Registers ``hook`` to be called by every worker about once a minute (and once by
    ``worker --burst``). It must be safe to call from several workers at once."""
    if hook not in _every_minute:
        _every_minute.append(hook)
    return hook


def backoff(attempt: int) -> dt.timedelta:
    """How long a task waits after its ``attempt``-th try failed."""
    return dt.timedelta(seconds=float(settings.TASK_BACKOFF) * 2 ** max(0, attempt - 1))


def retryable(error: BaseException) -> bool:
    from kortfaktura.jobs.services import user_facing

    return isinstance(error, Exception) and not isinstance(error, user_facing())


HOST = socket.gethostname()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed child that its parent has not waited for yet is a zombie: dead all the same.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def is_dead(beat: WorkerBeat | None, now: dt.datetime) -> bool:
    if beat is None or beat.stopped_at is not None:
        return True
    if beat.host == HOST:
        return not _alive(beat.pid)
    return beat.seen_at < now - dt.timedelta(seconds=settings.WORKER_LEASE)


def died_reason(attempts: int) -> str:
    return (
        f"arbetaren som körde uppgiften avbröts mitt i arbetet {attempts} gånger (senast "
        f"{timezone.localtime():%Y-%m-%d %H:%M}); uppgiften har getts upp – se serverns logg, "
        "åtgärda orsaken (minne, diskutrymme) och starta arbetet igen"
    )


def reap(now: dt.datetime | None = None) -> tuple[int, int]:
    """Takes up the tasks whose worker died: queued again, or failed after ``TASK_ATTEMPTS``
    tries. Returns (queued again, failed)."""
    now = now or timezone.now()
    running = list(
        DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).values_list("id", "worker_ids")
    )
    if not running:
        return 0, 0
    last = {pk: (ids[-1] if ids else "") for pk, ids in running}
    beats = WorkerBeat.objects.in_bulk(set(last.values()))
    dead = [pk for pk, worker in last.items() if is_dead(beats.get(worker), now)]
    requeued = failed = 0
    given_up: list[DBTaskResult] = []
    for pk in dead:
        with exclusive_transaction(DBTaskResult.objects.db):
            # Locked and read again: another worker may have reaped it a moment ago.
            task = (
                DBTaskResult.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=TaskResultStatus.RUNNING)
                .first()
            )
            if task is None or (task.worker_ids[-1] if task.worker_ids else "") != last[pk]:
                continue
            attempts = len(task.worker_ids)
            if attempts >= settings.TASK_ATTEMPTS:
                task.set_failed(WorkerDied(died_reason(attempts)))
                given_up.append(task)
                failed += 1
            else:
                task.status = TaskResultStatus.READY
                task.run_after = now + backoff(attempts)
                task.save(update_fields=["status", "run_after"])
                requeued += 1
                logger.warning(
                    "uppgift %s (%s): arbetaren dog, uppgiften körs igen (försök %d av %d)",
                    task.pk,
                    task.task_path,
                    attempts + 1,
                    settings.TASK_ATTEMPTS,
                )
    for task in given_up:
        logger.error("uppgift %s (%s) gavs upp: %s", task.pk, task.task_path, task.traceback)
        _finished(task)
    return requeued, failed


def _finished(task: DBTaskResult) -> None:
    try:
        result = task.task_result
    except Exception:  # a task whose code is gone: nothing listens for it
        logger.exception("uppgift %s kunde inte läsas", task.pk)
        return
    task_finished.send(sender=type(result.task.get_backend()), task_result=result)


def error_text(task_result: Any) -> str:
    """The last line of a failed task's traceback: ``module.Class: message``."""
    if not task_result.errors:
        return ""
    lines = task_result.errors[-1].traceback.strip().splitlines()
    return lines[-1] if lines else ""


def message_of(task_result: Any) -> str:
    """The message of a failed task's error (the text after ``Class: ``)."""
    text = error_text(task_result)
    return text.split(": ", 1)[1] if ": " in text else ""


class EngineWorker(Worker):
    """django-tasks-db's worker, with heartbeats, reaping, retries and the minute hooks."""

    def __init__(self, *, burst: bool = False, interval: float = 1.0) -> None:
        super().__init__(
            queue_names=["*"],
            interval=interval,
            batch=burst,
            backend_name="default",
            startup_delay=not burst,
            max_tasks=None,
            worker_id=f"{HOST[:30]}-{os.getpid()}-{get_random_string(8)}",
            excluded_queue_names=[],
        )
        self.burst = burst
        self.ran = 0
        self._last_beat = 0.0
        self._last_reap = 0.0
        self._last_tick: float | None = None

    # --- heartbeat -----------------------------------------------------------------------

    def beat(self, *, stopped: bool = False) -> None:
        now = timezone.now()
        values: dict[str, Any] = {"host": HOST, "pid": os.getpid(), "seen_at": now}
        if stopped:
            values["stopped_at"] = now
        WorkerBeat.objects.update_or_create(worker_id=self.worker_id, defaults=values)
        self._last_beat = now.timestamp()

    def _beat_while(self, done: threading.Event) -> None:
        """Reports every WORKER_HEARTBEAT seconds until ``done`` (a thread of its own)."""
        try:
            while not done.wait(settings.WORKER_HEARTBEAT):
                try:
                    WorkerBeat.objects.filter(worker_id=self.worker_id).update(
                        seen_at=timezone.now()
                    )
                except Exception:  # a locked database: the next beat tries again
                    logger.debug("hjärtslaget kunde inte skrivas", exc_info=True)
        finally:
            connection.close()

    # --- the loop ------------------------------------------------------------------------

    def housekeeping(self) -> None:
        now = timezone.now().timestamp()
        if self._last_tick is None or now - self._last_tick >= MINUTE:
            self._last_tick = now
            for hook in list(_every_minute):
                try:
                    hook()
                except Exception:  # the schedule must not stop the worker
                    logger.exception("minutuppgiften %s misslyckades", hook)
        if now - self._last_reap >= settings.WORKER_HEARTBEAT:
            self.reap()

    def reap(self) -> None:
        self._last_reap = timezone.now().timestamp()
        try:
            reap()
        except OperationalError as error:
            if not is_locked_database_exception(error):
                raise

    def claim(self) -> tuple[DBTaskResult | None, bool]:
        """The next due task, claimed for this worker; (None, False) when the database was
        busy (SQLite), so that ``burst`` does not stop while work may be due."""
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        with exclusive_transaction(tasks.db):
            try:
                found = tasks.get_locked()
                if found is not None:
                    found.claim(self.worker_id)
            except OperationalError as error:
                if is_locked_database_exception(error):
                    return None, False
                raise
        return found, True

    def run(self) -> None:
        logger.info("arbetaren %s startar", self.worker_id)
        self.beat()
        # One heartbeat thread for the worker's life: it reports while a long task runs too.
        stop = threading.Event()
        heart = threading.Thread(target=self._beat_while, args=(stop,), daemon=True)
        heart.start()
        try:
            while self.running:
                self.housekeeping()
                found, answered = self.claim()
                if found is None and answered:
                    # Nothing due: first take up what dead workers left, then look again.
                    self.reap()
                    found, answered = self.claim()
                if found is not None:
                    # Straight on to the next task: closing and reopening the connection
                    # between tasks would cost more than a small task itself (SQLite).
                    self.run_task(found)
                    continue
                if self.burst and answered:
                    return
                close_old_connections()  # a dropped connection is noticed while idle
                if self.running:
                    threading.Event().wait(self.interval)
        finally:
            stop.set()
            heart.join()
            try:
                self.beat(stopped=True)
            except Exception:
                logger.debug("arbetarens sista hjärtslag kunde inte skrivas", exc_info=True)

    def run_task(self, db_task_result: DBTaskResult) -> None:
        """As the library's ``run_task``, with a retry with backoff when the task fails
        unexpectedly and has tries left."""
        self.running_task = True
        try:
            task = db_task_result.task
            task_result = db_task_result.task_result
            backend_type = type(task.get_backend())
            task_started.send(sender=backend_type, task_result=task_result)
            if task.takes_context:
                # The backend's result is the backport's TaskResult with its database row.
                context = TaskContext(task_result=task_result)  # type: ignore[arg-type]
                value = task.call(context, *task_result.args, **task_result.kwargs)
            else:
                value = task.call(*task_result.args, **task_result.kwargs)
            db_task_result.set_successful(value)
            task_finished.send(sender=backend_type, task_result=db_task_result.task_result)
        except BaseException as error:
            attempts = len(db_task_result.worker_ids)
            if retryable(error) and attempts < settings.TASK_ATTEMPTS:
                db_task_result.status = TaskResultStatus.READY
                db_task_result.run_after = timezone.now() + backoff(attempts)
                db_task_result.save(update_fields=["status", "run_after"])
                logger.warning(
                    "uppgift %s misslyckades (%s), körs igen (försök %d av %d)",
                    db_task_result.pk,
                    type(error).__name__,
                    attempts + 1,
                    settings.TASK_ATTEMPTS,
                )
            else:
                db_task_result.set_failed(error)
                _finished(db_task_result)
            if not isinstance(error, Exception):
                raise
        finally:
            self.running_task = False
            self._run_tasks += 1
            self.ran += 1


# --- health ------------------------------------------------------------------------------------

STALE = dt.timedelta(minutes=5)  # a due task waiting this long with no worker seen: a warning


def check_workers(deep: bool) -> Any:
    """The ``workers`` check of ``kortfaktura check`` and ``/healthz``: fails when tasks have
    waited for STALE with no worker seen meanwhile; says how many wait and how many failed."""
    from kortfaktura.operations.health import Check, sqlite_file

    now = timezone.now()
    unknown = Check("workers", True, "kan inte kontrolleras förrän databasen svarar")
    file = sqlite_file()
    if file is not None and not file.is_file():
        return unknown  # connecting would create an empty database file
    try:
        due = DBTaskResult.objects.ready()
        waiting = due.count()
        oldest = due.order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
        failed = DBTaskResult.objects.failed().count()
        seen = (
            WorkerBeat.objects.filter(stopped_at__isnull=True)
            .order_by("-seen_at")
            .values_list("seen_at", flat=True)
            .first()
        )
    except DatabaseError:  # unreachable, or no tables before ``init``: the checks above say so
        connection.close()
        return unknown
    counts = f"{waiting} i kö, {failed} misslyckad{'e' if failed != 1 else ''}"
    if failed:
        counts += " (se Bakgrundsarbeten i webben eller serverns logg)"
    if seen is not None and seen >= now - STALE:
        return Check(
            "workers", True, f"en arbetare hördes av {timezone.localtime(seen):%H:%M}; {counts}"
        )
    if waiting and oldest is not None and oldest < now - STALE:
        when = f"sedan {timezone.localtime(seen):%Y-%m-%d %H:%M}" if seen else "ännu inte"
        return Check(
            "workers",
            False,
            f"uppgifter väntar men ingen arbetare har hörts av {when} ({counts}) – starta "
            "kortfaktura worker (eller kortfaktura serve utan --no-worker), se "
            "docs/operations.md, Arbetare",
        )
    return Check("workers", True, f"ingen arbetare igång just nu; {counts}")
