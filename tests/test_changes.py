"""``kortfaktura changes list|accept|reject``: changes to invoiced orders wait for a decision
(DOMAIN.md R12, R14; issue 7 item 10). End to end through the command line on the real database."""

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import (
    CUSTOMER_HEADER,
    GOTEBORG,
    ORDER_HEADER,
    PRICE_HEADER,
    VARGARDA,
    VGR,
    customer_row,
    order_row,
    write_csv,
)
from kortfaktura.billing import changes, services
from kortfaktura.billing.models import BillingRun, Invoice, InvoiceItem
from kortfaktura.imports.services import import_file
from kortfaktura.orders.models import Order, OrderChange

pytestmark = pytest.mark.django_db
Cli = Callable[..., tuple[int, str, str]]
CsvFile = Callable[..., Path]
CHANGE_KEYS = {"id", "order_id", "invoice_number", "field", "old", "new", "status"}
MARCH = ("--from", "2020-03-01", "--to", "2020-03-31")


def as_json(cli: Cli, *args: str) -> tuple[int, Any]:
    code, out, err = cli(*args, "--json")
    return code, json.loads(out) if out.strip() else err


@pytest.fixture
def invoiced(cli: Cli, csv_file: CsvFile) -> str:
    """Vårgårda's orders B1 and B2 of March 2020 on issued invoice 100001; Göteborg and two
    VGR units exist as customers too. Returns the invoice number."""
    customers = csv_file(
        CUSTOMER_HEADER,
        [
            customer_row(),
            customer_row(GOTEBORG, "Göteborgs Stad", "1480", peppol_id="0007:2120001355"),
            customer_row(VGR, "Västra Götalandsregionen", "VGR-SU", unit_codes="SU-MED"),
            customer_row(VGR, "Västra Götalandsregionen", "VGR-RS", peppol_id="0007:2321000131"),
        ],
    )
    prices = csv_file(
        PRICE_HEADER,
        [["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""],
         ["RESERV", "Reservkort", "200", "25", "2019-01-01", ""]],
    )  # fmt: skip
    orders = csv_file(
        ORDER_HEADER,
        [order_row("B1", "2020-03-10 09:00"), order_row("B2", "2020-03-11 09:00")],
    )
    for kind, path in (("customers", customers), ("prices", prices), ("orders", orders)):
        code, result = as_json(cli, "import", kind, str(path))
        assert code == 0 and result["quarantined"] == 0, result
    code, draft = as_json(cli, "bill", *MARCH)
    assert code == 0, draft
    code, issued = as_json(cli, "run", "issue", str(draft["id"]))
    assert code == 0, issued
    (invoice,) = issued["invoices"]
    assert invoice["order_ids"] == ["B1", "B2"]
    return str(invoice["number"])


def reimport(cli: Cli, csv_file: CsvFile, *rows: list[str]) -> tuple[str, dict[str, Any]]:
    path = csv_file(ORDER_HEADER, list(rows))
    code, out, err = cli("import", "orders", str(path))
    assert code == 0, err
    code, result = as_json(cli, "import", "orders", str(path))  # the same file again
    assert code == 0
    return out, result


def test_accept_credits_exactly_that_order_and_the_next_run_bills_the_new_customer(
    cli: Cli, csv_file: CsvFile, invoiced: str
) -> None:
    out, again = reimport(cli, csv_file, order_row("B1", "2020-03-10 09:00", GOTEBORG))
    assert "1 ändring av redan fakturerade beställningar väntar på beslut" in out
    assert "kortfaktura changes list" in out
    # The same file again records nothing new, but still says what waits.
    assert (again["updated"], again["unchanged"]) == (0, 1)
    assert (again["pending_changes"], again["pending_changes_total"]) == (0, 1)

    code, changes = as_json(cli, "changes", "list")
    assert code == 0
    (change,) = changes
    assert set(change) >= CHANGE_KEYS
    assert {key: change[key] for key in CHANGE_KEYS - {"id"}} == {
        "order_id": "B1",
        "invoice_number": invoiced,
        "field": "orgnr",
        "old": "2120001454",
        "new": "2120001355",
        "status": "pending",
    }
    code, out, _ = cli("changes", "list")
    assert code == 0 and "B1" in out and "organisationsnummer" in out
    assert "changes accept" in out and "changes reject" in out

    code, decision = as_json(
        cli, "changes", "accept", str(change["id"]), "--reason", "Beställd av Göteborg"
    )
    assert code == 0, decision
    (note,) = decision["credit_notes"]
    assert note["type"] == "credit_note" and note["credits"] == invoiced
    assert note["order_ids"] == ["B1"]
    assert decision["changes"][0]["status"] == "accepted"
    assert decision["changes"][0]["credit_note_number"] == note["number"]
    assert decision["decided_together"] == []

    _, documents = as_json(cli, "invoice", "list")
    credit_notes = [doc for doc in documents if doc["type"] == "credit_note"]
    assert [doc["order_ids"] for doc in credit_notes] == [["B1"]]
    assert as_json(cli, "changes", "list")[1] == []
    (accepted,) = as_json(cli, "changes", "list", "--status", "accepted")[1]
    assert accepted["id"] == change["id"] and accepted["invoice_number"] == invoiced
    assert accepted["reason"] == "Beställd av Göteborg" and accepted["decided_by"]

    code, draft = as_json(cli, "bill", *MARCH)
    assert code == 0
    (rebilled,) = draft["invoices"]
    assert rebilled["orgnr"] == "2120001355" and rebilled["order_ids"] == ["B1"]


def test_reject_keeps_the_invoice_and_the_order_as_invoiced(
    cli: Cli, csv_file: CsvFile, invoiced: str
) -> None:
    moved = order_row("B2", "2020-03-11 09:00", GOTEBORG)
    reimport(cli, csv_file, moved)
    (change,) = as_json(cli, "changes", "list")[1]
    code, out, err = cli("changes", "reject", str(change["id"]), "--reason", "Fel i kortsystemet")
    assert code == 0, err
    assert "Avvisade ändringar" in out and "Fakturorna står kvar" in out

    _, documents = as_json(cli, "invoice", "list")
    assert [doc["type"] for doc in documents] == ["invoice"]  # no credit note
    order = Order.objects.get(order_id="B2")
    assert order.orgnr == "2120001454"
    (rejected,) = as_json(cli, "changes", "list", "--status", "all")[1]
    assert (rejected["id"], rejected["status"]) == (change["id"], "rejected")
    assert rejected["invoice_number"] == invoiced and rejected["reason"] == "Fel i kortsystemet"
    assert rejected["decided_at"] and rejected["decided_by"]

    code, draft = as_json(cli, "bill", *MARCH)
    assert code == 0 and draft["invoices"] == [] and draft["held_back"] == []

    # The card system sends the same change again: the decision stands, nothing new waits.
    again = csv_file(ORDER_HEADER, [moved])
    code, result = as_json(cli, "import", "orders", str(again))
    assert (result["updated"], result["unchanged"], result["pending_changes_total"]) == (0, 1, 0)
    assert OrderChange.objects.filter(status="pending").count() == 0

    code, _, err = cli("changes", "accept", str(change["id"]), "--reason", "Ångrar mig")
    assert code == 1 and "redan beslutad" in err and "avvisad" in err


def test_changes_of_one_order_are_decided_together(
    cli: Cli, csv_file: CsvFile, invoiced: str
) -> None:
    reimport(cli, csv_file, order_row("B1", "2020-03-10 09:00", VGR, unit_code="SU-MED"))
    changes = as_json(cli, "changes", "list")[1]
    assert sorted(change["field"] for change in changes) == ["orgnr", "unit_code"]
    first, second = sorted(change["id"] for change in changes)
    code, out, err = cli("changes", "accept", str(first), "--reason", "Beställd av SU")
    assert code == 0, err
    assert f"Ändring {second} gäller samma beställning" in out
    assert "Kreditfaktura" in out
    listed = as_json(cli, "changes", "list", "--status", "all")[1]
    statuses = {change["id"]: change["status"] for change in listed}
    assert statuses == {first: "accepted", second: "accepted"}
    assert Invoice.objects.filter(kind="credit_note").count() == 1
    (rebilled,) = as_json(cli, "bill", *MARCH)[1]["invoices"]
    assert (rebilled["orgnr"], rebilled["account_code"]) == ("2321000131", "VGR-SU")


def test_a_change_of_an_order_that_is_not_invoiced_is_applied_not_pending(
    cli: Cli, csv_file: CsvFile, invoiced: str
) -> None:
    path = csv_file(ORDER_HEADER, [order_row("B3", "2020-04-02 09:00")])
    assert cli("import", "orders", str(path))[0] == 0
    out, result = reimport(cli, csv_file, order_row("B3", "2020-04-02 09:00", GOTEBORG))
    assert "väntar på beslut" not in out
    assert result["pending_changes_total"] == 0
    assert as_json(cli, "changes", "list", "--status", "all")[1] == []
    assert OrderChange.objects.get(order__order_id="B3").status == "applied"
    assert Order.objects.get(order_id="B3").orgnr == "2120001355"


def test_a_whole_invoice_credit_accepts_the_waiting_changes(
    cli: Cli, csv_file: CsvFile, invoiced: str
) -> None:
    reimport(cli, csv_file, order_row("B1", "2020-03-10 09:00", product_code="RESERV"))
    assert cli("credit", invoiced, "--reason", "Hela fakturan fel")[0] == 0
    (change,) = as_json(cli, "changes", "list", "--status", "accepted")[1]
    assert change["reason"] == "Hela fakturan fel" and change["credit_note_number"]
    assert Order.objects.get(order_id="B1").product_code == "RESERV"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("changes", "accept", "999", "--reason", "x"), 1, "ändring 999 finns inte"),
        (("changes", "reject", "999", "--reason", "x"), 1, "ändring 999 finns inte"),
        (("changes", "accept", "1"), 2, "--reason"),
        (("changes", "accept", "1", "--reason", "  "), 2, "ange en orsak"),
        (("changes", "accept", "x", "--reason", "y"), 2, "inget positivt heltal"),
        (("changes", "list", "--status", "maybe"), 2, "fel användning"),
    ],
)
def test_errors_are_swedish_with_the_right_exit_status(
    cli: Cli, csv_file: CsvFile, invoiced: str, args: tuple[str, ...], code: int, message: str
) -> None:
    reimport(cli, csv_file, order_row("B1", "2020-03-10 09:00", GOTEBORG))
    result, _, err = cli(*args)
    assert result == code
    assert message in err
    assert OrderChange.objects.get().status == "pending"


