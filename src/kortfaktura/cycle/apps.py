from typing import Any

from django.apps import AppConfig


class CycleConfig(AppConfig):
    name = "kortfaktura.cycle"
    label = "cycle"
    verbose_name = "månadscykeln"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_tasks.signals import task_finished

        from kortfaktura.jobs import engine

        # Every worker ticks about once a minute; the database lets one tick queue a slot.
        engine.every_minute(_tick)
        task_finished.connect(_step_task_finished, dispatch_uid="kortfaktura.cycle.finished")


def _tick() -> None:
    from django.conf import settings

    from kortfaktura.cycle import schedule

    if settings.SCHEDULE:  # KORTFAKTURA_SCHEDULE=0: the workers only run tasks
        schedule.tick()


def _step_task_finished(sender: Any, task_result: Any, **kwargs: Any) -> None:
    from django_tasks import TaskResultStatus

    from kortfaktura.cycle import schedule, tasks
    from kortfaktura.jobs import engine

    if task_result.task.func is not tasks.run_step.func:
        return
    if task_result.status != TaskResultStatus.FAILED:
        return
    step_run_id = task_result.kwargs.get("step_run_id")
    if step_run_id is not None:
        reason = engine.message_of(task_result) or engine.error_text(task_result)
        schedule.step_gave_up(int(step_run_id), reason or "uppgiften misslyckades")
