"""Shared by the browser, accessibility and authorization tests (issue 12, "Must show").

- ``seed_world()`` builds the world every one of those tests looks at: users of each role, a Kund
  of Vårgårda and a Kund of Borås ("another organisation"), issued March invoices and an April
  draft run (``webtools.billed_world``), an import with a quarantined row, a waiting change,
  delivered documents, a finished job per staff user and unbilled May orders. It returns the ids
  as plain JSON, so the authorization test can seed its own test database in-process and the
  browser tests can seed a real server's database in a subprocess.
- The ``server`` fixture runs the real application, ``kortfaktura serve`` (gunicorn, background
  jobs in its threads, the real security headers), on a database of its own: the test database
  cannot be used, since its transaction is never committed and the database refuses to delete
  issued documents, so a transactional test could not be cleaned up.
- The ``browser`` fixture is Debian's Chromium driven by Playwright (never ``playwright install``);
  ``Visitor`` is one logged-in person with everything that went wrong in their browser recorded:
  console errors, uncaught exceptions, Content Security Policy violations and failed requests.
"""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from processes import free_port

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CHROMIUM = Path("/usr/bin/chromium")
SCRIPT = Path(sys.executable).with_name("kortfaktura")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
OWN_ORGNR = "2120001454"  # Vårgårda kommun: the Kund's own organisation
OTHER_ORGNR = "2120001561"  # Borås stad: another organisation
OWN_KUND = "kund"
OTHER_KUND = "kund-annan"
# What the server's log says about an unexpected error: Django's 500, gunicorn's own, a failed
# background job.
SERVER_ERRORS = ("Internal Server Error", "Error handling request", "bakgrundsarbete")
STAFF = ("admin", "ekonomi", "fakturering", "granskare")


# --- The world ------------------------------------------------------------------------------


def _seed_work(progress: Any) -> dict[str, Any]:
    """A finished job for each staff user (the job ``test.seed``)."""
    progress(1, 1)
    return {"url": "/fakturor/", "link_text": "Visa fakturorna"}


