"""The billing pages (issue 12): Körningar, Fakturor, Ändringar, with the test client and the
real database, documents rendered for real."""

import csv
import datetime as dt
import io
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.test import Client
from django.utils import timezone

import factories as make
import webtools
from kortfaktura.billing import services as billing
from kortfaktura.billing.models import BillingRun, Invoice, InvoiceItem
from kortfaktura.jobs.models import Job
from kortfaktura.orders.models import OrderChange
from kortfaktura.orders.services import resolve_order_references

pytestmark = pytest.mark.django_db

OWN = "2120001454"


@pytest.fixture(autouse=True)
def jobs_inline(settings: Any) -> None:
    settings.TASKS = settings.IMMEDIATE_TASKS  # the page tests run a job inside the request


def client_for(role: str, orgnr: str | None = None, username: str | None = None) -> Client:
    browser = Client()
    browser.force_login(webtools.user(role, orgnr, username))
    return browser


def text(response: Any) -> str:
    return response.content.decode()


# Körningar


def test_preview_shows_proposal_and_held_back_reasons_and_stores_nothing() -> None:
    world = webtools.billed_world(with_draft=False)
    etk = world.own_orders[0].product
    make.order(world.own, "2020-04-03", etk, order_id="VG-APR1")
    stranger = make.order(world.own, "2020-04-05", etk, order_id="UNK-1")
    stranger.orgnr, stranger.customer = "5560360793", None
    stranger.save(update_fields=["orgnr", "customer"])
    runs_before = BillingRun.objects.count()
    browser = client_for("fakturering")
    response = browser.post(
        "/korningar/ny/",
        {"period_from": "2020-04-01", "period_to": "2020-04-30", "per": "month",
         "action": "preview"},
    )  # fmt: skip
    page = text(response)
    assert response.status_code == 200, page
    assert "Förhandsgranskning" in page and "Ingenting är sparat" in page
    assert "Vårgårda kommun" in page
    assert "Okänd kund (1)" in page and "UNK-1" in page
    assert "Läs in kunden" in page  # what releases them
    assert BillingRun.objects.count() == runs_before


def test_draft_then_issue_through_confirmation_assigns_numbers() -> None:
    world = webtools.billed_world(with_draft=False)
    make.order(world.own, "2020-04-03", world.own_orders[0].product, order_id="VG-APR1")
    drafter = client_for("fakturering")
    response = drafter.post(
        "/korningar/ny/",
        {"period_from": "2020-04-01", "period_to": "2020-04-30", "per": "month",
         "title": "April", "action": "create"},
    )  # fmt: skip
    assert response.status_code == 302, text(response)
    run = BillingRun.objects.get(title="April")
    assert response["Location"] == f"/korningar/{run.pk}/"
    page = text(drafter.get(response["Location"]))
    assert "Utkast" in page and "VG-APR1" not in page  # the run page shows documents, not ids
    # a Faktureringsadministratör drafts but may not issue
    assert drafter.get(f"/korningar/{run.pk}/utfarda/").status_code == 403
    issuer = client_for("ekonomi")
    confirm = issuer.get(f"/korningar/{run.pk}/utfarda/")
    page = text(confirm)
    assert confirm.status_code == 200
    assert "kan inte ångras" in page and "första numret blir 100003" in page
    response = issuer.post(f"/korningar/{run.pk}/utfarda/", {"issue_date": ""})
    assert response.status_code == 302 and response["Location"].startswith("/jobb/")
    run.refresh_from_db()
    assert run.status == BillingRun.Status.ISSUED
    numbers = list(run.invoices.values_list("number", flat=True))
    assert numbers == [100003]
    job = Job.objects.get(kind="issue_run", key=str(run.pk))
    assert job.status == Job.Status.DONE and job.result["url"] == f"/korningar/{run.pk}/"
    page = text(issuer.get(f"/korningar/{run.pk}/"))
    assert "Utfärdad" in page and 'href="/fakturor/100003/"' in page


