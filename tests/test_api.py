"""The REST API under /api/v1/ (issue 12, INTERFACES.md): each area's outcomes, the roles of
access/roles.py, and a Kund's scope (its own organisation only, 404 for anyone else's, never a
foreign name, order id or holder name)."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

import webtools
from conftest import ORDER_HEADER, write_csv
from kortfaktura.audit.models import AuditRecord
from kortfaktura.billing.models import BillingRun, Invoice
from kortfaktura.delivery.models import Delivery
from kortfaktura.documents.models import IssuedDocument
from kortfaktura.imports.models import ImportBatch
from kortfaktura.orders.models import OrderChange

pytestmark = pytest.mark.django_db


class Api:
    """A client that speaks to the API with one user's bearer token."""

    def __init__(self, username: str) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {webtools.token(username)}")

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(
            f"/api/v1{path}", json.dumps(body or {}), content_type="application/json"
        )

    def upload(self, path: str, file: Path) -> Any:
        with file.open("rb") as handle:
            return self.client.post(f"/api/v1{path}", {"file": handle})


@pytest.fixture
def world() -> webtools.World:
    return webtools.billed_world()


def api(role: str, orgnr: str | None = None) -> Api:
    user = webtools.user(role, orgnr)
    return Api(user.get_username())


def secrets_of(world: webtools.World) -> list[str]:
    """What a Kund of Vårgårda must never read: Borås's name, order ids and holder names."""
    return [
        world.other.name,
        *(order.order_id for order in world.other_orders),
        "BS-APR",
        *(order.holder_name for order in world.other_orders),
    ]


def assert_clean(response: Any, world: webtools.World) -> None:
    text = response.content.decode("utf-8", errors="replace")
    for secret in secrets_of(world):
        assert secret not in text, f"{secret!r} in {response.request['PATH_INFO']}"


# --- authentication and errors ------------------------------------------------------------------


def test_anonymous_and_bad_tokens_answer_401_in_swedish(world: webtools.World) -> None:
    for path in ("/invoices", "/runs", "/orders", f"/invoices/{world.own_invoice.number}"):
        response = Client().get(f"/api/v1{path}")
        assert response.status_code == 401
        assert "Bearer" in response.json()["error"]
    bad = Client(HTTP_AUTHORIZATION="Bearer inte-en-nyckel").get("/api/v1/invoices")
    assert bad.status_code == 401


def test_validation_errors_answer_422_with_the_error_shape() -> None:
    admin = api("admin")
    response = admin.get("/invoices", limit=0)
    assert response.status_code == 422
    # Swedish, naming the field (issue 21 item 9; was "ogiltig begäran" and pydantic's English).
    assert response.json()["error"] == "ogiltig begäran – limit: ska vara minst 1"
    assert response.json()["detail"][0]["field"] == "limit"
    response = admin.client.post("/api/v1/runs", "{inte json", content_type="application/json")
    assert response.status_code in (400, 422) and "error" in response.json()


# --- invoices -----------------------------------------------------------------------------------


def test_invoice_list_has_the_cli_shape_and_filters(world: webtools.World) -> None:
    admin = api("admin")
    response = admin.get("/invoices")
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 2 and len(data["items"]) == 2
    first = data["items"][0]
    assert set(first) >= {"number", "type", "status", "orgnr", "lines", "order_ids", "payable"}
    assert first["status"] == "issued" and first["type"] == "invoice"
    own = admin.get("/invoices", orgnr="212000-1454").json()
    assert own["count"] == 1 and own["items"][0]["order_ids"] == ["VG-2", "VG-3", "VG-4"]
    assert admin.get("/invoices", number=world.other_invoice.number).json()["count"] == 1
    assert admin.get("/invoices", run=world.issued_run.pk).json()["count"] == 2
    assert admin.get("/invoices", type="credit_note").json()["count"] == 0
    assert admin.get("/invoices", status="draft").json()["count"] == 2
    day = world.own_invoice.issue_date.isoformat()
    assert admin.get("/invoices", **{"from": day, "to": day}).json()["count"] == 2
    assert admin.get("/invoices", to="2000-01-01").json()["count"] == 0
    paged = admin.get("/invoices", limit=1, offset=1).json()
    assert paged["count"] == 2 and len(paged["items"]) == 1