def test_an_applied_change_cannot_be_decided(cli: Cli, csv_file: CsvFile, invoiced: str) -> None:
    path = csv_file(ORDER_HEADER, [order_row("B3", "2020-04-02 09:00")])
    assert cli("import", "orders", str(path))[0] == 0
    reimport(cli, csv_file, order_row("B3", "2020-04-02 09:00", VARGARDA, product_code="RESERV"))
    applied = OrderChange.objects.get(order__order_id="B3")
    code, _, err = cli("changes", "reject", str(applied.pk), "--reason", "x")
    assert code == 1 and "inget att besluta" in err


def test_a_later_import_supersedes_a_waiting_change(
    cli: Cli, csv_file: CsvFile, invoiced: str
) -> None:
    """The card system changes its mind before anyone decided: back to the invoiced value, the
    change no longer waits; to a third value, that one waits instead."""
    reimport(cli, csv_file, order_row("B1", "2020-03-10 09:00", GOTEBORG))
    (first,) = as_json(cli, "changes", "list")[1]
    reimport(cli, csv_file, order_row("B1", "2020-03-10 09:00", VARGARDA))
    assert as_json(cli, "changes", "list")[1] == []
    assert OrderChange.objects.get(pk=first["id"]).status == "superseded"
    code, _, err = cli("changes", "accept", str(first["id"]), "--reason", "x")
    assert code == 1 and "ersattes av en senare import" in err

    reimport(cli, csv_file, order_row("B1", "2020-03-20 09:00", GOTEBORG))
    waiting = as_json(cli, "changes", "list")[1]
    assert sorted((c["field"], c["new"]) for c in waiting) == [
        ("order_date", "2020-03-20"), ("ordered_at", "2020-03-20 09:00"), ("orgnr", "2120001355")
    ]  # fmt: skip
    reimport(cli, csv_file, order_row("B1", "2020-03-10 09:00", GOTEBORG))
    (left,) = as_json(cli, "changes", "list")[1]
    assert (left["field"], left["new"]) == ("orgnr", "2120001355")
    assert Order.objects.get(order_id="B1").orgnr == "2120001454"  # still as invoiced


