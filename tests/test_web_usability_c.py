"""Issue 21, items 4 and 9: a new price from a date on the web, and the wording people stumbled on.

Item 4 (Priser): one form ends the price that holds until further notice and adds the next one,
audited as a price file's change; a date that would reprice already invoiced orders is refused.
Item 9: the document's number in the customer e-mail ("Fakturanummer", not "Fakturasnummer"),
counts with their word in the right number ("1 beställning"), the issue confirmation that said
the period twice, API messages that named command-line options or DOMAIN.md, a Kund offered
internal document kinds, "Filen är för stor" with 413, and API 422 answers in Swedish.

The browser tests share one server (tests/browser.py) and run in file order: the price test
first, since the wording test credits orders that the price test counts as invoiced.
"""

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

import webtools
from browser import Server, Visitor, browser, database_template, server
from kortfaktura.audit.models import AuditRecord
from kortfaktura.billing import services as billing
from kortfaktura.catalog.models import Price
from kortfaktura.delivery.channels import mail_text
from kortfaktura.documents.data import documents_for

__all__ = ["browser", "database_template", "server"]  # the fixtures this module uses


@pytest.fixture
def visitors(browser: Any, server: Server) -> Any:
    """A logged-in Visitor per call; at the end, none of them met a script error, a CSP
    violation or a server error."""
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


def _submit_price(visitor: Visitor, price: str, start: str) -> str:
    page = visitor.page
    page.select_option("#id_product", "ETK")
    page.fill("#id_unit_price", price)
    page.fill("#id_valid_from", start)
    with page.expect_navigation():
        page.get_by_role("button", name="Spara det nya priset").click()
    return said(visitor)


def said(visitor: Visitor) -> str:
    """The page's text with the no-break spaces of Swedish amounts (1 234,50) as spaces."""
    return visitor.text().replace("\xa0", " ")


# --- Item 4: a new price from a date --------------------------------------------------------


def test_a_new_price_ends_the_open_one_and_never_reprices_invoiced_orders(
    visitors: Any,
) -> None:
    """The seeded world: ETK 350 kr from 2019-01-01 until further notice; March 2020 orders
    (the latest 2020-03-04) on issued invoices; April orders in a draft."""
    fakturering = visitors("fakturering")
    page = fakturering.page
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    fakturering.goto("/priser/")
    shown = said(fakturering)
    assert "Gäller nu: 350,00 kr exkl. moms för beställningar från 2019-01-01" in shown
    assert "ETK: tidigast 2020-03-05" in shown, shown

    # More than two decimals, and nothing at all: said in Swedish at the field.
    refused = _submit_price(fakturering, "375,505", "2020-05-01")
    assert "À-priset 375,505 har fler än två decimaler – ange kronor och öre" in refused
    assert page.get_attribute("#id_unit_price", "aria-invalid") == "true"
    refused = _submit_price(fakturering, "0", "2020-05-01")
    assert "À-priset ska vara större än 0 kr" in refused
    # A date from which invoiced orders would get another price (R3, R12, R13).
    refused = _submit_price(fakturering, "1 234,50", "2020-03-01")
    assert (
        "5 beställningar av ETK från och med 2020-03-01 finns redan på utfärdade fakturor "
        "(den senaste beställd 2020-03-04)" in refused
    ), refused
    assert "välj 2020-03-05 eller senare" in refused
    assert page.input_value("#id_unit_price") == "1 234,50"  # kept for the next try
    fakturering.check_accessibility("/priser/ med fel")
    # Before the open price began.
    refused = _submit_price(fakturering, "1 234,50", "2018-06-01")
    assert "kan inte börja 2018-06-01, före priset 350,00 kr som gäller tills vidare" in refused
    assert price_rows(fakturering) == 1

    # The first day after the last invoiced order… the April draft's orders get the new price.
    done = _submit_price(fakturering, "1 234,50", "2020-04-01")
    assert asked and "avslutas dagen före" in asked[-1]
    assert (
        "Nytt pris för ETK: 1 234,50 kr exkl. moms för beställningar 2020-04-01–tills vidare. "
        "Det tidigare priset 350,00 kr gäller beställningar till och med 2020-03-31." in done
    ), done
    run = fakturering.server.world["draft_run"]
    assert f"Utkastet i körning {run} har 2 beställningar av ETK" in done
    assert "gör om utkastet innan det utfärdas" in done
    periods = page.get_by_role("region", name=re.compile("Prisperioder för ETK"))
    rows = [
        " ".join(row.replace("\xa0", " ").split())
        for row in periods.get_by_role("row").all_inner_texts()
    ]
    assert rows[1:] == [
        "2020-04-01 tills vidare 1 234,50 kr 25 % standardkontot",
        "2019-01-01 2020-03-31 350,00 kr 25 % standardkontot",
    ], rows
    assert "Gäller nu: 1 234,50 kr" in said(fakturering)
    assert "ETK: tidigast 2020-04-02" in said(fakturering)  # after the new price began
    fakturering.check_accessibility("/priser/ efter ett nytt pris")

    # Audited as a price file's change is: who, what, before and after.
    admin = visitors("admin")
    admin.goto("/granskningslogg/?object=pris+ETK")
    entries = admin.page.get_by_role("row").filter(has_text="pris ETK")
    texts = " ".join(
        " ".join(row.replace("\xa0", " ").split()) for row in entries.all_inner_texts()
    )
    assert "fakturering ändrat pris pris ETK 2019-01-01" in texts, texts
    assert "till: – → ändrat till 2020-03-31" in texts and "följs av: pris ETK 2020-04-01" in texts
    assert "fakturering nytt pris pris ETK 2020-04-01" in texts
    assert "à-pris: – → ändrat till 1 234,50 kr" in texts
    assert "avslutar: pris ETK 2019-01-01" in texts

    # Ekonomi reads prices but changes none: no form.
    ekonomi = visitors("ekonomi")
    ekonomi.goto("/priser/")
    assert "Nytt pris från ett datum" not in ekonomi.text()
    assert ekonomi.page.locator("#id_unit_price").count() == 0