def test_invoice_detail_has_its_specification(world: webtools.World) -> None:
    response = api("granskare").get(f"/invoices/{world.own_invoice.number}")
    assert response.status_code == 200
    data = response.json()
    assert data["number"] == str(world.own_invoice.number)
    assert [row["order_id"] for row in data["specification"]] == ["VG-2", "VG-3", "VG-4"]
    assert api("admin").get("/invoices/999999999").status_code == 404


@pytest.mark.parametrize(
    ("file_format", "media_type", "magic"),
    [
        ("pdf", "application/pdf", b"%PDF"),
        ("ubl", "application/xml", b"<?xml"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK"),
        ("csv", "text/csv", "\ufeff".encode()),
    ],
)
def test_documents_download_in_each_format(
    world: webtools.World, file_format: str, media_type: str, magic: bytes
) -> None:
    number = world.own_invoice.number
    response = api("ekonomi").get(f"/invoices/{number}/document", format=file_format)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(media_type)
    extension = "xml" if file_format == "ubl" else file_format
    assert f'filename="{number}.{extension}"' in response["Content-Disposition"]
    assert response.content.startswith(magic)


def test_the_ubl_download_is_the_document_stored_at_issue(world: webtools.World) -> None:
    stored = world.own_invoice.issued_document.unpacked()
    response = api("admin").get(f"/invoices/{world.own_invoice.number}/document", format="ubl")
    assert response.content == stored


def test_a_damaged_stored_document_is_refused_in_swedish_not_a_server_error(
    world: webtools.World,
) -> None:
    """The download checks the stored bytes as export and delivery do (one check)."""
    table = IssuedDocument._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table]
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER "{name}"')
        cursor.execute(
            f"UPDATE {table} SET content = %s WHERE invoice_id = %s",
            [b"not zlib at all", world.own_invoice.pk],
        )
    response = api("admin").get(f"/invoices/{world.own_invoice.number}/document", format="ubl")
    assert 400 <= response.status_code < 500, response.content
    error = response.json()["error"]
    assert "packa upp" in error and "Error" not in error


def test_credit_two_orders_answers_the_credit_note_and_names_the_user(
    world: webtools.World,
) -> None:
    ekonomi = api("ekonomi")
    number = world.own_invoice.number
    response = ekonomi.post(
        f"/invoices/{number}/credit", {"order_ids": ["VG-2", "VG-3"], "reason": "Fel enhet"}
    )
    assert response.status_code == 201, response.content
    note = response.json()
    assert note["type"] == "credit_note" and note["credits"] == str(number)
    assert note["order_ids"] == ["VG-2", "VG-3"] and note["reason"] == "Fel enhet"
    record = AuditRecord.objects.get(action="credit_note.issued")
    assert record.actor == "ekonomi"
    again = ekonomi.post(
        f"/invoices/{number}/credit", {"order_ids": ["VG-2"], "reason": "Fel enhet"}
    )
    assert again.status_code == 409 and "VG-2" in again.json()["error"]
    bad = ekonomi.post(f"/invoices/{number}/credit", {"reason": "   "})
    assert bad.status_code == 400 and "orsak" in bad.json()["error"]


@pytest.mark.parametrize("role", ["fakturering", "granskare"])
def test_roles_without_credit_get_403(world: webtools.World, role: str) -> None:
    response = api(role).post(f"/invoices/{world.own_invoice.number}/credit", {"reason": "Försök"})
    assert response.status_code == 403
    assert not Invoice.objects.filter(kind="credit_note").exists()


# --- runs ---------------------------------------------------------------------------------------