def test_a_second_issue_while_one_runs_is_refused() -> None:
    world = webtools.billed_world()
    run = world.draft_run
    assert run is not None
    Job.objects.create(kind="issue_run", key=str(run.pk), label="Utfärdar", created_by="eva")
    confirm = client_for("admin").get(f"/korningar/{run.pk}/utfarda/")
    assert "utfärdas redan" in text(confirm)
    response = client_for("ekonomi").post(f"/korningar/{run.pk}/utfarda/", {"issue_date": ""})
    assert response.status_code == 409
    assert "utfärdas redan" in text(response) and "eva" in text(response)
    run.refresh_from_db()
    assert run.status == BillingRun.Status.DRAFT


def test_issue_refusal_is_shown_in_the_page() -> None:
    world = webtools.billed_world()
    assert world.draft_run is not None
    future = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    response = client_for("admin").post(
        f"/korningar/{world.draft_run.pk}/utfarda/", {"issue_date": future}
    )
    assert response.status_code == 400
    assert "i framtiden" in text(response)
    response = client_for("ekonomi", username="e2").post(
        f"/korningar/{world.draft_run.pk}/utfarda/", {"issue_date": "2020-13-01"}
    )
    assert response.status_code == 400 and "ÅÅÅÅ-MM-DD" in text(response)


def test_discard_with_confirmation() -> None:
    world = webtools.billed_world()
    run = world.draft_run
    assert run is not None
    browser = client_for("fakturering")
    confirm = browser.get(f"/korningar/{run.pk}/kassera/")
    assert confirm.status_code == 200 and "Ja, kassera" in text(confirm)
    run.refresh_from_db()
    assert run.status == BillingRun.Status.DRAFT
    response = browser.post(f"/korningar/{run.pk}/kassera/")
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == BillingRun.Status.DISCARDED
    assert not Invoice.objects.filter(run=run).exists()
    assert client_for("granskare").post(f"/korningar/{run.pk}/kassera/").status_code == 403


def test_run_form_errors_are_swedish_and_input_is_kept() -> None:
    webtools.billed_world(with_draft=False)
    browser = client_for("admin")
    response = browser.post(
        "/korningar/ny/",
        {"period_from": "2020-04-31", "period_to": "2020-04-30", "title": "Min rubrik",
         "per": "month", "action": "preview"},
    )  # fmt: skip
    page = text(response)
    assert response.status_code == 400
    assert "ÅÅÅÅ-MM-DD" in page and 'value="Min rubrik"' in page and 'role="alert"' in page
    response = browser.post(
        "/korningar/ny/",
        {"period_from": "2020-02-01", "period_to": "2020-04-30", "per": "month",
         "action": "preview"},
    )  # fmt: skip
    page = text(response)
    assert response.status_code == 400 and "äldre perioden" in page
    assert 'value="2020-02-01"' in page
    response = browser.post(
        "/korningar/ny/",
        {"period_from": "2020-04-01", "period_to": "2020-04-30", "per": "month",
         "customers": "556036-0793", "action": "preview"},
    )  # fmt: skip
    assert response.status_code == 400 and "Okänd kund: 5560360793" in text(response)


def test_runs_list_and_permissions() -> None:
    world = webtools.billed_world()
    page = text(client_for("granskare").get("/korningar/"))
    assert f"Körning {world.issued_run.pk}" in page and "Utkast" in page
    assert "Ny körning" not in page  # a Granskare may not draft
    assert client_for("granskare", username="g2").get("/korningar/ny/").status_code == 403
    assert client_for("ekonomi").get("/korningar/ny/").status_code == 403
    kund = client_for("kund", OWN)
    assert kund.get("/korningar/").status_code == 403
    assert kund.get(f"/korningar/{world.issued_run.pk}/").status_code == 403