def price_rows(visitor: Visitor) -> int:
    """Price rows of ETK shown on the page (nothing saved by a refusal)."""
    visitor.goto("/priser/")
    periods = visitor.page.get_by_role("region", name=re.compile("Prisperioder för ETK"))
    return int(periods.get_by_role("row").count()) - 1


# --- Item 9: what people read ---------------------------------------------------------------


def test_counts_titles_and_kinds_read_right_in_the_browser(visitors: Any, server: Server) -> None:
    world = server.world
    # Two of the three orders of Vårgårda's March invoice are credited: one is left.
    invoice = world["own_invoice"]
    credited = server.cli(
        "credit", str(invoice), "--order", "VG-2", "--order", "VG-3", "--reason", "Test"
    )
    assert credited.returncode == 0, credited.stderr
    ekonomi = visitors("ekonomi")
    ekonomi.goto(f"/fakturor/{invoice}/kreditera/")
    page_text = ekonomi.text()
    assert "1 beställning är inte krediterad." in page_text, page_text
    assert "Hela fakturan (den okrediterade beställningen)" in page_text
    assert "1 beställningar" not in page_text
    ekonomi.goto(f"/fakturor/{invoice}/")
    assert "3 beställningar." in ekonomi.text()

    # The issue confirmation says the period once (the default title names it).
    run = world["draft_run"]
    ekonomi.goto(f"/korningar/{run}/utfarda/")
    confirm = ekonomi.text()
    assert confirm.count("beställda 2020-04-01 – 2020-04-30") == 1, confirm
    assert "2 fakturor med 2 beställningar" in confirm

    # Staff choose among every kind of document; a municipality's Kund never sees internal ones.
    ekonomi.goto("/fakturor/")
    staff_kinds = ekonomi.page.locator("#id_kind option").all_inner_texts()
    assert "intern debitering" in staff_kinds
    kund = visitors("kund")
    kund.goto("/fakturor/")
    kinds = kund.page.locator("#id_kind option").all_inner_texts()
    assert kinds == ["Alla", "faktura", "kreditfaktura"], kinds
    kund.goto("/fakturor/?kind=internal_charge")
    assert "Välj en dokumenttyp i listan." in kund.text()
    kund.check_accessibility("/fakturor/ för en Kund")