def test_preview_stores_nothing_and_draft_issue_discard(world: webtools.World) -> None:
    fakturering, ekonomi = api("fakturering"), api("ekonomi")
    assert world.draft_run is not None
    assert fakturering.post(f"/runs/{world.draft_run.pk}/discard").status_code == 200
    runs_before = BillingRun.objects.count()
    body = {"from": "2020-04-01", "to": "2020-04-30", "title": "April"}
    preview = fakturering.post("/runs/preview", body)
    assert preview.status_code == 200, preview.content
    data = preview.json()
    assert data["status"] == "preview" and data["id"] is None and len(data["invoices"]) == 2
    assert BillingRun.objects.count() == runs_before
    created = fakturering.post("/runs", body)
    assert created.status_code == 201
    run_id = created.json()["id"]
    assert created.json()["status"] == "draft" and created.json()["title"] == "April"
    assert BillingRun.objects.get(pk=run_id).created_by == "fakturering"
    assert fakturering.post(f"/runs/{run_id}/issue").status_code == 403
    issued = ekonomi.post(f"/runs/{run_id}/issue")
    assert issued.status_code == 200, issued.content
    assert issued.json()["status"] == "issued"
    assert all(invoice["number"] for invoice in issued.json()["invoices"])
    assert AuditRecord.objects.filter(action="run.issued", actor="ekonomi").exists()
    again = ekonomi.post(f"/runs/{run_id}/issue")
    assert again.status_code == 409 and "utkast" in again.json()["error"]
    empty = fakturering.post("/runs", body)
    assert empty.status_code == 200 and empty.json()["status"] == "empty"
    listed = api("granskare").get("/runs").json()
    assert listed["count"] == 3
    mine = next(run for run in listed["items"] if run["id"] == run_id)
    assert mine["invoices"] == 2 and mine["orders"] == 2 and mine["net"] == "700.00"
    shown = api("granskare").get(f"/runs/{run_id}").json()
    assert shown["id"] == run_id and len(shown["invoices"]) == 2
    assert api("admin").get("/runs/999999").status_code == 404


def test_run_requests_the_service_refuses_answer_400(world: webtools.World) -> None:
    fakturering = api("fakturering")
    wrong = fakturering.post("/runs/preview", {"from": "2020-05-31", "to": "2020-05-01"})
    assert wrong.status_code == 400 and "ligger efter" in wrong.json()["error"]
    unknown = fakturering.post(
        "/runs", {"from": "2020-05-01", "to": "2020-05-31", "customers": ["556677-8899"]}
    )
    assert unknown.status_code == 400
    granskare = api("granskare")
    assert granskare.post("/runs", {"from": "2020-05-01", "to": "2020-05-31"}).status_code == 403
    assert world.draft_run is not None
    assert granskare.post(f"/runs/{world.draft_run.pk}/discard").status_code == 403
    assert BillingRun.objects.get(pk=world.draft_run.pk).status == "draft"


# --- imports ------------------------------------------------------------------------------------


def test_upload_orders_answers_the_import_counts_and_quarantine(
    world: webtools.World, tmp_path: Path
) -> None:
    file = write_csv(
        tmp_path / "april.csv",
        ORDER_HEADER,
        [
            ["VG-NY", "2020-04-10", "212000-1454", "", "ETK", "Ny Person", "", "", ""],
            ["VG-FEL", "inte ett datum", "212000-1454", "", "ETK", "", "", "", ""],
        ],
    )
    fakturering = api("fakturering")
    response = fakturering.upload("/imports/orders", file)
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["imported"], data["quarantined"]) == (1, 1)
    assert data["rows"][0]["line"] == 3 and data["rows"][0]["reason"]
    assert data["file"] == "april.csv"
    batch = ImportBatch.objects.get(pk=data["batch_id"])
    assert batch.created_by == "fakturering"
    shown = api("granskare").get(f"/imports/{batch.pk}").json()
    assert shown["status"] == "completed" and shown["rows"] == data["rows"]
    quarantine = api("granskare").get(f"/imports/{batch.pk}/quarantine").json()
    assert quarantine["count"] == 1 and quarantine["items"][0]["raw"]["order_id"] == "VG-FEL"
    history = api("granskare").get("/imports").json()
    assert history["count"] == 1 and history["items"][0]["file"] == "april.csv"
    assert api("granskare").upload("/imports/orders", file).status_code == 403
    assert api("admin").get("/imports/999999").status_code == 404


