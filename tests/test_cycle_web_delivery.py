"""Delivery from the web is scoped (issue 19, item 4): "Leverera nu" delivers one run's
documents, or those chosen by number, after a confirmation that gives the count – never all of
the history unasked."""

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

import webtools
from kortfaktura.audit.actor import acting_as
from kortfaktura.billing import services as billing
from kortfaktura.delivery.models import Delivery
from kortfaktura.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def jobs_inline(settings: Any, tmp_path: Path) -> None:
    settings.TASKS = settings.IMMEDIATE_TASKS  # the page tests run a job inside the request
    outbox = tmp_path / "utkorg"
    outbox.mkdir()
    settings.PEPPOL_OUTBOX = f"file://{outbox}"


def _two_runs() -> tuple[webtools.World, list[int]]:
    """March issued (two documents) and April issued (two more)."""
    world = webtools.billed_world()
    assert world.draft_run is not None
    with acting_as("ekonomi-test"):
        april = billing.issue_run(world.draft_run.pk)
    return world, list(april.invoices.values_list("number", flat=True))


def _client() -> Client:
    browser = Client()
    browser.force_login(webtools.user("fakturering"))
    return browser


def test_leverera_nu_without_a_choice_delivers_nothing() -> None:
    _two_runs()
    response = _client().post("/leveranser/leverera/", {"bekraftat": "1"})
    assert response.status_code == 400
    assert "aldrig hela historiken" in response.content.decode()
    assert not Delivery.objects.exists() and not Job.objects.exists()


def test_leverera_nu_delivers_one_run_after_a_confirmation_with_the_count() -> None:
    world, april = _two_runs()
    browser = _client()
    asked = browser.post("/leveranser/leverera/", {"korning": world.issued_run.pk})
    html = asked.content.decode().replace("\xa0", " ")
    assert asked.status_code == 200
    assert f"Leverera körning {world.issued_run.pk}" in html
    assert "Ja, leverera 2 dokument" in html
    assert not Delivery.objects.exists()  # asking is not delivering
    done = browser.post("/leveranser/leverera/", {"korning": world.issued_run.pk, "bekraftat": "1"})
    assert done.status_code == 302
    delivered = set(Delivery.objects.values_list("invoice__number", flat=True))
    assert delivered == {world.own_invoice.number, world.other_invoice.number}
    assert not Delivery.objects.filter(invoice__number__in=april).exists()
    job = Job.objects.get(kind="deliver")
    assert job.label == f"Leverans av 2 dokument (körning {world.issued_run.pk})"


def test_leverera_nu_delivers_the_numbers_chosen_and_refuses_unknown_ones() -> None:
    _, april = _two_runs()
    browser = _client()
    refused = browser.post("/leveranser/leverera/", {"nummer": f"{april[0]} 999999"})
    assert refused.status_code == 400 and "999999" in refused.content.decode()
    asked = browser.get("/leveranser/leverera/", {"nummer": str(april[0])})
    assert "Ja, leverera 1 dokument" in asked.content.decode()
    browser.post("/leveranser/leverera/", {"nummer": str(april[0]), "bekraftat": "1"})
    assert list(Delivery.objects.values_list("invoice__number", flat=True)) == [april[0]]


def test_the_run_and_invoice_pages_offer_delivery_of_their_own_documents() -> None:
    world, _ = _two_runs()
    browser = _client()
    run_page = browser.get(f"/korningar/{world.issued_run.pk}/").content.decode()
    assert f"/leveranser/leverera/?korning={world.issued_run.pk}" in run_page
    invoice_page = browser.get(f"/fakturor/{world.own_invoice.number}/").content.decode()
    assert f"/leveranser/leverera/?nummer={world.own_invoice.number}" in invoice_page
