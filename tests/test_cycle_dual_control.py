"""Dual control and seeing before issuing (DOMAIN.md R25; issue 19, items 3): who made or last
regenerated a draft cannot issue it – in the service, on the command line, the web and the API –
unless ``KORTFAKTURA_DUAL_CONTROL=0``; the issuer opens every draft document first (the run page,
``run preview``: PDFs marked UTKAST without a number); ``run list``."""

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings
from pypdf import PdfReader

import factories as make
import webtools
from conftest import (
    CUSTOMER_HEADER,
    GOTEBORG,
    ORDER_HEADER,
    PRICE_HEADER,
    VARGARDA,
    customer_row,
    order_row,
)
from kortfaktura.audit.actor import acting_as
from kortfaktura.audit.models import AuditRecord
from kortfaktura.billing import services as billing
from kortfaktura.billing.errors import BillingError
from kortfaktura.billing.models import BillingRun, Invoice

pytestmark = [pytest.mark.django_db, pytest.mark.dual_control]

MARCH = (dt.date(2020, 3, 1), dt.date(2020, 3, 31))


@pytest.fixture(autouse=True)
def jobs_inline(settings: Any) -> None:
    settings.TASKS = settings.IMMEDIATE_TASKS  # the page tests run a job inside the request


def _world() -> webtools.World:
    """March issued by one person (the setup), as the shared world does."""
    with acting_as("setup"), override_settings(DUAL_CONTROL=False):
        return webtools.billed_world(with_draft=False)


def _draft(by: str) -> BillingRun:
    etk = make.product("ETK", "eTjänstekort") if not _products() else _products()[0]
    owner = make.customer("Vårgårda kommun", number="2120001454")
    make.account(owner, "1442")
    make.order(owner, "2020-03-02", etk, order_id="VG-1")
    with acting_as(by):
        run = billing.create_run(*MARCH, created_by=by).run
    assert run.pk is not None
    return run


def _products() -> list[Any]:
    from kortfaktura.catalog.models import Product

    return list(Product.objects.all())


@pytest.fixture
def priced() -> None:
    etk = make.product("ETK", "eTjänstekort")
    make.price(etk, "350")


def test_the_drafter_cannot_issue_and_a_colleague_can(priced: None) -> None:
    run = _draft("anna")
    with acting_as("anna"), pytest.raises(BillingError) as refused:
        billing.issue_run(run.pk)
    assert "anna gjorde utkastet" in str(refused.value)
    assert "fyraögonsprincipen" in str(refused.value)
    run.refresh_from_db()
    assert run.status == "draft"
    assert not Invoice.objects.filter(number__isnull=False).exists()  # no number used
    # Names compare without case: ANNA is anna.
    with acting_as("ANNA"), pytest.raises(BillingError):
        billing.issue_run(run.pk)
    with acting_as("bertil"):
        issued = billing.issue_run(run.pk)
    assert issued.status == "issued"
    record = AuditRecord.objects.get(action="run.issued")
    assert record.actor == "bertil"
    assert record.details["drafted_by"] == "anna"
    assert record.details["dual_control"] == "på"
    assert "issued_by_drafter" not in record.details


def test_neither_who_made_nor_who_regenerated_the_draft_can_issue_it(priced: None) -> None:
    """R25: "the person who made or regenerated a draft may not issue it" – both had it in
    their hands; a third person issues."""
    run = _draft("anna")
    with acting_as("bertil"):
        billing.regenerate_run(run.pk)
    run.refresh_from_db()
    assert run.drafted_by == "bertil" and run.created_by == "anna"
    regenerated = AuditRecord.objects.get(action="run.regenerated")
    assert regenerated.details["drafted_by"] == {"before": "anna", "after": "bertil"}
    with acting_as("bertil"), pytest.raises(BillingError, match="bertil gjorde om utkastet"):
        billing.issue_run(run.pk)
    with acting_as("Anna"), pytest.raises(BillingError, match="Anna gjorde utkastet"):
        billing.issue_run(run.pk)
    with acting_as("cecilia"):
        assert billing.issue_run(run.pk).status == "issued"


