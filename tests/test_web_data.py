"""The data pages: Import, Kunder, Priser and Beställningar (issue 12), with the real database."""

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape

import factories as make
import webtools
from conftest import CUSTOMER_HEADER, ORDER_HEADER, customer_row, write_csv
from kortfaktura.audit.models import AuditRecord
from kortfaktura.billing.models import Invoice
from kortfaktura.catalog.models import Price, Product
from kortfaktura.customers.models import BillingAccount
from kortfaktura.imports.models import ImportBatch
from kortfaktura.jobs.models import Job
from kortfaktura.orders.models import Order, OrderChange, PreviouslyInvoiced
from kortfaktura.orders.selectors import STATES, states_of, with_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def inline_jobs(settings: Any, tmp_path: Path) -> Path:
    settings.TASKS = settings.IMMEDIATE_TASKS  # the page tests run a job inside the request
    settings.DATA_DIR = tmp_path / "data"
    return Path(settings.DATA_DIR)


def client_for(role: str, orgnr: str | None = None) -> Client:
    client = Client()
    client.force_login(webtools.user(role, orgnr))
    return client


def text(response: Any) -> str:
    return str(response.content.decode())


# --- Import -----------------------------------------------------------------------------------


def orders_file(tmp_path: Path) -> bytes:
    path = write_csv(
        tmp_path / "bestallningar.csv",
        ORDER_HEADER,
        [
            ["W-1", "2020-03-02", "212000-1454", "", "ETK", "Anna A", "", "collected", ""],
            ["W-2", "31/03/2020", "212000-1454", "", "ETK", "Bo B", "", "collected", ""],
            ["W-3", "2020-03-04", "212000-1454", "", "ETK", "Cia C", "", "collected", ""],
        ],
    )
    return path.read_bytes()


def test_an_upload_runs_the_import_and_its_result_shows_every_quarantined_row(
    inline_jobs: Path, tmp_path: Path
) -> None:
    client = client_for("fakturering")
    upload = SimpleUploadedFile("beställningar mars.csv", orders_file(tmp_path), "text/csv")
    response = client.post("/import/las-in/", {"kind": "orders", "file": upload})
    assert response.status_code == 302
    job = Job.objects.get(kind="import")
    assert job.status == Job.Status.DONE, job.error
    assert response["Location"] == f"/jobb/{job.pk}/"
    batch = ImportBatch.objects.get(pk=job.result["batch_id"])
    assert (batch.imported, batch.quarantined, batch.created_by) == (2, 1, "fakturering")
    assert batch.file_name == "beställningar mars.csv"
    # the uploaded copy is gone once read: the batch keeps its name and checksum
    assert not list((inline_jobs / "uploads").glob("*/*"))
    assert batch.file_name == "beställningar mars.csv" and len(batch.sha256) == 64
    job_page = text(client.get(f"/jobb/{job.pk}/"))
    assert f"/import/{batch.pk}/" in job_page
    result = client.get(f"/import/{batch.pk}/")
    assert result.status_code == 200
    page = text(result)
    row = batch.quarantined_rows.get()
    assert row.line == 3
    assert '<td class="num">3</td>' in page
    assert "31/03/2020" in page and "ordered_at" in page
    assert escape(row.reason) in page
    history = text(client.get("/import/"))
    assert f"Import {batch.pk}" in history and "fakturering" in history
    assert Order.objects.filter(order_id__in=["W-1", "W-3"]).count() == 2


def test_a_customer_import_shows_its_warnings_and_unknown_columns(
    inline_jobs: Path, tmp_path: Path
) -> None:
    header = [*CUSTOMER_HEADER, "buyer_ref"]
    rows = [
        [*customer_row(buyer_reference=""), "x"],
        [*customer_row("212000-1455", "Fel AB", "9999"), "y"],
    ]
    body = write_csv(tmp_path / "kunder.csv", header, rows).read_bytes()
    client = client_for("fakturering")
    client.post(
        "/import/las-in/", {"kind": "customers", "file": SimpleUploadedFile("kunder.csv", body)}
    )
    batch = ImportBatch.objects.get()
    assert (batch.imported, batch.quarantined) == (1, 1)
    page = text(client.get(f"/import/{batch.pk}/"))
    assert "buyer_ref (menade du buyer_reference?)" in page
    assert "fakturamottagaren 1442 är ny och ofullständig" in page
    assert "kontrollsiffran stämmer inte" in page and '<td class="num">3</td>' in page