def seed_world(outbox: Path) -> dict[str, Any]:
    """Everything the pages show, made by the real services (runs issued with the real Peppol
    validation, files imported by the real importer). ``outbox`` receives the delivered
    documents. Returns what the tests need to find again, as JSON-able values."""
    from django.conf import settings
    from django.test import override_settings

    import factories as make
    import webtools
    from conftest import ORDER_HEADER, order_row, write_csv
    from kortfaktura.delivery import services as delivery
    from kortfaktura.imports.services import import_file
    from kortfaktura.jobs import services as jobs
    from kortfaktura.orders.models import OrderChange

    world = webtools.billed_world()
    users = {role: role for role in STAFF}
    for role in STAFF:
        webtools.user(role)
    webtools.user("kund", OWN_ORGNR, username=OWN_KUND)
    webtools.user("kund", OTHER_ORGNR, username=OTHER_KUND)
    users["kund"] = OWN_KUND
    users["kund_annan"] = OTHER_KUND

    # Unbilled May orders, for a run drafted in the browser.
    etk = world.own_orders[0].product
    may = [
        make.order(world.own, "2020-05-04", etk, order_id="VG-MAJ-1"),
        make.order(world.own, "2020-05-05", etk, order_id="VG-MAJ-2"),
    ]
    # Card holders found only among Vårgårda's orders (the factory's default name is
    # everybody's), so a page that shows one to Borås gives itself away.
    for index, order in enumerate(may):
        order.holder_name = f"Maja Vårgårdasson {index}"
        order.save(update_fields=["holder_name"])
    folder = outbox.parent
    # An orders file with one good and one bad row (a day that does not exist): a quarantine row.
    orders_file = write_csv(
        folder / "bestallningar-seed.csv",
        ORDER_HEADER,
        [
            order_row("VG-SEED-1", "2020-05-06 10:00", OWN_ORGNR, holder_name="Sara Svensson"),
            order_row("VG-SEED-BAD", "2020-02-30 10:00", OWN_ORGNR),
        ],
    )
    batch = import_file("orders", orders_file, created_by="fakturering")
    assert batch.quarantined == 1, batch
    # A change to one of Borås's invoiced orders, waiting for a decision (R14).
    moved = write_csv(
        folder / "andring-seed.csv",
        ORDER_HEADER,
        [order_row("BS-3", "2020-03-20 10:00", OTHER_ORGNR, holder_name="Hemlig Innehavare 1")],
    )
    import_file("orders", moved, created_by="fakturering")
    change = OrderChange.objects.filter(status="pending", order__order_id="BS-3").first()
    assert change is not None, "the re-import made no waiting change"
    # The March invoices delivered through the Peppol file outbox.
    outbox.mkdir(parents=True, exist_ok=True)
    with override_settings(PEPPOL_OUTBOX=outbox.as_uri()):
        delivery.deliver()
    # A payment that matched no document, for Ekonomi to assign or mark for refund (R21).
    from kortfaktura.payments.models import Payment
    from kortfaktura.payments.services import import_content
    from payment_files import simple_bgmax

    paid = import_content(simple_bgmax([("okänd referens", "50.00", 901)]), "bgmax-seed.txt")
    unmatched = Payment.objects.filter(file_id=paid.file_id).values_list("pk", flat=True).get()
    # A finished job of each staff user (a user sees the jobs they started).
    job_ids: dict[str, int] = {}
    jobs.register("test.seed", _seed_work)
    with override_settings(TASKS=settings.IMMEDIATE_TASKS):
        for role in STAFF:
            job = jobs.start("seed", role, "Testarbete", "test.seed", actor=users[role])
            job_ids[role] = job.pk

    # A bookkeeping export of everything issued, and (where the review page stores its
    # reports) a finished review with its files.
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from kortfaktura.accounting.models import SieExport
    from kortfaktura.accounting.services import export_sie

    export_sie(dt.date(2000, 1, 1), timezone.localdate(), folder / "bokforing-seed.se")
    sie_export = SieExport.objects.order_by("-pk").values_list("pk", flat=True).first()
    review_job = None
    try:
        from kortfaktura.review import latest as reviews
    except ImportError:  # before the review page is merged
        reviews = None
    if reviews is not None:
        with override_settings(TASKS=settings.IMMEDIATE_TASKS):
            review_job = reviews.start(None, None, actor=users["granskare"]).pk

    def customer(owner: Any) -> dict[str, Any]:
        account = owner.accounts.order_by("pk").first()
        return {"pk": owner.pk, "orgnr": owner.orgnr, "name": owner.name, "account": account.code}

    return {
        "users": users,
        "password": webtools.PASSWORD,
        "own": customer(world.own),
        "other": customer(world.other),
        "own_invoice": world.own_invoice.number,
        "unmatched_payment": unmatched,
        "other_invoice": world.other_invoice.number,
        "own_orders": [order.order_id for order in world.own_orders],
        "other_orders": [order.order_id for order in world.other_orders],
        "other_holders": [order.holder_name for order in world.other_orders],
        "may_orders": [order.order_id for order in may],
        "own_holders": [*(order.holder_name for order in may), "Sara Svensson"],
        "issued_run": world.issued_run.pk,
        "draft_run": world.draft_run.pk if world.draft_run else None,
        "draft_invoice": (
            world.draft_run.invoices.get(customer=world.own).pk if world.draft_run else None
        ),
        "batch": batch.batch_id,
        "change": change.pk,
        "jobs": job_ids,
        "sie_export": sie_export,
        "review_job": review_job,
        "user_pk": get_user_model().objects.get(username=users["granskare"]).pk,
    }


# --- A real server on a database of its own -------------------------------------------------


