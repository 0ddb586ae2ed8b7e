"""Issue 21, items 5–7: headings that say what a document covers, a review verdict that does not
contradict itself, and numbers that link to what they name.

The browser tests run the real server (tests/browser.py) with Debian's Chromium; a catch-up run
over June–August 2020 is billed and issued on it through the command line, as the monthly job
would. The details that need no browser (the API, the e-mail, the review's verdict on data made
for it) use Django's test client on the real database.
"""

import datetime as dt
import email
import email.policy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

import factories as make
import webtools
from browser import (
    OTHER_ORGNR,
    OWN_ORGNR,
    SCRIPT,
    Server,
    Visitor,
    browser,
    database_template,
    server,
)
from conftest import ORDER_HEADER, order_row, write_csv
from kortfaktura.audit.actor import acting_as
from kortfaktura.billing import naming
from kortfaktura.billing import services as billing
from kortfaktura.billing.models import Grouping, Invoice

__all__ = ["browser", "database_template", "server"]  # the fixtures this module uses

CATCH_UP = ("2020-06-01", "2020-08-31")
RUN_TITLE = "eTjänstekort beställda 2020-06-01 – 2020-08-31"


# --- The name of a document (unit) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("2026-11-01", "2026-11-30", "i november 2026"),
        ("2020-02-29", "2020-02-29", "i februari 2020"),
        ("2026-03-01", "2026-05-31", "mars–maj 2026"),
        ("2025-12-01", "2026-02-28", "december 2025 – februari 2026"),
    ],
)
def test_months_phrase(first: str, last: str, expected: str) -> None:
    assert naming.months_phrase(dt.date.fromisoformat(first), dt.date.fromisoformat(last)) == (
        expected
    )