def test_run_page_shows_held_back_by_reason_and_regenerate_picks_up_fixes() -> None:
    world = webtools.billed_world(with_draft=False)
    etk = world.own_orders[0].product
    make.order(world.own, "2020-04-03", etk, order_id="VG-APR1")
    make.order(None, "2020-04-04", etk, order_id="UNK-7", orgnr_text="5560360793")
    run = billing.create_run(dt.date(2020, 4, 1), dt.date(2020, 4, 30)).run
    browser = client_for("fakturering")
    page = text(browser.get(f"/korningar/{run.pk}/"))
    assert "Okänd kund (1)" in page and "UNK-7" in page and "Gå till Import" in page
    stranger = make.customer("Alingsås kommun", number="5560360793")
    make.account(stranger, "1489")
    resolve_order_references()  # as a customer import does
    assert browser.get(f"/korningar/{run.pk}/gor-om/").status_code == 302  # GET changes nothing
    response = browser.post(f"/korningar/{run.pk}/gor-om/", follow=True)
    page = text(response)
    assert "är gjort om" in page and "Inga beställningar hålls tillbaka" in page
    assert Invoice.objects.filter(run=run).count() == 2
    assert client_for("ekonomi").post(f"/korningar/{run.pk}/gor-om/").status_code == 403


def test_unknown_and_absurd_ids_answer_404() -> None:
    webtools.billed_world(with_draft=False)
    browser = client_for("admin")
    for url in (
        "/korningar/999/",
        f"/korningar/{2**63 + 5}/",
        f"/korningar/{2**63 + 5}/utfarda/",
        "/fakturor/999999/",
        f"/fakturor/{10**30}/",
        f"/fakturor/{10**30}/pdf/",
    ):
        assert browser.get(url).status_code == 404, url
    response = browser.get("/fakturor/", {"number": "9" * 40, "run": str(10**30)})
    assert response.status_code == 200 and 'role="alert"' in text(response)


# Fakturor


