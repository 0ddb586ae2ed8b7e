"""Issue 21, items 8, 10 and 11, in Chromium against the real server (tests/browser.py).

- 11, narrow screens: at 390 and 320 CSS pixels the menu is folded behind a button (the page's
  content starts near the top), the button opens it (aria-expanded), without JavaScript the menu
  stays open; the list tables show each row's amount and status inside the viewport, with no
  sideways scrolling.
- 10, the audit log at 1280 px: no cell is wider than its column, nothing needs scrolling.
- 8, what happens next: after a draft the page names who issues it and notifies them through a
  real SMTP server (aiosmtpd); after issue the run shows its delivery progress; after an import
  the next step, linked.
"""

import email
import email.policy
import re
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from browser import SCRIPT, Server, Visitor, browser, database_template, start_server, stop_server
from conftest import ORDER_HEADER, order_row, write_csv
from processes import free_port

__all__ = ["browser", "database_template"]  # the shared fixtures this module uses
JOB_TIMEOUT = 60_000  # ms: background work on a loaded machine
MAIL_FROM = "kortfaktura@gits.example"
EVA = "eva"  # a colleague of Ekonomi with an e-mail address, made by this module
EVA_EMAIL = "eva.ekonomi@vgregion.example"


class Mailbox:
    """What the SMTP server received: (recipients, message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Any]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((sorted(envelope.rcpt_tos), message))
        return "250 OK"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port  # type: ignore[attr-defined]
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def server(
    database_template: Any, tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox
) -> Iterator[Server]:
    """The real server (tests/browser.py) with e-mail through the module's SMTP server and a
    Peppol outbox, so that notifications and deliveries really go somewhere."""
    directory = tmp_path_factory.mktemp("server")
    (directory / "peppol").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KORTFAKTURA_SMTP_URL", f"smtp://127.0.0.1:{mailbox.port}")  # type: ignore[attr-defined]
        patch.setenv("KORTFAKTURA_MAIL_FROM", MAIL_FROM)
        patch.setenv("KORTFAKTURA_PEPPOL_OUTBOX", (directory / "peppol").as_uri())
        running = start_server(database_template, directory)
    try:
        made = subprocess.run(
            [str(SCRIPT), "user", "add", "--role", "ekonomi", "--email", EVA_EMAIL, EVA],
            env=running.env,
            cwd=running.directory,
            input=running.world["password"] + "\n",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert made.returncode == 0, made.stderr
        yield running
    finally:
        stop_server(running)
    errors = [line for line in running.output().splitlines() if "Internal Server Error" in line]
    assert not errors, "the server logged errors:\n" + "\n".join(errors)


NARROW = (390, 320)
# The list pages of item 11 and the column that must be in view on a narrow screen.
LISTS = {
    "/fakturor/": "Att betala",
    "/korningar/": "Att betala",
    "/kundreskontra/": "Öppet",
    "/betalningar/": "Belopp",
    "/leveranser/": "Status",
    "/bestallningar/": "Tillstånd",
    "/kunder/": "Fakturamottagare",
}


@pytest.fixture
def visitors(browser: Any, server: Server) -> Any:
    """A logged-in Visitor per call; at the end, none met a script error, a CSP violation or
    a server error."""
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


def _sideways(visitor: Visitor) -> int:
    """How many CSS pixels the page is wider than the window (0: no sideways scrolling)."""
    return int(
        visitor.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


# --- Item 11: narrow screens ----------------------------------------------------------------


@pytest.mark.parametrize("width", NARROW)
def test_the_menu_is_folded_behind_a_button_on_a_narrow_screen(visitors: Any, width: int) -> None:
    visitor = visitors("admin", width=width)
    page = visitor.page
    visitor.goto("/fakturor/")
    button = page.get_by_role("button", name="Meny")
    menu = page.get_by_role("navigation", name="Huvudmeny")
    assert button.is_visible()
    assert button.get_attribute("aria-expanded") == "false"
    assert not menu.is_visible()
    heading = page.get_by_role("heading", level=1).bounding_box()
    assert heading is not None and heading["y"] < 120, heading  # content at once, not a menu
    # Opened with the keyboard: the menu's links show; Escape folds it again.
    button.focus()
    page.keyboard.press("Enter")
    assert button.get_attribute("aria-expanded") == "true"
    assert menu.is_visible()
    link = menu.get_by_role("link", name="Körningar")
    assert link.is_visible()
    box = link.bounding_box()
    assert box is not None and box["x"] + box["width"] <= width
    # The next Tab goes into the opened menu; Escape folds it and returns to the button.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('nav') !== null")
    page.keyboard.press("Escape")
    assert page.evaluate("() => document.activeElement.classList.contains('menu-toggle')")
    assert button.get_attribute("aria-expanded") == "false"
    assert not menu.is_visible()
    button.click()
    with page.expect_navigation():
        link.click()
    assert page.url.endswith("/korningar/")
    assert _sideways(visitor) == 0
    page.screenshot(path=f"/tmp/h21e-menu-{width}.png")


def test_the_menu_is_open_and_no_button_shows_on_a_wide_screen_or_without_javascript(
    visitors: Any, browser: Any, server: Server
) -> None:
    wide = visitors("ekonomi")
    wide.goto("/fakturor/")
    assert wide.page.get_by_role("navigation", name="Huvudmeny").is_visible()
    assert not wide.page.get_by_role("button", name="Meny").is_visible()
    # Without JavaScript nothing could open a folded menu: it stays open.
    context = browser.new_context(viewport={"width": 390, "height": 800}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(server.url + "/logga-in/")
        page.fill("#id_username", server.world["users"]["ekonomi"])
        page.fill("#id_password", server.world["password"])
        with page.expect_navigation():
            page.get_by_role("button", name="Logga in").click()
        page.goto(server.url + "/fakturor/")
        assert page.get_by_role("navigation", name="Huvudmeny").is_visible()
        assert page.get_by_role("link", name="Körningar").is_visible()
        assert not page.get_by_role("button", name="Meny").is_visible()
    finally:
        context.close()


def _column_index(visitor: Visitor, table: Any, heading: str) -> int:
    # A sortable heading's link also holds words for screen readers and an arrow, on lines of
    # their own: the column's name is the first line.
    headings = [
        (text.strip().splitlines() or [""])[0].strip()
        for text in table.locator("thead th").all_inner_texts()
    ]
    assert heading in headings, (heading, headings)
    return headings.index(heading)


@pytest.mark.parametrize("width", NARROW)
def test_list_tables_show_amount_and_status_without_sideways_scrolling(
    visitors: Any, width: int
) -> None:
    visitor = visitors("admin", width=width)
    page = visitor.page
    for path, heading in LISTS.items():
        visitor.goto(path)
        table = page.locator("main table").last
        assert table.count() == 1, f"{path}: no list table"
        index = _column_index(visitor, table, heading)
        row = table.locator("tbody tr").first
        cell = row.locator("td").nth(index)
        assert cell.is_visible(), f"{path}: {heading} is not shown"
        box = cell.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (
            f"{path}: {heading} at {box}, outside the {width} px window"
        )
        # In view at once: among the first lines of the row, not far down the card.
        first = row.locator("td").first.bounding_box()
        assert first is not None and box["y"] - first["y"] < 150, (path, first, box)
        # Labelled with its column, and nothing needs scrolling sideways.
        assert cell.get_attribute("data-label") == heading
        assert _sideways(visitor) == 0, f"{path}: the page scrolls sideways at {width} px: " + str(
            page.evaluate("""() => Array.from(document.querySelectorAll("body *")).filter(
              e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
              .slice(0, 8).map(e => e.tagName + "." + e.className + " " +
              Math.round(e.getBoundingClientRect().right))""")
        )
        wrap_overflow = table.evaluate("t => t.scrollWidth - t.parentElement.clientWidth")
        assert wrap_overflow <= 1, f"{path}: the table is {wrap_overflow} px too wide"
    visitor.check_accessibility(f"listorna på {width} px")


# --- Item 10: the audit log at 1280 px ------------------------------------------------------


def test_the_audit_log_shows_every_detail_whole_at_1280_px(visitors: Any) -> None:
    visitor = visitors("granskare", width=1280)
    page = visitor.page
    visitor.goto("/granskningslogg/")
    table = page.locator("table.admin-audit")
    assert table.count() == 1
    # The seeded world's imports carry their files' SHA-256: 64 characters without a space.
    assert re.search(r"\b[0-9a-f]{64}\b", table.inner_text()), "no hash among the details"
    clipped = table.evaluate(
        """t => Array.from(t.querySelectorAll("td")).filter(
             cell => cell.scrollWidth > cell.clientWidth + 1).map(cell => cell.innerText)"""
    )
    assert clipped == [], f"cells wider than their column: {clipped[:3]}"
    overflow = table.evaluate("t => t.scrollWidth - t.parentElement.clientWidth")
    assert overflow <= 1, f"the audit table is {overflow} px wider than its place"
    assert _sideways(visitor) == 0
    right = table.evaluate("t => t.getBoundingClientRect().right")
    assert right <= 1280


# --- Item 8: what happens next --------------------------------------------------------------


def wait_for_job(visitor: Visitor) -> None:
    visitor.page.get_by_role("status").filter(has_text=re.compile(r"^\s*Klart")).wait_for(
        timeout=JOB_TIMEOUT
    )
    failed = visitor.page.get_by_role("alert")
    assert failed.count() == 0, failed.first.inner_text()


def test_after_a_draft_the_page_names_who_issues_it_and_notifies_them(
    visitors: Any, mailbox: Mailbox, server: Server
) -> None:
    billing = visitors("fakturering")
    page = billing.page
    billing.goto("/korningar/ny/")
    page.fill("[name=period_from]", "2020-05-01")
    page.fill("[name=period_to]", "2020-05-31")
    with page.expect_navigation():
        page.get_by_role("button", name="Förhandsgranska").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Skapa utkast").click()
    match = re.search(r"/korningar/(\d+)/$", page.url)
    assert match, page.url
    run = match.group(1)
    step = page.get_by_role("region", name=re.compile("Nästa steg"))
    text = step.inner_text()
    assert "Ekonomi" in text and "fyraögonsprincipen" in text, text
    issuers = step.get_by_role("list").inner_text()
    assert EVA in issuers and EVA_EMAIL in issuers and "ekonomi" in issuers, issuers
    assert "fakturering" not in issuers, "the one who made the draft cannot issue it (R25)"
    billing.check_accessibility("körningen med Nästa steg")
    with page.expect_navigation():
        step.get_by_role("button", name=re.compile("Avisera")).click()
    assert f"skickad till {EVA_EMAIL}" in billing.text()
    sent = [message for to, message in mailbox.messages if f"körning {run} " in message["Subject"]]
    assert len(sent) == 1, [message["Subject"] for _, message in mailbox.messages]
    to, message = next((to, m) for to, m in mailbox.messages if m is sent[0])
    assert to == [EVA_EMAIL]
    assert message["From"] == MAIL_FROM
    assert f"/korningar/{run}/" in message.get_content()
    # Said on the page, once: asking again sends nothing more.
    step = page.get_by_role("region", name=re.compile("Nästa steg"))
    assert f"till {EVA_EMAIL}" in step.inner_text()
    assert step.get_by_role("button", name=re.compile("Avisera")).count() == 0
    # In the audit trail, as the person who asked.
    auditor = visitors("granskare")
    auditor.goto("/granskningslogg/?object=draft-waiting")
    row = auditor.page.locator("table.admin-audit tbody tr").filter(has_text=EVA_EMAIL)
    assert row.count() == 1, auditor.text()
    assert "fakturering" in row.inner_text()
    # Ekonomi issues it; the run's page then shows its delivery progress, which follows the
    # deliveries by itself (htmx polling) when they are made.
    finance = visitors("ekonomi")
    page = finance.page
    finance.goto(f"/korningar/{run}/utfarda/")
    page.on("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile(f"Ja, utfärda körning {run}")).click()
    wait_for_job(finance)
    finance.goto(f"/korningar/{run}/")
    progress = page.locator("#run-deliveries")
    assert progress.count() == 1, finance.text()
    assert "0 av 1 dokument" in progress.inner_text()
    assert progress.get_attribute("hx-trigger"), "waiting documents are polled"
    link = progress.get_by_role("link", name="Se körningens leveranser")
    assert link.get_attribute("href") == f"/leveranser/?korning={run}"
    finance.check_accessibility("utfärdad körning med leveranser")
    delivered = subprocess.run(
        [str(SCRIPT), "deliver", "--run", run],
        env=server.env,
        cwd=server.directory,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert delivered.returncode == 0, delivered.stdout + delivered.stderr
    page.locator("#run-deliveries").filter(has_text="1 av 1 dokument").wait_for(timeout=20_000)
    assert page.locator("#run-deliveries").get_attribute("hx-trigger") is None  # done: no polling
    with page.expect_navigation():
        page.locator("#run-deliveries").get_by_role("link", name="Se körningens leveranser").click()
    rows = page.locator("table.deliveries").last.locator("tbody tr")
    assert rows.count() == 1, finance.text()


def test_after_an_orders_import_the_next_step_is_a_draft_of_its_months(
    visitors: Any, tmp_path: Any
) -> None:
    orders = write_csv(
        tmp_path / "bestallningar-juli.csv",
        ORDER_HEADER,
        [
            order_row("VG-JUL-1", "2020-07-02 09:00", "2120001454", holder_name="Lisa Larsson"),
            order_row("VG-JUL-2", "2020-07-31 09:00", "2120001454", holder_name="Per Persson"),
            order_row("VG-JUL-3", "2020-06-31 09:00", "2120001454", holder_name="Fel Datum"),
        ],
    )
    visitor = visitors("fakturering")
    page = visitor.page
    visitor.goto("/import/")
    page.get_by_label("Vad filen innehåller").select_option("orders")
    page.get_by_label(re.compile("^Fil")).set_input_files(str(orders))
    with page.expect_navigation():
        page.get_by_role("button", name="Läs in filen").click()
    wait_for_job(visitor)
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("Visa resultatet")).click()
    step = page.get_by_role("region", name="Nästa steg")
    assert step.count() == 1, visitor.text()
    assert "karantän" in step.inner_text()
    draft = step.get_by_role("link", name=re.compile("Ny körning för juli 2020"))
    assert draft.count() == 1, step.inner_text()
    visitor.check_accessibility("importens resultat med Nästa steg")
    with page.expect_navigation():
        draft.click()
    assert page.input_value("[name=period_from]") == "2020-07-01"
    assert page.input_value("[name=period_to]") == "2020-07-31"
    with page.expect_navigation():
        page.get_by_role("button", name="Förhandsgranska").click()
    preview = page.get_by_role("region", name="Förhandsgranskning")
    assert "Vårgårda kommun" in preview.inner_text()


@pytest.mark.django_db
def test_without_mail_settings_the_draft_page_says_so_and_names_who_to_tell(settings: Any) -> None:
    """No SMTP server configured: the page says that it cannot notify and who to tell; asking
    anyway sends nothing and says why."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    import webtools
    from kortfaktura.cycle.models import Notification

    settings.SMTP_URL = ""
    world = webtools.billed_world()
    assert world.draft_run is not None
    finance = webtools.user("ekonomi")
    get_user_model().objects.filter(pk=finance.pk).update(email="ekonomi@vgregion.example")
    client = Client()
    client.force_login(webtools.user("fakturering"))
    page = client.get(f"/korningar/{world.draft_run.pk}/").content.decode()
    assert "Nästa steg: utfärda körningen" in page
    assert "E-post är inte inställd" in page and "KORTFAKTURA_SMTP_URL" in page
    assert "ekonomi@vgregion.example" in page  # who to tell
    assert f"http://testserver/korningar/{world.draft_run.pk}/" in page  # the link to give them
    assert "Avisera dem med e-post" not in page
    answer = client.post(f"/korningar/{world.draft_run.pk}/avisera/", follow=True)
    assert "E-post är inte inställd" in answer.content.decode()
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_the_deliveries_list_shows_one_run_when_asked() -> None:
    from django.test import Client

    import webtools
    from kortfaktura.delivery.models import Delivery

    world = webtools.billed_world()
    for invoice in world.issued_run.invoices.all():
        Delivery.objects.create(invoice=invoice, channel="peppol", status="failed", error="fel")
    client = Client()
    client.force_login(webtools.user("granskare"))
    shown = client.get(f"/leveranser/?korning={world.issued_run.pk}").content.decode()
    assert f"Körning {world.issued_run.pk}s leveranser" in shown
    assert str(world.own_invoice.number) in shown
    other = client.get(f"/leveranser/?korning={world.issued_run.pk + 100}").content.decode()
    assert str(world.own_invoice.number) not in other.split('id="lista"')[1]