def test_quarantined_rows_are_paginated(inline_jobs: Path, tmp_path: Path) -> None:
    rows = [[f"Q-{n}", "bad", "212000-1454", "", "ETK", "", "", "", ""] for n in range(130)]
    body = write_csv(tmp_path / "q.csv", ORDER_HEADER, rows).read_bytes()
    client = client_for("admin")
    client.post("/import/las-in/", {"kind": "orders", "file": SimpleUploadedFile("q.csv", body)})
    batch = ImportBatch.objects.get()
    assert batch.quarantined == 130
    first = text(client.get(f"/import/{batch.pk}/"))
    assert "1–100" in first and "Nästa sida" in first
    second = text(client.get(f"/import/{batch.pk}/?offset=100"))
    assert '<td class="num">131</td>' in second and '<td class="num">2</td>' not in second


def test_a_second_import_while_one_runs_is_refused_with_a_link_to_it(
    inline_jobs: Path, tmp_path: Path
) -> None:
    running = Job.objects.create(
        kind="import", key="import", label="Import av kunder: a.csv", created_by="kollega"
    )
    client = client_for("fakturering")
    upload = SimpleUploadedFile("b.csv", orders_file(tmp_path), "text/csv")
    response = client.post("/import/las-in/", {"kind": "orders", "file": upload})
    assert response.status_code == 200
    page = text(response)
    assert "En import pågår redan" in page and "kollega" in page
    assert f'href="/jobb/{running.pk}/"' in page
    assert ImportBatch.objects.count() == 0
    assert '<option value="orders" selected>' in page


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("tom.csv", b"", "är tom"),
        ("lista.txt", b"order_id\nX", "varken en CSV- eller en XLSX-fil"),
        ("../../etc/passwd", b"x", "varken en CSV- eller en XLSX-fil"),
    ],
)
def test_an_unusable_upload_is_refused_in_swedish_and_the_choice_kept(
    inline_jobs: Path, name: str, body: bytes, message: str
) -> None:
    client = client_for("fakturering")
    response = client.post(
        "/import/las-in/", {"kind": "prices", "file": SimpleUploadedFile(name, body)}
    )
    assert response.status_code == 200
    page = text(response)
    assert message in page and 'role="alert"' in page
    assert '<option value="prices" selected>' in page
    assert not Job.objects.exists() and not (inline_jobs / "uploads").exists()


def test_a_file_over_the_limit_and_a_missing_file_are_refused(
    inline_jobs: Path, settings: Any, tmp_path: Path
) -> None:
    settings.UPLOAD_LIMIT = 100
    client = client_for("fakturering")
    response = client.post(
        "/import/las-in/",
        {"kind": "orders", "file": SimpleUploadedFile("stor.csv", orders_file(tmp_path))},
    )
    assert response.status_code == 413  # Payload Too Large (issue 21 item 9)
    assert "största tillåtna storlek" in text(response)
    missing = client.post("/import/las-in/", {"kind": "orders"})
    assert missing.status_code == 200 and "Välj en CSV- eller XLSX-fil" in text(missing)
    assert not Job.objects.exists()


def test_an_oversized_body_is_refused_unread_and_csrf_still_guards_the_upload(
    inline_jobs: Path, settings: Any, tmp_path: Path
) -> None:
    settings.UPLOAD_LIMIT = 1000
    client = client_for("fakturering")
    big = SimpleUploadedFile("stor.csv", b"order_id\n" + b"x" * 200_000)
    refused = client.post("/import/las-in/", {"kind": "orders", "file": big})
    assert refused.status_code == 413 and "största tillåtna storlek är 0 kB" not in text(refused)
    assert "Filen är för stor" in text(refused)
    assert not Job.objects.exists() and not (inline_jobs / "uploads").exists()
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(webtools.user("fakturering", username="annan"))
    small = SimpleUploadedFile("b.csv", orders_file(tmp_path))
    assert guarded.post("/import/las-in/", {"kind": "orders", "file": small}).status_code == 403
    assert not Job.objects.exists()


