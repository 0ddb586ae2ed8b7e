"""The schedule (R24): when each step is due, a tick that queues each (step, slot) once, the
inbox step on a directory, and notifications sent once to the role's users."""

import datetime as dt
import email
import email.policy
import json
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

import webtools
from conftest import CUSTOMER_HEADER, ORDER_HEADER, PRICE_HEADER, customer_row, order_row
from kortfaktura.audit.models import AuditRecord
from kortfaktura.cycle import notify, schedule, steps
from kortfaktura.cycle.models import Notification, StepRun
from kortfaktura.imports.models import ImportBatch

pytestmark = pytest.mark.django_db


def at(text: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(text))


def test_slots_and_next_times_in_swedish_time() -> None:
    import_step, draft, review = (
        schedule.BY_NAME[n] for n in ("import", "monthly_draft", "review")
    )
    assert import_step.slot(at("2026-10-05 06:07")) == at("2026-10-05 06:05")
    assert import_step.next(at("2026-10-05 06:07")) == at("2026-10-05 06:10")
    # 5 October 2026 is the 3rd bank day; before 06:00 it is not due, nor later in the month
    # for last month.
    assert draft.slot(at("2026-10-05 05:59")) is None
    assert draft.slot(at("2026-10-05 06:00")) == at("2026-10-05 06:00")
    assert draft.slot(at("2026-10-30 12:00")) == at("2026-10-05 06:00")
    assert draft.next(at("2026-10-05 06:00")) == at("2026-11-04 06:00")
    assert draft.next(at("2026-12-20 12:00")) == at("2027-01-07 06:00")  # 1 and 6 Jan, weekend
    assert review.slot(at("2026-10-05 01:00")) == at("2026-10-04 02:00")
    assert review.next(at("2026-10-05 01:00")) == at("2026-10-05 02:00")


def test_schedule_list_names_every_step_and_when_it_runs_next(cli: Any) -> None:
    code, out, _ = cli("schedule", "list", "--at", "2026-10-05T06:07", "--json")
    assert code == 0
    rows = {row["step"]: row for row in json.loads(out)}
    assert {"import", "monthly_draft", "deliver", "payments", "remind", "review"} <= set(rows)
    assert rows["monthly_draft"]["next"] == "2026-11-04T06:00:00+01:00"
    assert rows["import"]["next"] == "2026-10-05T06:10:00+02:00"
    assert rows["payments"]["next"] == "2026-10-05T06:10:00+02:00"
    assert rows["remind"]["next"] == "2026-10-05T07:00:00+02:00"
    assert rows["remind"]["when"] == "varje dag kl. 07.00"
    assert all({"step", "when", "next"} <= set(row) for row in rows.values())
    code, _, err = cli("schedule", "tick", "--at", "igår")
    assert code == 2 and "ingen tidpunkt" in err


def test_a_tick_queues_each_step_once_per_slot() -> None:
    handed: list[tuple[str, dt.datetime]] = []

    def record_only(run: StepRun) -> None:
        handed.append((run.step, run.slot))

    moment = at("2026-10-05 06:02")
    first = schedule.tick(moment, record_only)
    assert {run.step for run in first} == {"import", "monthly_draft", "deliver", "receipts",
                                           "payments", "remind", "review"}  # fmt: skip
    assert schedule.tick(moment, record_only) == []
    assert schedule.tick(at("2026-10-05 06:04"), record_only) == []  # the same slots
    assert len(handed) == 7
    later = schedule.tick(at("2026-10-05 06:05"), record_only)
    assert {run.step for run in later} == {"import", "deliver", "receipts", "payments"}
    # The database, not luck, refuses a second (step, slot): as a second worker would meet it.
    with pytest.raises(IntegrityError), transaction.atomic():
        StepRun.objects.create(step="import", slot=at("2026-10-05 06:05"))
    # A queued step is carried out once, however many workers take it up.
    run = StepRun.objects.get(step="import", slot=at("2026-10-05 06:05"))
    assert schedule.carry_out(run.pk) is not None
    assert schedule.carry_out(run.pk) is None
    run.refresh_from_db()
    assert run.status == "done" and run.finished_at is not None


