"""The pages Bokföring, Granskningslogg and Användare (issue 12), through Django's test client on
the real database: the SIE export runs as a job and writes a real file that is downloaded and
read back, the audit trail is filtered in SQL, user changes go through access.services."""

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

import sie_reader
import webtools
from kortfaktura.access.models import ApiToken
from kortfaktura.access.services import user_for_token
from kortfaktura.accounting.models import SieExport
from kortfaktura.audit.models import AuditRecord
from kortfaktura.audit.services import record
from kortfaktura.billing.selectors import issued_documents
from kortfaktura.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def inline_jobs(settings: Any, tmp_path: Path) -> Path:
    settings.TASKS = settings.IMMEDIATE_TASKS  # the page tests run a job inside the request
    settings.DATA_DIR = tmp_path / "var"
    return settings.DATA_DIR


def client_for(role: str, orgnr: str | None = None, username: str | None = None) -> Client:
    browser = Client()
    browser.force_login(webtools.user(role, orgnr, username))
    return browser


def text(response: Any) -> str:
    return response.content.decode()


def listed(response: Any) -> str:
    """The rows of the page's table (not the filter form's hints)."""
    body = text(response)
    return body.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in body else ""


# --- Bokföring ---------------------------------------------------------------------------------


def test_sie_export_job_writes_the_issued_documents_and_the_file_downloads(
    inline_jobs: Path,
) -> None:
    world = webtools.billed_world()
    ekonomi = client_for("ekonomi", username="eva")
    today = timezone.localdate().isoformat()

    response = ekonomi.post("/bokforing/exportera/", {"from": today, "to": today})
    assert response.status_code == 302
    job = Job.objects.get(kind="sie")
    assert response["Location"] == f"/jobb/{job.pk}/"
    assert job.status == Job.Status.DONE, job.error
    export = SieExport.objects.get()
    assert job.result["url"] == f"/bokforing/{export.pk}/"
    assert export.made_by == "eva"
    file = Path(export.file)
    assert file.parent == inline_jobs / "exports" and file.suffix == ".se"

    # The vouchers are exactly the documents issued in the period, amounts and all.
    documents = issued_documents()
    assert {world.own_invoice.number, world.other_invoice.number} <= {d.number for d in documents}
    parsed = sie_reader.parse(file)
    assert sorted(int(v.number) for v in parsed.vouchers) == sorted(d.number for d in documents)
    for document in documents:
        (voucher,) = [v for v in parsed.vouchers if v.number == str(document.number)]
        assert voucher.balance == 0
        assert voucher.amounts()["1510"] == document.payable
    assert export.vouchers == len(documents)
    assert parsed.debit == parsed.credit == export.debit

    page = ekonomi.get("/bokforing/")
    body = text(page)
    assert f"/bokforing/{export.pk}/fil/" in body and "eva" in body
    assert "1510" in body and "Kundfordringar" in body  # the chart in use

    detail = ekonomi.get(f"/bokforing/{export.pk}/")
    assert detail.status_code == 200
    # Today's period has not ended: the export says so.
    assert "Varning:" in text(detail) and "perioden slutar" in text(detail)

    download = ekonomi.get(f"/bokforing/{export.pk}/fil/")
    assert download.status_code == 200
    assert download["Content-Type"] == "text/plain; charset=cp437"
    assert download["Content-Disposition"].startswith("attachment;")
    assert file.name in download["Content-Disposition"]
    assert download.content == file.read_bytes()
    assert hashlib.sha256(download.content).hexdigest() == export.sha256
    assert AuditRecord.objects.filter(action="export.sie", actor="eva").count() == 1


def test_a_granskare_sees_exports_and_downloads_but_cannot_export() -> None:
    webtools.billed_world(with_draft=False)
    today = timezone.localdate().isoformat()
    client_for("admin").post("/bokforing/exportera/", {"from": today, "to": today})
    export = SieExport.objects.get()
    granskare = client_for("granskare")
    page = granskare.get("/bokforing/")
    assert page.status_code == 200
    assert "Exportera SIE-fil" not in text(page)
    assert granskare.get(f"/bokforing/{export.pk}/fil/").status_code == 200
    refused = granskare.post("/bokforing/exportera/", {"from": today, "to": today})
    assert refused.status_code == 403
    assert SieExport.objects.count() == 1


def test_bad_periods_are_refused_in_the_form_with_the_input_kept() -> None:
    ekonomi = client_for("ekonomi")
    response = ekonomi.post("/bokforing/exportera/", {"from": "2020-03-31", "to": "2020-03-01"})
    assert response.status_code == 400
    body = text(response)
    assert "byt plats på datumen" in body and 'value="2020-03-31"' in body
    response = ekonomi.post("/bokforing/exportera/", {"from": "31/3", "to": ""})
    assert response.status_code == 400
    assert "är inget datum" in text(response) and "Ange sista fakturadatum" in text(response)
    assert not Job.objects.exists() and not SieExport.objects.exists()