def test_a_file_that_cannot_be_used_fails_the_job_with_its_reason(
    inline_jobs: Path, tmp_path: Path
) -> None:
    body = write_csv(tmp_path / "fel.csv", ["namn"], [["x"]]).read_bytes()
    client = client_for("fakturering")
    client.post(
        "/import/las-in/", {"kind": "customers", "file": SimpleUploadedFile("fel.csv", body)}
    )
    job = Job.objects.get()
    assert job.status == Job.Status.FAILED and "saknas i rubrikraden" in job.error
    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.FAILED
    assert "saknas i rubrikraden" in text(client.get(f"/import/{batch.pk}/"))


def test_import_permissions() -> None:
    make.customer("Vårgårda kommun", number="2120001454")
    assert client_for("granskare").get("/import/").status_code == 200
    assert client_for("ekonomi").post("/import/las-in/", {"kind": "orders"}).status_code == 403
    assert client_for("granskare").post("/import/las-in/", {"kind": "orders"}).status_code == 403
    kund = client_for("kund", "2120001454")
    assert kund.get("/import/").status_code == 403
    assert Client().get("/import/").status_code == 302
    upload_form = text(client_for("granskare").get("/import/"))
    assert 'type="file"' not in upload_form


# --- Kunder -----------------------------------------------------------------------------------


@pytest.fixture
def world() -> webtools.World:
    return webtools.billed_world()


def test_customer_search_and_detail_with_accounts_units_and_findings(
    world: webtools.World,
) -> None:
    account = BillingAccount.objects.get(code="1442")
    account.buyer_reference = ""
    account.save()
    make.account(world.own, "1443", default=False, units=("HC-1", "HC-2"))
    client = client_for("granskare")
    listing = text(client.get("/kunder/?q=vårg"))
    assert "Vårgårda kommun" in listing and "Borås" not in listing
    assert "Vårgårda kommun" in text(client.get("/kunder/?q=212000-1454"))
    assert "Vårgårda kommun" in text(client.get("/kunder/?q=1443"))
    assert "Ingen kund matchar" in text(client.get("/kunder/?q=finnsinte"))
    detail = text(client.get("/kunder/2120001454/"))
    assert "HC-1, HC-2" in detail and "0007:2120001454" in detail
    assert "offentlig köpare utan beställarreferens" in detail
    assert "Borås" not in detail
    assert "Ändra mottagaren" not in detail  # a Granskare changes nothing
    assert client.get("/kunder/5590002282/").status_code == 404


def test_editing_an_account_is_validated_audited_and_leaves_issued_invoices_alone(
    world: webtools.World,
) -> None:
    client = client_for("fakturering")
    form = text(client.get("/kunder/mottagare/1442/andra/"))
    assert 'value="REF-1"' in form and 'for="id_peppol"' in form
    values = {
        "name": "Vårgårda kommun ekonomi",
        "buyer_reference": "REF-2",
        "peppol": "0088:7350003379781",
        "email": "inte-en-adress",
        "street": "Box 2",
        "postal_code": "44780",
        "city": "Vårgårda",
        "delivery": "peppol",
        "cost_centre": "",
    }
    refused = client.post("/kunder/mottagare/1442/andra/", values)
    assert refused.status_code == 200
    page = text(refused)
    assert "kontrollsiffran" in page and "ingen giltig e-postadress" in page
    assert 'value="REF-2"' in page  # the input is kept
    assert BillingAccount.objects.get(code="1442").buyer_reference == "REF-1"
    foreign = {**values, "peppol": "0007:2120001561", "email": ""}
    assert "inte kundens eget organisationsnummer" in text(
        client.post("/kunder/mottagare/1442/andra/", foreign)
    )
    buyer_before = Invoice.objects.get(pk=world.own_invoice.pk).buyer
    good = {**values, "peppol": "0088:7350003379782", "email": "faktura@vargarda.se"}
    saved = client.post("/kunder/mottagare/1442/andra/", good)
    assert saved.status_code == 302 and saved["Location"] == "/kunder/2120001454/"
    account = BillingAccount.objects.get(code="1442")
    assert (account.buyer_reference, account.peppol_scheme, account.postal_code) == (
        "REF-2",
        "0088",
        "447 80",
    )
    entry = AuditRecord.objects.filter(action="account.updated").get()
    assert entry.actor == "fakturering" and entry.object == "mottagare 1442"
    assert entry.details["buyer_reference"] == {"before": "REF-1", "after": "REF-2"}
    assert entry.details["peppol_id"]["after"] == "7350003379782"
    assert Invoice.objects.get(pk=world.own_invoice.pk).buyer == buyer_before
    # Saving again changes nothing and records nothing.
    client.post("/kunder/mottagare/1442/andra/", good)
    assert AuditRecord.objects.filter(action="account.updated").count() == 1


