"""Internal charges for VGR's own units (DOMAIN.md R17; issue 10): the same run and
specification as an invoice, no VAT, no öresavrundning, a number series of their own, never
Peppol; credit, review and audit apply as to invoices."""

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from conftest import (
    CUSTOMER_HEADER,
    ORDER_HEADER,
    PRICE_HEADER,
    VGR,
    customer_row,
    order_row,
)
from kortfaktura.billing.models import Invoice
from kortfaktura.review.selectors import build_review

pytestmark = pytest.mark.django_db
Cli = Callable[..., tuple[int, str, str]]
CsvFile = Callable[..., Path]
MARCH = ("--from", "2020-03-01", "--to", "2020-03-31")
CUSTOMER_HEADER_CC = CUSTOMER_HEADER


def as_json(cli: Cli, *args: str) -> tuple[int, Any]:
    code, out, err = cli(*args, "--json")
    return code, json.loads(out) if out.strip() else err


@pytest.fixture
def issued(cli: Cli, csv_file: CsvFile) -> dict[str, Any]:
    """March 2020: Vårgårda (an invoice) and two of VGR's units (internal charges); prices at
    12 % and 25 % VAT with an öre amount."""
    rows = [
        customer_row(),
        customer_row(VGR, "Västra Götalandsregionen", "VGR-RS", peppol_id="",
                       delivery="email", email="ekonomi@vgr.example", cost_centre="RS-1100"),
        customer_row(VGR, "Västra Götalandsregionen", "VGR-SU", unit_codes="SU-MED",
                       peppol_id="", delivery="print", cost_centre="SU 7100"),
    ]  # fmt: skip
    code, result = as_json(cli, "import", "customers", str(csv_file(CUSTOMER_HEADER_CC, rows)))
    assert code == 0 and result["quarantined"] == 0, result
    prices = [["ETK", "eTjänstekort", "350,55", "25", "2019-01-01", ""],
              ["PUK", "PUK-kod", "150", "12", "2019-01-01", ""]]  # fmt: skip
    code, result = as_json(cli, "import", "prices", str(csv_file(PRICE_HEADER, prices)))
    assert code == 0 and result["quarantined"] == 0, result
    orders = [
        order_row("V1", "2020-03-02 09:00"),
        order_row("R1", "2020-03-03 09:00", VGR),
        order_row("R2", "2020-03-04 09:00", VGR, product_code="PUK"),
        order_row("S1", "2020-03-05 09:00", VGR, unit_code="SU-MED"),
    ]
    code, result = as_json(cli, "import", "orders", str(csv_file(ORDER_HEADER, orders)))
    assert code == 0 and result["quarantined"] == 0, result
    code, draft = as_json(cli, "bill", *MARCH)
    assert code == 0, draft
    code, run = as_json(cli, "run", "issue", str(draft["id"]))
    assert code == 0, run
    return {doc["account_code"]: doc for doc in run["invoices"]}


def test_internal_charges_carry_no_vat_and_have_their_own_series(issued: dict[str, Any]) -> None:
    invoice, rs, su = issued["1442"], issued["VGR-RS"], issued["VGR-SU"]
    assert invoice["type"] == "invoice" and invoice["number"] == "100001"
    assert (rs["type"], su["type"]) == ("internal_charge", "internal_charge")
    assert sorted([rs["number"], su["number"]]) == ["90000001", "90000002"]
    # 350.55 + 150.00 without VAT and without rounding to whole kronor.
    assert (rs["net"], rs["vat"], rs["rounding"], rs["payable"]) == (
        "500.55", "0.00", "0.00", "500.55",
    )  # fmt: skip
    assert {line["vat_rate"] for line in rs["lines"]} == {"0.00"}
    assert invoice["vat"] == "87.64" and invoice["payable"] == "438.00"  # 350.55 + 25 %


def test_internal_charges_never_leave_as_ubl_but_as_pdf_and_specification(
    cli: Cli, issued: dict[str, Any], tmp_path: Path
) -> None:
    number = issued["VGR-RS"]["number"]
    code, _, err = cli("invoice", "export", number, "--format", "ubl", "--out", str(tmp_path))
    assert code == 1 and "intern debitering är ingen faktura" in err and "pdf" in err
    assert not list(tmp_path.glob("*.xml"))
    code, _, err = cli("invoice", "export", number, "--format", "pdf", "--out", str(tmp_path))
    assert code == 0, err
    text = " ".join(page.extract_text() for page in PdfReader(tmp_path / f"{number}.pdf").pages)
    assert "Intern debitering" in text and "RS-1100" in text
    assert "Moms per momssats" not in text and "OCR" not in text and "Bankgiro" not in text
    for file_format in ("xlsx", "csv"):
        code, _, err = cli("invoice", "export", number, "--format", file_format, "--out",
                           str(tmp_path))  # fmt: skip
        assert code == 0, err