def test_downloads_are_real_files() -> None:
    world = webtools.billed_world(with_draft=False)
    number = world.own_invoice.number
    browser = client_for("granskare")
    pdf = browser.get(f"/fakturor/{number}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert pdf["Content-Disposition"] == f'attachment; filename="faktura-{number}.pdf"'
    ubl = browser.get(f"/fakturor/{number}/ubl/")
    assert ubl.status_code == 200 and "xml" in ubl["Content-Type"]
    assert "attachment" in ubl["Content-Disposition"]
    root = ET.fromstring(ubl.content)
    ids = [el.text for el in root if el.tag.endswith("}ID")]
    assert ids == [str(number)]
    stored = world.own_invoice.issued_document.unpacked()  # type: ignore[attr-defined]
    assert ubl.content == stored  # the stored document as issued, never rendered again
    xlsx = browser.get(f"/fakturor/{number}/xlsx/")
    assert xlsx.status_code == 200 and "spreadsheetml" in xlsx["Content-Type"]
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    cells = [str(c.value) for sheet in book for row in sheet.iter_rows() for c in row if c.value]
    assert "VG-2" in cells
    csv_file = browser.get(f"/fakturor/{number}/csv/")
    assert csv_file.status_code == 200 and csv_file["Content-Type"].startswith("text/csv")
    content = csv_file.content.decode("utf-8-sig")
    assert "VG-2" in content and list(csv.reader(io.StringIO(content), delimiter=";"))
    assert browser.get(f"/fakturor/{number}/doc/").status_code == 404


def test_ubl_of_an_internal_charge_is_a_swedish_message() -> None:
    etk = make.product("ETK", "eTjänstekort")
    make.price(etk, "350")
    vgr = make.customer("Västra Götalandsregionen", number="2321000131")
    account = make.account(vgr, "VGR-RS")
    account.cost_centre = "KS-1"
    account.save()
    make.order(vgr, "2020-03-02", etk, order_id="VGR-1")
    run = billing.create_run(dt.date(2020, 3, 1), dt.date(2020, 3, 31)).run
    assert run.pk is not None
    billing.issue_run(run.pk)
    charge = Invoice.objects.get(kind=Invoice.Kind.INTERNAL_CHARGE)
    browser = client_for("admin")
    response = browser.get(f"/fakturor/{charge.number}/ubl/", follow=True)
    assert response.status_code == 200
    assert "ingen faktura och skickas aldrig via Peppol" in text(response)
    assert browser.get(f"/fakturor/{charge.number}/pdf/").content.startswith(b"%PDF")


def test_invoice_list_filters() -> None:
    world = webtools.billed_world(with_draft=False)
    browser = client_for("ekonomi")
    page = text(browser.get("/fakturor/", {"customer": "Borås"}))
    assert f"/fakturor/{world.other_invoice.number}/" in page
    assert f"/fakturor/{world.own_invoice.number}/" not in page
    page = text(browser.get("/fakturor/", {"customer": "212000-1454"}))
    assert f"/fakturor/{world.own_invoice.number}/" in page
    assert f"/fakturor/{world.other_invoice.number}/" not in page
    page = text(browser.get("/fakturor/", {"month": "2020-03", "kind": "invoice"}))
    assert f"/fakturor/{world.own_invoice.number}/" in page
    page = text(browser.get("/fakturor/", {"month": "2020-04"}))
    assert "/fakturor/1000" not in page
    response = browser.get("/fakturor/", {"issued_from": "igår", "month": "mars"})
    assert response.status_code == 200
    assert "ÅÅÅÅ-MM-DD" in text(response) and "ÅÅÅÅ-MM" in text(response)


def test_credit_two_chosen_orders() -> None:
    world = webtools.billed_world(with_draft=False)
    number = world.own_invoice.number
    assert client_for("fakturering").get(f"/fakturor/{number}/kreditera/").status_code == 403
    browser = client_for("ekonomi")
    form = browser.get(f"/fakturor/{number}/kreditera/")
    assert form.status_code == 200 and 'value="VG-3"' in text(form)
    missing_reason = browser.post(
        f"/fakturor/{number}/kreditera/", {"scope": "chosen", "orders": ["VG-2"], "reason": ""}
    )
    assert missing_reason.status_code == 400 and "Ange en orsak" in text(missing_reason)
    chosen = {"scope": "chosen", "orders": ["VG-2", "VG-4"], "reason": "Fel enhet"}
    review = browser.post(f"/fakturor/{number}/kreditera/", {**chosen, "step": "review"})
    assert review.status_code == 200 and "kan inte ångras" in text(review)
    assert not Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).exists()
    done = browser.post(
        f"/fakturor/{number}/kreditera/",
        {"scope": "chosen", "typed": "VG-2 VG-4", "reason": "Fel enhet", "step": "confirm"},
    )
    note = Invoice.objects.get(kind=Invoice.Kind.CREDIT_NOTE)
    assert done.status_code == 302 and done["Location"] == f"/fakturor/{note.number}/"
    assert sorted(InvoiceItem.objects.filter(invoice=note).values_list("order_ref", flat=True)) == [
        "VG-2",
        "VG-4",
    ]
    assert note.reason == "Fel enhet" and note.credits_id == world.own_invoice.pk
    page = text(browser.get(f"/fakturor/{number}/"))
    assert f"/fakturor/{note.number}/" in page and "Fel enhet" in page


