"""The audit trail (DOMAIN.md R19): every change recorded with who, when, what and before/after,
inside the change's own transaction; append-only, enforced by the database; ``kortfaktura audit``.
End to end through the command line on the real database."""

import datetime as dt
import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from conftest import (
    CUSTOMER_HEADER,
    GOTEBORG,
    ORDER_HEADER,
    PRICE_HEADER,
    customer_row,
    order_row,
)
from kortfaktura.audit.actor import acting_as, current_actor
from kortfaktura.audit.models import AuditRecord
from kortfaktura.audit.selectors import records
from kortfaktura.audit.services import record
from kortfaktura.cli import output
from kortfaktura.customers.importing import CustomerImporter
from processes import run

pytestmark = pytest.mark.django_db
Cli = Callable[..., tuple[int, str, str]]
CsvFile = Callable[..., Path]
MARCH = ("--from", "2020-03-01", "--to", "2020-03-31")
TABLE = AuditRecord._meta.db_table


def as_json(cli: Cli, *args: str) -> tuple[int, Any]:
    code, out, err = cli(*args, "--json")
    return code, json.loads(out) if out.strip() else err


def trail(action: str | None = None) -> list[AuditRecord]:
    found = AuditRecord.objects.order_by("id")
    return list(found.filter(action=action) if action else found)


def one(action: str) -> AuditRecord:
    (found,) = trail(action)
    return found