def test_an_unusable_file_answers_422_and_imports_nothing(tmp_path: Path) -> None:
    file = tmp_path / "tom.csv"
    file.write_text("vad;som;helst\n1;2;3\n", encoding="utf-8")
    response = api("fakturering").upload("/imports/orders", file)
    assert response.status_code == 422
    assert "order_id" in response.json()["error"]


def test_a_large_upload_runs_as_a_job(
    world: webtools.World, tmp_path: Path, settings: Any, monkeypatch: Any
) -> None:
    from kortfaktura.api.routers import imports

    settings.TASKS = settings.IMMEDIATE_TASKS  # the page tests run a job inside the request
    monkeypatch.setattr(imports, "INLINE_BYTES", 10)
    file = write_csv(
        tmp_path / "stor.csv",
        ORDER_HEADER,
        [["VG-JOBB", "2020-04-10", "212000-1454", "", "ETK", "", "", "", ""]],
    )
    admin = api("admin")
    response = admin.upload("/imports/orders", file)
    assert response.status_code == 202, response.content
    job = admin.get(f"/jobs/{response.json()['id']}").json()
    assert job["status"] == "done" and job["result"]["imported"] == 1


# --- changes ------------------------------------------------------------------------------------


def _changed_world(world: webtools.World, tmp_path: Path) -> list[int]:
    """An import that moves an invoiced order to another unit: a change waiting for a decision."""
    file = write_csv(
        tmp_path / "andrad.csv",
        ORDER_HEADER,
        [["VG-2", "2020-03-02", "212000-1454", "NY-ENHET", "ETK", "", "", "", ""]],
    )
    assert api("admin").upload("/imports/orders", file).status_code == 200
    return list(OrderChange.objects.filter(status="pending").values_list("id", flat=True))


def test_accept_a_change_credits_the_order(world: webtools.World, tmp_path: Path) -> None:
    ids = _changed_world(world, tmp_path)
    assert ids
    listed = api("granskare").get("/changes").json()
    assert listed["count"] == len(ids) and listed["items"][0]["order_id"] == "VG-2"
    assert (
        api("fakturering").post("/changes/accept", {"ids": ids, "reason": "x"}).status_code == 403
    )
    response = api("ekonomi").post("/changes/accept", {"ids": ids, "reason": "Rätt enhet"})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "accepted" and data["credit_notes"][0]["order_ids"] == ["VG-2"]
    again = api("ekonomi").post("/changes/reject", {"ids": ids, "reason": "Nej"})
    assert again.status_code == 409 and "redan beslutad" in again.json()["error"]
    assert api("admin").get("/changes", status="accepted").json()["count"] == len(ids)


def test_reject_a_change_keeps_the_invoice(world: webtools.World, tmp_path: Path) -> None:
    ids = _changed_world(world, tmp_path)
    response = api("admin").post("/changes/reject", {"ids": ids, "reason": "Stämmer inte"})
    assert response.status_code == 200 and response.json()["credit_notes"] == []
    assert AuditRecord.objects.filter(actor="admin").exists()


# --- review, customers, orders, deliveries -------------------------------------------------------


def test_review_is_the_cli_json(world: webtools.World) -> None:
    response = api("granskare").get("/review", **{"from": "2020-03-01", "to": "2020-04-30"})
    assert response.status_code == 200
    data = response.json()
    assert data["from"] == "2020-03-01" and data["balanced"] is True
    march = next(month for month in data["months"] if month["month"] == "2020-03")
    assert march["invoiced"] == 5
    # The hash chains (R19) as review --json has them, each with its head.
    chains = {chain["chain"]: chain for chain in data["chains"]}
    assert chains["invoices"]["ok"] is True and len(chains["invoices"]["head_hash"]) == 64
    assert chains["audit"]["ok"] is True
    wrong = api("granskare").get("/review", **{"from": "2020-04-30", "to": "2020-03-01"})
    assert wrong.status_code == 400


