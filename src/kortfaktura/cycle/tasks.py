"""The monthly cycle's task: a queued step, carried out by a worker of the task engine."""

from typing import Any

from django_tasks import TaskContext, task

from kortfaktura.cycle.models import StepRun


@task(takes_context=True)
def run_step(context: TaskContext, step_run_id: int) -> dict[str, Any]:
    """Carries out a queued step once (``schedule.carry_out`` claims it queued → running).

    A later try of this task means that the worker of an earlier one died mid-step (the engine
    takes up only those): the step is then still marked running, and is queued again so that
    it runs; the steps themselves keep their effects once (a file imported once, a document
    handed over once)."""
    from kortfaktura.cycle.schedule import carry_out

    if context.attempt > 1:
        StepRun.objects.filter(pk=step_run_id, status=StepRun.Status.RUNNING).update(
            status=StepRun.Status.QUEUED
        )
    run = carry_out(step_run_id)
    return {"step_run": step_run_id, "status": run.status if run else "skipped"}