def test_a_failing_step_is_recorded_and_audited_not_raised(settings: Any) -> None:
    settings.ORDER_INBOX = "ftp://nowhere/inkorg"  # cannot work: said in the result
    [run] = [r for r in schedule.tick(at("2026-10-05 06:00"), lambda r: None) if r.step == "import"]
    done = schedule.carry_out(run.pk)
    assert done is not None and done.status == "done"
    assert "KORTFAKTURA_ORDER_INBOX" in done.result["errors"][0]
    settings.BILLING_DAY = 3
    draft = StepRun.objects.get(step="monthly_draft")
    # An order month that has not ended: the draft's own check refuses, recorded as failed.
    StepRun.objects.filter(pk=draft.pk).update(slot=at("2099-01-07 06:00"))
    failed = schedule.carry_out(draft.pk)
    assert failed is not None and failed.status == "failed" and failed.error
    assert AuditRecord.objects.filter(action="cycle.step_failed", actor="system").exists()


@pytest.fixture
def mail(settings: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "epost"
    settings.SMTP_URL = f"file://{folder}"
    settings.MAIL_FROM = "kortfaktura@vgregion.example"
    settings.BASE_URL = "https://kortfaktura.example.se"
    return folder


def messages(folder: Path) -> list[Any]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(folder.glob("*.eml"))
    ] if folder.exists() else []  # fmt: skip


def test_a_notification_goes_once_to_the_roles_users_with_an_address(mail: Path) -> None:
    webtools.user("ekonomi", username="eva")
    from kortfaktura.access.services import add_user

    add_user("erik", "ekonomi", webtools.PASSWORD, email="erik@vgregion.example")
    add_user("frida", "fakturering", webtools.PASSWORD, email="frida@vgregion.example")
    notice = notify.notify("test:1", "ekonomi", "Ett utkast väntar", notify.link("/korningar/1/"))
    assert notice is not None and notice.status == "sent"
    assert notice.recipients == ["erik@vgregion.example"]  # eva has no address; frida's role
    assert notify.notify("test:1", "ekonomi", "Ett utkast väntar", "igen") is None
    [message] = messages(mail)
    assert message["To"] == "erik@vgregion.example"
    assert "https://kortfaktura.example.se/korningar/1/" in message.get_content()
    assert AuditRecord.objects.filter(action="cycle.notified").count() == 1


def test_the_nightly_notice_carries_the_chains_heads_even_when_all_is_well(mail: Path) -> None:
    """R19: the heads leave the system every night, not only when something is wrong, so that a
    rewrite of the whole history is seen against the copy in Granskare's mailbox. (Also inside
    an open transaction, as here, where PostgreSQL would link the records only at commit.)"""
    from kortfaktura.access.services import add_user
    from kortfaktura.billing import chain

    add_user("greta", "granskare", webtools.PASSWORD, email="greta@vgregion.example")
    result = steps.nightly_review(dt.date(2026, 11, 5))
    assert result["balanced"] is True  # (remarks on customer data are no reason to mail)
    [message] = messages(mail)
    assert message["To"] == "greta@vgregion.example"
    assert "stämmer" in message["Subject"]
    body = message.get_content()
    # The audit trail's head as it stood when the review was recorded (the notice itself is
    # audited after it): a record id and a hash that review --expect-head takes.
    assert "--expect-head" in body and "audit:" in body
    named = body.split("audit:")[1].split()[0].rstrip(";")
    record_id, link = named.split(":")
    assert chain.Head("audit", "", int(record_id), link).expect == f"audit:{named}"
    assert AuditRecord.objects.filter(pk=int(record_id), action="cycle.review").exists()
    assert steps.nightly_review(dt.date(2026, 11, 5)) and len(messages(mail)) == 1  # once a night


def test_a_notification_nobody_can_receive_is_kept_with_the_reason(mail: Path) -> None:
    notice = notify.notify("test:2", "granskare", "Genomlysningen", "text")
    assert notice is not None and notice.status == "no_recipients"
    assert "--email" in notice.error
    assert not messages(mail)
    assert Notification.objects.get(key="test:2").status == "no_recipients"


def write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    from conftest import write_csv

    write_csv(path, header, rows)


