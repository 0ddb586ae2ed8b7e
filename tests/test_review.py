"""``kortfaktura review`` (genomlysning, DOMAIN.md R18; issue 9): each state counted on its own,
the checks of customer data, numbering and documents, and data corrupted behind the review's back
(triggers and the exactly-once index dropped in the test's own transaction) making it fail."""

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from conftest import (
    CUSTOMER_HEADER,
    GOTEBORG,
    ORDER_HEADER,
    PRICE_HEADER,
    VARGARDA,
    customer_row,
    order_row,
)
from kortfaktura.billing.models import Invoice, InvoiceItem, InvoiceNumberSeries
from kortfaktura.documents.models import IssuedDocument
from kortfaktura.orders.models import Order
from kortfaktura.review.selectors import build_review

pytestmark = pytest.mark.django_db
Cli = Callable[..., tuple[int, str, str]]
CsvFile = Callable[..., Path]
MARCH = ("--from", "2020-03-01", "--to", "2020-03-31")
UNKNOWN = "5560000001"  # a valid organisationsnummer nobody has in the customer data
MONTH_KEYS = {
    "month", "orders", "invoiced", "previously_invoiced", "not_billable", "held_back",
    "in_draft", "unbilled", "invoiced_net",
}  # fmt: skip


def as_json(cli: Cli, *args: str) -> tuple[int, Any]:
    code, out, err = cli(*args, "--json")
    return code, json.loads(out) if out.strip() else err


def imported(cli: Cli, kind: str, path: Path) -> None:
    code, result = as_json(cli, "import", kind, str(path))
    assert code == 0 and result["quarantined"] == 0, result


