"""Each role's main flow through the real web application in Chromium (issue 12, "Must show").

The server is ``kortfaktura serve`` on a database of its own (tests/browser.py), background jobs
run in its threads as in production, and every person logs in through the login form. Every
flow also fails on a script error, a Content Security Policy violation or a server error in the
browser. The Kund's flow is done with the keyboard only.
"""

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from browser import (
    OTHER_ORGNR,
    OWN_ORGNR,
    Server,
    Visitor,
    browser,
    database_template,
    server,
)
from conftest import ORDER_HEADER, order_row, write_csv

__all__ = ["browser", "database_template", "server"]  # the fixtures this module uses

UBL_INVOICE = "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice"
CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
JOB_TIMEOUT = 60_000  # ms: background work on a loaded machine


@pytest.fixture
def visitors(browser: Any, server: Server) -> Any:
    """Opens a logged-in Visitor per call and checks, at the end, that none of them met a
    script error, a CSP violation or a server error."""
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


def wait_for_job(visitor: Visitor) -> None:
    """On a job page (or a page with a job's progress): the bar fills and says it is done."""
    visitor.page.get_by_role("status").filter(has_text=re.compile(r"^\s*Klart")).wait_for(
        timeout=JOB_TIMEOUT
    )
    failed = visitor.page.get_by_role("alert")
    assert failed.count() == 0, failed.first.inner_text()