def test_the_inbox_imports_in_order_once_per_content_and_quarantines_with_the_reason(
    settings: Any, tmp_path: Path, mail: Path
) -> None:
    from kortfaktura.access.services import add_user

    add_user("frida", "fakturering", webtools.PASSWORD, email="frida@vgregion.example")
    inbox = tmp_path / "inkorg"
    inbox.mkdir()
    settings.ORDER_INBOX = f"file://{inbox}"
    write(inbox / "ORDERS-1.csv", ORDER_HEADER, [order_row("O-1"), order_row("O-2")])
    write(inbox / "customers-a.csv", CUSTOMER_HEADER, [customer_row()])
    write(inbox / "prices.csv", PRICE_HEADER, [["ETK", "eTjänstekort", "350", "25",
                                                  "2019-01-01", ""]])  # fmt: skip
    (inbox / "bestallningar.csv").write_text("order_id\n1\n", encoding="utf-8")
    (inbox / "orders-2.pdf").write_bytes(b"%PDF-1.7")
    (inbox / ".skrivs.csv").write_text("halv", encoding="utf-8")  # being written: left alone
    result = steps.import_inbox()
    assert [entry["kind"] for entry in result["imported"]] == ["customers", "prices", "orders"]
    assert sorted(entry["file"] for entry in result["quarantined"]) == [
        "bestallningar.csv", "orders-2.pdf"
    ]  # fmt: skip
    reason = (inbox / "quarantine" / "orders-2.pdf.orsak.txt").read_text(encoding="utf-8")
    assert "ska börja med orders" in reason
    assert (inbox / ".skrivs.csv").exists()
    assert ImportBatch.objects.filter(created_by="system").count() == 3
    assert AuditRecord.objects.filter(action="import.orders", actor="system").exists()
    # The same content again, under another name: filed as a duplicate, not imported again.
    (inbox / "orders-igen.csv").write_bytes((inbox / "processed" / "ORDERS-1.csv").read_bytes())
    again = steps.import_inbox()
    assert again["duplicates"] == ["orders-igen.csv"] and not again["imported"]
    assert ImportBatch.objects.count() == 3
    # A file that cannot be read: quarantined with the import's own reason; told once each.
    (inbox / "orders-trasig.csv").write_bytes(b"\x00\x01\x02")
    broken = steps.import_inbox()
    assert broken["quarantined"][0]["file"] == "orders-trasig.csv"
    told = [m for m in messages(mail) if m["To"] == "frida@vgregion.example"]
    assert len(told) == 3  # three files quarantined, each its own notice
    assert steps.import_inbox() == {
        "imported": [], "duplicates": [], "quarantined": [], "errors": []
    }  # fmt: skip


def test_a_tick_in_the_future_is_refused_and_spends_no_slot(cli: Any) -> None:
    """A future tick would record the steps' slots before their time; the real tick would then
    find the month's draft done (the attacker's finding, issue 19)."""
    later = (timezone.localtime() + dt.timedelta(days=40)).strftime("%Y-%m-%dT06:00")
    code, out, err = cli("schedule", "tick", "--at", later)
    assert code == 2 and "har inte varit än" in err and "Traceback" not in out + err
    assert not StepRun.objects.exists()
    code, out, _ = cli("schedule", "list", "--at", later, "--json")
    assert code == 0 and json.loads(out)  # looking ahead is fine


def test_a_failed_monthly_draft_is_tried_again_on_the_hour_not_a_month_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tries: list[dt.date] = []

    def flaky(today: dt.date) -> dict[str, Any]:
        tries.append(today)
        if len(tries) < 3:
            raise RuntimeError("databasen är låst")
        return {"status": "made"}

    monkeypatch.setattr(steps, "monthly_draft", flaky)

    def drafts(moment: str) -> list[StepRun]:
        queued = [r for r in schedule.tick(at(moment), lambda r: None) if r.step == "monthly_draft"]
        return [done for r in queued if (done := schedule.carry_out(r.pk)) is not None]

    assert [r.status for r in drafts("2026-10-05 06:00")] == ["failed"]
    assert drafts("2026-10-05 06:55") == []  # not before an hour has passed
    assert [(r.slot, r.status) for r in drafts("2026-10-05 07:02")] == [
        (at("2026-10-05 07:00"), "failed")
    ]
    assert drafts("2026-10-05 07:40") == []
    assert [r.status for r in drafts("2026-10-05 08:00")] == ["done"]
    # Done: no more tries this month, however many ticks follow.
    assert drafts("2026-10-05 09:00") == [] and drafts("2026-10-20 12:00") == []
    assert len(tries) == 3


def test_a_draft_that_keeps_failing_stops_after_its_tries_and_stays_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(today: dt.date) -> dict[str, Any]:
        raise RuntimeError("trasig")

    monkeypatch.setattr(steps, "monthly_draft", broken)
    for hour in range(6, 20):
        for r in schedule.tick(at(f"2026-10-05 {hour:02d}:01"), lambda r: None):
            schedule.carry_out(r.pk)
    runs = StepRun.objects.filter(step="monthly_draft")
    assert runs.count() == 1 + schedule.BILLING_DAY_RETRIES
    assert set(runs.values_list("status", flat=True)) == {"failed"}