@pytest.fixture
def states(cli: Cli, csv_file: CsvFile) -> dict[str, Any]:
    """March 2020 with an order in every state, April 2020 with one in a draft.

    Invoiced: V1, V2 (Vårgårda, invoice A) and G1 (Göteborg, invoice B); previously invoiced: P1;
    not billable: C1 (cancelled); held back: U1 (unknown customer), N1 (no price for PUK);
    unbilled: L1 (arrived after the run); in a draft: D1 (April)."""
    imported(
        cli,
        "customers",
        csv_file(
            CUSTOMER_HEADER,
            [
                customer_row(),
                customer_row(GOTEBORG, "Göteborgs Stad", "1480", peppol_id="0007:2120001355"),
            ],
        ),
    )
    imported(
        cli,
        "prices",
        csv_file(
            PRICE_HEADER,
            [
                ["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""],
                ["PUK", "PUK-kod", "150", "25", "2021-01-01", ""],
            ],
        ),
    )
    imported(
        cli,
        "orders",
        csv_file(
            ORDER_HEADER,
            [
                order_row("V1", "2020-03-02 09:00"),
                order_row("V2", "2020-03-20 09:00"),
                order_row("G1", "2020-03-05 09:00", GOTEBORG),
                order_row("P1", "2020-03-06 09:00"),
                order_row("C1", "2020-03-07 09:00", status="cancelled"),
                order_row("U1", "2020-03-08 09:00", UNKNOWN),
                order_row("N1", "2020-03-09 09:00", product_code="PUK"),
            ],
        ),
    )
    imported(cli, "billed", csv_file(["order_id", "invoice_number"], [["P1", "9001"]]))
    code, draft = as_json(cli, "bill", *MARCH)
    assert code == 0, draft
    code, issued = as_json(cli, "run", "issue", str(draft["id"]))
    assert code == 0, issued
    numbers = {
        invoice["orgnr"].replace("-", ""): int(invoice["number"]) for invoice in issued["invoices"]
    }
    imported(
        cli,
        "orders",
        csv_file(ORDER_HEADER, [order_row("L1", "2020-03-25 09:00"),
                                order_row("D1", "2020-04-02 09:00")]),
    )  # fmt: skip
    code, april = as_json(cli, "bill", "--from", "2020-04-01", "--to", "2020-04-30")
    assert code == 0 and april["status"] == "draft", april
    return {"numbers": numbers, "draft": april["id"]}


def month(review: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [entry for entry in review["months"] if entry["month"] == name]
    return found


def test_every_state_is_counted_and_the_books_balance(cli: Cli, states: dict[str, Any]) -> None:
    code, review = as_json(cli, "review")
    assert code == 0, review
    assert review["balanced"] is True
    assert set(month(review, "2020-03")) >= MONTH_KEYS
    march = {key: month(review, "2020-03")[key] for key in MONTH_KEYS - {"month"}}
    assert march == {
        "orders": 8, "invoiced": 3, "previously_invoiced": 1, "not_billable": 1,
        "held_back": 2, "in_draft": 0, "unbilled": 1, "invoiced_net": "1050.00",
    }  # fmt: skip
    april = month(review, "2020-04")
    assert (april["orders"], april["in_draft"], april["invoiced"]) == (1, 1, 0)
    assert {(entry["order_id"], entry["reason"]) for entry in review["held_back"]} == {
        ("U1", "unknown_customer"),
        ("N1", "no_price"),
    }
    assert [entry["order_id"] for entry in review["unbilled"]] == ["L1"]
    assert review["numbering"] == {"gaps": []}
    assert review["invalid_documents"] == []
    assert review["from"] is None and review["to"] is None
    assert len(review["checksum"]) == 64
    # Unknown customer's orders are a customer-data problem too.
    assert any(
        problem["orgnr"] == "556000-0001" and problem["severity"] == "error"
        for problem in review["customer_data"]
    )
    # Per customer: Vårgårda's orders, and its invoiced amount.
    (vargarda,) = [row for row in review["customers"] if row["orgnr"] == VARGARDA]
    assert (vargarda["orders"], vargarda["invoiced"], vargarda["invoiced_net"]) == (
        7, 2, "700.00",
    )  # fmt: skip


def test_the_period_limits_the_review_to_those_order_dates(
    cli: Cli, states: dict[str, Any]
) -> None:
    code, review = as_json(cli, "review", "--from", "2020-03-06", "--to", "2020-03-31")
    assert code == 0 and review["balanced"], review
    (march,) = review["months"]
    # V1 (3 March) and G1 (5 March) are outside; V2 is invoiced, the rest as before.
    assert (march["orders"], march["invoiced"], march["invoiced_net"]) == (6, 1, "350.00")
    assert (review["from"], review["to"]) == ("2020-03-06", "2020-03-31")


def test_human_output_says_in_swedish_that_everything_is_accounted_for(
    cli: Cli, states: dict[str, Any]
) -> None:
    code, out, _ = cli("review")
    assert code == 0
    assert "Alla 9 beställningar är redovisade" in out
    assert "2020-03" in out and "okänd kund" in out and "inget pris gäller" in out
    assert "Ej fakturerade än" in out


def test_reversed_period_is_wrong_usage(cli: Cli) -> None:
    code, _, err = cli("review", "--from", "2020-04-01", "--to", "2020-03-01")
    assert code == 2 and "byt plats" in err


def _without_guards() -> None:
    """Let raw SQL do what the database otherwise refuses: triggers off (PostgreSQL) or dropped
    (SQLite), and the exactly-once index dropped; all inside the test's transaction."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER "{name}"')
        cursor.execute("DROP INDEX order_invoiced_once")


def test_an_order_on_two_uncredited_invoices_fails_the_review_and_is_named(
    cli: Cli, states: dict[str, Any]
) -> None:
    _without_guards()
    goteborg = Invoice.objects.get(number=states["numbers"][GOTEBORG.replace("-", "")])
    line = goteborg.lines.get()
    order = Order.objects.get(order_id="V1")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {InvoiceItem._meta.db_table} (invoice_id, line_id, order_id, "
            "unit_price, is_credit, credited, order_ref, order_date, product_code, unit_code, "
            "holder_name, holder_hsa_id) VALUES (%s, %s, %s, 350, %s, %s, 'V1', %s, 'ETK', '', "
            "'', '')",
            [goteborg.pk, line.pk, order.pk, False, False, dt.date(2020, 3, 2)],
        )
    code, review = as_json(cli, "review")
    assert code == 1
    assert review["balanced"] is False
    assert month(review, "2020-03")["invoiced"] == 4  # counted, not derived
    named = [d for d in review["discrepancies"] if d["order_id"] == "V1"]
    assert named and "2 okrediterade fakturor" in named[0]["problem"]
    code, out, _ = cli("review")
    assert code == 1 and "INTE ihop" in out and "V1" in out


def test_a_deleted_invoiced_order_fails_the_review_and_is_named(
    cli: Cli, states: dict[str, Any]
) -> None:
    _without_guards()
    deleted = Order.objects.get(order_id="G1")
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Order._meta.db_table} WHERE order_id = 'G1'")
    code, review = as_json(cli, "review")
    assert code == 1 and review["balanced"] is False
    march = month(review, "2020-03")
    assert (march["orders"], march["invoiced"]) == (7, 3)
    named = [d for d in review["discrepancies"] if d["order_id"] == "G1"]
    assert named and "finns inte längre" in named[0]["problem"]
    assert named[0]["number"] == states["numbers"][GOTEBORG.replace("-", "")]
    Order.objects.bulk_create([deleted])  # the test database checks foreign keys at the end


def test_a_changed_line_amount_fails_the_review_and_names_the_document(
    cli: Cli, states: dict[str, Any]
) -> None:
    _without_guards()
    number = states["numbers"][GOTEBORG.replace("-", "")]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE billing_invoiceline SET net = 35, unit_price = 35 WHERE invoice_id = "
            "(SELECT id FROM billing_invoice WHERE number = %s)",
            [number],
        )
    code, review = as_json(cli, "review")
    assert code == 1 and review["balanced"] is False
    march = month(review, "2020-03")
    assert (march["invoiced_net"], march["documents_net"]) == ("1050.00", "735.00")
    assert any(d["number"] == number for d in review["discrepancies"])


def test_a_changed_stored_document_is_listed(cli: Cli, states: dict[str, Any]) -> None:
    number = states["numbers"][VARGARDA.replace("-", "")]
    invoice = Invoice.objects.get(number=number)
    stored = IssuedDocument.objects.get(invoice=invoice)
    forged = IssuedDocument.pack(stored.unpacked().replace(b"350.00", b"35.00"))
    _without_guards()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {IssuedDocument._meta.db_table} SET content = %s WHERE invoice_id = %s",
            [forged, invoice.pk],
        )
    code, review = as_json(cli, "review")
    # R19: the months still balance, but the stored document no longer says what its rows say.
    assert code == 1 and review["balanced"] is False
    assert review["invalid_documents"] == [number]
    assert "ändrats" in review["document_problems"][0]["problem"]
    named = [d["problem"] for d in review["discrepancies"] if d["number"] == number]
    assert any("kontrollsumman" in problem for problem in named)
    assert any("à-pris: dokumentet 35.00, raderna 350.00" in problem for problem in named)


def test_the_stored_document_is_what_export_writes(
    cli: Cli, states: dict[str, Any], tmp_path: Path
) -> None:
    number = states["numbers"][VARGARDA.replace("-", "")]
    code, _, err = cli("invoice", "export", str(number), "--format", "ubl", "--out", str(tmp_path))
    assert code == 0, err
    stored = IssuedDocument.objects.get(invoice__number=number).unpacked()
    assert (tmp_path / f"{number}.xml").read_bytes() == stored


def test_a_gap_in_the_numbering_is_listed(cli: Cli, states: dict[str, Any]) -> None:
    series = InvoiceNumberSeries.objects.get(name="invoices")
    skipped = series.next_number
    InvoiceNumberSeries.objects.filter(pk=series.pk).update(next_number=skipped + 1)
    code, review = as_json(cli, "review")
    assert review["numbering"]["gaps"] == [skipped]
    assert code == 0  # a gap is a finding, not an unbalanced month


def test_held_back_and_unbilled_match_what_a_run_would_do(cli: Cli, states: dict[str, Any]) -> None:
    """The review holds back exactly what a preview of the same period holds back."""
    code, preview = as_json(cli, "bill", "--preview", *MARCH)
    assert code == 0
    review = build_review(dt.date(2020, 3, 1), dt.date(2020, 3, 31))
    assert sorted((h["order_id"], h["reason"]) for h in preview["held_back"]) == sorted(
        (finding.order_id, finding.reason) for finding in review.held_back
    )
    proposed = sorted(order for invoice in preview["invoices"] for order in invoice["order_ids"])
    assert proposed == [finding.order_id for finding in review.unbilled]


def _problems(review: Any, code: str) -> list[str]:
    return [p.problem for p in review.customer_data if p.account_code == code]


def test_customer_data_checks(etk: Any) -> None:
    import factories as make
    from kortfaktura.customers.models import BillingAccount, Customer

    good = make.customer("Vårgårda kommun", number="2120001454")
    make.account(good, "OK")
    other = make.customer("Göteborgs Stad", number="2120001355")
    wrong_endpoint = make.account(other, "FEL-0007")
    BillingAccount.objects.filter(pk=wrong_endpoint.pk).update(peppol_id="2120001454")
    gln = make.account(other, "FEL-GLN", default=False)
    BillingAccount.objects.filter(pk=gln.pk).update(peppol_scheme="0088", peppol_id="7350003379783")
    twin = make.account(other, "TVILLING", default=False, units=("U9",))
    BillingAccount.objects.filter(pk=twin.pk).update(peppol_id="2120001454")
    make.account(make.customer("Ale kommun"), "UTAN-REF", buyer_reference="")
    private = make.customer("Vårdbolaget AB", public=False)
    make.account(private, "PRIVAT", buyer_reference="")
    mail = make.account(make.customer("Alingsås kommun"), "MAIL")
    BillingAccount.objects.filter(pk=mail.pk).update(delivery="email", email="")
    peppol = make.account(make.customer("Bengtsfors kommun"), "PEPPOL", peppol="")
    BillingAccount.objects.filter(pk=peppol.pk).update(delivery="peppol")
    address = make.account(make.customer("Bollebygds kommun"), "ADRESS")
    BillingAccount.objects.filter(pk=address.pk).update(city="", postal_code="")
    broken = make.customer("Felnummer AB", public=False)
    Customer.objects.filter(pk=broken.pk).update(orgnr="5560000002")
    make.order(other, "2020-03-02", etk, unit="OKÄND-ENHET")
    make.order(other, "2020-03-03", etk, unit="U9")
    make.order(None, "2020-03-04", etk, orgnr_text="5560000001")

    review = build_review()
    assert [p for p in _problems(review, "OK") if "olika kunder" not in p] == []
    assert any("inte kundens eget" in p for p in _problems(review, "FEL-0007"))
    assert any("kontrollsiffra" in p for p in _problems(review, "FEL-GLN"))
    assert any("olika kunder" in p for p in _problems(review, "TVILLING"))
    assert any("olika kunder" in p for p in _problems(review, "OK"))
    assert any("beställarreferens" in p for p in _problems(review, "UTAN-REF"))
    assert not any("beställarreferens" in p for p in _problems(review, "PRIVAT"))
    assert any("e-postadress saknas" in p for p in _problems(review, "MAIL"))
    assert any("Peppol-adress saknas" in p for p in _problems(review, "PEPPOL"))
    assert any("postnummer, ort saknas" in p for p in _problems(review, "ADRESS"))
    wrong_digit = [p for p in review.customer_data if p.orgnr == "556000-0002"]
    assert wrong_digit and "kontrollsiffra" in wrong_digit[0].problem
    (unit,) = [p for p in review.customer_data if "OKÄND-ENHET" in p.problem]
    assert unit.severity == "warning" and unit.account_code == "FEL-0007"
    assert "'U9'" not in unit.problem  # mapped to TVILLING
    (unknown,) = [p for p in review.customer_data if p.orgnr == "556000-0001"]
    assert unknown.severity == "error" and "saknas i kunduppgifterna" in unknown.problem
    missing = [p.problem for p in review.customer_data if "kommunkod" in p.problem]
    assert len(missing) == 49 - 6  # Vårgårda, Göteborg, Ale, Alingsås, Bengtsfors, Bollebygd
    assert not any(p.startswith("Vårgårda kommun") for p in missing)
    assert any(p.startswith("Lilla Edets kommun") for p in missing)


def test_writing_the_reports_is_recorded_in_the_audit_trail(
    cli: Cli, states: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KORTFAKTURA_ACTOR", "granskare.gunilla")
    html, xlsx = tmp_path / "rapport" / "g.html", tmp_path / "g.xlsx"
    code, out, err = cli("review", "--html", str(html), "--xlsx", str(xlsx))
    assert code == 0, err
    assert html.is_file() and xlsx.is_file() and str(html) in out
    assert "granskare.gunilla" in html.read_text(encoding="utf-8")
    code, trail = as_json(cli, "audit", "--object", "genomlysning")
    assert code == 0
    (entry,) = trail
    assert entry["actor"] == "granskare.gunilla" and entry["action"] == "review.report"
    assert entry["details"]["files"] == [str(html), str(xlsx)]
    assert entry["details"]["balanced"] is True


def test_a_report_that_cannot_be_written_says_so_in_swedish(
    cli: Cli, states: dict[str, Any], tmp_path: Path
) -> None:
    blocker = tmp_path / "fil"
    blocker.write_text("x")
    code, _, err = cli("review", "--html", str(blocker / "g.html"))
    assert code == 1 and "kunde inte skrivas" in err and "Traceback" not in err


@pytest.mark.skipif(connection.vendor != "sqlite", reason="INSERT OR REPLACE is SQLite's")
@pytest.mark.parametrize(
    "table", ["audit_auditrecord", "billing_invoice", "billing_invoiceitem", "billing_invoiceline"]
)
def test_insert_or_replace_cannot_rewrite_guarded_rows_on_sqlite(
    states: dict[str, Any], table: str
) -> None:
    from django.db import DatabaseError, transaction

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY id LIMIT 1")
        row = cursor.fetchone()
        columns = [column[0] for column in cursor.description]
        with pytest.raises(DatabaseError), transaction.atomic():
            cursor.execute(
                f"REPLACE INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join(['%s'] * len(columns))})",
                list(row),
            )


def test_export_refuses_a_stored_document_that_no_longer_matches_its_hash(
    cli: Cli, states: dict[str, Any], tmp_path: Path
) -> None:
    number = states["numbers"][VARGARDA.replace("-", "")]
    stored = IssuedDocument.objects.get(invoice__number=number)
    forged = IssuedDocument.pack(stored.unpacked().replace(b"1234566", b"99999999"))
    _without_guards()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {IssuedDocument._meta.db_table} SET content = %s WHERE invoice_id = %s",
            [forged, stored.invoice_id],
        )
    code, _, err = cli("invoice", "export", str(number), "--format", "ubl", "--out", str(tmp_path))
    assert code == 1 and "kontrollsumman" in err
    assert not (tmp_path / f"{number}.xml").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--html", "var/kortfaktura.sqlite3"), "ska sluta på .html"),
        (("--xlsx", "rapport.html"), "ska sluta på .xlsx"),
        (("--html", "a.html", "--xlsx", "a.html"), "ska sluta på .xlsx"),
    ],
)
def test_report_paths_that_would_overwrite_something_else_are_refused(
    cli: Cli, args: tuple[str, ...], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("review", *args)
    assert code == 1 and expected in err


def test_a_directory_named_like_a_report_is_refused(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "g.html").mkdir()
    code, _, err = cli("review", "--html", str(tmp_path / "g.html"))
    assert code == 1 and "ingen vanlig fil" in err


def test_the_actor_cannot_carry_terminal_escapes(
    cli: Cli, states: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KORTFAKTURA_ACTOR", "evil\x1b[31mRED\x1b[0m\x01\u202e")
    code, _, err = cli("review", "--xlsx", str(tmp_path / "g.xlsx"))
    assert code == 0, err
    _, trail = as_json(cli, "audit", "--object", "genomlysning")
    assert trail[-1]["actor"] == "evil[31mRED[0m"


def test_an_import_that_changes_orders_lists_each_change_in_the_audit_trail(
    cli: Cli, states: dict[str, Any], csv_file: CsvFile
) -> None:
    imported(
        cli,
        "orders",
        csv_file(ORDER_HEADER, [order_row("L1", "2020-03-25 09:00", status="cancelled")]),
    )
    _, trail = as_json(cli, "audit", "--object", "import")
    changes = trail[-1]["details"]["changes"]
    assert {"order": "L1", "field": "status", "before": "collected", "after": "cancelled",
            "status": "applied"} in changes  # fmt: skip
    # The review sees it too: L1 is no longer unbilled but not billable.
    _, review = as_json(cli, "review")
    assert review["unbilled"] == [] and month(review, "2020-03")["not_billable"] == 2


def test_a_document_whose_totals_no_longer_match_its_lines_fails_the_review(
    cli: Cli, states: dict[str, Any]
) -> None:
    _without_guards()
    number = states["numbers"][GOTEBORG.replace("-", "")]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE billing_invoice SET payable = 43, vat = 8 WHERE number = %s", [number]
        )
    code, review = as_json(cli, "review")
    assert code == 1 and review["balanced"] is False
    named = [d for d in review["discrepancies"] if d["number"] == number]
    (found,) = [d for d in named if "raderna ger" in d["problem"]]
    assert found["month"] == "2020-03"
    # The chain and the stored document say so too (R19).
    assert any("stämmer inte med sin länk i kedjan" in d["problem"] for d in named)
    assert any("att betala: dokumentet" in d["problem"] for d in named)


def test_review_before_init_says_to_run_init(fresh: tuple[dict[str, str], Path]) -> None:
    from processes import run

    env, cwd = fresh
    result = run(env, cwd, "review")
    assert result.returncode == 1 and "kortfaktura init" in result.stderr
