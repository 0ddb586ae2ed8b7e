"""When the monthly cycle's steps are due (R24), and ``tick``: queue each step due at a time
exactly once, however many workers tick at that moment.

Each step has slots – the times it is planned for (every five minutes, every night at 02:00,
the billing day at 06:00). ``tick(at)`` takes, for each step, the latest slot at or before
``at`` and records (step, slot) in ``StepRun``, whose unique constraint lets exactly one of
several concurrent ticks have it; only that one hands the step to ``dispatch``. A tick that
comes late (the machine was off) queues the latest slot once, never every missed one.

``dispatch`` is the one place where the task engine plugs in: it queues the task
``cycle.tasks.run_step``, which calls ``carry_out(step_run_id)`` in a worker (``kortfaktura
worker``, which also ticks every minute; see docs/architecture.md).
"""

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from kortfaktura.audit.actor import acting_as
from kortfaktura.audit.services import record
from kortfaktura.cycle import calendar
from kortfaktura.cycle.models import StepRun

logger = logging.getLogger("kortfaktura.cycle")

FIVE_MINUTES = 5
NIGHTLY_AT = dt.time(2, 0)  # the review, when nobody works
DRAFT_AT = dt.time(6, 0)  # the monthly draft, before the working day
REMIND_AT = dt.time(7, 0)  # reminders, once the night's payment files are read
RETRY_AFTER = dt.timedelta(hours=1)  # a failed billing-day step is tried again on the hour
BILLING_DAY_RETRIES = 6


def _local(at: dt.datetime) -> dt.datetime:
    return timezone.localtime(at)


def _at(day: dt.date, time: dt.time) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, time))