# --- Item 9: the e-mail, the API and uploads (test client, real database) --------------------


@pytest.fixture
def world(db: Any) -> webtools.World:
    return webtools.billed_world(with_draft=False)


def test_the_customer_email_names_the_number_as_the_pdf_does(world: webtools.World) -> None:
    note = billing.credit_invoice(
        world.own_invoice.number, order_ids=["VG-2"], reason="Fel enhet", created_by=webtools.ISSUER
    )
    invoice_mail, credit_mail = (
        mail_text(document) for document in documents_for([world.own_invoice, note])
    )
    invoice_body = invoice_mail[1]
    assert f"Fakturanummer: {world.own_invoice.number}\n" in invoice_body, invoice_body
    credit_body = credit_mail[1]
    assert f"Kreditfakturanummer: {note.number}\n" in credit_body, credit_body
    issued = world.own_invoice.issue_date
    assert f"Krediterar faktura {world.own_invoice.number} av {issued}." in credit_body
    for body in (invoice_body, credit_body):
        assert "snummer" not in body


class Api:
    def __init__(self, role: str, orgnr: str | None = None) -> None:
        username = webtools.user(role, orgnr).get_username()
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {webtools.token(username)}")

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params)

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(f"/api/v1{path}", json.dumps(body), content_type="application/json")


def test_api_422_is_swedish_and_names_each_field(world: webtools.World) -> None:
    admin = Api("admin")
    answer = admin.get("/invoices", limit=0, type="okänd", **{"from": "2020-13-01"})
    assert answer.status_code == 422
    body = answer.json()
    assert set(body) == {"error", "detail"}
    error = body["error"]
    assert error.startswith("ogiltig begäran – ")
    assert "limit: ska vara minst 1" in error
    assert "from: ska vara ett datum ÅÅÅÅ-MM-DD" in error
    assert (
        "type: ska vara ett av 'invoice', 'credit_note', 'internal_charge' eller "
        "'internal_credit'" in error
    )
    assert "Input should" not in answer.content.decode()
    assert {item["field"] for item in body["detail"]} == {"limit", "from", "type"}
    missing = admin.post("/runs", {"title": "x"})
    assert missing.status_code == 422
    assert "from: saknas – fältet är obligatoriskt" in missing.json()["error"]


def test_api_messages_name_fields_not_options_or_rules(world: webtools.World) -> None:
    fakturering = Api("fakturering")
    reversed_period = fakturering.post("/runs", {"from": "2020-05-01", "to": "2020-04-01"})
    assert reversed_period.status_code == 400
    message = reversed_period.json()["error"]
    assert message == '"from": "2020-05-01" ligger efter "to": "2020-04-01"', message
    personal = fakturering.post(
        "/runs", {"from": "2020-05-01", "to": "2020-05-31", "title": "Kort 19800101-1231"}
    )
    assert personal.status_code == 400
    message = personal.json()["error"]
    assert message.startswith("fältet title innehåller ett personnummer"), message
    assert "DOMAIN.md" not in message and "--" not in message
    ekonomi = Api("ekonomi")
    no_reason = ekonomi.post(f"/invoices/{world.own_invoice.number}/credit", {"reason": " "})
    assert no_reason.status_code in (400, 422)
    assert "--reason" not in no_reason.content.decode()


def test_a_kund_cannot_ask_for_internal_kinds(world: webtools.World) -> None:
    kund = Api("kund", world.own.orgnr)
    assert kund.get("/invoices", type="invoice").status_code == 200
    answer = kund.get("/invoices", type="internal_charge")
    assert answer.status_code == 422
    assert answer.json()["error"] == (
        "ogiltig begäran – type: ska vara ett av 'invoice' eller 'credit_note'"
    )
    assert Api("granskare").get("/invoices", type="internal_charge").status_code == 200