@pytest.mark.parametrize(
    ("title", "legacy", "expected"),
    [
        # The catch-up run's default title: the document's own month instead.
        (
            "eTjänstekort beställda 2020-02-29 – 2026-11-30",
            False,
            "eTjänstekort beställda i november 2026",
        ),
        (
            "eTjänstekort beställda 2019-01-01 – 2020-02-28 som inte fakturerats tidigare",
            True,
            "eTjänstekort beställda i november 2026 som inte fakturerats tidigare",
        ),
        # A title a person wrote is kept, with the months it does not name.
        ("Höstens kort", False, "Höstens kort, beställda i november 2026"),
        ("eTjänstekort november 2026", False, "eTjänstekort november 2026"),
        (
            "Gamla kort – beställda 2019-01-01 – 2020-02-28 som inte fakturerats tidigare",
            True,
            "Gamla kort, beställda i november 2026 som inte fakturerats tidigare",
        ),
        (
            "Kreditering av faktura 100001: eTjänstekort beställda 2020-02-29 – 2026-11-30",
            False,
            "Kreditering av faktura 100001: eTjänstekort beställda i november 2026",
        ),
    ],
)
def test_heading_of_a_document(title: str, legacy: bool, expected: str) -> None:
    heading = naming.heading_of(title, legacy, dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert heading == expected


# --- Browser: the catch-up run on the real server ---------------------------------------------


def kortfaktura(server: Server, actor: str, *args: str) -> str:
    done = subprocess.run(
        [str(SCRIPT), *args],
        env={**server.env, "KORTFAKTURA_ACTOR": actor},
        cwd=server.directory,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def catch_up(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """June–August 2020 billed in one catch-up run: Vårgårda one invoice per month, Borås one
    invoice for the three months (``--per run``)."""
    folder = tmp_path_factory.mktemp("catch-up")
    rows = []
    for month in ("06", "07", "08"):
        rows.append(order_row(f"VG-CU-{month}", f"2020-{month}-10 10:00", OWN_ORGNR))
        rows.append(order_row(f"BS-CU-{month}", f"2020-{month}-10 10:00", OTHER_ORGNR))
    file = write_csv(folder / "bestallningar-sommar.csv", ORDER_HEADER, rows)
    kortfaktura(server, "fakturering", "import", "orders", str(file))
    numbers: dict[str, list[str]] = {}
    for orgnr, per in ((OWN_ORGNR, "month"), (OTHER_ORGNR, "run")):
        bill = ("bill", "--from", CATCH_UP[0], "--to", CATCH_UP[1], "--customer", orgnr)
        draft = json.loads(kortfaktura(server, "fakturering", *bill, "--per", per, "--json"))
        issued = json.loads(
            kortfaktura(server, "ekonomi-test", "run", "issue", str(draft["id"]), "--json")
        )
        assert issued["status"] == "issued", issued
        numbers[orgnr] = [invoice["number"] for invoice in issued["invoices"]]
        assert all(invoice["legacy"] is False for invoice in issued["invoices"])
    assert len(numbers[OWN_ORGNR]) == 3 and len(numbers[OTHER_ORGNR]) == 1, numbers
    return {"own": sorted(numbers[OWN_ORGNR], key=int), "other": numbers[OTHER_ORGNR]}


@pytest.fixture
def visitors(browser: Any, server: Server) -> Any:
    opened: list[Visitor] = []

    def open_as(role: str, **options: Any) -> Visitor:
        visitor = Visitor(browser, server, **options).login(server.world["users"][role])
        opened.append(visitor)
        return visitor

    yield open_as
    problems = [problem for visitor in opened for problem in visitor.take_problems()]
    for visitor in opened:
        visitor.close()
    assert not problems, "\n".join(problems)


def links_answer(visitor: Visitor, where: str) -> list[str]:
    """Every link to a page of the application on the current page, fetched with the
    visitor's session: none may answer 403 or 404 (or anything but success)."""
    hrefs = visitor.page.eval_on_selector_all(
        "main a[href^='/'], main a[href^='?']",
        "links => links.map(a => a.href)",
    )
    bad = []
    for href in sorted(set(hrefs)):
        if "/logga-ut/" in href:
            continue
        answer = visitor.page.request.get(href.split("#")[0])
        if answer.status >= 400:
            bad.append(f"{where}: {href} svarar {answer.status}")
    return bad


def test_review_verdict_is_red_and_names_what_needs_a_person(visitors: Any) -> None:
    """The seeded world has changes waiting for a decision (two fields of one order) and a
    payment without an invoice: the verdict is not green, and each finding is a link to its
    section."""
    visitor = visitors("granskare")
    page = visitor.page
    visitor.goto("/genomlysning/")
    verdict = page.locator("section.verdict")
    assert "verdict-bad" in (verdict.get_attribute("class") or "")
    headline = verdict.locator("h2").inner_text()
    assert "Allt stämmer" not in headline, verdict.inner_text()
    change = verdict.get_by_role("link", name=re.compile(r"^2 ändringar som väntar på beslut$"))
    change.click()
    assert page.url.endswith("#andringar")
    payment = verdict.get_by_role("link", name=re.compile(r"^1 betalning utan faktura$"))
    assert payment.get_attribute("href") == "#betalningar"
    assert page.locator("#betalningar").count() == 1
    # The waiting change's order is a link to the order (staff may open it).
    page.locator("#andringar + .table-wrap").get_by_role("link", name="BS-3").first.click()
    page.wait_for_url(re.compile(r"/bestallningar/BS-3/$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Beställning BS-3"
    visitor.check_accessibility("genomlysningen")


def test_invoices_of_a_catch_up_run_are_named_by_their_own_months(
    visitors: Any, server: Server, catch_up: dict[str, Any]
) -> None:
    staff = visitors("fakturering")
    page = staff.page
    june, july, august = catch_up["own"]
    staff.goto(f"/fakturor/{july}/")
    lead = page.locator("p.lead").inner_text()
    assert lead == "eTjänstekort beställda i juli 2020", lead
    assert "2020-06-01 – 2020-08-31" not in staff.text()
    # Borås's invoice covers the three months (one invoice for the run).
    staff.goto(f"/fakturor/{catch_up['other'][0]}/")
    assert page.locator("p.lead").inner_text() == "eTjänstekort beställda juni–augusti 2020"
    staff.check_accessibility("fakturan")

    # The Kund's overview: each row its own heading, and "Typ" (never "Slag").
    kund = visitors("kund")
    kund.goto("/")
    table = kund.page.get_by_role("table", name="Senaste fakturorna")
    headers = [text.strip() for text in table.locator("thead th").all_inner_texts()]
    assert "Typ" in headers and "Slag" not in headers
    number, heading = headers.index("Nummer"), headers.index("Rubrik")
    headings = {
        row.locator("td").nth(number).inner_text(): row.locator("td").nth(heading).inner_text()
        for row in table.locator("tbody tr").all()
    }
    assert headings[june] == "eTjänstekort beställda i juni 2020"
    assert headings[july] == "eTjänstekort beställda i juli 2020"
    assert headings[august] == "eTjänstekort beställda i augusti 2020"
    assert RUN_TITLE not in kund.text()
    kund.check_accessibility("kundens översikt")


def test_staff_follows_numbers_to_what_they_name(visitors: Any, server: Server) -> None:
    world = server.world
    visitor = visitors("ekonomi")
    page = visitor.page
    problems: list[str] = []
    # Orders list → the invoice an invoiced order is on.
    visitor.goto("/bestallningar/?id=VG-2")
    problems += links_answer(visitor, "beställningar")
    page.get_by_role("link", name=f"faktura {world['own_invoice']}").click()
    page.wait_for_url(re.compile(rf"/fakturor/{world['own_invoice']}/$"))
    # An order in a draft → its run.
    visitor.goto("/bestallningar/?id=VG-APR")
    page.get_by_role("link", name=f"körning {world['draft_run']}").click()
    page.wait_for_url(re.compile(rf"/korningar/{world['draft_run']}/$"))
    visitor.goto(f"/fakturor/{world['own_invoice']}/")
    # The invoice's specification → the order; the buyer → the customer.
    problems += links_answer(visitor, "fakturan")
    page.locator("#specifikation ~ .table-wrap").get_by_role("link", name="VG-3").click()
    page.wait_for_url(re.compile(r"/bestallningar/VG-3/$"))
    visitor.goto(f"/fakturor/{world['own_invoice']}/")
    page.get_by_role("link", name="Vårgårda kommun").first.click()
    page.wait_for_url(re.compile(rf"/kunder/{OWN_ORGNR}/$"))
    # Ändringar → the changed order, and the file the change came from.
    visitor.goto("/andringar/")
    problems += links_answer(visitor, "ändringar")
    page.get_by_role("link", name="BS-3", exact=True).first.click()
    page.wait_for_url(re.compile(r"/bestallningar/BS-3/$"))
    visitor.goto("/andringar/")
    page.get_by_role("link", name="andring-seed.csv").first.click()
    page.wait_for_url(re.compile(r"/import/\d+/$"))
    # Leveranser → the delivered document.
    visitor.goto("/leveranser/")
    problems += links_answer(visitor, "leveranser")
    page.get_by_role(
        "link", name=re.compile(rf"faktura {world['own_invoice']}$", re.IGNORECASE)
    ).first.click()
    page.wait_for_url(re.compile(rf"/fakturor/{world['own_invoice']}/$"))
    # The audit trail → the run, the invoice, the order named as its object.
    visitor.goto("/granskningslogg/?object=k%C3%B6rning")
    problems += links_answer(visitor, "granskningsloggen")
    page.get_by_role("link", name=f"körning {world['issued_run']}").first.click()
    page.wait_for_url(re.compile(rf"/korningar/{world['issued_run']}/$"))
    # A run's held-back orders and documents, and the other pages that name numbers.
    for path in (
        f"/korningar/{world['issued_run']}/",
        f"/korningar/{world['draft_run']}/",
        f"/korningar/{world['draft_run']}/utkast/{world['draft_invoice']}/",
        "/fakturor/",
        "/genomlysning/",
        "/bokforing/",
        "/betalningar/",
        "/kundreskontra/",
        f"/import/{world['batch']}/",
        f"/kunder/{OWN_ORGNR}/",
    ):
        visitor.goto(path)
        problems += links_answer(visitor, path)
    assert not problems, "\n".join(problems)
    visitor.goto(f"/korningar/{world['draft_run']}/utkast/{world['draft_invoice']}/")
    page.get_by_role("link", name="VG-APR").click()
    page.wait_for_url(re.compile(r"/bestallningar/VG-APR/$"))


def test_a_kund_follows_its_orders_to_their_invoice_and_gets_no_dead_link(
    visitors: Any, server: Server
) -> None:
    world = server.world
    visitor = visitors("kund")
    page = visitor.page
    problems: list[str] = []
    visitor.goto("/bestallningar/")
    problems += links_answer(visitor, "kundens beställningar")
    row = page.get_by_role("row").filter(has_text="VG-2")
    row.get_by_role("link", name=f"faktura {world['own_invoice']}").click()
    page.wait_for_url(re.compile(rf"/fakturor/{world['own_invoice']}/$"))
    problems += links_answer(visitor, "kundens faktura")
    # The Kund has no customer pages: the buyer's name is no link for it.
    assert page.locator("main").get_by_role("link", name="Vårgårda kommun").count() == 0
    page.locator("#specifikation ~ .table-wrap").get_by_role("link", name="VG-2").click()
    page.wait_for_url(re.compile(r"/bestallningar/VG-2/$"))
    problems += links_answer(visitor, "kundens beställning")
    for path in ("/", "/fakturor/"):
        visitor.goto(path)
        problems += links_answer(visitor, path)
    assert not problems, "\n".join(problems)
    visitor.check_accessibility("kundens beställning")


# --- Test client: API, e-mail and the review's verdict on data made for them ---------------


def summer_run(owner: Any, etk: Any, grouping: str = Grouping.MONTH) -> list[Invoice]:
    """Orders in June, July and August 2020, billed by one catch-up run and issued."""
    for month in (6, 7, 8):
        make.order(owner, dt.date(2020, month, 10), etk)
    run = billing.create_run(
        dt.date(2020, 6, 1), dt.date(2020, 8, 31), grouping=grouping, customers=[owner.orgnr]
    ).run
    assert run.title == RUN_TITLE
    with acting_as(webtools.ISSUER):
        billing.issue_run(run.pk)
    return list(Invoice.objects.filter(run=run).order_by("number"))


@pytest.mark.django_db
def test_api_title_names_the_documents_own_months() -> None:
    etk = make.product("ETK", "eTjänstekort")
    make.price(etk, "350")
    own = make.customer("Vårgårda kommun", number=OWN_ORGNR)
    make.account(own, "1442")
    other = make.customer("Borås stad", number=OTHER_ORGNR)
    make.account(other, "1490")
    summer_run(own, etk)
    summer_run(other, etk, Grouping.RUN)
    webtools.user("granskare")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {webtools.token('granskare')}")
    answer = api.get("/api/v1/invoices")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    items = body["items"]
    titles = {(item["orgnr"], item["period_start"]): item["title"] for item in items}
    assert titles == {
        (OWN_ORGNR, "2020-06-01"): "eTjänstekort beställda i juni 2020",
        (OWN_ORGNR, "2020-07-01"): "eTjänstekort beställda i juli 2020",
        (OWN_ORGNR, "2020-08-01"): "eTjänstekort beställda i augusti 2020",
        (OTHER_ORGNR, "2020-06-01"): "eTjänstekort beställda juni–augusti 2020",
    }
    # The document itself keeps the title it was issued with.
    assert set(Invoice.objects.values_list("title", flat=True)) == {RUN_TITLE}


@pytest.mark.django_db
def test_email_subject_names_the_documents_own_month(settings: Any, tmp_path: Path) -> None:
    from kortfaktura.delivery import services as delivery

    etk = make.product("ETK", "eTjänstekort")
    make.price(etk, "350")
    own = make.customer("Vårgårda kommun", number=OWN_ORGNR)
    account = make.account(own, "1442")
    account.delivery = "email"
    account.email = "faktura@vargarda.example"
    account.save()
    june, july, august = summer_run(own, etk)
    mail_dir = tmp_path / "epost"
    settings.SMTP_URL = f"file://{mail_dir}"
    settings.MAIL_FROM = "gits-fakturor@vgregion.example"
    report = delivery.deliver()
    assert len(report.delivered) == 3 and not report.failed
    subjects = {}
    for path in mail_dir.iterdir():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",)).get_content()
        subjects[message["Subject"].split(" ")[1]] = message["Subject"]
        assert "2020-06-01" not in body and "2020-08-31" not in body, body
    assert subjects[str(july.number)].startswith(f"Faktura {july.number} från ")
    assert subjects[str(june.number)].endswith(" – eTjänstekort beställda i juni 2020")
    assert subjects[str(july.number)].endswith(" – eTjänstekort beställda i juli 2020")
    assert subjects[str(august.number)].endswith(" – eTjänstekort beställda i augusti 2020")


@pytest.mark.django_db
def test_review_is_green_only_until_a_sie_export_no_longer_matches(
    settings: Any, tmp_path: Path
) -> None:
    """The reported contradiction: "✓ Allt stämmer" next to "1 SIE-export som inte stämmer"."""
    from kortfaktura.accounting.services import export_sie
    from kortfaktura.review.checks import municipalities

    settings.TASKS = settings.IMMEDIATE_TASKS
    settings.DATA_DIR = tmp_path / "data"
    etk = make.product("ETK", "eTjänstekort")
    make.price(etk, "350")
    # Every municipality of the region is a customer with a complete recipient: the review
    # has nothing to remark on the customer data.
    own = None
    for code, name in municipalities():
        customer = make.customer(name, number=OWN_ORGNR if "Vårgårda" in name else None)
        make.account(customer, f"K{code}")
        own = customer if "Vårgårda" in name else own
    assert own is not None
    make.order(own, "2020-03-02", etk)
    run = billing.create_run(dt.date(2020, 3, 1), dt.date(2020, 3, 31)).run
    with acting_as(webtools.ISSUER):
        billing.issue_run(run.pk)
    today = timezone.localdate()
    export_sie(today, today, tmp_path / "a.se")
    reader = Client()
    reader.force_login(webtools.user("granskare"))

    def verdict() -> str:
        reader.post("/genomlysning/rakna-om/")
        html = reader.get("/genomlysning/").content.decode()
        start = html.index('<section class="verdict')
        return html[start : html.index("</section>", start)]

    green = verdict()
    assert "verdict-ok" in green and "✓ Allt stämmer" in green, green
    assert "attention-list" not in green

    make.order(own, "2020-04-02", etk)
    later = billing.create_run(dt.date(2020, 4, 1), dt.date(2020, 4, 30)).run
    with acting_as(webtools.ISSUER):
        billing.issue_run(later.pk)
    red = verdict()
    assert "verdict-bad" in red and "Allt stämmer" not in red, red
    assert '<a href="#bokforing">1 SIE-export som inte stämmer</a>' in red
    page = reader.get("/genomlysning/").content.decode()
    assert 'id="bokforing"' in page and re.search(r'href="/bokforing/\d+/">Export \d+</a>', page)
    overview = reader.get("/").content.decode()
    assert "Allt stämmer" not in overview and "Behöver åtgärdas." in overview