# Property-based: random moves of invoiced orders, decisions, credits and runs -----------------

ORDER_IDS = [f"P{number}" for number in range(6)]
ORGNRS = [VARGARDA, GOTEBORG]
change_steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("import"),
            st.lists(
                st.tuples(st.integers(0, 5), st.integers(0, 1), st.sampled_from(["ETK", "RESERV"])),
                min_size=1,
                max_size=4,
            ),
        ),
        st.tuples(st.sampled_from(["accept", "reject"]), st.integers(0, 99)),
        st.tuples(st.just("credit"), st.integers(0, 99)),
        st.tuples(st.just("bill")),
    ),
    max_size=8,
)


def _import(tmp_path: Path, rows: list[list[str]]) -> None:
    path = write_csv(tmp_path / f"orders-{OrderChange.objects.count()}.csv", ORDER_HEADER, rows)
    import_file("orders", path)


def _bill_and_issue() -> None:
    draft = services.create_run(dt.date(2020, 3, 1), dt.date(2020, 4, 30))
    if draft.proposal.invoices:
        services.issue_run(draft.run.pk)
    elif BillingRun.objects.filter(pk=draft.run.pk, status="draft").exists():
        services.discard_run(draft.run.pk)


def _active_items() -> list[InvoiceItem]:
    return list(
        InvoiceItem.objects.filter(is_credit=False, credited=False, invoice__status="issued")
        .select_related("order", "invoice__customer", "line")
        .order_by("id")
    )