def test_a_draft_the_system_made_can_be_issued_by_anyone(priced: None) -> None:
    run = _draft("system")
    with acting_as("system"):  # even the cycle's own actor: nobody drafted it by hand
        assert billing.issue_run(run.pk).status == "issued"


def test_with_dual_control_off_the_drafter_issues_and_the_trail_says_so(
    priced: None, settings: Any
) -> None:
    settings.DUAL_CONTROL = False
    run = _draft("anna")
    with acting_as("anna"):
        assert billing.issue_run(run.pk).status == "issued"
    record = AuditRecord.objects.get(action="run.issued")
    assert record.details["dual_control"] == "av"
    assert record.details["issued_by_drafter"] is True
    assert record.details["drafted_by"] == "anna"


def test_runs_drafted_before_the_column_existed_count_their_creator(priced: None) -> None:
    run = _draft("anna")
    BillingRun.objects.filter(pk=run.pk).update(drafted_by=None)
    run.refresh_from_db()
    assert run.drafter == "anna"
    with acting_as("anna"), pytest.raises(BillingError):
        billing.issue_run(run.pk)


# The command line: the actor is KORTFAKTURA_ACTOR, else the operating-system user.


def _setup_files(tmp_path: Path, csv_file: Any) -> dict[str, Path]:
    customers = [
        customer_row(),
        customer_row(GOTEBORG, "Göteborgs stad", "1480", peppol_id="0007:2120001355"),
    ]
    orders = [
        order_row("M-1", "2020-03-03 10:00"),
        order_row("M-2", "2020-03-20 10:00"),
        order_row("G-1", "2020-03-05 10:00", GOTEBORG, holder_name="Gustav Göte"),
        order_row("A-1", "2020-04-05 10:00"),
    ]
    return {
        "customers": csv_file(CUSTOMER_HEADER, customers),
        "prices": csv_file(PRICE_HEADER, [["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""]]),
        "orders": csv_file(ORDER_HEADER, orders),
    }


def test_run_issue_on_the_command_line_refuses_the_drafter(
    tmp_path: Path, csv_file: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for kind, path in _setup_files(tmp_path, csv_file).items():
        assert cli("import", kind, str(path))[0] == 0
    monkeypatch.setenv("KORTFAKTURA_ACTOR", "anna")
    code, out, _ = cli("bill", "--from", "2020-03-01", "--to", "2020-03-31", "--json")
    assert code == 0
    run_id = str(json.loads(out)["id"])
    code, out, err = cli("run", "issue", run_id)
    assert code == 1
    assert "anna gjorde utkastet" in err and "Traceback" not in out + err
    code, out, _ = cli("run", "issue", run_id, "--json")
    assert code == 1 and "fyraögonsprincipen" in json.loads(out)["error"]
    # Without KORTFAKTURA_ACTOR the operating-system user is the actor: someone else here.
    monkeypatch.delenv("KORTFAKTURA_ACTOR")
    code, out, err = cli("run", "issue", run_id, "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "issued"


def test_run_preview_writes_one_pdf_per_draft_document_marked_utkast_without_a_number(
    tmp_path: Path, csv_file: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for kind, path in _setup_files(tmp_path, csv_file).items():
        assert cli("import", kind, str(path))[0] == 0
    code, out, _ = cli("bill", "--from", "2020-03-01", "--to", "2020-04-30", "--json")
    assert code == 0
    run_id = str(json.loads(out)["id"])
    out_dir = tmp_path / "utkast"
    code, out, err = cli("run", "preview", run_id, "--out", str(out_dir), "--json")
    assert code == 0, err
    written = sorted(json.loads(out)["files"])
    # One per account and order month: Vårgårda March and April, Göteborg March.
    assert written == [
        "utkast-1442-2020-03.pdf", "utkast-1442-2020-04.pdf", "utkast-1480-2020-03.pdf"
    ]  # fmt: skip
    for name in written:
        text = "".join(page.extract_text() for page in PdfReader(out_dir / name).pages)
        assert "UTKAST" in text, name
        assert not re.search(r"\b1000\d\d\b", text), name  # no number of the series
        assert "Nr " not in text
        assert "OCR-nummer" in text and "ges när den utfärdas" in text
    march = "".join(
        page.extract_text() for page in PdfReader(out_dir / "utkast-1442-2020-03.pdf").pages
    )
    assert "M-1" in march and "M-2" in march and "Anna Andersson" in march  # specification
    assert "700,00" in march  # two cards at 350 kr
    assert AuditRecord.objects.filter(action="run.previewed", object=f"körning {run_id}").exists()
    # Nothing was issued by looking.
    assert not Invoice.objects.filter(number__isnull=False).exists()
    # An issued run is not previewed: its documents are exported.
    monkeypatch.setenv("KORTFAKTURA_ACTOR", "ekonomi")
    assert cli("run", "issue", run_id)[0] == 0
    code, _, err = cli("run", "preview", run_id, "--out", str(tmp_path / "igen"))
    assert code == 1 and "invoice export --run" in err
    code, _, err = cli("run", "preview", run_id)
    assert code == 2 and "--out" in err


def test_run_list_newest_first_with_status_filter_and_who_made_it(
    tmp_path: Path, csv_file: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for kind, path in _setup_files(tmp_path, csv_file).items():
        assert cli("import", kind, str(path))[0] == 0
    monkeypatch.setenv("KORTFAKTURA_ACTOR", "anna")
    first = json.loads(cli("bill", "--from", "2020-03-01", "--to", "2020-03-31", "--json")[1])
    second = json.loads(cli("bill", "--from", "2020-04-01", "--to", "2020-04-30", "--json")[1])
    monkeypatch.setenv("KORTFAKTURA_ACTOR", "bertil")
    assert cli("run", "issue", str(first["id"]))[0] == 0
    code, out, _ = cli("run", "list", "--json")
    assert code == 0
    runs = json.loads(out)
    assert [run["id"] for run in runs] == [second["id"], first["id"]]
    assert runs[1]["status"] == "issued" and runs[0]["status"] == "draft"
    assert {run["created_by"] for run in runs} == {"anna"}
    for run in runs:
        assert "invoices" not in run and "held_back" not in run
        assert {"id", "status", "title", "period_from", "period_to", "per", "issue_date",
                "customers", "legacy", "not_billable"} <= set(run)  # fmt: skip
    code, out, _ = cli("run", "list", "--status", "draft", "--json")
    assert [run["id"] for run in json.loads(out)] == [second["id"]]
    code, out, _ = cli("run", "list")
    assert code == 0 and "anna" in out and "utkast" in out
    assert cli("run", "list", "--status", "klar")[0] == 2
    assert cli("run", "show")[0] == 2


# The web and the API: the signed-in user.


def _client(role: str, username: str) -> Client:
    browser = Client()
    browser.force_login(webtools.user(role, username=username))
    return browser


def _web_draft() -> tuple[BillingRun, Client, Client]:
    world = _world()
    etk = world.own_orders[0].product
    make.order(world.own, "2020-04-02", etk, order_id="VG-APR")
    make.order(world.other, "2020-04-03", etk, order_id="BS-APR")
    drafter = _client("admin", "anna")  # admin may both draft and issue
    response = drafter.post(
        "/korningar/ny/",
        {"period_from": "2020-04-01", "period_to": "2020-04-30", "per": "month",
         "action": "create"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    run = BillingRun.objects.get(status="draft")
    return run, drafter, _client("ekonomi", "eva")


def test_the_web_does_not_offer_utfarda_to_the_drafter_and_says_why() -> None:
    run, drafter, colleague = _web_draft()
    page = drafter.get(f"/korningar/{run.pk}/").content.decode()
    assert f'href="/korningar/{run.pk}/utfarda/"' not in page
    assert "Utfärda erbjuds inte dig" in page and "fyraögonsprincipen" in page
    refused = drafter.post(f"/korningar/{run.pk}/utfarda/", {"issue_date": ""})
    assert refused.status_code == 403
    assert "Anna gjorde utkastet" in refused.content.decode()
    run.refresh_from_db()
    assert run.status == "draft"
    page = colleague.get(f"/korningar/{run.pk}/").content.decode()
    assert f'href="/korningar/{run.pk}/utfarda/"' in page
    issued = colleague.post(f"/korningar/{run.pk}/utfarda/", {"issue_date": ""})
    assert issued.status_code == 302
    run.refresh_from_db()
    assert run.status == "issued"
    assert AuditRecord.objects.filter(action="run.issued").latest("id").actor == "eva"


def test_the_run_page_lists_each_draft_document_with_lines_specification_and_pdf() -> None:
    run, _, colleague = _web_draft()
    page = colleague.get(f"/korningar/{run.pk}/").content.decode()
    drafts = list(run.invoices.order_by("id"))
    assert len(drafts) == 2
    for invoice in drafts:
        assert f"/korningar/{run.pk}/utkast/{invoice.pk}/" in page
        assert f"/korningar/{run.pk}/utkast/{invoice.pk}/pdf/" in page
    assert "2020-04 · eTjänstekort · 1 × 350,00" in page.replace("\xa0", " ")
    own = run.invoices.get(account__code="1442")
    detail = colleague.get(f"/korningar/{run.pk}/utkast/{own.pk}/").content.decode()
    assert "VG-APR" in detail and "BS-APR" not in detail and "UTKAST" in detail
    pdf = colleague.get(f"/korningar/{run.pk}/utkast/{own.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "UTKAST" in text and "VG-APR" in text
    # A Kund never sees a draft; an issued document is not a draft.
    kund = Client()
    kund.force_login(webtools.user("kund", "2120001454"))
    assert kund.get(f"/korningar/{run.pk}/utkast/{own.pk}/pdf/").status_code in (403, 404)
    issued = Invoice.objects.filter(status="issued").first()
    assert issued is not None
    assert colleague.get(f"/korningar/{issued.run_id}/utkast/{issued.pk}/pdf/").status_code == 404


def test_the_api_refuses_the_drafter_with_409(priced: None) -> None:
    run = _draft("anna")
    webtools.user("ekonomi", username="anna")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {webtools.token('anna')}")
    response = client.post(f"/api/v1/runs/{run.pk}/issue", "{}", content_type="application/json")
    assert response.status_code == 409
    assert "anna gjorde utkastet" in response.json()["error"]


@pytest.mark.parametrize("orgnr", [VARGARDA])
def test_dual_control_off_is_said_on_the_run_page(orgnr: str, settings: Any) -> None:
    settings.DUAL_CONTROL = False
    run, drafter, _ = _web_draft()
    page = drafter.get(f"/korningar/{run.pk}/").content.decode()
    assert f'href="/korningar/{run.pk}/utfarda/"' in page
    assert "Fyraögonsprincipen är avstängd" in page


@pytest.mark.parametrize("on", [True, False])
def test_review_and_overview_say_whether_dual_control_is_on(
    on: bool, settings: Any, cli: Any
) -> None:
    settings.DUAL_CONTROL = on
    _draft_world = _world()
    assert _draft_world.issued_run.status == "issued"
    code, out, _ = cli("review", "--json")
    assert code == 0 and json.loads(out)["dual_control"] is on
    code, out, _ = cli("review")
    assert ("Fyraögonsprincipen är avstängd" in out) is not on
    page = _client("ekonomi", "eva").get("/").content.decode()
    assert ('id="fyraogon"' in page) is not on


def test_the_api_gives_a_draft_document_as_pdf_marked_utkast() -> None:
    run, _, _ = _web_draft()
    webtools.user("granskare", username="gun")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {webtools.token('gun')}")
    response = client.get(f"/api/v1/runs/{run.pk}/drafts/1442/2020-04")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "UTKAST" in text and "VG-APR" in text
    assert client.get(f"/api/v1/runs/{run.pk}/drafts/1442/2020-05").status_code == 404
    assert client.get(f"/api/v1/runs/{run.pk}/drafts/1442/2020-13").status_code == 422
    assert client.get(f"/api/v1/runs/{run.pk}/drafts/1442/0000-01").status_code == 422  # no year 0
