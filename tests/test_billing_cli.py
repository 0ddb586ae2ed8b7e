"""``bill``, ``run``, ``invoice list`` and ``credit`` as INTERFACES.md specifies them."""

import json
from collections.abc import Callable

import pytest

import factories as make
from kortfaktura.customers.models import Customer

pytestmark = pytest.mark.django_db
Cli = Callable[..., tuple[int, str, str]]
INVOICE_KEYS = {
    "number", "type", "credits", "orgnr", "account_code", "run_id", "title", "issue_date",
    "due_date", "net", "vat", "rounding", "payable", "lines", "order_ids",
}  # fmt: skip
LINE_KEYS = {"order_month", "product_code", "quantity", "unit_price", "net", "vat_rate"}


@pytest.fixture
def data() -> Customer:
    etk = make.product("ETK", "eTjänstekort")
    make.price(etk, "350")
    owner = make.customer("Vårgårda kommun", number="2120001454")
    make.account(owner, "1442")
    make.order(owner, "2020-03-10", etk, order_id="B1")
    make.order(owner, "2020-03-11", etk, order_id="B2")
    make.order(owner, "2020-04-01", etk, order_id="B3")
    make.order(None, "2020-04-02", etk, order_id="B4", orgnr_text="5590002282")
    return owner


def json_out(cli: Cli, *args: str) -> tuple[int, object]:
    code, out, err = cli(*args, "--json")
    return code, json.loads(out) if out.strip() else err


def test_bill_issue_list_and_credit_as_json(cli: Cli, data: Customer) -> None:
    code, draft = json_out(cli, "bill", "--from", "2020-03-01", "--to", "2020-04-30",
                           "--title", "Mars–april", "--issue-date", "2026-11-02")  # fmt: skip
    assert code == 0, draft
    assert draft["status"] == "draft" and isinstance(draft["id"], int)  # type: ignore[index]
    invoices = draft["invoices"]  # type: ignore[index]
    assert [invoice["number"] for invoice in invoices] == [None, None]
    assert set(invoices[0]) >= INVOICE_KEYS
    assert draft["held_back"] == [  # type: ignore[index]
        {"order_id": "B4", "reason": "unknown_customer", "detail": draft["held_back"][0]["detail"]}  # type: ignore[index]
    ]
    assert "559000-2282" in draft["held_back"][0]["detail"]  # type: ignore[index]

    code, issued = json_out(cli, "run", "issue", str(draft["id"]))  # type: ignore[index]
    assert code == 0 and issued["status"] == "issued"  # type: ignore[index]

    code, listed = json_out(cli, "invoice", "list")
    assert code == 0
    march, april = listed  # type: ignore[misc]
    assert set(march) >= INVOICE_KEYS
    assert march["number"] == "100001" and march["type"] == "invoice"
    assert march["credits"] is None and march["orgnr"] == "2120001454"
    assert march["account_code"] == "1442" and march["run_id"] == draft["id"]  # type: ignore[index]
    # Named by its own month (issue 21), the run's title first; the document keeps the title.
    assert march["title"] == "Mars–april, beställda i mars 2020"
    assert (march["issue_date"], march["due_date"]) == ("2026-11-02", "2026-12-02")
    assert (march["net"], march["vat"], march["rounding"], march["payable"]) == (
        "700.00", "175.00", "0.00", "875.00",
    )  # fmt: skip
    assert march["lines"] == [
        {"order_month": "2020-03", "product_code": "ETK", "product_name": "eTjänstekort",
         "quantity": 2, "unit_price": "350.00", "net": "700.00", "vat_rate": "25.00"}
    ]  # fmt: skip
    assert set(march["lines"][0]) >= LINE_KEYS
    assert march["order_ids"] == ["B1", "B2"]
    assert april["order_ids"] == ["B3"]

    code, note = json_out(cli, "credit", "100001", "--order", "B2", "--reason", "Fel enhet")
    assert code == 0
    assert note["type"] == "credit_note" and note["credits"] == "100001"  # type: ignore[index]
    assert note["number"] == "100003" and note["order_ids"] == ["B2"]  # type: ignore[index]
    assert note["payable"] == "-438.00"  # type: ignore[index]
    code, listed = json_out(cli, "invoice", "list", "--run", str(draft["id"]))  # type: ignore[index]
    assert [doc["number"] for doc in listed] == ["100001", "100002"]  # type: ignore[union-attr]