def test_customers_search_and_detail(world: webtools.World) -> None:
    admin = api("admin")
    found = admin.get("/customers", search="vårg").json()
    assert found["count"] == 1 and found["items"][0]["orgnr"] == "2120001454"
    assert admin.get("/customers", search="212000-1561").json()["items"][0]["name"] == "Borås stad"
    detail = admin.get("/customers/212000-1454").json()
    assert detail["accounts"][0]["code"] == "1442"
    assert "unit_codes" in detail["accounts"][0]
    assert admin.get("/customers/5566778899").status_code == 404


def test_orders_filters_and_detail(world: webtools.World) -> None:
    admin = api("admin")
    assert admin.get("/orders").json()["count"] == 7
    assert admin.get("/orders", month="2020-03").json()["count"] == 5
    assert admin.get("/orders", orgnr="2120001561", month="2020-04").json()["count"] == 1
    assert admin.get("/orders", state="invoiced").json()["count"] == 5
    assert admin.get("/orders", state="in_draft").json()["count"] == 2
    assert admin.get("/orders", state="open").json()["count"] == 2  # the April drafts
    assert admin.get("/orders", state="unbilled").json()["count"] == 0
    assert admin.get("/orders", id="VG-").json()["count"] == 4
    detail = admin.get("/orders/VG-2").json()
    assert detail["invoice_numbers"] == [str(world.own_invoice.number)]
    assert detail["changes"] == []
    assert admin.get("/orders", month="2020-13").status_code == 422
    assert admin.get("/orders/FINNS-INTE").status_code == 404


def test_deliveries_list_and_resend(world: webtools.World, settings: Any, tmp_path: Path) -> None:
    number = world.own_invoice.number
    fakturering = api("fakturering")
    settings.PEPPOL_OUTBOX = ""
    unset = fakturering.post(f"/deliveries/{number}/resend")
    assert unset.status_code == 409 and "KORTFAKTURA_PEPPOL_OUTBOX" in unset.json()["error"]
    (tmp_path / "outbox").mkdir()
    settings.PEPPOL_OUTBOX = f"file://{tmp_path}/outbox"
    assert api("granskare").post(f"/deliveries/{number}/resend").status_code == 403
    response = fakturering.post(f"/deliveries/{number}/resend")
    assert response.status_code == 201, response.content
    assert response.json()["number"] == str(number) and response.json()["status"] == "queued"
    assert Delivery.objects.filter(invoice=world.own_invoice).count() == 1
    assert AuditRecord.objects.filter(action="delivery.queued", actor="fakturering").exists()
    listed = api("granskare").get("/deliveries", status="queued").json()
    assert listed["count"] == 1 and listed["items"][0]["channel"] == "peppol"
    assert fakturering.post("/deliveries/999999999/resend").status_code == 404
    assert api("ekonomi").post(f"/deliveries/{number}/resend").status_code == 403


# --- a Kund --------------------------------------------------------------------------------------


def test_a_kund_sees_its_own_invoices_documents_orders_and_customer(
    world: webtools.World,
) -> None:
    kund = api("kund", "2120001454")
    responses = []
    invoices = kund.get("/invoices")
    assert invoices.status_code == 200
    assert [item["number"] for item in invoices.json()["items"]] == [str(world.own_invoice.number)]
    responses.append(invoices)
    assert kund.get("/invoices", status="draft").json()["count"] == 0
    own = world.own_invoice.number
    for path, params in (
        (f"/invoices/{own}", {}),
        (f"/invoices/{own}/document", {"format": "pdf"}),
        (f"/invoices/{own}/document", {"format": "csv"}),
        (f"/invoices/{own}/document", {"format": "ubl"}),
        ("/orders", {}),
        ("/orders/VG-2", {}),
        ("/customers", {}),
        ("/customers/2120001454", {}),
        ("/me", {}),
    ):
        response = kund.get(path, **params)
        assert response.status_code == 200, path
        responses.append(response)
    assert kund.get("/orders").json()["count"] == 4
    assert kund.get("/customers").json()["count"] == 1
    for response in responses:
        assert_clean(response, world)
    csv_text = kund.get(f"/invoices/{own}/document", format="csv").content.decode("utf-8-sig")
    assert "VG-2" in csv_text


