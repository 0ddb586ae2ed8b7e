"""The task engine's tasks for jobs (``jobs.services.start``)."""

from typing import Any

from django_tasks import TaskContext, task

from kortfaktura.jobs import services


@task(takes_context=True)
def run_job(context: TaskContext, job_id: int) -> dict[str, Any]:
    """Runs the job's registered work with its arguments; see ``jobs.services.run``."""
    return services.run(job_id, attempt=max(1, context.attempt))