def test_empty_rerun_and_human_output(cli: Cli, data: Customer) -> None:
    _, draft = json_out(cli, "bill", "--from", "2020-03-01", "--to", "2020-03-31")
    run_id = str(draft["id"])  # type: ignore[index]
    code, out, _ = cli("run", "issue", run_id)
    assert code == 0
    assert f"Körning {run_id} (utfärdad)" in out
    assert "100001" in out and "875,00" in out
    code, again = json_out(cli, "bill", "--from", "2020-03-01", "--to", "2020-03-31")
    assert code == 0
    assert again["invoices"] == [] and again["held_back"] == []  # type: ignore[index]
    assert again["not_billable"] == {"already_invoiced": 2}  # type: ignore[index]
    code, out, _ = cli("bill", "--from", "2020-03-01", "--to", "2020-04-30", "--preview")
    assert code == 0
    assert "Förhandsgranskning" in out and "ingenting sparat" in out
    assert "okänd kund: 1" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("bill", "--from", "2020-01-01", "--to", "2020-03-31"), 2, "--legacy"),
        (("bill", "--from", "2020-04-01", "--to", "2020-03-01"), 2, "ligger efter"),
        (("bill", "--from", "2020-03-01", "--to", "2020-03-31", "--customer", "556123-4560"), 2,
         "kontrollsiffran"),
        (("bill", "--from", "2020-03-01"), 2, "fel användning"),
        (("bill", "--from", "2020-13-01", "--to", "2020-03-31"), 2, "inget datum"),
        (("run", "issue", "999"), 1, "finns inte"),
        (("credit", "100001"), 2, "--reason"),
        (("credit", "999999", "--reason", "x"), 1, "finns inte"),
    ],
)  # fmt: skip
def test_errors_are_swedish_with_the_right_exit_status(
    cli: Cli, data: Customer, args: tuple[str, ...], code: int, message: str
) -> None:
    result, _, err = cli(*args)
    assert result == code
    assert message in err


def test_a_discarded_run_cannot_be_issued(cli: Cli, data: Customer) -> None:
    _, draft = json_out(cli, "bill", "--from", "2020-03-01", "--to", "2020-03-31")
    run_id = str(draft["id"])  # type: ignore[index]
    code, discarded = json_out(cli, "run", "discard", run_id)
    assert code == 0 and discarded["status"] == "discarded"  # type: ignore[index]
    code, _, err = cli("run", "issue", run_id)
    assert code == 1
    assert "kasserad" in err


@pytest.mark.parametrize(
    "orders",
    [
        ("--order", "B1", "--order", "B2"),
        ("--order", "B1", "B2"),
        ("--order", "B2", "--order", "B1"),
    ],
)
def test_credit_takes_every_order_in_either_form(
    cli: Cli, data: Customer, orders: tuple[str, ...]
) -> None:
    """Issue 7 item 1: ``--order A --order B`` credited only B."""
    _, draft = json_out(cli, "bill", "--from", "2020-03-01", "--to", "2020-03-31")
    assert json_out(cli, "run", "issue", str(draft["id"]))[0] == 0  # type: ignore[index]
    code, note = json_out(cli, "credit", "100001", *orders, "--reason", "Fel enhet")
    assert code == 0, note
    assert note["order_ids"] == ["B1", "B2"]  # type: ignore[index]
    assert note["lines"][0]["quantity"] == -2  # type: ignore[index]


def test_bill_takes_every_customer_in_either_form(cli: Cli, data: Customer) -> None:
    etk = make.Product.objects.get(code="ETK")
    others = []
    for name in ("Göteborgs Stad", "Alingsås kommun", "Borås Stad"):
        other = make.customer(name)
        make.account(other, name[:4])
        make.order(other, "2020-03-12", etk)
        others.append(other.orgnr)
    for customers in (
        ("--customer", data.orgnr, "--customer", others[0]),
        ("--customer", data.orgnr, others[0]),
    ):
        code, draft = json_out(
            cli, "bill", "--from", "2020-03-01", "--to", "2020-03-31", *customers
        )
        assert code == 0, draft
        assert sorted(draft["customers"]) == sorted([data.orgnr, others[0]])  # type: ignore[index]
        billed = {invoice["orgnr"] for invoice in draft["invoices"]}  # type: ignore[index]
        assert billed == {data.orgnr, others[0]}
        assert cli("run", "discard", str(draft["id"]))[0] == 0  # type: ignore[index]