def test_customer_permissions(world: webtools.World) -> None:
    values = {"name": "x", "street": "x", "postal_code": "40544", "city": "x", "delivery": "print"}
    for role in ("granskare", "ekonomi"):
        client = client_for(role)
        assert client.get("/kunder/").status_code == 200
        assert client.get("/kunder/mottagare/1442/andra/").status_code == 403
        assert client.post("/kunder/mottagare/1442/andra/", values).status_code == 403
    kund = client_for("kund", "2120001454")
    for url in ("/kunder/", "/kunder/2120001454/", "/kunder/mottagare/1442/andra/"):
        assert kund.get(url).status_code == 403
    assert client_for("admin").get("/kunder/mottagare/NOPE/andra/").status_code == 404
    assert BillingAccount.objects.get(code="1442").name != "x"


# --- Priser -----------------------------------------------------------------------------------


def test_the_price_list_and_adding_a_period(world: webtools.World) -> None:
    price = Price.objects.get()
    price.valid_to = dt.date(2020, 12, 31)
    price.save()
    client = client_for("fakturering")
    page = text(client.get("/priser/"))
    assert "ETK – eTjänstekort" in page and "350,00 kr" in page and "2020-12-31" in page
    added = client.post(
        "/priser/nytt/",
        {"product": "ETK", "unit_price": "375,50", "vat_rate": "25", "valid_from": "2021-01-01"},
    )
    assert added.status_code == 302
    new = Price.objects.get(valid_from=dt.date(2021, 1, 1))
    assert (new.unit_price, new.valid_to) == (Decimal("375.50"), None)
    entry = AuditRecord.objects.get(action="price.created")
    assert entry.actor == "fakturering" and entry.object == "pris ETK 2021-01-01"
    assert entry.details["unit_price"]["after"] == "375.50"


def test_an_overlapping_or_wrong_price_is_refused_in_swedish(world: webtools.World) -> None:
    client = client_for("admin")
    # Before the open price began (a new price ends the open one; issue 21 item 4).
    early = client.post(
        "/priser/nytt/",
        {"product": "ETK", "unit_price": "400", "vat_rate": "25", "valid_from": "2018-06-01"},
    )
    assert early.status_code == 200
    page = text(early)
    assert "före priset 350,00 kr som gäller tills vidare och började 2019-01-01" in page
    assert 'value="400"' in page and 'value="2018-06-01"' in page
    # Orders already invoiced would get another price.
    billed = text(
        client.post(
            "/priser/nytt/",
            {"product": "ETK", "unit_price": "400", "vat_rate": "25", "valid_from": "2020-03-01"},
        )
    )
    assert "5 beställningar av ETK från och med 2020-03-01 finns redan på utfärdade" in billed
    assert "välj 2020-03-05 eller senare" in billed
    wrong = text(
        client.post(
            "/priser/nytt/",
            {
                "product": "ETK",
                "unit_price": "-1",
                "vat_rate": "7",
                "valid_from": "2021-13-01",
                "revenue_account": "2610",
            },
        )
    )
    assert "inte vara negativt" in wrong and "25, 12, 6 eller 0" in wrong
    assert "inget giltigt datum" in wrong and "inget intäktskonto" in wrong
    unknown = text(client.post("/priser/nytt/", {"product": "NOPE", "unit_price": "1",
                                                  "valid_from": "2030-01-01"}))  # fmt: skip
    assert "Artikeln NOPE finns inte" in unknown
    assert Price.objects.count() == 1 and not AuditRecord.objects.filter(action="price.created")


def test_price_permissions(world: webtools.World) -> None:
    data = {"product": "ETK", "unit_price": "1", "valid_from": "2030-01-01"}
    for role in ("granskare", "ekonomi"):
        client = client_for(role)
        assert client.get("/priser/").status_code == 200
        assert client.post("/priser/nytt/", data).status_code == 403
    assert client_for("kund", "2120001454").get("/priser/").status_code == 403
    assert Price.objects.count() == 1


# --- Beställningar ----------------------------------------------------------------------------