@pytest.fixture
def actor(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KORTFAKTURA_ACTOR", "Anna Admin")
    return "Anna Admin"


@pytest.fixture
def loaded(cli: Cli, csv_file: CsvFile) -> dict[str, Path]:
    """Vårgårda with account 1442, ETK at 350 kr, orders B1 and B2 of March 2020."""
    files = {
        "customers": csv_file(CUSTOMER_HEADER, [customer_row()], name="kunder.csv"),
        "prices": csv_file(
            PRICE_HEADER, [["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""]], name="p.csv"
        ),
        "orders": csv_file(
            ORDER_HEADER,
            [order_row("B1", "2020-03-10 09:00"), order_row("B2", "2020-03-11 09:00")],
            name="bestallningar.csv",
        ),
    }
    for kind, path in files.items():
        code, result = as_json(cli, "import", kind, str(path))
        assert code == 0 and result["quarantined"] == 0, result
    return files


def issued_run(cli: Cli) -> tuple[int, str]:
    code, draft = as_json(cli, "bill", *MARCH)
    assert code == 0, draft
    code, issued = as_json(cli, "run", "issue", str(draft["id"]))
    assert code == 0, issued
    (invoice,) = issued["invoices"]
    return draft["id"], str(invoice["number"])


# What is recorded ------------------------------------------------------------------------------


def test_an_import_records_the_file_its_checksum_and_counts(
    cli: Cli, csv_file: CsvFile, loaded: dict[str, Path], actor: str
) -> None:
    entry = one("import.orders")
    assert entry.actor == getpass.getuser()  # before KORTFAKTURA_ACTOR: the fixture came first
    path = loaded["orders"]
    assert entry.object == "fil bestallningar.csv"
    details = entry.details
    assert details["file"] == "bestallningar.csv"
    assert details["size_bytes"] == path.stat().st_size
    assert len(details["sha256"]) == 64
    assert (details["imported"], details["updated"], details["unchanged"]) == (2, 0, 0)
    assert details["quarantined"] == 0 and details["changes_for_decision"] == 0
    # Not one record per order: one per file.
    assert [e.object for e in trail() if e.action.startswith("import.")] == [
        "fil kunder.csv",
        "fil p.csv",
        "fil bestallningar.csv",
    ]

    changed = csv_file(
        ORDER_HEADER,
        [order_row("B1", "2020-03-10 09:00"), order_row("B2", "2020-03-12 09:00"), ["", "x"]],
        name="bestallningar.csv",
    )
    code, _ = as_json(cli, "import", "orders", str(changed))
    assert code == 0
    latest = trail("import.orders")[-1]
    assert latest.actor == actor
    assert (latest.details["imported"], latest.details["updated"]) == (0, 1)
    assert (latest.details["unchanged"], latest.details["quarantined"]) == (1, 1)
    assert latest.details["changes_applied"] >= 1
    assert latest.details["sha256"] != details["sha256"]


def test_customer_and_account_changes_field_by_field(
    cli: Cli, csv_file: CsvFile, loaded: dict[str, Path], actor: str
) -> None:
    created = one("customer.created")
    assert created.object == "kund 212000-1454"
    assert created.details["name"] == {"before": None, "after": "Vårgårda kommun"}
    account = one("account.created")
    assert account.object == "mottagare 1442"
    assert account.details["buyer_reference"] == {"before": None, "after": "GITS-1442"}
    assert account.details["file"] == "kunder.csv"

    path = csv_file(
        CUSTOMER_HEADER,
        [
            customer_row(name="Vårgårda Kommun", buyer_reference="GITS-9"),
            customer_row(GOTEBORG, "Göteborgs Stad", "1480", peppol_id="0007:2120001355"),
        ],
    )
    code, result = as_json(cli, "import", "customers", str(path))
    assert code == 0 and result["updated"] == 1 and result["imported"] == 1
    renamed = one("customer.updated")
    assert renamed.actor == actor
    assert renamed.details["name"] == {"before": "Vårgårda kommun", "after": "Vårgårda Kommun"}
    updated = one("account.updated")
    assert updated.actor == actor and updated.object == "mottagare 1442"
    changes = {k: v for k, v in updated.details.items() if isinstance(v, dict)}
    assert changes == {  # the account's name is the customer's when the file gives none
        "name": {"before": "Vårgårda kommun", "after": "Vårgårda Kommun"},
        "buyer_reference": {"before": "GITS-1442", "after": "GITS-9"},
    }
    assert [e.object for e in trail("account.created")] == ["mottagare 1442", "mottagare 1480"]

    # The same file again changes nothing and records nothing but the import.
    before = AuditRecord.objects.count()
    code, result = as_json(cli, "import", "customers", str(path))
    assert code == 0 and result["unchanged"] == 2
    assert [e.action for e in trail()[before:]] == ["import.customers"]


def test_price_changes_and_products_field_by_field(
    cli: Cli, csv_file: CsvFile, loaded: dict[str, Path], actor: str
) -> None:
    assert one("product.created").details["name"] == {"before": None, "after": "eTjänstekort"}
    created = one("price.created")
    assert created.object == "pris ETK 2019-01-01"
    assert created.details["unit_price"] == {"before": None, "after": "350.00"}
    path = csv_file(
        PRICE_HEADER,
        [["ETK", "eTjänstekort SITHS", "350", "25", "2019-01-01", "2023-12-31"],
         ["ETK", "eTjänstekort SITHS", "400", "25", "2024-01-01", ""]],
    )  # fmt: skip
    code, result = as_json(cli, "import", "prices", str(path))
    assert code == 0 and result["quarantined"] == 0, result
    updated = one("price.updated")
    assert updated.actor == actor and updated.object == "pris ETK 2019-01-01"
    assert updated.details["valid_to"] == {"before": None, "after": "2023-12-31"}
    assert "unit_price" not in updated.details  # unchanged values are not listed
    new = trail("price.created")[-1]
    assert new.object == "pris ETK 2024-01-01" and new.actor == actor
    assert new.details["unit_price"] == {"before": None, "after": "400.00"}
    assert one("product.updated").details["name"] == {
        "before": "eTjänstekort",
        "after": "eTjänstekort SITHS",
    }


def test_runs_drafted_regenerated_discarded_and_issued(
    cli: Cli, loaded: dict[str, Path], actor: str
) -> None:
    code, draft = as_json(cli, "bill", *MARCH, "--title", "Mars 2020")
    assert code == 0
    label = f"körning {draft['id']}"
    drafted = one("run.drafted")
    assert drafted.actor == actor and drafted.object == label
    assert drafted.details["period"] == "2020-03-01 – 2020-03-31"
    assert drafted.details["title"] == "Mars 2020" and drafted.details["legacy"] is False
    assert (drafted.details["invoices"], drafted.details["orders"]) == (1, 2)
    assert drafted.details["held_back"] == 0 and drafted.details["net"] == "700.00"

    code, _ = as_json(cli, "run", "regenerate", str(draft["id"]))
    assert code == 0
    regenerated = one("run.regenerated")
    assert regenerated.object == label
    assert regenerated.details["orders"] == {"before": 2, "after": 2}

    code, _ = as_json(cli, "run", "discard", str(draft["id"]))
    assert code == 0
    discarded = one("run.discarded")
    assert discarded.object == label and discarded.details["orders"] == 2
    assert discarded.details["status"] == {"before": "draft", "after": "discarded"}

    run_id, number = issued_run(cli)
    issued = one("run.issued")
    assert issued.actor == actor and issued.object == f"körning {run_id}"
    assert issued.details["numbers"] == f"{number}–{number}"
    assert issued.details["status"] == {"before": "draft", "after": "issued"}
    assert issued.details["payable"] == "875.00" and issued.details["invoices"] == 1
    assert issued.details["issue_date"] == timezone.localdate().isoformat()


def test_a_credit_note_is_recorded_with_its_invoice_orders_and_reason(
    cli: Cli, loaded: dict[str, Path], actor: str
) -> None:
    _, number = issued_run(cli)
    code, note = as_json(cli, "credit", number, "--order", "B2", "--reason", "Fel enhet")
    assert code == 0, note
    entry = one("credit_note.issued")
    assert entry.actor == actor
    assert entry.object == f"kreditfaktura {note['number']} för faktura {number}"
    assert entry.details["credits"] == int(number)
    assert entry.details["order_ids"] == ["B2"] and entry.details["orders"] == 1
    assert entry.details["reason"] == "Fel enhet" and entry.details["payable"] == "-438.00"
    # Searching for the invoice finds its credit note.
    code, found = as_json(cli, "audit", "--object", f"faktura {number}")
    assert code == 0 and [e["action"] for e in found] == ["credit_note.issued"]


def test_decisions_on_changes_record_the_field_before_and_after(
    cli: Cli, csv_file: CsvFile, loaded: dict[str, Path], actor: str
) -> None:
    customers = csv_file(
        CUSTOMER_HEADER,
        [customer_row(), customer_row(GOTEBORG, "Göteborgs Stad", "1480")],
    )
    assert cli("import", "customers", str(customers))[0] == 0
    _, number = issued_run(cli)
    moved = csv_file(
        ORDER_HEADER,
        [order_row("B1", "2020-03-10 09:00", GOTEBORG), order_row("B2", "2020-03-11", GOTEBORG)],
    )
    assert cli("import", "orders", str(moved))[0] == 0
    assert trail("import.orders")[-1].details["changes_for_decision"] == 3  # orgnr ×2, ordered_at
    code, pending = as_json(cli, "changes", "list")
    b1 = [change["id"] for change in pending if change["order_id"] == "B1"]
    b2 = [change["id"] for change in pending if change["order_id"] == "B2"]

    code, decision = as_json(cli, "changes", "accept", str(b1[0]), "--reason", "Göteborgs kort")
    assert code == 0, decision
    accepted = one("change.accepted")
    assert accepted.actor == actor and accepted.object == "beställning B1"
    assert accepted.details["orgnr"] == {"before": "2120001454", "after": "2120001355"}
    assert accepted.details["changes"] == b1 and accepted.details["reason"] == "Göteborgs kort"
    assert accepted.details["invoice"] == number
    assert accepted.details["credit_note"] == decision["credit_notes"][0]["number"]
    assert one("credit_note.issued").details["reason"] == "Göteborgs kort"

    code, decision = as_json(cli, "changes", "reject", *map(str, b2), "--reason", "Rätt kund")
    assert code == 0, decision
    rejected = one("change.rejected")
    assert rejected.object == "beställning B2" and rejected.details["changes"] == b2
    assert rejected.details["ordered_at"] == {"before": "2020-03-11 09:00", "after": "2020-03-11"}
    assert "credit_note" not in rejected.details


def test_an_export_records_format_numbers_and_directory(
    cli: Cli, loaded: dict[str, Path], tmp_path: Path, actor: str
) -> None:
    run_id, number = issued_run(cli)
    out = tmp_path / "ut"
    code, result = as_json(
        cli, "invoice", "export", "--run", str(run_id), "--format", "csv", "--out", str(out)
    )
    assert code == 0, result
    entry = one("export.documents")
    assert entry.actor == actor and entry.object == f"körning {run_id}"
    assert entry.details["format"] == "csv" and entry.details["numbers"] == [int(number)]
    assert entry.details["directory"] == str(out.resolve()) and entry.details["files"] == 1
    code, _ = as_json(cli, "invoice", "export", number, "--format", "csv", "--out", str(out))
    assert code == 0
    assert trail("export.documents")[-1].object == f"faktura {number}"


# Nothing recorded for what did not happen ------------------------------------------------------


def test_a_refused_issue_leaves_no_record(cli: Cli, loaded: dict[str, Path]) -> None:
    code, draft = as_json(cli, "bill", *MARCH)
    assert code == 0
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    code, refused = as_json(cli, "run", "issue", str(draft["id"]), "--issue-date", tomorrow)
    assert code != 0, refused
    assert trail("run.issued") == []
    code, _ = as_json(cli, "bill", "--from", "2021-01-01", "--to", "2021-01-31")  # nothing
    assert code == 0 and len(trail("run.drafted")) == 1  # the empty run is not stored


def test_a_failed_import_records_the_failure_and_none_of_its_changes(
    cli: Cli, csv_file: CsvFile, monkeypatch: pytest.MonkeyPatch, actor: str
) -> None:
    def broken(self: CustomerImporter) -> None:
        raise DatabaseError("disken är full")

    monkeypatch.setattr(CustomerImporter, "finish", broken)
    path = csv_file(CUSTOMER_HEADER, [customer_row()], name="kunder.csv")
    code, result = as_json(cli, "import", "customers", str(path))
    assert code == 1, result
    assert [entry.action for entry in trail()] == ["import.failed"]  # no customer, no account
    failed = one("import.failed")
    assert failed.actor == actor and failed.object == "fil kunder.csv"
    assert failed.details["kind"] == "customers" and failed.details["status"] == "failed"
    assert "försök igen" in failed.details["error"]  # the Swedish sentence the person saw
    assert failed.details["database_error"] == "disken är full"  # and the database's own words

    missing = csv_file(["orgnr", "name"], [["212000-1454", "Vårgårda kommun"]], name="x.csv")
    code, _ = as_json(cli, "import", "customers", str(missing))
    assert code == 1
    assert [entry.object for entry in trail("import.failed")] == ["fil kunder.csv", "fil x.csv"]
    assert trail("import.customers") == []


def test_a_record_rolls_back_with_its_transaction() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        record("customer.updated", "kund 212000-1454", {"name": {"before": "a", "after": "b"}})
        raise RuntimeError("the change failed")
    assert AuditRecord.objects.count() == 0


# Append-only, by the database ------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        f"UPDATE {TABLE} SET actor = 'någon annan'",
        f"UPDATE {TABLE} SET details = '{{}}' WHERE action = 'run.issued'",
        f"DELETE FROM {TABLE}",
        f"DELETE FROM {TABLE} WHERE action = 'run.issued'",
    ],
)
def test_the_database_refuses_to_change_or_delete_the_trail(statement: str) -> None:
    record("run.issued", "körning 1", {"numbers": "100001–100001"}, actor="Anna Admin")
    with (
        pytest.raises(DatabaseError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert "granskningsloggen får inte ändras eller tas bort" in str(refused.value)
    (kept,) = AuditRecord.objects.all()
    assert (kept.actor, kept.details) == ("Anna Admin", {"numbers": "100001–100001"})


def test_the_guards_exist_in_the_schema() -> None:
    """A later migration that rebuilds the table on SQLite drops its triggers: this fails then."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                [TABLE],
            )
            expected = {
                "audit_record_append_only",
                "audit_record_no_truncate",
                "audit_record_chain",  # appends the links at commit (audit/0002)
            }
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE]
            )
            expected = {
                "audit_record_no_update",
                "audit_record_no_delete",
                "audit_record_no_replace",
            }
        assert {name for (name,) in cursor.fetchall()} == expected


def test_the_orm_cannot_change_or_delete_a_record_either() -> None:
    entry = record("run.drafted", "körning 1")
    entry.actor = "någon annan"
    with pytest.raises(DatabaseError), transaction.atomic():
        entry.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditRecord.objects.all().delete()
    assert AuditRecord.objects.get().actor == current_actor()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_truncate_is_refused_on_postgresql() -> None:
    record("run.drafted", "körning 1")
    with connection.cursor() as cursor:  # as if committed: the link is written at commit
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with (
        pytest.raises(DatabaseError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"TRUNCATE {TABLE}, audit_auditlink")  # with its chain (audit/0002)
    assert "granskningsloggen" in str(refused.value)
    assert AuditRecord.objects.count() == 1


# Who -------------------------------------------------------------------------------------------


def test_the_actor_is_the_named_person_then_the_environment_then_the_os_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KORTFAKTURA_ACTOR", raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "bengt")
    assert current_actor() == "bengt"
    monkeypatch.setenv("KORTFAKTURA_ACTOR", "  Anna   Admin ")
    assert current_actor() == "Anna Admin"
    with acting_as("cecilia@vgregion.se"):
        assert current_actor() == "cecilia@vgregion.se"
        assert record("run.discarded", "körning 2").actor == "cecilia@vgregion.se"
    assert current_actor() == "Anna Admin"
    monkeypatch.delenv("KORTFAKTURA_ACTOR")

    def no_user() -> str:
        raise OSError("no user")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert current_actor() == "okänd"


# kortfaktura audit -----------------------------------------------------------------------------


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_audit_json_filters_by_object_action_and_stockholm_day(cli: Cli) -> None:
    entries = [
        ("2026-01-01T22:30:00+00:00", "run.drafted", "körning 5"),  # 23:30 in Stockholm
        ("2026-01-01T23:30:00+00:00", "run.issued", "körning 5"),  # 00:30 on 2 January
        ("2026-01-03T10:00:00+00:00", "price.updated", "pris ETK 2024-01-01"),
        ("2026-01-04T10:00:00+00:00", "run.drafted", "Körning 6"),
    ]
    for at, action, label in entries:
        AuditRecord.objects.create(
            at=_at(at), actor="anna", action=action, object=label, details={"n": 1}
        )
    code, everything = as_json(cli, "audit")
    assert code == 0 and len(everything) == 4
    assert set(everything[0]) == {"at", "actor", "action", "object", "details"}
    assert everything[0]["at"] == "2026-01-01T23:30:00+01:00"
    assert everything[0]["details"] == {"n": 1}

    code, since = as_json(cli, "audit", "--since", "2026-01-02")
    assert [entry["action"] for entry in since] == ["run.issued", "price.updated", "run.drafted"]
    code, found = as_json(cli, "audit", "--object", "KÖRNING 5")
    assert [entry["action"] for entry in found] == ["run.drafted", "run.issued"]
    code, found = as_json(cli, "audit", "--object", "körning")
    assert len(found) == 3  # object, any case
    code, found = as_json(cli, "audit", "--object", "price.UPDATED")  # action
    assert [entry["object"] for entry in found] == ["pris ETK 2024-01-01"]
    code, found = as_json(cli, "audit", "--since", "2026-01-02", "--object", "körning 5")
    assert [entry["action"] for entry in found] == ["run.issued"]
    code, found = as_json(cli, "audit", "--object", "faktura 9")
    assert code == 0 and found == []
    assert [entry.object for entry in records(object_text="körning 6")] == ["Körning 6"]


def test_audit_speaks_swedish(
    cli: Cli, csv_file: CsvFile, loaded: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output.console, "width", 250)
    path = csv_file(PRICE_HEADER, [["ETK", "eTjänstekort", "400", "25", "2019-01-01", ""]])
    assert cli("import", "prices", str(path))[0] == 0
    code, out, err = cli("audit", "--object", "pris ETK")
    assert code == 0, err
    for word in ("Granskningslogg", "Tid", "Vem", "Vad", "Objekt", "Detaljer", "2 poster"):
        assert word in out
    assert "nytt pris" in out and "ändrat pris" in out
    assert "à-pris: 350.00 → 400.00" in out
    assert timezone.localtime().strftime("%Y-%m-%d") in out

    code, out, _ = cli("audit", "--since", "2099-01-01")
    assert code == 0 and "Inga poster i granskningsloggen från 2099-01-01." in out
    code, out, err = cli("audit", "--since", "1 januari")
    assert code == 2 and "fel användning" in err and "ÅÅÅÅ-MM-DD" in err


# The real console script, on a database of its own ---------------------------------------------


def test_the_console_script_records_kortfaktura_actor_and_the_trail_is_guarded(
    fresh: tuple[dict[str, str], Path],
) -> None:
    env, cwd = fresh
    assert run(env, cwd, "init").returncode == 0
    customers = cwd / "kunder.csv"
    from conftest import write_csv

    write_csv(customers, CUSTOMER_HEADER, [customer_row()])
    result = run(
        {**env, "KORTFAKTURA_ACTOR": "Anna Admin"}, cwd, "import", "customers", "kunder.csv"
    )
    assert result.returncode == 0, result.stderr
    result = run(env, cwd, "audit", "--json", "--object", "mottagare 1442")
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    assert entry["actor"] == "Anna Admin" and entry["action"] == "account.created"
    assert entry["details"]["customer"] == {"before": None, "after": "212000-1454"}
    # The name is only claimed: the operating-system user who ran the command is kept beside it.
    import getpass

    assert entry["details"]["claimed_by"] == getpass.getuser()
    result = run({**env, "KORTFAKTURA_ACTOR": getpass.getuser()}, cwd, "audit", "--json")
    assert result.returncode == 0  # naming oneself is no claim: nothing extra is kept
    result = run(env, cwd, "audit")
    assert result.returncode == 0 and "ny fakturamottagare" in result.stdout