def test_a_kund_gets_404_for_another_organisations_objects(world: webtools.World) -> None:
    kund = api("kund", "2120001454")
    other = world.other_invoice.number
    for path, params in (
        (f"/invoices/{other}", {}),
        (f"/invoices/{other}/document", {"format": "pdf"}),
        (f"/invoices/{other}/document", {"format": "ubl"}),
        ("/orders/BS-2", {}),
        ("/orders/BS-APR", {}),
        ("/customers/2120001561", {}),
    ):
        response = kund.get(path, **params)
        assert response.status_code == 404, path
        assert_clean(response, world)
    for params in ({"orgnr": "2120001561"}, {"number": other}, {"search": "Borås"}):
        for path in ("/invoices", "/orders", "/customers"):
            response = kund.get(path, **params)
            assert response.status_code in (200, 422)
            assert_clean(response, world)
    assert kund.get("/orders", id="BS").json()["count"] == 0


def test_a_kund_gets_403_on_staff_areas(world: webtools.World, tmp_path: Path) -> None:
    kund = api("kund", "2120001454")
    assert world.draft_run is not None
    for method, path in (
        ("get", "/runs"),
        ("get", f"/runs/{world.draft_run.pk}"),
        ("post", "/runs/preview"),
        ("post", f"/runs/{world.draft_run.pk}/issue"),
        ("post", f"/runs/{world.draft_run.pk}/discard"),
        ("get", "/imports"),
        ("get", "/changes"),
        ("post", "/changes/accept"),
        ("get", "/review"),
        ("get", "/deliveries"),
        ("post", f"/deliveries/{world.own_invoice.number}/resend"),
        ("post", f"/invoices/{world.own_invoice.number}/credit"),
    ):
        if method == "get":
            response = kund.get(path)
        elif path == "/runs/preview":
            response = kund.post(path, {"from": "2020-04-01", "to": "2020-04-30"})
        elif path == "/changes/accept":
            response = kund.post(path, {"ids": [1], "reason": "x"})
        elif path.endswith("/credit"):
            response = kund.post(path, {"reason": "x"})
        else:
            response = kund.post(path)
        assert response.status_code == 403, path
        assert_clean(response, world)
    file = write_csv(tmp_path / "k.csv", ORDER_HEADER, [])
    assert kund.upload("/imports/orders", file).status_code == 403


def test_a_user_without_a_role_reads_nothing(world: webtools.World) -> None:
    from django.contrib.auth.models import User

    User.objects.create_user("ingen", password=webtools.PASSWORD)
    nobody = Api("ingen")
    for path in ("/invoices", "/orders", "/customers", "/runs", "/review"):
        assert nobody.get(path).status_code == 403, path


# --- docs without a CDN --------------------------------------------------------------------------


def test_the_docs_page_and_each_asset_it_references_are_served_here() -> None:
    client = Client()
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert references
    assert not [ref for ref in references if ref.startswith(("http:", "https:", "//"))]
    assets = [ref for ref in references if ref.startswith("/static/")]
    assert assets
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200 and "/api/v1/invoices" in schema.json()["paths"]


# --- the authorization matrix --------------------------------------------------------------------


