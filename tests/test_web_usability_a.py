"""Issue 21, item 1: an SIE export does not book the same documents twice without a person
deciding it.

The page Bokföring suggests the period holding what no export has booked yet, shows how many
vouchers will be written and which earlier exports the period overlaps before anything is
written, and refuses to export an overlapping period again without a reason, which is stored
with the export and audited. The service tests run on the real database; the browser tests on
a real server (tests/browser.py), whose seeded world has one export of everything issued up to
today.
"""

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

import webtools
from browser import Server, Visitor, browser, database_template, server
from kortfaktura.accounting import selectors, services
from kortfaktura.accounting.models import SieExport
from kortfaktura.audit.actor import acting_as
from kortfaktura.audit.models import AuditRecord
from kortfaktura.billing.services import credit_invoice
from kortfaktura.jobs.models import Job
from kortfaktura.payments.services import import_content
from payment_files import simple_bgmax

__all__ = ["browser", "database_template", "server"]  # the fixtures this module uses

JOB_TIMEOUT = 60_000  # ms: background work on a loaded machine
EXPORTS = "SIE-exporter, senaste först"


# --- The services, on the real database ---------------------------------------------------------


@pytest.mark.django_db
def test_what_is_unexported_and_an_overlap_without_a_reason_is_refused(tmp_path: Path) -> None:
    world = webtools.billed_world(with_draft=False)
    today = timezone.localdate()

    # Nothing exported yet: the two issued invoices are waiting, on their issue day.
    waiting = selectors.unexported()
    assert (waiting.documents, waiting.payments, waiting.first, waiting.last) == (
        2,
        0,
        today,
        today,
    )
    planned = selectors.preview(today, today)
    assert (planned.vouchers, planned.overlaps) == (2, [])
    # The web's rule lets a period no export covers through without a reason.
    first = services.export_sie(today, today, tmp_path / "first.se", overlap_needs_reason=True)
    assert first.vouchers == planned.vouchers
    assert selectors.unexported().first is None

    # A credit note issued after the export, dated in its period, is not in it.
    with acting_as("ekonomi-test"):
        credit_invoice(world.own_invoice.number, reason="Fel kort")
    waiting = selectors.unexported()
    assert (waiting.documents, waiting.first, waiting.last) == (1, today, today)
    planned = selectors.preview(today, today)
    assert planned.vouchers == 3
    (overlap,) = planned.overlaps
    assert overlap.export.pk == first.export_id and overlap.vouchers == 2

    # Without a reason: refused, nothing written or saved.
    with pytest.raises(services.SieError, match="Ange en orsak"):
        services.export_sie(today, today, tmp_path / "again.se", overlap_needs_reason=True)
    assert not (tmp_path / "again.se").exists()
    assert SieExport.objects.count() == 1
    for blank in ("   ", "\u200b", "x" * (services.REASON_LIMIT + 1)):
        with pytest.raises(services.SieError, match="orsak"):
            services.export_sie(
                today, today, tmp_path / "again.se", reason=blank, overlap_needs_reason=True
            )
    assert SieExport.objects.count() == 1 and not (tmp_path / "again.se").exists()

    # With one: written, and the reason is kept with the export and in the audit trail.
    again = services.export_sie(
        today,
        today,
        tmp_path / "again.se",
        reason="  Ekonomisystemet läste\n inte in filen ",
        overlap_needs_reason=True,
    )
    assert again.vouchers == planned.vouchers
    export = SieExport.objects.get(pk=again.export_id)
    assert export.reason == "Ekonomisystemet läste inte in filen"
    audit = AuditRecord.objects.filter(action="export.sie").order_by("-id").first()
    assert audit is not None
    assert audit.details["reason"] == export.reason
    assert audit.details["overlaps"] == [first.export_id]


