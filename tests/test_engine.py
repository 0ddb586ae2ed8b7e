"""The task engine (issue 19, DOMAIN.md R24): real worker processes on a database of their own.

Jobs are started as the web application starts them (``jobs.services.start`` with the pages'
registered work), then run by ``kortfaktura worker`` processes. A worker is killed with SIGKILL
while it holds a pause hook inside the work (``KORTFAKTURA_TEST_PAUSE_IN_<STEP>``); the next
``worker --burst`` must take the task up again, and the effects stay exactly once: each file
imported once, each document issued and delivered once, numbers gap-free, nothing lost.
"""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import CUSTOMER_HEADER, ORDER_HEADER, PRICE_HEADER, customer_row, order_row, write_csv
from processes import SCRIPT, drop_database, fresh_database_environment, issuer, run

VGR = "232100-0131"
PYTHON = Path(sys.executable)


class World:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.outbox = cwd / "outbox"

    def cli(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return run({**issuer(self.env, args), **extra}, self.cwd, *args)

    def json(self, *args: str) -> Any:
        result = self.cli(*args, "--json")
        assert result.returncode == 0, result.stderr + result.stdout
        return json.loads(result.stdout)

    def python(self, code: str) -> Any:
        """Runs ``code`` in a process of its own with Django set up (as the web server would);
        what it assigns to ``out`` is returned."""
        program = (
            "import json, django, os\n"
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'kortfaktura.settings')\n"
            "django.setup()\nout = None\n"
            + textwrap.dedent(code)
            + "\nprint(json.dumps(out, default=str))\n"
        )
        result = subprocess.run(
            [str(PYTHON), "-c", program],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    def start_job(self, kind: str, key: str, work: str, arguments: dict[str, Any]) -> int:
        """A job as the pages start it, by the user ``ekonomi`` (not the drafter: R25)."""
        return int(
            self.python(
                f"""
                from kortfaktura.jobs import services
                job = services.start({kind!r}, {key!r}, 'test', {work!r}, {arguments!r},
                                     actor='ekonomi')
                out = job.pk
                """
            )
        )

    def worker(self, *args: str, **pauses: str) -> subprocess.Popen[str]:
        env = {
            **self.env,
            **{f"KORTFAKTURA_TEST_PAUSE_IN_{k.upper()}": v for k, v in pauses.items()},
        }
        return subprocess.Popen(
            [str(SCRIPT), "worker", *args],
            env=env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def kill_at(self, step: str) -> None:
        """Starts a worker, waits until it holds the pause in ``step`` and SIGKILLs it."""
        process = self.worker(**{step: "120"})
        assert process.stderr is not None
        lines: list[str] = []
        stream = process.stderr

        def read() -> None:  # until the pause (a warning may come first)
            for line in stream:
                lines.append(line)
                if f"testpaus i {step}" in line:
                    return

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=120)  # a guard against a hang, not a measurement
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        reader.join(timeout=30)
        assert any(f"testpaus i {step}" in line for line in lines), "".join(lines)

    def burst(self, *args: str) -> None:
        result = self.cli("worker", "--burst", *args)
        assert result.returncode == 0, result.stderr + result.stdout

    def job(self, pk: int) -> dict[str, Any]:
        return dict(
            self.python(
                f"""
                from django_tasks_db.models import DBTaskResult
                from kortfaktura.jobs.models import Job
                job = Job.objects.get(pk={pk})
                task = DBTaskResult.objects.get(id=job.task_id)
                out = {{"status": job.status, "error": job.error, "attempts": job.attempts,
                       "result": job.result, "task_status": task.status,
                       "tries": len(task.worker_ids), "exception": task.exception_class_path}}
                """
            )
        )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    env, database = fresh_database_environment(tmp_path / "var")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    env |= {
        "KORTFAKTURA_PEPPOL_OUTBOX": f"file://{outbox}",
        "KORTFAKTURA_TASK_BACKOFF": "0",  # a retry is due at once: --burst runs it
    }
    env.pop("KORTFAKTURA_JOBS_IN_BACKGROUND", None)
    try:
        made = World(env, tmp_path)
        assert made.cli("init").returncode == 0
        customers = write_csv(
            tmp_path / "customers.csv",
            CUSTOMER_HEADER,
            [
                customer_row(),
                customer_row("212000-1355", "Göteborgs Stad", "1480", peppol_id="0007:2120001355"),
                customer_row(VGR, "Västra Götalandsregionen", "VGR-RS"),
            ],
        )
        prices = write_csv(
            tmp_path / "prices.csv",
            PRICE_HEADER,
            [["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""]],
        )
        for kind, path in (("customers", customers), ("prices", prices)):
            assert made.cli("import", kind, str(path)).returncode == 0
        yield made
    finally:
        drop_database(database)


def orders_file(world: World, name: str, count: int, month: str = "03") -> Path:
    rows = [
        order_row(
            f"{month}-{n}",
            ordered_at=f"2020-{month}-{1 + n % 27:02d}",
            orgnr=("212000-1454", "212000-1355", VGR)[n % 3],
        )
        for n in range(count)
    ]
    return write_csv(world.cwd / name, ORDER_HEADER, rows)


def upload(world: World, source: Path) -> str:
    """The file saved as the import page saves an upload (under the data directory)."""
    folder = Path(world.env["KORTFAKTURA_DATA_DIR"]) / "uploads" / source.stem
    folder.mkdir(parents=True)
    target = folder / source.name
    target.write_bytes(source.read_bytes())
    return str(target)


def test_a_worker_killed_during_an_import_leaves_it_to_the_next_which_imports_the_file_once(
    world: World,
) -> None:
    target = upload(world, orders_file(world, "bestallningar.csv", 60))
    job = world.start_job(
        "import",
        "import",
        "web.import",
        {"kind": "orders", "target": target, "actor": "ekonomi", "user_id": None},
    )
    world.kill_at("import")
    assert world.job(job)["status"] == "running"  # not failed by anyone: the engine takes it

    world.burst()
    done = world.job(job)
    assert (done["status"], done["task_status"], done["tries"]) == ("done", "SUCCESSFUL", 2)
    facts = world.python(
        """
        from kortfaktura.imports.models import ImportBatch
        from kortfaktura.orders.models import Order
        out = {"batches": list(ImportBatch.objects.filter(kind="orders")
                                .values_list("file_name", "status", "imported")),
               "orders": Order.objects.count()}
        """
    )
    assert facts == {"batches": [["bestallningar.csv", "completed", 60]], "orders": 60}
    assert not Path(target).exists()  # the uploaded copy goes once read


def test_a_worker_killed_while_issuing_leaves_the_run_to_be_issued_once_without_gaps(
    world: World,
) -> None:
    assert world.cli("import", "orders", str(orders_file(world, "o.csv", 30))).returncode == 0
    draft = world.json("bill", "--from", "2020-03-01", "--to", "2020-03-31")
    expected = len(draft["invoices"])
    job = world.start_job(
        "issue", str(draft["id"]), "web.issue_run", {"run_id": draft["id"], "issue_date": None}
    )
    world.kill_at("issue")
    assert world.json("invoice", "list") == []  # the killed transaction left nothing

    world.burst()
    done = world.job(job)
    assert (done["status"], done["tries"]) == ("done", 2), done
    documents = world.json("invoice", "list")
    assert len(documents) == expected
    for kind, first in (("invoice", 100001), ("internal_charge", 90000001)):
        numbers = sorted(int(doc["number"]) for doc in documents if doc["type"] == kind)
        assert numbers == list(range(first, first + len(numbers))), kind
    orders = [oid for doc in documents for oid in doc["order_ids"]]
    assert sorted(orders) == sorted(set(orders)) and len(orders) == 30  # each order once (R4)
    # Run once more by anyone, the job says it is issued and changes nothing.
    again = world.start_job("issue", str(draft["id"]), "web.issue_run", {"run_id": draft["id"]})
    world.burst()
    assert world.job(again)["status"] == "done"
    assert len(world.json("invoice", "list")) == expected


def test_a_worker_killed_while_delivering_hands_each_document_over_once(world: World) -> None:
    assert world.cli("import", "orders", str(orders_file(world, "o.csv", 12))).returncode == 0
    draft = world.json("bill", "--from", "2020-03-01", "--to", "2020-03-31")
    world.json("run", "issue", str(draft["id"]))
    numbers = sorted(doc["number"] for doc in world.json("invoice", "list"))
    job = world.start_job("deliver", "deliver", "web.deliver", {"run_id": draft["id"]})
    world.kill_at("deliver_send")
    [written] = list(world.outbox.iterdir())  # the first had been handed over

    world.burst()
    assert world.job(job)["status"] == "done"
    rows = world.json("delivery", "list")
    peppol = [row for row in rows if row["channel"] == "peppol"]
    assert sorted(row["number"] for row in rows) == numbers  # one row each: nothing lost
    assert {row["status"] for row in peppol} == {"sent"}
    files = list(world.outbox.iterdir())
    assert len(files) == len(peppol) and written in files  # each handed over once (R20)


def test_a_task_whose_worker_keeps_dying_is_failed_with_its_reason(world: World) -> None:
    target = upload(world, orders_file(world, "b.csv", 5))
    job = world.start_job(
        "import",
        "import",
        "web.import",
        {"kind": "orders", "target": target, "actor": "ekonomi", "user_id": None},
    )
    world.env["KORTFAKTURA_TASK_ATTEMPTS"] = "2"
    world.kill_at("import")
    world.kill_at("import")
    world.burst()
    failed = world.job(job)
    assert (failed["status"], failed["task_status"], failed["tries"]) == ("failed", "FAILED", 2)
    assert "avbröts mitt i arbetet 2 gånger" in failed["error"]
    assert failed["exception"].endswith("WorkerDied")
    assert (
        world.python("from kortfaktura.orders.models import Order\nout = Order.objects.count()")
        == 0
    )


def test_a_task_that_fails_is_tried_again_and_then_failed_with_its_reason(world: World) -> None:
    # An issue date that is no date: an unexpected error (not one of the services' own
    # refusals, which are final at once), so the engine tries three times.
    job = world.start_job("issue", "1", "web.issue_run", {"run_id": 1, "issue_date": "igår"})
    world.burst()
    failed = world.job(job)
    assert (failed["status"], failed["task_status"], failed["tries"]) == ("failed", "FAILED", 3)
    assert "oväntat fel" in failed["error"] and failed["exception"] == "builtins.ValueError"
    # Visible: the health check counts it.
    check = world.json("check")
    [workers] = [c for c in check["checks"] if c["name"] == "workers"]
    assert "1 misslyckad" in workers["detail"]


def test_a_refusal_of_the_service_is_final_at_once(world: World) -> None:
    job = world.start_job("issue", "404", "web.issue_run", {"run_id": 404})
    world.burst()
    failed = world.job(job)
    assert (failed["status"], failed["tries"]) == ("failed", 1)
    assert "404" in failed["error"]


@pytest.mark.parametrize("processes", [2, 3])
def test_several_workers_on_one_queue_run_each_task_once(world: World, processes: int) -> None:
    assert world.cli("import", "orders", str(orders_file(world, "o.csv", 9))).returncode == 0
    draft = world.json("bill", "--from", "2020-03-01", "--to", "2020-03-31")
    world.json("run", "issue", str(draft["id"]))
    exports = world.cwd / "sie"
    exports.mkdir()
    jobs = [
        world.start_job(
            "sie",
            f"sie-{n}",
            "web.sie",
            {
                "period_from": "2020-01-01",
                "period_to": "2030-12-31",
                "target": str(exports / f"export-{n}.se"),
                # The same period again and again: on the web that needs a reason (issue 21).
                "reason": f"provkörning {n} av samma period",
            },
        )
        for n in range(2 * processes)
    ]
    workers = [world.worker("--burst") for _ in range(processes)]
    for process in workers:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    states = [world.job(pk) for pk in jobs]
    assert {(s["status"], s["tries"]) for s in states} == {("done", 1)}
    assert len(list(exports.iterdir())) == len(jobs)
    count = world.python(
        "from kortfaktura.accounting.models import SieExport\nout = SieExport.objects.count()"
    )
    assert count == len(jobs)


def test_processes_option_starts_that_many_workers(world: World) -> None:
    result = world.cli("worker", "--burst", "--processes", "2")
    assert result.returncode == 0, result.stderr
    assert "Startar 2 arbetare" in result.stdout
    assert world.cli("worker", "--processes", "0").returncode == 2


def test_a_tick_twice_queues_once_and_the_worker_carries_it_out(world: World) -> None:
    first = world.cli("schedule", "tick", "--at", "2026-10-06T10:00")
    assert first.returncode == 0, first.stderr
    assert "i kö" in first.stdout and "kortfaktura worker" in first.stdout
    second = world.json("schedule", "tick", "--at", "2026-10-06T10:01")
    assert second["queued"] == []
    tasks = world.python(
        """
        from django_tasks_db.models import DBTaskResult
        out = DBTaskResult.objects.filter(task_path__endswith="run_step").count()
        """
    )
    steps = world.python(
        "from kortfaktura.cycle.models import StepRun\n"
        "out = sorted(StepRun.objects.values_list('step', 'status'))"
    )
    assert tasks == len(steps) and {status for _, status in steps} == {"queued"}
    world.burst()
    steps = world.python(
        "from kortfaktura.cycle.models import StepRun\n"
        "out = sorted(StepRun.objects.filter(slot__lt='2026-10-07')"
        ".values_list('step', 'status'))"
    )
    assert {status for _, status in steps} == {"done"}, steps


def test_a_worker_ticks_the_schedule_unless_it_is_switched_off(world: World) -> None:
    """KORTFAKTURA_SCHEDULE=0 (a trial installation, the browser tests): the worker runs tasks
    but queues no step of the schedule; by default its tick queues what is due now."""
    count = "from kortfaktura.cycle.models import StepRun\nout = StepRun.objects.count()"
    world.env["KORTFAKTURA_SCHEDULE"] = "0"
    world.burst()
    assert world.python(count) == 0
    del world.env["KORTFAKTURA_SCHEDULE"]
    world.burst()
    assert world.python(count) > 0  # at least the inbox import, due every five minutes


def test_a_job_waiting_for_a_worker_says_so_and_whether_one_is_running(world: World) -> None:
    job = world.start_job("deliver", "deliver", "web.deliver", {})
    page = f"""
        from django.template.loader import render_to_string
        from django.utils import timezone
        from kortfaktura.api.routers.imports import job_json
        from kortfaktura.jobs.models import Job, WorkerBeat
        job = Job.objects.get(pk={job})
        def shown():
            return " ".join(render_to_string("web/job_progress.html", {{"job": job}}).split())
        out = {{"alone": shown(), "queued": job_json(job)["queued"], "status": job.status}}
        # A worker on another machine reports; it has not taken the task yet.
        WorkerBeat.objects.create(worker_id="annan", host="annan-server", pid=1,
                                  seen_at=timezone.now())
        out["beside"] = shown()
        WorkerBeat.objects.all().delete()
        """
    waiting = world.python(page)
    assert waiting["status"] == "running" and waiting["queued"] is True
    assert "i kö sedan" in waiting["alone"] and "Ingen arbetare är igång" in waiting["alone"]
    assert "kortfaktura worker" in waiting["alone"]
    assert "väntar på en ledig arbetare" in waiting["beside"]
    assert "Ingen arbetare" not in waiting["beside"]

    world.burst()
    after = world.python(page)
    assert after["status"] == "done" and after["queued"] is False
    assert "i kö" not in after["alone"] and "Klart" in after["alone"]


def test_a_worker_process_knows_every_work_the_pages_and_the_api_start(world: World) -> None:
    """A worker imports no page or endpoint itself: each work must be registered when Django
    starts (the apps' ``ready``), or the worker fails the job ("arbetet … finns inte")."""
    source = Path(__file__).resolve().parents[1] / "src" / "kortfaktura"
    named = {"review"}  # the review's job; the pages' and the API's are web.* and api.*
    for path in source.rglob("*.py"):
        named |= set(re.findall(r'"((?:web|api)\.[a-z_]+)"', path.read_text()))
    assert {"web.import", "api.import", "web.payments_import", "api.payments_import"} <= named
    # Each resolves to its function in a process that has only started Django.
    known = world.python(
        "from kortfaktura.jobs import services\n"
        "out = {name: callable(services.registered(name)) for name in sorted(services._works)}"
    )
    assert named <= set(known), sorted(named - set(known))
    assert all(known.values()), known


def test_a_burst_says_when_work_taken_back_from_a_dead_worker_will_be_tried(
    world: World,
) -> None:
    target = upload(world, orders_file(world, "c.csv", 4))
    job = world.start_job(
        "import", "import", "web.import",
        {"kind": "orders", "target": target, "actor": "ekonomi", "user_id": None},
    )  # fmt: skip
    world.kill_at("import")
    answer = world.cli("worker", "--burst", "--json", KORTFAKTURA_TASK_BACKOFF="600")
    assert answer.returncode == 0, answer.stderr
    assert len(json.loads(answer.stdout)["waiting"]) == 1
    said = world.cli("worker", "--burst", KORTFAKTURA_TASK_BACKOFF="600")
    assert "1 uppgift väntar på ett nytt försök" in said.stdout
    assert world.job(job)["status"] == "running"
