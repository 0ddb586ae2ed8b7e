"""What an attacker's test of the web application and the API found (issue 12), kept fixed."""

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

import factories as make
import webtools
from kortfaktura.access.services import AccessError, add_user
from kortfaktura.accounting.services import SieUsageError, export_sie
from kortfaktura.customers.models import BillingAccount
from kortfaktura.jobs import services as jobs
from kortfaktura.jobs.models import Job
from kortfaktura.review import latest

pytestmark = pytest.mark.django_db


def _client(role: str, orgnr: str | None = None) -> Client:
    browser = Client()
    browser.force_login(webtools.user(role, orgnr))
    return browser


def test_an_account_edit_with_a_control_character_is_refused_and_nothing_saved(
    kommun: Any,
) -> None:
    account = BillingAccount.objects.get(customer=kommun)
    browser = _client("fakturering")
    values = {
        "name": "Vårgårda\x07kommun",
        "buyer_reference": "REF-1",
        "peppol": f"0007:{kommun.orgnr}",
        "email": "",
        "street": "Box 1",
        "postal_code": "405 44",
        "city": "Göteborg",
        "delivery": "peppol",
        "cost_centre": "",
    }
    response = browser.post(f"/kunder/mottagare/{account.code}/andra/", values)
    assert response.status_code in (200, 400)
    assert "kontrolltecken" in response.content.decode()
    account.refresh_from_db()
    assert "\x07" not in account.name


def test_extreme_dates_and_numbers_answer_messages_not_server_errors(kommun: Any) -> None:
    staff = _client("admin")
    webtools.token("admin")
    assert staff.get("/api/v1/orders", {"month": "9999-12"}).status_code == 200
    assert staff.get("/api/v1/orders", {"month": "0001-01"}).status_code == 200
    for query in ({"until": "9999-12-31"}, {"since": "0001-01-01"}, {"since": "9999-12-31"}):
        assert staff.get("/granskningslogg/", query).status_code == 200, query
    etk = make.product("ETK", "eTjänstekort")
    response = staff.post(
        "/priser/nytt/",
        {"product": etk.code, "unit_price": "1e400", "vat_rate": "25",
         "valid_from": "2030-01-01", "valid_to": "", "revenue_account": ""},
    )  # fmt: skip
    assert response.status_code in (200, 400)
    assert "à-pris" in response.content.decode().lower()


def test_a_sie_export_of_an_impossible_period_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SieUsageError, match="1900 och 2999"):
        export_sie(dt.date(1, 1, 1), dt.date(9999, 12, 31), tmp_path / "x.se")
    assert not (tmp_path / "x.se").exists()


def test_the_api_refuses_an_upload_above_the_limit_before_importing(settings: Any) -> None:
    settings.UPLOAD_LIMIT = 100
    webtools.user("fakturering")
    token = webtools.token("fakturering")
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("orders.csv", b"order_id;x\n" + b"A;1\n" * 100)
    response = Client().post(
        "/api/v1/imports/orders", {"file": upload}, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 413  # Payload Too Large (issue 21 item 9)
    assert "KORTFAKTURA_UPLOAD_LIMIT" in response.json()["error"]


def test_one_review_at_a_time_whatever_its_period() -> None:
    running = Job.objects.create(
        kind=latest.KIND, key="annan-period", label="Genomlysning", created_by="greta"
    )
    with pytest.raises(jobs.JobBusy) as refused:
        latest.start(dt.date(2020, 1, 1), dt.date(2020, 12, 31), actor="granskare")
    assert refused.value.running == running


def test_the_api_answers_unknown_addresses_and_methods_in_json() -> None:
    webtools.user("admin")
    token = webtools.token("admin")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    unknown = api.get("/api/v1/finns-inte")
    assert unknown.status_code == 404 and "finns inte" in unknown.json()["error"]
    wrong = api.delete("/api/v1/me")
    assert wrong.status_code == 405 and "metoden" in wrong.json()["error"]


def test_logging_out_by_get_shows_a_button_and_logs_out_only_by_post() -> None:
    browser = _client("granskare")
    page = browser.get("/logga-ut/")
    assert page.status_code == 200 and "Logga ut" in page.content.decode()
    assert browser.get("/fakturor/").status_code == 200  # still logged in
    browser.post("/logga-ut/")
    assert browser.get("/fakturor/").status_code == 302


def test_user_names_are_plain_and_cannot_imitate_another_by_case() -> None:
    add_user("anna", "granskare", webtools.PASSWORD)
    with pytest.raises(AccessError, match="stora och små"):
        add_user("ANNA", "admin", webtools.PASSWORD)
    for bad in ("<script>alert(1)</script>", "nul\x00user", "två ord", ""):
        with pytest.raises(AccessError, match="användarnamnet"):
            add_user(bad, "granskare", webtools.PASSWORD)


def test_bad_requests_get_a_swedish_page(client: Client) -> None:
    response = client.get("/", HTTP_HOST="angripare.example")
    assert response.status_code == 400
    assert "Begäran gick inte att använda" in response.content.decode()