def _check_invariants() -> None:
    items = _active_items()
    assert len({item.order_id for item in items}) == len(items)  # R4
    for item in items:
        # R14: an invoiced order keeps the data it was invoiced with until someone decides.
        assert item.order.orgnr == item.invoice.customer.orgnr
        assert item.order.product_code == item.line.product_code
    invoiced = {item.order_id for item in items}
    for change in OrderChange.objects.filter(status="pending"):
        assert change.order_id in invoiced
    for change in OrderChange.objects.filter(status__in=["accepted", "rejected"]):
        assert change.decided_at and change.decision_reason and change.invoice_number


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(change_steps)
def test_any_sequence_of_moves_and_decisions_keeps_invoices_true_to_their_orders(
    tmp_path: Path, steps: list[tuple[Any, ...]]
) -> None:
    with transaction.atomic():
        rows = [customer_row(), customer_row(GOTEBORG, "Göteborgs Stad", "1480")]
        import_file("customers", write_csv(tmp_path / "customers.csv", CUSTOMER_HEADER, rows))
        prices = [["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""],
                  ["RESERV", "Reservkort", "200", "25", "2019-01-01", ""]]  # fmt: skip
        import_file("prices", write_csv(tmp_path / "prices.csv", PRICE_HEADER, prices))
        current = {order_id: (VARGARDA, "ETK") for order_id in ORDER_IDS}

        def row(order_id: str) -> list[str]:
            orgnr, product = current[order_id]
            day = f"2020-0{3 + ORDER_IDS.index(order_id) % 2}-1{ORDER_IDS.index(order_id)} 10:00"
            return order_row(order_id, day, orgnr, product_code=product)

        _import(tmp_path, [row(order_id) for order_id in ORDER_IDS])
        _bill_and_issue()
        for step in steps:
            if step[0] == "import":
                for index, orgnr, product in step[1]:
                    current[ORDER_IDS[index]] = (ORGNRS[orgnr], product)
                _import(tmp_path, [row(ORDER_IDS[index]) for index, _, _ in step[1]])
            elif step[0] in ("accept", "reject"):
                pending = list(
                    OrderChange.objects.filter(status="pending").values_list("id", flat=True)
                )
                if pending:
                    decide = (
                        changes.accept_changes if step[0] == "accept" else changes.reject_changes
                    )
                    decide([pending[step[1] % len(pending)]], reason="egenskapstest")
            elif step[0] == "credit":
                invoices = [item.invoice.number for item in _active_items()]
                if invoices:
                    services.credit_invoice(invoices[step[1] % len(invoices)] or 0, reason="test")
            else:
                _bill_and_issue()
            _check_invariants()
        # Accept whatever still waits, bill: every order is invoiced once, with its latest data
        # unless a decision rejected it.
        waiting = list(OrderChange.objects.filter(status="pending").values_list("id", flat=True))
        if waiting:
            changes.accept_changes(waiting, reason="slutligt beslut")
        _bill_and_issue()
        _check_invariants()
        items = {item.order.order_id: item for item in _active_items()}
        assert set(items) == set(ORDER_IDS)
        rejected = set(
            OrderChange.objects.filter(status="rejected").values_list("order__order_id", flat=True)
        )
        for order_id, (orgnr, product) in current.items():
            if order_id not in rejected:
                billed = items[order_id]
                assert billed.invoice.customer.orgnr == orgnr.replace("-", "")
                assert billed.line.product_code == product
        transaction.set_rollback(True)