@pytest.mark.django_db
def test_the_command_line_keeps_exporting_an_overlap_with_a_warning(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    """The scripted use (INTERFACES.md) is unchanged: an overlap is a warning there, and an
    optional --reason is stored as on the web."""
    webtools.billed_world(with_draft=False)
    today = timezone.localdate().isoformat()
    period = ("export", "sie", "--from", today, "--to", today)
    assert cli(*period, "--out", str(tmp_path / "first.se"))[0] == 0
    code, out, _ = cli(*period, "--out", str(tmp_path / "second.se"), "--json")
    assert code == 0
    assert any("överlappar" in warning for warning in json.loads(out)["warnings"])
    code, _, _ = cli(
        *period, "--out", str(tmp_path / "third.se"), "--reason", "Ny fil till revisorn"
    )
    assert code == 0
    assert SieExport.objects.order_by("-id").values_list("reason", flat=True)[0] == (
        "Ny fil till revisorn"
    )
    code, _, err = cli(*period, "--out", str(tmp_path / "fourth.se"), "--reason", "\u200b")
    assert code == 2 and "orsaken innehåller" in err, err
    assert SieExport.objects.count() == 3


@pytest.mark.django_db
def test_unbooked_payments_are_waiting_and_counted(tmp_path: Path) -> None:
    webtools.billed_world(with_draft=False)
    today = timezone.localdate()
    services.export_sie(today, today, tmp_path / "documents.se")
    paid_on = today - dt.timedelta(days=3)
    import_content(
        simple_bgmax([("okänd referens", "75.00", 7)], day=paid_on.isoformat()), "bg.txt"
    )
    waiting = selectors.unexported()
    assert (waiting.documents, waiting.payments, waiting.first, waiting.last) == (
        0,
        1,
        paid_on,
        paid_on,
    )
    planned = selectors.preview(paid_on, paid_on)
    assert (planned.documents, planned.payments, planned.overlaps) == (0, 1, [])
    result = services.export_sie(paid_on, paid_on, tmp_path / "paid.se")
    assert result.vouchers == 1
    assert selectors.unexported().first is None


@pytest.mark.django_db
def test_the_file_is_not_written_when_the_count_changed_since_the_preview(
    django_assert_max_num_queries: Any,
) -> None:
    """What is written is what the person saw: a document issued between the preview and the
    confirmation sends them back to the preview. The page and the preview count in a few
    queries, whatever the number of documents (no booking before the file is written)."""
    webtools.billed_world(with_draft=False)
    today = timezone.localdate().isoformat()
    granskare = Client()
    granskare.force_login(webtools.user("granskare"))
    page = granskare.get("/bokforing/").content.decode()
    assert "Inte exporterat än: <strong>2 dokument</strong>" in page
    assert "förifylld" not in page  # no form to fill for a role that may not export
    ekonomi = Client()
    ekonomi.force_login(webtools.user("ekonomi"))
    with django_assert_max_num_queries(20):
        assert ekonomi.get("/bokforing/").status_code == 200
    with django_assert_max_num_queries(20):
        preview = ekonomi.get("/bokforing/granska/", {"from": today, "to": today})
    assert 'name="vouchers" value="2"' in preview.content.decode()
    stale = ekonomi.post("/bokforing/exportera/", {"from": today, "to": today, "vouchers": "1"})
    assert stale.status_code == 400
    assert "har antalet verifikationer ändrats från 1 till 2" in stale.content.decode()
    assert not SieExport.objects.exists() and not Job.objects.exists()


# --- In the browser ------------------------------------------------------------------------------


@pytest.fixture
def ekonomi(browser: Any, server: Server) -> Any:
    visitor = Visitor(browser, server).login(server.world["users"]["ekonomi"])
    yield visitor
    problems = visitor.take_problems()
    visitor.close()
    assert not problems, "\n".join(problems)


def exports_listed(visitor: Visitor) -> int:
    visitor.goto("/bokforing/")
    return int(visitor.page.get_by_role("region", name=EXPORTS).locator("tbody tr").count())


def test_the_suggested_period_holds_the_unexported_and_the_count_comes_before_the_file(
    ekonomi: Visitor, server: Server
) -> None:
    # The seeded export covers everything up to today; a credit note issued now is not in it.
    credited = server.cli(
        "credit", str(server.world["own_invoice"]), "--reason", "Kortet beställdes av fel enhet"
    )
    assert credited.returncode == 0, credited.stderr
    today = timezone.localdate().isoformat()
    before = exports_listed(ekonomi)
    page = ekonomi.page
    waiting = page.locator("#sie-waiting").inner_text()
    assert "Inte exporterat än: 1 dokument" in waiting, waiting
    assert page.input_value("#sie-from") == today and page.input_value("#sie-to") == today

    with page.expect_navigation():
        page.get_by_role("button", name="Granska exporten").click()
    assert "/bokforing/granska/" in page.url
    # The seeded invoices of today and the credit note: three vouchers, two already exported.
    assert page.locator("#sie-vouchers").inner_text() == "3"
    assert "2 av dokumenten finns redan i en tidigare export" in ekonomi.text()
    overlaps = page.get_by_role("region", name="Tidigare exporter som perioden överlappar")
    row = overlaps.locator("tbody tr")
    assert row.count() == 1
    assert row.get_by_role("link").get_attribute("href") == (
        f"/bokforing/{server.world['sie_export']}/"
    )
    assert row.locator("td").nth(1).inner_text() == "2"  # first, so narrow screens see it
    assert page.get_by_label("Orsak till att perioden exporteras igen").count() == 1
    ekonomi.check_accessibility("granskningen av SIE-exporten")
    # Looking wrote nothing.
    assert exports_listed(ekonomi) == before


def test_an_overlap_is_refused_without_a_reason_and_exported_with_one(
    ekonomi: Visitor, server: Server
) -> None:
    before = exports_listed(ekonomi)
    page = ekonomi.page
    ekonomi.goto("/bokforing/granska/")
    shown = page.locator("#sie-vouchers").inner_text()
    write = page.get_by_role("button", name=re.compile(r"^Skriv SIE-filen"))
    for reason in ("", "   "):
        page.get_by_label("Orsak till att perioden exporteras igen").fill(reason)
        with page.expect_navigation() as refused:
            write.click()
        assert refused.value is not None and refused.value.status == 400
        alert = page.get_by_role("alert").inner_text()
        assert "Ingen fil skrevs" in alert and "ange en orsak" in alert, alert
    ekonomi.check_accessibility("en vägrad SIE-export")
    assert exports_listed(ekonomi) == before

    ekonomi.goto("/bokforing/granska/")
    page.get_by_label("Orsak till att perioden exporteras igen").fill(
        "Kreditfakturan kom efter exporten; ekonomi läser bara in den nya filen"
    )
    with page.expect_navigation():
        write.click()
    page.get_by_role("status").filter(has_text=re.compile(r"^\s*Klart")).wait_for(
        timeout=JOB_TIMEOUT
    )
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile(r"^Visa exporten")).click()
    facts = ekonomi.text()
    assert "Kreditfakturan kom efter exporten" in page.locator("#sie-reason").inner_text()
    assert re.search(rf"Verifikationer\s+{shown}\b", facts), facts
    assert exports_listed(ekonomi) == before + 1
    assert "Allt som utfärdats och betalats är exporterat" in ekonomi.text()

    # The audit trail has the export with its reason and the export it overlapped.
    ekonomi.goto("/granskningslogg/?action=export.sie")
    trail = ekonomi.text()
    assert "Kreditfakturan kom efter exporten" in trail and "överlappar exporterna" in trail