def varied_world() -> webtools.World:
    """Orders in every state: invoiced (March), in a draft (April), held back, unbilled,
    previously invoiced and cancelled."""
    world = webtools.billed_world()
    etk = Product.objects.get(code="ETK")
    make.order(None, "2020-05-04", etk, order_id="X-UNKNOWN", orgnr_text="5590002282")
    make.order(world.own, "2020-05-05", etk, order_id="VG-MAY")
    make.order(world.own, "2020-05-06", etk, order_id="VG-CANCEL", status="cancelled")
    make.order(world.own, "2020-05-07", etk, order_id="VG-EARLIER")
    PreviouslyInvoiced.objects.create(order_id="VG-EARLIER", invoice_number="A-17")
    noprice = make.product("PUK", "PUK-kod")
    make.order(world.other, "2020-05-08", noprice, order_id="BS-PUK")
    # A unit of its own whose account lacks a buyer reference: its orders wait for it.
    make.account(world.own, "1443", default=False, units=("HC",), buyer_reference="")
    make.order(world.own, "2020-05-09", etk, unit="HC", order_id="VG-HC")
    make.order(world.own, "2020-05-10", etk, unit="OTHER", order_id="VG-OTHER")
    # A price that holds only a few days; a customer without a default account; a change
    # waiting for a decision.
    reserv = make.product("RES", "Reservkort")
    make.price(reserv, "200", "2020-05-15", "2020-05-20")
    make.order(world.own, "2020-05-16", reserv, order_id="RES-IN")
    make.order(world.own, "2020-05-25", reserv, order_id="RES-OUT")
    ale = make.customer("Ale kommun", number="2120001405")
    make.account(ale, "1440", default=False, units=("U1",))
    make.order(ale, "2020-05-11", etk, unit="U1", order_id="ALE-U1")
    make.order(ale, "2020-05-12", etk, order_id="ALE-NONE")
    waiting = make.order(world.own, "2020-05-13", etk, order_id="VG-PEND")
    batch = ImportBatch.objects.create(kind="orders", file_name="x.csv", sha256="0" * 64)
    OrderChange.objects.create(
        order=waiting, batch=batch, field="unit_code", old_value="", new_value="HC",
        status=OrderChange.Status.PENDING,
    )  # fmt: skip
    return world


EXPECTED = {
    "VG-2": "invoiced",
    "VG-3": "invoiced",
    "VG-4": "invoiced",
    "BS-2": "invoiced",
    "BS-3": "invoiced",
    "VG-APR": "in_draft",
    "BS-APR": "in_draft",
    "X-UNKNOWN": "held_back",
    "BS-PUK": "held_back",
    "VG-MAY": "unbilled",
    "VG-HC": "held_back",
    "VG-OTHER": "unbilled",
    "RES-IN": "unbilled",
    "RES-OUT": "held_back",
    "ALE-U1": "unbilled",
    "ALE-NONE": "held_back",
    "VG-PEND": "held_back",
    "VG-CANCEL": "not_billable",
    "VG-EARLIER": "previously_invoiced",
}


def test_the_state_filter_agrees_with_the_state_of_each_order() -> None:
    varied_world()
    orders = list(Order.objects.all())
    computed = {order.order_id: state.state for order, state in zip(
        orders, [states_of(orders)[o.pk] for o in orders], strict=True)}  # fmt: skip
    assert computed == EXPECTED
    for state in STATES:
        filtered = set(with_state(Order.objects.all(), state).values_list("order_id", flat=True))
        assert filtered == {key for key, value in EXPECTED.items() if value == state}, state
    still_open = set(with_state(Order.objects.all(), "open").values_list("order_id", flat=True))
    assert still_open == {
        key for key, value in EXPECTED.items() if value in ("in_draft", "held_back", "unbilled")
    }