def test_an_internal_credit_reverses_its_charge_in_the_internal_series(
    cli: Cli, issued: dict[str, Any]
) -> None:
    charge = issued["VGR-RS"]
    code, credit = as_json(cli, "credit", charge["number"], "--order", "R2", "--reason", "Fel")
    assert code == 0, credit
    assert credit["type"] == "internal_credit" and credit["credits"] == charge["number"]
    assert credit["number"] == "90000003"
    assert (credit["net"], credit["vat"], credit["payable"]) == ("-150.00", "0.00", "-150.00")
    code, again = as_json(cli, "bill", *MARCH)
    assert code == 0 and [d["order_ids"] for d in again["invoices"]] == [["R2"]]
    assert again["invoices"][0]["type"] == "internal_charge"
    # A credit of an internal credit is refused with a reason.
    code, _, err = cli("credit", credit["number"], "--reason", "x")
    assert code == 1 and "intern kreditering" in err


def test_the_review_counts_internal_charges_as_invoiced(issued: dict[str, Any]) -> None:
    review = build_review(dt.date(2020, 3, 1), dt.date(2020, 3, 31))
    assert review.balanced
    (march,) = review.months
    assert (march.orders, march.invoiced) == (4, 4)
    assert march.invoiced_net == march.documents_net == Decimal("350.55") * 3 + 150
    assert not [p for p in review.customer_data if p.account_code.startswith("VGR")]
    assert review.gaps == []


def test_an_internal_account_without_a_cost_centre_is_held_back(
    cli: Cli, csv_file: CsvFile, issued: dict[str, Any]
) -> None:
    rows = [customer_row(VGR, "Västra Götalandsregionen", "VGR-SU", unit_codes="SU-MED",
                           peppol_id="", delivery="print", cost_centre="")]  # fmt: skip
    code, _ = as_json(cli, "import", "customers", str(csv_file(CUSTOMER_HEADER_CC, rows)))
    assert code == 0
    orders = [order_row("S2", "2020-03-06 09:00", VGR, unit_code="SU-MED")]
    code, _ = as_json(cli, "import", "orders", str(csv_file(ORDER_HEADER, orders)))
    code, draft = as_json(cli, "bill", "--preview", *MARCH)
    assert code == 0 and draft["invoices"] == []
    (held,) = draft["held_back"]
    assert held["reason"] == "account_incomplete" and "kostnadsställe" in held["detail"]
    review = build_review()
    problems = [p for p in review.customer_data if p.account_code == "VGR-SU"]
    assert [p.severity for p in problems] == ["error"] and "kostnadsställe" in problems[0].problem


def test_a_cost_centre_the_ledger_cannot_carry_is_quarantined(cli: Cli, csv_file: CsvFile) -> None:
    rows = [customer_row(VGR, "Västra Götalandsregionen", "VGR-SU", unit_codes="SU-MED",
                           peppol_id="", delivery="print", cost_centre="K€1")]  # fmt: skip
    code, result = as_json(cli, "import", "customers", str(csv_file(CUSTOMER_HEADER_CC, rows)))
    assert code == 0 and result["quarantined"] == 1
    assert "cost_centre" in result["rows"][0]["reason"]


def test_internal_accounts_need_no_buyer_reference_or_peppol(issued: dict[str, Any]) -> None:
    """The VGR accounts above have neither, and were not held back."""
    assert Invoice.objects.filter(kind="internal_charge").count() == 2


def test_an_internal_account_set_to_peppol_is_warned_about(cli: Cli, csv_file: CsvFile) -> None:
    rows = [customer_row(VGR, "Västra Götalandsregionen", "VGR-RS",
                           peppol_id="0007:2321000131", cost_centre="RS-1")]  # fmt: skip
    code, _ = as_json(cli, "import", "customers", str(csv_file(CUSTOMER_HEADER_CC, rows)))
    assert code == 0
    review = build_review()
    (warning,) = [p for p in review.customer_data if p.account_code == "VGR-RS"]
    assert warning.severity == "warning" and "aldrig via Peppol" in warning.problem


def test_cost_centre_and_revenue_account_columns_are_read_and_audited(
    cli: Cli, csv_file: CsvFile, issued: dict[str, Any]
) -> None:
    rows = [customer_row(VGR, "Västra Götalandsregionen", "VGR-SU", unit_codes="SU-MED",
                           peppol_id="", delivery="print", cost_centre="SU-7100")]  # fmt: skip
    code, _ = as_json(cli, "import", "customers", str(csv_file(CUSTOMER_HEADER_CC, rows)))
    assert code == 0
    code, trail = as_json(cli, "audit", "--object", "VGR-SU")
    assert trail[-1]["details"]["cost_centre"] == {"before": "SU 7100", "after": "SU-7100"}
    prices = [["ETK", "eTjänstekort", "350,55", "25", "2019-01-01", "", "3011"],
              ["PUK", "PUK-kod", "150", "12", "2019-01-01", "", "konto"],
              ["MOB", "Mobilt", "250", "25", "2019-01-01", "", "٣٠١١"],
              ["RES", "Reservkort", "200", "25", "2019-01-01", "", "1510"]]  # fmt: skip
    header = [*PRICE_HEADER, "revenue_account"]
    code, result = as_json(cli, "import", "prices", str(csv_file(header, prices)))
    assert code == 0 and result["updated"] == 1 and result["quarantined"] == 3
    reasons = [row["reason"] for row in result["rows"]]
    assert "4–6 siffror" in reasons[0] and "4–6 siffror" in reasons[1]
    assert "kontoklass 3" in reasons[2]