def _operations(world: webtools.World) -> list[tuple[str, str, Any, tuple[str, ...], int, bool]]:
    """(method, path, body, permissions any of which allows it, status when allowed, whether it
    names Vårgårda's own objects). Writes are asked so that the service refuses them (409/400/
    422), so one world serves the whole matrix."""
    own, run = world.own_invoice.number, world.issued_run.pk
    assert world.draft_run is not None
    reads = ("view_billing", "view_own")
    staff = ("view_billing",)
    return [
        ("get", "/me", None, (), 200, False),
        ("get", "/invoices", None, reads, 200, False),
        ("get", f"/invoices/{own}", None, reads, 200, True),
        ("get", f"/invoices/{own}/document?format=pdf", None, reads, 200, True),
        ("get", f"/invoices/{own}/document?format=ubl", None, reads, 200, True),
        ("post", f"/invoices/{own}/credit", {"order_ids": ["X"], "reason": "x"},
         ("credit_invoices",), 409, True),
        ("get", "/orders", None, reads, 200, False),
        ("get", "/orders/VG-2", None, reads, 200, True),
        ("get", "/customers", None, reads, 200, False),
        ("get", "/customers/2120001454", None, reads, 200, True),
        ("get", "/runs", None, staff, 200, False),
        ("get", f"/runs/{world.draft_run.pk}", None, staff, 200, False),
        ("post", "/runs/preview", {"from": "2020-04-01", "to": "2020-04-30"},
         ("draft_runs",), 200, False),
        ("post", "/runs", {"from": "2020-04-30", "to": "2020-04-01"}, ("draft_runs",), 400, False),
        ("post", f"/runs/{run}/issue", None, ("issue_runs",), 409, False),
        ("post", f"/runs/{run}/discard", None, ("discard_runs",), 409, False),
        ("get", "/imports", None, staff, 200, False),
        ("get", "/imports/999999", None, staff, 404, False),
        ("get", "/imports/999999/quarantine", None, staff, 404, False),
        ("upload", "/imports/orders", None, ("import_files",), 422, False),
        ("get", "/jobs/999999", None, staff, 404, False),
        ("get", "/changes", None, staff, 200, False),
        ("post", "/changes/accept", {"ids": [999999], "reason": "x"}, ("decide_changes",), 409,
         False),
        ("post", "/changes/reject", {"ids": [999999], "reason": "x"}, ("decide_changes",), 409,
         False),
        ("get", "/review", None, ("view_review",), 200, False),
        ("get", "/deliveries", None, staff, 200, False),
        ("post", f"/deliveries/{own}/resend", None, ("deliver_documents",), 409, True),
    ]  # fmt: skip


def _call(client: Client, method: str, path: str, body: Any, tmp_path: Path) -> Any:
    url = f"/api/v1{path}"
    if method == "get":
        return client.get(url)
    if method == "upload":
        file = tmp_path / "trasig.csv"
        file.write_text("inget;som;passar\n1;2;3\n", encoding="utf-8")
        with file.open("rb") as handle:
            return client.post(url, {"file": handle})
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def test_every_operation_for_every_role(
    world: webtools.World, tmp_path: Path, settings: Any
) -> None:
    from kortfaktura.access.roles import ROLES

    settings.PEPPOL_OUTBOX = ""  # a resend is refused (409) after the role check
    callers: list[tuple[str, Client, tuple[str, ...], bool]] = [
        (role, Api(webtools.user(role).get_username()).client, ROLES[role].permissions, False)
        for role in webtools.STAFF_ROLES
    ]
    callers.append(("kund", api("kund", "2120001454").client, ROLES["kund"].permissions, False))
    callers.append(
        ("kund-borås", api("kund", "2120001561").client, ROLES["kund"].permissions, True)
    )
    problems = []
    for method, path, body, needed, allowed, names_own in _operations(world):
        anonymous = _call(Client(), method, path, body, tmp_path)
        if anonymous.status_code != 401:
            problems.append(f"anonymous {method} {path}: {anonymous.status_code}")
        for name, client, permissions, foreign in callers:
            may = not needed or any(permission in permissions for permission in needed)
            expected = 403 if not may else (404 if foreign and names_own else allowed)
            response = _call(client, method, path, body, tmp_path)
            if response.status_code != expected:
                problems.append(
                    f"{name} {method} {path}: {response.status_code}, expected {expected}"
                )
            if name.startswith("kund"):
                text = response.content.decode("utf-8", errors="replace")
                secrets = [world.own.name, "VG-2", "VG-APR"] if foreign else secrets_of(world)
                problems += [f"{name} {path} shows {s!r}" for s in secrets if s in text]
    assert not problems, "\n".join(problems)


def test_a_deactivated_users_token_answers_401(world: webtools.World) -> None:
    from kortfaktura.access.services import set_active

    ekonomi = api("ekonomi")
    assert ekonomi.get("/invoices").status_code == 200
    set_active("ekonomi", False)
    assert ekonomi.get("/invoices").status_code == 401
