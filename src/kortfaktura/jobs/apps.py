from typing import Any

from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Long work (a large import, issuing a run, exports, delivery) as tasks of the engine."""

    name = "kortfaktura.jobs"
    label = "jobs"
    verbose_name = "Bakgrundsarbeten"

    def ready(self) -> None:
        from django_tasks.signals import task_finished

        from kortfaktura.jobs import engine
        from kortfaktura.operations import health

        task_finished.connect(_job_task_finished, dispatch_uid="kortfaktura.jobs.finished")
        health.register(engine.check_workers)


def _job_task_finished(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """A job's task that the engine gave up on (or that failed on the immediate backend): the
    job is failed with its reason, so that the page stops waiting and it can be asked again."""
    from django_tasks import TaskResultStatus

    from kortfaktura.jobs import engine, services, tasks

    if task_result.task.func is not tasks.run_job.func:
        return
    if task_result.status != TaskResultStatus.FAILED:
        return
    job_id = task_result.kwargs.get("job_id")
    if job_id is None:
        return
    died = engine.error_text(task_result).startswith(engine.WorkerDied.__module__)
    services.finish_failed(int(job_id), engine.message_of(task_result) if died else "")