@dataclass
class Server:
    url: str
    env: dict[str, str]
    directory: Path
    world: dict[str, Any]
    process: subprocess.Popen[str] | None = None
    log: Path | None = None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``kortfaktura ARGS`` on the server's database."""
        return subprocess.run(
            [str(SCRIPT), *args],
            env=self.env,
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""


def _pg_admin(url: str) -> Any:
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(url)
    user = config.get("USER") or "postgres"
    host = config.get("HOST") or "127.0.0.1"
    port = config.get("PORT") or 5432
    return psycopg.connect(f"postgresql://{user}@{host}:{port}/postgres", autocommit=True)


@dataclass
class _Template:
    """A migrated, empty database made once per test session and copied for each server."""

    sqlite: Path | None = None
    pg_name: str | None = None
    copies: list[str] = field(default_factory=list)


def _environment(data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "KORTFAKTURA_DATA_DIR": str(data_dir),
        "KORTFAKTURA_WEB_WORKERS": "1",
        "KORTFAKTURA_WEB_THREADS": "8",
        "KORTFAKTURA_DOCUMENT_WORKERS": "1",
        # The worker beside serve runs the pages' jobs; the schedule's monthly draft at the real
        # date would take the orders these stories bill themselves.
        "KORTFAKTURA_SCHEDULE": "0",
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "COLUMNS": "200",
    }
    # The live server starts its own worker (serve); jobs started in the browser need it.
    env.pop("KORTFAKTURA_JOBS_IN_BACKGROUND", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Template]:
    directory = tmp_path_factory.mktemp("template")
    env = _environment(directory / "var")
    url = os.environ.get("DATABASE_URL", "")
    template = _Template()
    if url:
        template.pg_name = f"kf_browser_template_{uuid.uuid4().hex[:8]}"
        with _pg_admin(url) as admin:
            admin.execute(f'CREATE DATABASE "{template.pg_name}"')
        env["DATABASE_URL"] = url.rsplit("/", 1)[0] + f"/{template.pg_name}"
    done = subprocess.run(
        [str(SCRIPT), "init"], env=env, cwd=directory, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    if not url:
        template.sqlite = directory / "var" / "kortfaktura.sqlite3"
    try:
        yield template
    finally:
        if url:
            with _pg_admin(url) as admin:
                for name in [*template.copies, template.pg_name]:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server(template: _Template, directory: Path) -> Server:
    """A copy of the template database, seeded by ``seed_world`` in a subprocess, served by
    ``kortfaktura serve`` on a free port of 127.0.0.1."""
    data = directory / "var"
    data.mkdir(parents=True)
    env = _environment(data)
    if template.sqlite is not None:
        shutil.copy(template.sqlite, data / "kortfaktura.sqlite3")
    else:
        url = os.environ["DATABASE_URL"]
        name = f"kf_browser_{uuid.uuid4().hex[:8]}"
        with _pg_admin(url) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template.pg_name}"')
        template.copies.append(name)
        env["DATABASE_URL"] = url.rsplit("/", 1)[0] + f"/{name}"
    seeded = subprocess.run(
        [sys.executable, str(Path(__file__)), "seed", str(directory / "outbox")],
        env=env,
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr[-5000:]
    world = json.loads(seeded.stdout.strip().splitlines()[-1])
    port = free_port()
    log = directory / "serve.log"
    server = Server(f"http://127.0.0.1:{port}", env, directory, world, log=log)
    with log.open("w") as sink:
        server.process = subprocess.Popen(
            [str(SCRIPT), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=directory,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{server.url}/logga-in/", timeout=5) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            pass
        if server.process.poll() is not None or time.monotonic() > deadline:
            stop_server(server)
            pytest.fail(f"kortfaktura serve startade inte:\n{server.output()[-3000:]}")
        time.sleep(0.3)


def stop_server(server: Server) -> None:
    if server.process is not None and server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(
    database_template: _Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    running = start_server(database_template, tmp_path_factory.mktemp("server"))
    try:
        yield running
    finally:
        stop_server(running)
    # 403 and 404 are logged with a traceback too; only unexpected errors count here.
    errors = [
        line
        for line in running.output().splitlines()
        if any(sign in line for sign in SERVER_ERRORS)
    ]
    assert not errors, "the server logged errors:\n" + "\n".join(errors)


# --- The browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            "Chromium saknas: /usr/bin/chromium behövs för webbläsartesterna "
            "(scripts/install-system-packages.sh installerar Debian-paketet chromium)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


# Reports every Content Security Policy violation as a console error, in every document
# (an init script runs through the DevTools protocol, so the policy does not block it).
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("CSP-brott: " + event.violatedDirective + " blockerade " +
    (event.blockedURI || "inline") + " i " + (event.sourceFile || document.location.href) +
    ":" + event.lineNumber);
});
"""


class Visitor:
    """One person in their own browser context (own cookies), with every problem recorded."""

    def __init__(
        self, browser: Any, server: Server, *, accept_downloads: bool = False, width: int = 1280
    ) -> None:
        self.server = server
        self.context = browser.new_context(
            viewport={"width": width, "height": 900},
            locale="sv-SE",
            accept_downloads=accept_downloads,
        )
        self.context.set_default_timeout(30_000)  # a loaded machine
        self.context.add_init_script(_CSP_LISTENER)
        self.problems: list[str] = []
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"JS-fel: {error}"))
        self.page.on("response", self._response)
        self.page.on("requestfailed", self._failed)

    def _failed(self, request: Any) -> None:
        # ERR_ABORTED is a request cut short by the next navigation (a favicon, a poll).
        if "ERR_ABORTED" not in str(request.failure):
            self.problems.append(f"misslyckad begäran: {request.url} ({request.failure})")

    def _console(self, message: Any) -> None:
        # A document answered with 404 or 403 on purpose is logged as "Failed to load
        # resource"; responses are judged by _response instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"konsolfel: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 500:
            self.problems.append(f"serverfel {response.status}: {response.url}")
        elif response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"{response.status} för {response.url}")

    def url(self, path: str) -> str:
        return self.server.url + path

    def goto(self, path: str, status: int | None = 200) -> Any:
        response = self.page.goto(self.url(path), wait_until="load")
        if status is not None:
            assert response is not None and response.status == status, (
                f"{path}: {response.status if response else 'inget svar'} i stället för {status}"
            )
        return response

    def login(self, username: str, password: str | None = None) -> "Visitor":
        """Through the real login form, as a person would."""
        self.goto("/logga-in/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password or self.server.world["password"])
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Logga in").click()
        assert "/logga-in/" not in self.page.url, f"{username} kom inte in: {self.page.url}"
        return self

    def text(self) -> str:
        return str(self.page.inner_text("body"))

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's WCAG 2.1 A and AA violations on the current page (none expected)."""
        from axe_playwright_python.sync_playwright import Axe

        options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
        return list(Axe().run(self.page, options=options).response["violations"])

    def check_accessibility(self, where: str) -> None:
        """axe on the page as it is now (e.g. a page that only a POST shows); violations are
        recorded with the other problems."""
        violations = self.axe()
        if violations:
            self.problems.append(describe_violations(where, violations))

    def take_problems(self) -> list[str]:
        found, self.problems = self.problems, []
        return found

    def close(self) -> None:
        self.context.close()


def describe_violations(where: str, violations: list[dict[str, Any]]) -> str:
    """axe's findings as a person reads them: rule, impact, what to do, which elements."""
    lines = [f"{where}: {len(violations)} brott mot WCAG 2.1 A/AA"]
    for violation in violations:
        lines.append(
            f"  [{violation.get('impact')}] {violation['id']}: {violation['help']} "
            f"({violation.get('helpUrl', '')})"
        )
        for node in violation.get("nodes", [])[:5]:
            target = " ".join(str(part) for part in node.get("target", []))
            summary = " ".join(str(node.get("failureSummary", "")).split())
            lines.append(f"      {target}: {summary[:300]}")
            lines.append(f"        {str(node.get('html', ''))[:200]}")
    return "\n".join(lines)


# --- The seed subprocess --------------------------------------------------------------------


def _seed_main(outbox: str) -> None:
    sys.path.insert(0, str(TESTS))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kortfaktura.settings")
    import django

    django.setup()
    world = seed_world(Path(outbox))
    print(json.dumps(world, default=str))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "seed":
        _seed_main(sys.argv[2])
    else:
        sys.exit("användning: python tests/browser.py seed OUTBOX")