def test_fakturering_uploads_an_orders_file_and_sees_its_quarantine(
    visitors: Any, tmp_path: Path
) -> None:
    orders = write_csv(
        tmp_path / "bestallningar-juni.csv",
        ORDER_HEADER,
        [
            order_row("VG-JUN-1", "2020-06-02 09:00", OWN_ORGNR, holder_name="Lisa Larsson"),
            order_row("VG-JUN-2", "2020-06-31 09:00", OWN_ORGNR, holder_name="Per Persson"),
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
    visitor.check_accessibility("importens arbetssida")
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("Visa resultatet")).click()
    assert re.search(r"/import/\d+/$", page.url), page.url
    assert page.get_by_role("heading", level=1).inner_text().startswith("Import")
    quarantine = page.get_by_role("table").filter(has_text="Orsak")
    row = quarantine.get_by_role("row").filter(has_text="VG-JUN-2")
    assert row.count() == 1, visitor.text()
    assert "2020-06-31" in row.inner_text()
    assert row.get_by_role("cell").first.inner_text().strip() == "3"  # the file's line


def test_a_run_is_drafted_and_previewed_then_issued_by_finance(visitors: Any) -> None:
    billing = visitors("fakturering")
    page = billing.page
    billing.goto("/korningar/ny/")
    # A reversed period: a Swedish message in the page, the input kept, no server error.
    page.fill("[name=period_from]", "2020-05-31")
    page.fill("[name=period_to]", "2020-05-01")
    with page.expect_navigation():
        page.get_by_role("button", name="Förhandsgranska").click()
    assert page.get_by_role("alert").count() == 1, billing.text()
    assert page.input_value("[name=period_from]") == "2020-05-31"
    billing.check_accessibility("körningsformuläret med fel")
    page.fill("[name=period_from]", "2020-05-01")
    page.fill("[name=period_to]", "2020-05-31")
    with page.expect_navigation():
        page.get_by_role("button", name="Förhandsgranska").click()
    preview = page.get_by_role("region", name="Förhandsgranskning")
    assert preview.count() == 1, billing.text()
    assert "Vårgårda kommun" in preview.inner_text()
    assert "Ingenting är sparat" in preview.inner_text()
    billing.check_accessibility("förhandsgranskningen")
    with page.expect_navigation():
        page.get_by_role("button", name="Skapa utkast").click()
    match = re.search(r"/korningar/(\d+)/$", page.url)
    assert match, page.url
    run = match.group(1)
    assert "Utkast" in page.get_by_role("definition").first.inner_text()
    # Fakturering may draft but not issue.
    assert page.get_by_role("link", name=re.compile("^Utfärda")).count() == 0

    finance = visitors("ekonomi")
    page = finance.page
    finance.goto(f"/korningar/{run}/")
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("^Utfärda")).click()
    assert "Det kan inte ångras" in finance.text()
    page.on("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile(f"Ja, utfärda körning {run}")).click()
    wait_for_job(finance)
    finance.check_accessibility("utfärdandet")
    finance.goto(f"/korningar/{run}/")
    assert "Utfärdad" in page.get_by_role("definition").first.inner_text()
    number = page.get_by_role("table").get_by_role("link").first.inner_text().strip()
    assert number.isdigit(), number
    finance.goto(f"/fakturor/{number}/")
    specification = finance.text()
    for order_id in ("VG-MAJ-1", "VG-MAJ-2"):
        assert order_id in specification


def test_a_pdf_and_a_ubl_of_an_invoice_are_downloaded(visitors: Any, server: Server) -> None:
    visitor = visitors("granskare", accept_downloads=True)
    page = visitor.page
    number = server.world["own_invoice"]
    visitor.goto(f"/fakturor/{number}/")
    with page.expect_download() as pdf_download:
        page.get_by_role("link", name=re.compile("^PDF")).click()
    pdf = Path(pdf_download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF"), pdf[:20]
    with page.expect_download() as ubl_download:
        page.get_by_role("link", name=re.compile("UBL")).click()
    assert ubl_download.value.suggested_filename.endswith(".xml")
    root = ET.fromstring(Path(ubl_download.value.path()).read_bytes())
    assert root.tag == UBL_INVOICE
    assert root.findtext(f"{CBC}ID") == str(number)


def test_finance_credits_two_orders_of_an_invoice(visitors: Any, server: Server) -> None:
    visitor = visitors("ekonomi")
    page = visitor.page
    number = server.world["own_invoice"]
    visitor.goto(f"/fakturor/{number}/")
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("^Kreditera")).click()
    page.get_by_label("VG-2", exact=True).check()
    page.get_by_label("VG-3", exact=True).check()
    page.get_by_label(re.compile("^Orsak")).fill("Fel enhet")
    with page.expect_navigation():
        page.get_by_role("button", name="Granska krediteringen").click()
    assert "2 valda beställningar" in visitor.text()
    visitor.check_accessibility("bekräftelsen av krediteringen")
    page.on("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_role("button", name="Ja, kreditera").click()
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading.startswith("Kreditfaktura"), heading
    assert f"Krediterar faktura {number}" in visitor.text()
    credit_note = heading.split()[-1]
    visitor.goto(f"/fakturor/{number}/")
    credited = page.get_by_role("row").filter(has_text=f"ja, av {credit_note}")
    assert credited.count() == 2
    assert {row.get_by_role("cell").first.inner_text() for row in credited.all()} == {
        "VG-2",
        "VG-3",
    }


def test_finance_accepts_a_change_to_an_invoiced_order(
    visitors: Any, server: Server, tmp_path: Path
) -> None:
    """A re-import moves an invoiced order to another day: the change waits, finance accepts."""
    moved = write_csv(
        tmp_path / "flyttad.csv",
        ORDER_HEADER,
        [order_row("VG-4", "2020-03-25 10:00", OWN_ORGNR)],
    )
    imported = server.cli("import", "orders", str(moved))
    assert imported.returncode == 0, imported.stderr
    visitor = visitors("ekonomi")
    page = visitor.page
    visitor.goto("/andringar/")
    boxes = page.get_by_role("checkbox", name=re.compile("beställning VG-4$"))
    assert boxes.count() >= 1, visitor.text()
    for box in boxes.all():  # one per changed field
        box.check()
    page.get_by_label(re.compile("^Orsak")).fill("Rätt beställningsdag enligt kortsystemet")
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("^Godkänn valda")).click()
    assert "Det kan inte ångras" in visitor.text()
    visitor.check_accessibility("bekräftelsen av beslutet")
    with page.expect_navigation():
        page.get_by_role("button", name="Ja, godkänn").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Ändringarna är godkända"
    visitor.check_accessibility("beslutet")
    decided = page.get_by_role("table").get_by_role("row").filter(has_text="VG-4")
    assert decided.count() >= 1
    assert "2020-03-25" in " ".join(decided.all_inner_texts()), visitor.text()
    credit = page.get_by_role("link", name=re.compile(r"^Kreditfaktura \d+"))
    assert credit.count() == 1, visitor.text()
    with page.expect_navigation():
        credit.click()
    assert "VG-4" in visitor.text()
    visitor.goto("/andringar/?status=accepted")
    assert "Godkänd" in page.get_by_role("row").filter(has_text="VG-4").first.inner_text()


def _focused(visitor: Visitor) -> str:
    """The focused element's id, or else its text."""
    return str(
        visitor.page.evaluate(
            "(() => { const e = document.activeElement;"
            " return e ? (e.id || (e.innerText || '').trim()) : ''; })()"
        )
    )


def _tab_to(visitor: Visitor, name: str, key: str = "Tab", limit: int = 60) -> None:
    """Press Tab (or Shift+Tab) until the focused element is ``name`` (its id or text)."""
    for _ in range(limit):
        if _focused(visitor) == name:
            return
        visitor.page.keyboard.press(key)
    raise AssertionError(f"{key} never reached {name!r}")


def test_a_kund_sees_its_own_invoices_with_the_keyboard_and_nothing_of_anyone_else(
    browser: Any, server: Server
) -> None:
    world = server.world
    visitor = Visitor(browser, server)
    page = visitor.page
    try:
        # Log in with the keyboard only.
        visitor.goto("/logga-in/")
        _tab_to(visitor, "id_username")
        page.keyboard.type(world["users"]["kund"])
        page.keyboard.press("Tab")
        assert _focused(visitor) == "id_password"
        page.keyboard.type(world["password"])
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "/logga-in/" not in page.url
        assert "Vårgårda kommun" in visitor.text()

        # The first Tab reaches the skip link, which leads past the menu to the content.
        page.keyboard.press("Tab")
        assert _focused(visitor) == "Hoppa till innehållet"
        page.keyboard.press("Enter")
        assert _focused(visitor) == "innehall"
        assert page.url.endswith("#innehall")

        # The menu shows only what a Kund has; the last entry is one Shift+Tab back.
        menu = [link.inner_text() for link in page.locator("nav.main-nav a").all()]
        assert menu == ["Översikt", "Beställningar", "Fakturor"], menu
        _tab_to(visitor, "Fakturor", key="Shift+Tab", limit=3)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith("/fakturor/")
        listing = visitor.text()
        assert str(world["own_invoice"]) in listing
        assert str(world["other_invoice"]) not in listing

        _tab_to(visitor, str(world["own_invoice"]))
        with page.expect_navigation():
            page.keyboard.press("Enter")
        invoice = visitor.text()
        assert "Specifikation" in invoice
        for order_id in world["own_orders"]:
            assert order_id in invoice
        assert "Anna Andersson" in invoice  # the holders of its own cards

        seen = [listing, invoice]
        visitor.goto("/bestallningar/")
        seen.append(visitor.text())
        assert world["own_orders"][0] in seen[-1]
        visitor.goto(f"/bestallningar/{world['own_orders'][0]}/")
        seen.append(visitor.text())
        visitor.goto("/")
        seen.append(visitor.text())

        # Another organisation's invoice, documents and orders do not exist for this Kund.
        for path in (
            f"/fakturor/{world['other_invoice']}/",
            f"/bestallningar/{world['other_orders'][0]}/",
            f"/kunder/{OTHER_ORGNR}/",
        ):
            response = visitor.goto(path, status=None)
            assert response.status in (403, 404), f"{path}: {response.status}"
            seen.append(visitor.text())
        assert visitor.goto(f"/fakturor/{world['other_invoice']}/", status=404)
        assert page.get_by_role("heading", level=1).inner_text() == "Sidan finns inte"
        for file_format in ("pdf", "ubl", "xlsx", "csv"):
            answer = visitor.context.request.get(
                visitor.url(f"/fakturor/{world['other_invoice']}/{file_format}/")
            )
            assert answer.status == 404, f"{file_format}: {answer.status}"
            seen.append(answer.text() if answer.status < 500 else "")
        for query in (f"?q={world['other_orders'][0]}", f"?kund={OTHER_ORGNR}"):
            visitor.goto(f"/bestallningar/{query}", status=None)
            seen.append(visitor.text())
            visitor.goto(f"/fakturor/{query}", status=None)
            seen.append(visitor.text())
        secrets = [
            world["other"]["name"],
            *world["other_orders"],
            "BS-APR",
            *world["other_holders"],
        ]
        leaks = [secret for secret in secrets if any(secret in text for text in seen)]
        assert not leaks, f"the Kund saw {leaks}"
        assert not visitor.take_problems()
    finally:
        visitor.close()


def test_finance_reads_a_payment_file_and_assigns_what_did_not_match(
    visitors: Any, server: Server, tmp_path: Path
) -> None:
    from payment_files import simple_bgmax

    number = server.world["own_invoice"]
    bank_file = tmp_path / "bgmax-browser.txt"
    bank_file.write_bytes(simple_bgmax([("Betalning okänd", "125.00", 777)]))
    visitor = visitors("ekonomi", accept_downloads=True)
    page = visitor.page
    visitor.goto("/betalningar/")
    page.get_by_label(re.compile("^Betalfil \\(")).set_input_files(str(bank_file))
    with page.expect_navigation():
        page.get_by_role("button", name="Läs in").click()
    try:
        wait_for_job(visitor)
    except Exception:
        raise AssertionError(visitor.text()) from None
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("1 ny betalning")).click()
    row = page.get_by_role("row").filter(has_text="Betalning okänd")
    assert row.count() >= 1, visitor.text()
    waiting = page.locator("table").filter(has_text="Åtgärd").get_by_role("row")
    mine = waiting.filter(has_text="Betalning okänd")
    mine.get_by_label("Fakturanummer").fill(str(number))
    mine.get_by_label("Motivering").first.fill("Kunden ringde och angav fakturan")
    with page.expect_navigation():
        mine.get_by_role("button", name=re.compile("^Koppla")).click()
    assert f"kopplad till faktura {number}" in visitor.text()
    visitor.check_accessibility("betalningarna efter en koppling")
    visitor.goto(f"/fakturor/{number}/")
    payments = page.locator("table").filter(has_text="Betaldag")
    assert payments.get_by_role("row").filter(has_text="125,00").count() == 1, visitor.text()
    visitor.goto("/kundreskontra/")
    assert "Totalt öppet" in visitor.text()
    with page.expect_download() as sheet:
        page.get_by_role("link", name="Exportera till Excel").click()
    assert sheet.value.suggested_filename.startswith("kundreskontra-")
    assert Path(sheet.value.path()).read_bytes()[:2] == b"PK"