def test_order_search_filters_by_id_customer_month_and_state() -> None:
    world = varied_world()
    client = client_for("ekonomi")
    page = text(client.get("/bestallningar/"))
    assert "VG-MAY" in page and "BS-2" in page and "fakturerad" in page
    by_id = text(client.get("/bestallningar/?id=VG-3"))
    assert "VG-3" in by_id and "VG-4" not in by_id and "1–1 av 1" in by_id
    by_customer = text(client.get("/bestallningar/?kund=borås"))
    assert "BS-2" in by_customer and "VG-2" not in by_customer
    by_orgnr = text(client.get("/bestallningar/?kund=212000-1454"))
    assert "VG-2" in by_orgnr and "BS-2" not in by_orgnr
    by_month = text(client.get("/bestallningar/?manad=2020-04"))
    assert "VG-APR" in by_month and "BS-APR" in by_month and "VG-2" not in by_month
    held = text(client.get("/bestallningar/?tillstand=held_back"))
    assert "X-UNKNOWN" in held and "BS-PUK" in held and "VG-MAY" not in held
    assert "okänd kund" in held and "inget pris gäller" in held
    combined = text(client.get("/bestallningar/?tillstand=invoiced&manad=2020-03&kund=vårgårda"))
    assert all(f"VG-{day}" in combined for day in (2, 3, 4)) and "BS-2" not in combined
    bad = client.get("/bestallningar/?manad=2020-13")
    assert bad.status_code == 200 and "ingen månad" in text(bad)
    assert 'value="2020-13"' in text(bad)
    assert world.own_invoice.number is not None


def test_an_order_detail_shows_its_fields_history_and_invoice() -> None:
    world = varied_world()
    client = client_for("granskare")
    page = text(client.get("/bestallningar/VG-2/"))
    number = world.own_invoice.number
    assert "Anna Andersson" in page and "Vårgårda kommun" in page
    assert f'href="/fakturor/{number}/"' in page and "fakturerad" in page
    draft = text(client.get("/bestallningar/VG-APR/"))
    assert "utkast" in draft and "i ett utkast" in draft
    held = text(client.get("/bestallningar/X-UNKNOWN/"))
    assert "okänd kund" in held
    assert client.get("/bestallningar/FINNS-INTE/").status_code == 404


def test_a_kund_sees_its_own_orders_only_and_nothing_of_anyone_else() -> None:
    world = varied_world()
    client = client_for("kund", "2120001454")
    page = text(client.get("/bestallningar/"))
    assert "VG-2" in page and "Anna Andersson" in page
    for foreign in ("BS-", "Borås", "Hemlig Innehavare", "2120001561", "212000-1561", "X-UNKNOWN"):
        assert foreign not in page, foreign
    assert 'name="kund"' not in page
    ignored = text(client.get("/bestallningar/?kund=2120001561"))
    assert "BS-2" not in ignored and "VG-2" in ignored
    assert client.get("/bestallningar/BS-2/").status_code == 404
    assert client.get("/bestallningar/X-UNKNOWN/").status_code == 404
    detail = text(client.get("/bestallningar/VG-2/"))
    assert "Anna Andersson" in detail and f"/fakturor/{world.own_invoice.number}/" in detail
    for foreign in ("BS-", "Borås", "Hemlig", "Granskningslogg", "Import "):
        assert foreign not in detail, foreign
    assert "utkast" not in text(client.get("/bestallningar/VG-APR/"))
    waiting = text(client.get("/bestallningar/?tillstand=open"))
    assert "VG-APR" in waiting and "VG-MAY" in waiting and "VG-2" not in waiting
    assert "inte fakturerad än" in waiting and "utkast" not in waiting
    assert "Välj ett av tillstånden" in text(client.get("/bestallningar/?tillstand=held_back"))


def test_order_permissions() -> None:
    varied_world()
    assert Client().get("/bestallningar/").status_code == 302
    nobody = Client()
    from django.contrib.auth.models import User

    nobody.force_login(User.objects.create_user("ingen", password=webtools.PASSWORD))
    assert nobody.get("/bestallningar/").status_code == 403
    assert nobody.get("/bestallningar/VG-2/").status_code == 403


# --- In a real browser ------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


HOST = "http://localhost:9"  # never reached: every request is answered by the route


def serve_from(answers: dict[str, Any]) -> Any:
    """A Playwright route handler: pages made beforehand by the Django test client (in the
    test's transaction; Playwright calls this from another thread), static files from disk."""
    from django.contrib.staticfiles import finders

    def handle(route: Any) -> None:
        path = route.request.url.removeprefix(HOST)
        if path.startswith("/static/"):
            found = finders.find(path.removeprefix("/static/").split("?")[0])
            if found:
                kinds = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
                route.fulfill(
                    status=200,
                    body=Path(found).read_bytes(),
                    content_type=kinds.get(Path(found).suffix, "application/octet-stream"),
                )
                return
        response = answers.get(path)
        if response is None:
            route.fulfill(status=404, body=b"not prepared: " + path.encode())
            return
        headers = {key: value for key, value in response.items()}
        route.fulfill(status=response.status_code, headers=headers, body=response.content)

    return handle