def test_a_file_above_the_limit_answers_413(
    world: webtools.World, settings: Any, tmp_path: Path
) -> None:
    settings.UPLOAD_LIMIT = 1000
    settings.DATA_DIR = tmp_path / "data"
    big = b"order_id\n" + b"x" * 5000
    api = Api("admin")
    for path in ("/imports/orders", "/payments/import"):
        answer = api.client.post(f"/api/v1{path}", {"file": SimpleUploadedFile("stor.csv", big)})
        assert answer.status_code == 413, (path, answer.content)
        assert answer.json()["error"].startswith("filen är för stor"), answer.json()
    schema = Client().get("/api/v1/openapi.json").json()
    for path in ("/api/v1/imports/{kind}", "/api/v1/payments/import"):
        assert "413" in schema["paths"][path]["post"]["responses"], path
    web = Client()
    web.force_login(webtools.user("admin"))
    imported = web.post(
        "/import/las-in/", {"kind": "orders", "file": SimpleUploadedFile("stor.csv", big)}
    )
    assert imported.status_code == 413 and "Filen är för stor" in imported.content.decode()
    paid = web.post("/betalningar/las-in/", {"file": SimpleUploadedFile("bg.txt", big)})
    assert paid.status_code == 413, paid.status_code
    assert "Filen är för stor" in paid.content.decode()
    assert (
        "kortfaktura"
        not in re.sub(r"<[^>]+>", "", paid.content.decode()).split("Filen är för stor")[1][:300]
    )


# --- Item 4: the service behind the form ---------------------------------------------------


def _post_price(client: Client, **values: str) -> Any:
    return client.post("/priser/nytt/", {"product": "ETK", "vat_rate": "25", **values})


def test_the_new_price_is_audited_like_a_price_file_change(world: webtools.World) -> None:
    client = Client()
    client.force_login(webtools.user("fakturering"))
    answer = _post_price(client, unit_price="1 234,50", valid_from="2020-04-01")
    assert answer.status_code == 302
    old, new = Price.objects.order_by("valid_from")
    assert (old.valid_to, new.valid_from, new.valid_to) == (
        dt.date(2020, 3, 31),
        dt.date(2020, 4, 1),
        None,
    )
    assert new.unit_price == Decimal("1234.50")
    ended = AuditRecord.objects.get(action="price.updated")
    assert ended.actor == "fakturering" and ended.object == "pris ETK 2019-01-01"
    assert ended.details["valid_to"] == {"before": None, "after": "2020-03-31"}
    assert ended.details["via"] == "webb" and ended.details["next"] == "pris ETK 2020-04-01"
    added = AuditRecord.objects.get(action="price.created")
    assert added.details["unit_price"]["after"] == "1234.50"
    assert added.details["ends"] == "pris ETK 2019-01-01"


def test_a_credited_order_no_longer_holds_the_price_back(world: webtools.World) -> None:
    """Refused while the March orders are invoiced; once all of them are credited (they will
    be billed again), the new price may begin in March."""
    client = Client()
    client.force_login(webtools.user("admin"))
    refused = _post_price(client, unit_price="400", valid_from="2020-03-03")
    text = refused.content.decode()
    assert refused.status_code == 200
    assert "3 beställningar av ETK från och med 2020-03-03" in text, text
    for invoice in (world.own_invoice, world.other_invoice):
        billing.credit_invoice(invoice.number, reason="Fel pris", created_by=webtools.ISSUER)
    assert _post_price(client, unit_price="400", valid_from="2020-03-03").status_code == 302
    assert Price.objects.get(valid_to__isnull=True).valid_from == dt.date(2020, 3, 3)


def test_the_price_form_is_only_for_those_who_may_change_prices(world: webtools.World) -> None:
    for role, orgnr in (("ekonomi", None), ("granskare", None), ("kund", world.own.orgnr)):
        client = Client()
        client.force_login(webtools.user(role, orgnr))
        answer = _post_price(client, unit_price="400", valid_from="2030-01-01")
        assert answer.status_code == 403, role
    assert Price.objects.count() == 1 and not AuditRecord.objects.filter(
        action__startswith="price."
    )