def test_kund_sees_its_own_invoice_and_nothing_of_the_other() -> None:
    world = webtools.billed_world()
    own = world.own_invoice.number
    other = world.other_invoice.number
    # a holder name on the own specification
    browser = client_for("kund", OWN)
    responses = [browser.get("/fakturor/"), browser.get(f"/fakturor/{own}/")]
    detail = text(responses[1])
    assert responses[1].status_code == 200
    assert "VG-2" in detail and "Vårgårda kommun" in detail
    own_holder = InvoiceItem.objects.filter(invoice=world.own_invoice).first()
    assert own_holder is not None and own_holder.holder_name
    assert own_holder.holder_name in detail
    assert "Leverans" not in detail  # deliveries are staff business
    for file_format in ("pdf", "ubl", "xlsx", "csv"):
        download = browser.get(f"/fakturor/{own}/{file_format}/")
        assert download.status_code == 200, file_format
        responses.append(download)
    for url in (
        f"/fakturor/{other}/",
        *(f"/fakturor/{other}/{file_format}/" for file_format in ("pdf", "ubl", "xlsx", "csv")),
    ):
        response = browser.get(url)
        assert response.status_code == 404, url
        responses.append(response)
    responses.append(browser.get("/fakturor/", {"number": str(other)}))
    responses.append(browser.get("/fakturor/", {"customer": "Borås"}))
    assert browser.get(f"/fakturor/{own}/kreditera/").status_code == 403
    assert browser.get("/andringar/").status_code == 403
    for response in responses:
        body = response.content.decode("utf-8", errors="replace")
        if response["Content-Type"].startswith("application/pdf"):
            continue  # compressed; its text is the own invoice's by construction (checked above)
        for secret in ("Borås", "BS-2", "BS-3", "Hemlig Innehavare", "2120001561", "212000-1561"):
            assert secret not in body, (response.request["PATH_INFO"], secret)


def test_staff_without_billing_view_and_anonymous() -> None:
    world = webtools.billed_world(with_draft=False)
    assert Client().get("/fakturor/").status_code == 302
    assert Client().get(f"/fakturor/{world.own_invoice.number}/pdf/").status_code == 302
    kund_elsewhere = client_for("kund", "2120001561")
    assert kund_elsewhere.get(f"/fakturor/{world.own_invoice.number}/").status_code == 404


# Ändringar


def _pending_change(world: webtools.World) -> OrderChange:
    from kortfaktura.imports.models import ImportBatch

    order = world.own_orders[0]
    batch = ImportBatch.objects.create(kind="orders", file_name="orders-2.csv", sha256="0" * 64)
    return OrderChange.objects.create(
        order=order,
        batch=batch,
        field="unit_code",
        old_value="",
        new_value="ENH-2",
        status=OrderChange.Status.PENDING,
    )


def test_accept_a_change_through_confirmation() -> None:
    world = webtools.billed_world(with_draft=False)
    change = _pending_change(world)
    page = text(client_for("fakturering").get("/andringar/"))
    assert "VG-2" in page and "ENH-2" in page and "Godkänn valda" not in page
    assert (
        client_for("fakturering", username="f2")
        .post("/andringar/beslut/", {"change": [change.pk], "action": "accept", "reason": "x"})
        .status_code
        == 403
    )
    browser = client_for("ekonomi")
    page = text(browser.get("/andringar/"))
    assert "Godkänn valda" in page
    no_reason = browser.post("/andringar/beslut/", {"change": [change.pk], "action": "accept"})
    assert no_reason.status_code == 400 and "Ange en orsak" in text(no_reason)
    review = browser.post(
        "/andringar/beslut/", {"change": [change.pk], "action": "accept", "reason": "Fel enhet"}
    )
    assert review.status_code == 200 and "kan inte ångras" in text(review)
    change.refresh_from_db()
    assert change.status == OrderChange.Status.PENDING
    result = browser.post(
        "/andringar/beslut/",
        {"change": [change.pk], "action": "accept", "reason": "Fel enhet", "step": "confirm"},
    )
    page = text(result)
    assert result.status_code == 200, page
    change.refresh_from_db()
    assert change.status == OrderChange.Status.ACCEPTED
    note = Invoice.objects.get(kind=Invoice.Kind.CREDIT_NOTE)
    assert f"/fakturor/{note.number}/" in page and "godkända" in page
    again = browser.post(
        "/andringar/beslut/",
        {"change": [change.pk], "action": "reject", "reason": "Igen", "step": "confirm"},
    )
    assert again.status_code == 400 and "redan beslutad" in text(again)


# In a real browser: every billing page for the roles that use it, axe-core finds nothing