def test_a_second_export_while_one_runs_is_refused() -> None:
    webtools.billed_world(with_draft=False)  # a period with vouchers: an empty one is refused
    today = timezone.localdate().isoformat()
    ekonomi = client_for("ekonomi")
    Job.objects.create(kind="sie", key="sie", label="SIE-export", created_by="någon")
    response = ekonomi.post("/bokforing/exportera/", {"from": today, "to": today})
    assert response.status_code == 409
    assert "pågår redan" in text(response)


def test_a_missing_or_changed_file_is_not_offered() -> None:
    admin = client_for("admin")
    admin.post("/bokforing/exportera/", {"from": "2020-03-01", "to": "2020-03-31"})
    export = SieExport.objects.get()
    file = Path(export.file)
    file.write_bytes(file.read_bytes() + b"#VER changed\r\n")
    response = admin.get(f"/bokforing/{export.pk}/fil/", follow=True)
    assert "har ändrats sedan exporten" in text(response)
    file.unlink()
    assert "Filen finns inte längre" in text(admin.get("/bokforing/"))
    response = admin.get(f"/bokforing/{export.pk}/fil/", follow=True)
    assert "finns inte längre" in text(response)


# --- Granskningslogg ---------------------------------------------------------------------------


def test_the_audit_page_filters_in_the_database_newest_first() -> None:
    record("run.issued", "körning 5", {"invoices": 2, "net": {"before": None, "after": "700"}})
    record("import.orders", "fil beställningar.csv", {"imported": 3}, actor="frida")
    record("customer.updated", "kund 212000-1454", {"name": {"before": "A", "after": "Åsa"}})
    record("run.drafted", "körning 1", {})
    granskare = client_for("granskare", username="greta")

    page = listed(granskare.get("/granskningslogg/"))
    assert page.index("kund 212000-1454") < page.index("körning 5")  # newest first
    assert "namn: A" in page and "Åsa" in page and "ändrat till" in page

    by_object = listed(granskare.get("/granskningslogg/", {"object": "KÖRNING 5"}))
    assert "körning 5" in by_object and "körning 1" not in by_object
    assert "kund 212000-1454" not in by_object

    by_actor = listed(granskare.get("/granskningslogg/", {"actor": "frida"}))
    assert "beställningar.csv" in by_actor and "körning 5" not in by_actor

    by_action = listed(granskare.get("/granskningslogg/", {"action": "run.*"}))
    assert "körning 5" in by_action and "körning 1" in by_action
    assert "beställningar.csv" not in by_action
    exact = listed(granskare.get("/granskningslogg/", {"action": "run.issued"}))
    assert "körning 5" in exact and "körning 1" not in exact

    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    later = granskare.get("/granskningslogg/", {"since": tomorrow})
    assert listed(later) == "" and "Inga poster" in text(later)

    bad = granskare.get("/granskningslogg/", {"since": "igår"})
    assert bad.status_code == 200 and "är inget datum" in text(bad)


def test_the_audit_page_pages_without_loading_everything(
    django_assert_max_num_queries: Any,
) -> None:
    for number in range(60):
        record("run.drafted", f"körning {number}", {})
    granskare = client_for("granskare")
    # The page's records, the count for "1–50 av 60" and one lookup of the objects that are
    # links (issue 21): a fixed number of queries, not one per record.
    with django_assert_max_num_queries(12):
        first_page = granskare.get("/granskningslogg/", {"object": "körning"})
    first = listed(first_page)
    assert "körning 59" in first and "körning 9<" not in first
    assert "Nästa sida" in text(first_page)
    second = listed(granskare.get("/granskningslogg/", {"object": "körning", "offset": 50}))
    assert "körning 9<" in second and "körning 59" not in second


def test_the_audit_page_has_no_way_to_change_the_trail() -> None:
    record("run.issued", "körning 5", {})
    admin = client_for("admin")
    assert admin.post("/granskningslogg/", {"object": "x"}).status_code in (403, 405)
    page = text(admin.get("/granskningslogg/"))
    assert 'method="post"' not in page.split("<main", 1)[1]


# --- Användare ---------------------------------------------------------------------------------