def test_the_data_pages_in_a_browser_pass_axe_and_load_nothing_foreign(
    inline_jobs: Path, tmp_path: Path
) -> None:
    """Each page, for staff and for a Kund, in Chromium: no console error, no request to
    another host, and axe-core finds no WCAG 2.1 A/AA violation (forms with errors too)."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium saknas: /usr/bin/chromium behövs för webbläsartestet.")
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    varied_world()
    staff, kund = Client(), Client()
    staff.force_login(webtools.user("fakturering"))
    kund.force_login(webtools.user("kund", "2120001454"))
    staff.post(
        "/import/las-in/",
        {"kind": "orders", "file": SimpleUploadedFile("b.csv", orders_file(tmp_path))},
    )
    batch = ImportBatch.objects.get(file_name="b.csv")
    staff_pages = {
        url: staff.get(url)
        for url in (
            "/import/",
            f"/import/{batch.pk}/",
            "/kunder/",
            "/kunder/2120001454/",
            "/kunder/mottagare/1442/andra/",
            "/priser/",
            "/bestallningar/",
            "/bestallningar/?tillstand=held_back",
            "/bestallningar/?manad=2020-13",
            "/bestallningar/VG-2/",
            "/bestallningar/X-UNKNOWN/",
        )
    }
    # Forms sent with errors, as the user sees them.
    staff_pages["/priser/#fel"] = staff.post(
        "/priser/nytt/", {"product": "ETK", "unit_price": "-5", "valid_from": "2020-06-01"}
    )
    staff_pages["/kunder/mottagare/1442/andra/#fel"] = staff.post(
        "/kunder/mottagare/1442/andra/",
        {"name": "", "peppol": "0007:123", "postal_code": "1", "delivery": "peppol"},
    )
    staff_pages["/import/#fel"] = staff.post(
        "/import/las-in/", {"kind": "", "file": SimpleUploadedFile("x.txt", b"x")}
    )
    kund_pages = {url: kund.get(url) for url in ("/bestallningar/", "/bestallningar/VG-2/")}
    shots = Path(os.environ.get("KORTFAKTURA_KEEP_SCREENSHOTS", tmp_path))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            for who, answers in (("staff", staff_pages), ("kund", kund_pages)):
                served = {url.split("#")[0]: response for url, response in answers.items()}
                for url, response in answers.items():
                    assert response.status_code == 200, url
                    served[url.split("#")[0]] = response
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    context.route(f"{HOST}/**", serve_from(served))
                    page = context.new_page()
                    problems: list[str] = []
                    page.on(
                        "console",
                        lambda m, p=problems: p.append(m.text) if m.type == "error" else None,
                    )
                    page.on(
                        "request",
                        lambda r, p=problems: None if r.url.startswith(HOST) else p.append(r.url),
                    )
                    page.on("pageerror", lambda error, p=problems: p.append(str(error)))
                    page.goto(HOST + url.split("#")[0], wait_until="load")
                    violations = Axe().run(page, options=WCAG).response["violations"]
                    assert [v["id"] for v in violations] == [], (url, violations)
                    assert problems == [], (url, problems)
                    name = url.strip("/").replace("/", "_").replace("?", "_").replace("#", "_")
                    page.screenshot(path=str(shots / f"{who}-{name}.png"), full_page=True)
                    context.close()
        finally:
            browser.close()


def test_an_order_detail_lists_the_credit_note_and_the_kund_sees_it_too() -> None:
    from kortfaktura.billing import services as billing

    world = varied_world()
    number = world.own_invoice.number
    assert number is not None
    credit = billing.credit_invoice(number, order_ids=["VG-3"], reason="fel enhet")
    staff = text(client_for("granskare").get("/bestallningar/VG-3/"))
    assert f'href="/fakturor/{credit.number}/"' in staff
    assert f'krediterar <a href="/fakturor/{number}/">' in staff
    assert "fakturerbar, inte fakturerad än" in staff  # billable again (R12)
    own = text(client_for("kund", "2120001454").get("/bestallningar/VG-3/"))
    assert f"/fakturor/{credit.number}/" in own and "inte fakturerad än" in own
    untouched = text(client_for("granskare").get("/bestallningar/VG-2/"))
    assert f"/fakturor/{credit.number}/" not in untouched