CHROMIUM = "/usr/bin/chromium"
ORIGIN = "http://kortfaktura.test"


def _answers(session: Client, pages: list[tuple[str, str]]) -> dict[str, Any]:
    """The pages as the test client answers them, and the static files, by URL path: the
    browser is served from these (the ORM cannot run inside Playwright's event loop, and a live
    server could not flush issued documents afterwards)."""
    from django.contrib.staticfiles import finders

    answers: dict[str, Any] = {}
    for _, url in pages:
        if url.endswith("#preview"):
            response = session.post(
                "/korningar/ny/",
                {"period_from": "2020-04-01", "period_to": "2020-05-31", "per": "month",
                 "action": "preview"},
            )  # fmt: skip
        else:
            response = session.get(url)
        assert response.status_code == 200, url
        answers[url.split("#")[0] + ("?preview" if url.endswith("#preview") else "")] = (
            response.content,
            response["Content-Type"],
        )
    for name in ("app.css", "data.css", "billing.css", "oversight.css", "app.js",
                 "vendor/htmx.min.js", "favicon.svg"):  # fmt: skip
        found = finders.find(f"web/{name}")
        if found:
            content_type = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}
            answers[f"/static/web/{name}"] = (
                Path(str(found)).read_bytes(),
                content_type[name.rsplit(".", 1)[1]],
            )
    return answers


def _serve(answers: dict[str, Any]) -> Any:
    from urllib.parse import urlsplit

    def handle(route: Any) -> None:
        parts = urlsplit(route.request.url)
        key = parts.path + (f"?{parts.query}" if parts.query else "")
        if key not in answers:
            route.fulfill(status=404, body=b"")
            return
        body, content_type = answers[key]
        route.fulfill(status=200, headers={"Content-Type": content_type}, body=body)

    return handle


@pytest.mark.slow
def test_billing_pages_pass_axe_in_chromium(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium saknas: /usr/bin/chromium behövs för webbläsartestet")
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    world = webtools.billed_world()
    assert world.draft_run is not None
    _pending_change(world)
    number = world.own_invoice.number
    staff_pages = [
        ("korningar", "/korningar/"),
        ("korning", f"/korningar/{world.draft_run.pk}/"),
        ("ny-korning", "/korningar/ny/"),
        ("forhandsgranskning", "/korningar/ny/#preview"),
        ("utfarda", f"/korningar/{world.draft_run.pk}/utfarda/"),
        ("kassera", f"/korningar/{world.draft_run.pk}/kassera/"),
        ("fakturor", "/fakturor/"),
        ("faktura", f"/fakturor/{number}/"),
        ("kreditera", f"/fakturor/{number}/kreditera/"),
        ("andringar", "/andringar/"),
    ]
    kund_pages = [("kund-fakturor", "/fakturor/"), ("kund-faktura", f"/fakturor/{number}/")]
    sessions = [
        (_answers(client_for("admin"), staff_pages), staff_pages),
        (_answers(client_for("kund", OWN), kund_pages), kund_pages),
    ]
    violations: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for answers, pages in sessions:
                context = browser.new_context(
                    viewport={"width": 1280, "height": 900}, locale="sv-SE"
                )
                context.route(f"{ORIGIN}/**", _serve(answers))
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error, seen=errors: seen.append(str(error)))
                for name, url in pages:
                    address = url.replace("#preview", "?preview")
                    page.goto(ORIGIN + address, wait_until="load")
                    assert page.locator("h1").count() == 1, url
                    result = Axe().run(
                        page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
                    )
                    found = result.response["violations"]
                    if found:
                        violations[name] = [(v["id"], v["nodes"][0]["html"]) for v in found]
                    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
                assert errors == []
                context.close()
        finally:
            browser.close()
    keep = os.environ.get("KORTFAKTURA_KEEP_SCREENSHOTS")
    if keep:
        for shot in tmp_path.glob("*.png"):
            shutil.copy(shot, Path(keep) / shot.name)
    assert violations == {}