@dataclass(frozen=True)
class Step:
    name: str
    label: str  # Swedish, what the step does
    kind: str  # "every" (minutes), "nightly", "daily" (REMIND_AT), "billing_day", "not_yet"
    minutes: int = 0
    not_yet: str = ""  # why a step that is not built yet does not run

    def when(self) -> str:
        if self.kind == "every":
            return f"var {self.minutes}:e minut"
        if self.kind == "nightly":
            return f"varje natt kl. {NIGHTLY_AT:%H.%M}"
        if self.kind == "daily":
            return f"varje dag kl. {REMIND_AT:%H.%M}"
        if self.kind == "billing_day":
            return (
                f"den {settings.BILLING_DAY}:e bankdagen i månaden kl. {DRAFT_AT:%H.%M} "
                "(KORTFAKTURA_BILLING_DAY)"
            )
        return f"inte byggt än: {self.not_yet}"

    def slot(self, at: dt.datetime) -> dt.datetime | None:
        """The latest planned time at or before ``at``, or None when none is due now."""
        local = _local(at)
        if self.kind == "every":
            floored = local.replace(
                minute=local.minute - local.minute % self.minutes, second=0, microsecond=0
            )
            return floored
        if self.kind in ("nightly", "daily"):
            today = _at(local.date(), NIGHTLY_AT if self.kind == "nightly" else REMIND_AT)
            return today if local >= today else today - dt.timedelta(days=1)
        if self.kind == "billing_day":
            # Only this month's: last month's draft is not made late in this month.
            planned = _at(calendar.billing_day(local.year, local.month), DRAFT_AT)
            return planned if local >= planned else None
        return None

    def next(self, at: dt.datetime) -> dt.datetime | None:
        """The first planned time after ``at``; None for a step that is not built yet."""
        local = _local(at)
        if self.kind == "every":
            slot = self.slot(at)
            assert slot is not None
            return slot + dt.timedelta(minutes=self.minutes)
        if self.kind in ("nightly", "daily"):
            today = _at(local.date(), NIGHTLY_AT if self.kind == "nightly" else REMIND_AT)
            return today if local < today else today + dt.timedelta(days=1)
        if self.kind == "billing_day":
            planned = _at(calendar.billing_day(local.year, local.month), DRAFT_AT)
            if local < planned:
                return planned
            year, month = (
                (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
            )
            return _at(calendar.billing_day(year, month), DRAFT_AT)
        return None


STEPS = (
    Step("import", "läs in filer från inkorgen (KORTFAKTURA_ORDER_INBOX)", "every", FIVE_MINUTES),
    Step("monthly_draft", "månadens utkast, Ekonomi meddelas", "billing_day"),
    Step("deliver", "leverera utfärdade dokument", "every", FIVE_MINUTES),
    Step("receipts", "läs kvitton och fakturasvar", "every", FIVE_MINUTES),
    Step("payments", "läs betalfiler (KORTFAKTURA_PAYMENT_INBOX)", "every", FIVE_MINUTES),
    Step("remind", "påminnelser om förfallna fakturor", "daily"),
    Step("review", "genomlysning, Granskare meddelas vid behov", "nightly"),
)
BY_NAME = {step.name: step for step in STEPS}


def schedule_list(at: dt.datetime | None = None) -> list[dict[str, Any]]:
    """``schedule list --json``: each step, when it runs, the next time and the last run (with
    its outcome: what the step's result says, or its error)."""
    at = at or timezone.now()
    last = last_runs()
    rows = []
    for step in STEPS:
        upcoming = step.next(at)
        previous = last.get(step.name)
        rows.append(
            {
                "step": step.name,
                "label": step.label,
                "when": step.when(),
                "next": _local(upcoming).isoformat() if upcoming else None,
                "last": (
                    {
                        "slot": _local(previous.slot).isoformat(),
                        "status": previous.status,
                        "finished_at": (
                            _local(previous.finished_at).isoformat()
                            if previous.finished_at
                            else None
                        ),
                        "error": previous.error or None,
                        "result": previous.result,
                    }
                    if previous
                    else None
                ),
            }
        )
    return rows


def last_runs() -> dict[str, StepRun]:
    """The latest recorded run of each step (one indexed query per step)."""
    found = {}
    for step in STEPS:
        run = StepRun.objects.filter(step=step.name).order_by("-slot").first()
        if run is not None:
            found[step.name] = run
    return found


def due(at: dt.datetime) -> list[tuple[Step, dt.datetime]]:
    wanted = [(step, slot) for step in STEPS if (slot := step.slot(at)) is not None]
    return wanted + _retries(at, dict(wanted))


def _retries(at: dt.datetime, planned: dict[Step, dt.datetime]) -> list[tuple[Step, dt.datetime]]:
    """The billing day's step comes once a month, so a failed try (a locked database, a worker
    that died) is tried again on the hour, at most ``BILLING_DAY_RETRIES`` times in its month,
    instead of waiting a month; the other steps' next slot is near anyway. The draft itself
    makes one run per month however often it is tried."""
    retries = []
    for step, slot in planned.items():
        if step.kind != "billing_day":
            continue
        tries = list(
            StepRun.objects.filter(step=step.name, slot__gte=slot)
            .order_by("-slot")
            .values_list("slot", "status")[: BILLING_DAY_RETRIES + 1]
        )
        if not tries or tries[0][1] != StepRun.Status.FAILED or len(tries) > BILLING_DAY_RETRIES:
            continue
        hour = _local(at).replace(minute=0, second=0, microsecond=0)
        if hour - tries[0][0] >= RETRY_AFTER:
            retries.append((step, hour))
    return retries


def tick(
    at: dt.datetime | None = None, dispatcher: Callable[[StepRun], None] | None = None
) -> list[StepRun]:
    """Queues every step due at ``at`` (default now) that is not queued yet, each once (the
    database refuses a second (step, slot)), and hands each to the dispatcher."""
    at = at or timezone.now()
    wanted = due(at)
    if not wanted:
        return []
    recorded = set(
        StepRun.objects.filter(
            step__in=[step.name for step, _ in wanted], slot__in=[slot for _, slot in wanted]
        ).values_list("step", "slot")
    )
    queued = []
    for step, slot in wanted:
        if (step.name, slot) in recorded:
            continue
        try:
            with transaction.atomic():
                queued.append(StepRun.objects.create(step=step.name, slot=slot))
        except IntegrityError:
            continue  # another worker's tick queued it a moment ago
    for run in queued:
        (dispatcher or dispatch)(run)
    return queued


def dispatch(run: StepRun) -> None:
    """Hands a queued step to the task engine: a worker carries it out (``carry_out``).

    THE ENGINE HOOK. With the immediate backend (tests about the schedule) the step has run
    when this returns."""
    from kortfaktura.cycle.tasks import run_step

    run_step.enqueue(step_run_id=run.pk)


def step_gave_up(step_run_id: int, reason: str) -> None:
    """The engine gave up on a step's task (its worker died too often): the step is failed with
    the reason, audited as the schedule's own failures are; the next slot tries again."""
    run = StepRun.objects.filter(
        pk=step_run_id, status__in=(StepRun.Status.QUEUED, StepRun.Status.RUNNING)
    ).first()
    if run is None:
        return
    run.status = StepRun.Status.FAILED
    run.error = reason[:1000]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    from kortfaktura.cycle import steps

    with transaction.atomic(), acting_as(steps.SYSTEM):
        record(
            "cycle.step_failed",
            f"steg {run.step} {_local(run.slot):%Y-%m-%d %H:%M}",
            {"step": run.step, "slot": run.slot, "error": run.error},
        )


def carry_out(step_run_id: int) -> StepRun | None:
    """Runs a queued step once (claimed queued → running; a second caller gets None), as
    ``system``, and records the outcome. An error is recorded and audited, not raised: the
    next slot tries again."""
    from kortfaktura.cycle import steps

    now = timezone.now()
    with transaction.atomic():
        claimed = StepRun.objects.filter(pk=step_run_id, status=StepRun.Status.QUEUED).update(
            status=StepRun.Status.RUNNING, started_at=now
        )
    if not claimed:
        return None
    run = StepRun.objects.get(pk=step_run_id)
    try:
        result = steps.run_step(run.step, run.slot)
    except Exception as error:
        logger.exception("steget %s (%s) misslyckades", run.step, run.slot)
        run.status = StepRun.Status.FAILED
        run.error = f"{type(error).__name__}: {str(error)[:1000]}"
        with transaction.atomic(), acting_as(steps.SYSTEM):
            record(
                "cycle.step_failed",
                f"steg {run.step} {_local(run.slot):%Y-%m-%d %H:%M}",
                {"step": run.step, "slot": run.slot, "error": run.error},
            )
    else:
        run.status = StepRun.Status.DONE
        run.result = json.loads(json.dumps(result, cls=DjangoJSONEncoder, default=str))
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "result", "finished_at"])
    return run