def test_add_a_user_change_role_deactivate_and_token_all_audited(kommun: Any) -> None:
    admin = client_for("admin", username="ada")
    response = admin.post(
        "/anvandare/ny/",
        {
            "username": "karin",
            "role": "kund",
            "orgnr": "212000-1454",
            "password": webtools.PASSWORD,
            "password2": webtools.PASSWORD,
        },
    )
    assert response.status_code == 302
    karin = User.objects.get(username="karin")
    assert response["Location"] == f"/anvandare/{karin.pk}/"
    assert karin.kortfaktura_profile.customer == kommun  # type: ignore[attr-defined]
    listing = text(admin.get("/anvandare/"))
    assert "karin" in listing and "Kund" in listing and "212000-1454" in listing
    assert "argon2" not in listing

    response = admin.post(f"/anvandare/{karin.pk}/roll/", {"role": "granskare", "orgnr": ""})
    assert response.status_code == 302
    karin.refresh_from_db()
    assert [g.name for g in karin.groups.all()] == ["Granskare"]
    assert karin.kortfaktura_profile.customer is None  # type: ignore[attr-defined]

    response = admin.post(f"/anvandare/{karin.pk}/api-nyckel/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    row = ApiToken.objects.get(user=karin)
    body = text(response)
    token = body.split('id="token-value" value="', 1)[1].split('"', 1)[0]
    assert user_for_token(token) == karin
    assert "visas bara nu" in body and row.digest not in body

    detail = text(admin.get(f"/anvandare/{karin.pk}/"))
    assert row.prefix in detail and token not in detail and row.digest not in detail
    assert karin.password not in detail

    response = admin.post(f"/anvandare/{karin.pk}/aktiv/", {"active": "0"})
    assert response.status_code == 302
    karin.refresh_from_db()
    assert not karin.is_active and user_for_token(token) is None
    admin.post(f"/anvandare/{karin.pk}/aktiv/", {"active": "1"})
    karin.refresh_from_db()
    assert karin.is_active

    trail = list(
        AuditRecord.objects.filter(object="användare karin").values_list("actor", "action")
    )
    assert trail == [
        ("ada", "användare skapad"),
        ("ada", "användare ändrad"),
        ("ada", "API-nyckel skapad"),
        ("ada", "användare spärrad"),
        ("ada", "användare aktiverad"),
    ]
    shown = listed(admin.get("/granskningslogg/", {"object": "användare karin"}))
    assert "Kund" in shown and "Granskare" in shown and "API-nyckel skapad" in shown
    assert token not in shown


def test_a_weak_password_is_refused_with_the_message_and_the_input_kept() -> None:
    admin = client_for("admin")
    response = admin.post(
        "/anvandare/ny/",
        {
            "username": "olle",
            "role": "fakturering",
            "orgnr": "",
            "password": "kort",
            "password2": "kort",
        },
    )
    assert response.status_code == 400
    body = text(response)
    assert 'role="alert"' in body and "Lösenordet duger inte" in body
    assert 'value="olle"' in body and '<option value="fakturering" selected>' in body
    assert 'value="kort"' not in body  # a password is never written back into the page
    assert not User.objects.filter(username="olle").exists()

    mismatch = admin.post(
        "/anvandare/ny/",
        {"username": "olle", "role": "ekonomi", "password": "a" + webtools.PASSWORD,
         "password2": webtools.PASSWORD},
    )  # fmt: skip
    assert mismatch.status_code == 400 and "inte lika" in text(mismatch)
    unknown = admin.post(
        "/anvandare/ny/",
        {"username": "olle", "role": "kund", "orgnr": "556036-0793",
         "password": webtools.PASSWORD, "password2": webtools.PASSWORD},
    )  # fmt: skip
    assert unknown.status_code == 400 and "Ingen kund har organisationsnummer" in text(unknown)
    assert not User.objects.filter(username="olle").exists()


def test_an_existing_user_is_not_overwritten_by_the_add_form() -> None:
    webtools.user("ekonomi", username="eva")
    before = User.objects.get(username="eva").password
    admin = client_for("admin")
    response = admin.post(
        "/anvandare/ny/",
        {"username": "eva", "role": "admin", "password": "a" + webtools.PASSWORD,
         "password2": "a" + webtools.PASSWORD},
    )  # fmt: skip
    assert response.status_code == 400 and "finns redan" in text(response)
    assert User.objects.get(username="eva").password == before


def test_an_admin_cannot_deactivate_or_demote_themselves() -> None:
    admin = client_for("admin", username="ada")
    ada = User.objects.get(username="ada")
    response = admin.post(f"/anvandare/{ada.pk}/aktiv/", {"active": "0"})
    assert response.status_code == 400 and "inte spärra dig själv" in text(response)
    response = admin.post(f"/anvandare/{ada.pk}/roll/", {"role": "granskare"})
    assert response.status_code == 400 and "egen roll" in text(response)
    ada.refresh_from_db()
    assert ada.is_active and ada.has_perm("access.manage_users")


@pytest.mark.parametrize("role", ["ekonomi", "fakturering", "granskare"])
def test_every_non_admin_gets_403_on_users(role: str) -> None:
    target = webtools.user("ekonomi", username="mål")
    browser = client_for(role)
    for url in ("/anvandare/", "/anvandare/ny/", f"/anvandare/{target.pk}/"):
        assert browser.get(url).status_code == 403, url
    for url in ("roll/", "aktiv/", "api-nyckel/"):
        assert browser.post(f"/anvandare/{target.pk}/{url}", {"role": "admin"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_a_kund_gets_403_on_all_three_pages(kommun: Any) -> None:
    kund = client_for("kund", "212000-1454")
    for url in ("/bokforing/", "/granskningslogg/", "/anvandare/", "/anvandare/ny/"):
        assert kund.get(url).status_code == 403, url
    assert kund.post("/bokforing/exportera/", {"from": "2020-03-01"}).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in() -> None:
    for url in ("/bokforing/", "/granskningslogg/", "/anvandare/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/logga-in/")


def test_pages_render_for_their_roles_without_inline_scripts_or_styles() -> None:
    webtools.user("ekonomi", username="eva")
    for role, urls in {
        "admin": ("/bokforing/", "/granskningslogg/", "/anvandare/", "/anvandare/ny/"),
        "ekonomi": ("/bokforing/", "/granskningslogg/"),
        "fakturering": ("/bokforing/", "/granskningslogg/"),
    }.items():
        browser = client_for(role)
        for url in urls:
            response = browser.get(url)
            assert response.status_code == 200, (role, url)
            body = text(response)
            assert "<script>" not in body and "style=" not in body and "<style" not in body
            assert body.count("<h1") == 1


def test_an_export_of_an_empty_period_has_no_vouchers() -> None:
    admin = client_for("admin")
    admin.post("/bokforing/exportera/", {"from": "2019-01-01", "to": "2019-01-31"})
    export = SieExport.objects.get()
    assert export.vouchers == 0 and export.debit == Decimal("0")
    assert "har inga verifikationer" in text(admin.get(f"/bokforing/{export.pk}/"))


def test_a_role_change_to_kund_needs_a_known_organisation(kommun: Any) -> None:
    admin = client_for("admin")
    eva = webtools.user("ekonomi", username="eva")
    response = admin.post(f"/anvandare/{eva.pk}/roll/", {"role": "kund", "orgnr": ""})
    assert response.status_code == 400
    assert "Rollen kund behöver ett organisationsnummer" in text(response)
    response = admin.post(f"/anvandare/{eva.pk}/roll/", {"role": "kund", "orgnr": "12345"})
    assert response.status_code == 400
    body = text(response)
    assert "inget giltigt organisationsnummer" in body and 'value="12345"' in body
    assert '<option value="kund" selected>' in body
    eva.refresh_from_db()
    assert eva.has_perm("access.export_bookkeeping")

    response = admin.post(f"/anvandare/{eva.pk}/roll/", {"role": "kund", "orgnr": "2120001454"})
    assert response.status_code == 302
    eva = User.objects.get(pk=eva.pk)  # permissions are cached on the instance
    assert eva.kortfaktura_profile.customer == kommun  # type: ignore[attr-defined]
    assert not eva.has_perm("access.view_billing") and eva.has_perm("access.view_own")
    (change,) = AuditRecord.objects.filter(action="användare ändrad", object="användare eva")
    assert change.details == {
        "roll": {"before": "Ekonomi", "after": "Kund"},
        "organisation": {"before": None, "after": "2120001454"},
    }
    # The same role again changes nothing and writes nothing.
    admin.post(f"/anvandare/{eva.pk}/roll/", {"role": "kund", "orgnr": "212000-1454"})
    assert AuditRecord.objects.filter(action="användare ändrad").count() == 1


def test_an_export_that_cannot_be_made_fails_with_the_reason_and_writes_nothing(
    settings: Any, inline_jobs: Path
) -> None:
    settings.SIE_SERIES = "K F"
    ekonomi = client_for("ekonomi")
    response = ekonomi.post(
        "/bokforing/exportera/", {"from": "2020-03-01", "to": "2020-03-31"}, follow=True
    )
    job = Job.objects.get(kind="sie")
    assert job.status == Job.Status.FAILED
    body = text(response)
    assert "Misslyckades" in body and "ingen verifikationsserie" in body
    assert not SieExport.objects.exists()
    assert not (inline_jobs / "exports").exists() or not any((inline_jobs / "exports").iterdir())
    # The failed job no longer blocks a new export.
    settings.SIE_SERIES = "KF"
    ekonomi.post("/bokforing/exportera/", {"from": "2020-03-01", "to": "2020-03-31"})
    assert SieExport.objects.count() == 1
