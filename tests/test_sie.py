"""``kortfaktura export sie`` (DOMAIN.md §5, R10, R17): every voucher balances, the export's totals
tie to the documents, a credit note reverses its invoice, internal charges book on internal
accounts with the cost centre, Swedish text survives code page 437, and the export is audited.

The file is read back by ``sie_reader``, which shares no code with the writer."""

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factories as make
import sie_reader
from kortfaktura.accounting import sie
from kortfaktura.accounting.models import SieExport
from kortfaktura.accounting.selectors import booked_totals, exports_overlapping
from kortfaktura.accounting.services import SieError, SieUsageError, export_sie
from kortfaktura.audit.models import AuditRecord
from kortfaktura.billing import services
from kortfaktura.billing.core import compute_totals
from kortfaktura.billing.models import Invoice, InvoiceLine
from kortfaktura.billing.services import buyer_snapshot
from kortfaktura.catalog.models import Product
from kortfaktura.customers.models import BillingAccount, Customer

pytestmark = pytest.mark.django_db
Cli = Callable[..., tuple[int, str, str]]
D = dt.date.fromisoformat
MARCH = (D("2020-03-01"), D("2020-03-31"))


def today() -> dt.date:
    return timezone.localdate()


def issue(period: tuple[dt.date, dt.date] = MARCH) -> list[Invoice]:
    run = services.create_run(*period).run
    assert run.pk is not None
    issued = services.issue_run(run.pk)
    return list(issued.invoices.order_by("number"))


def export(tmp_path: Path, name: str = "bok.se") -> tuple[Any, sie_reader.SieFile]:
    result = export_sie(today(), today(), tmp_path / name)
    return result, sie_reader.parse(result.file)


def voucher(parsed: sie_reader.SieFile, number: int) -> sie_reader.Ver:
    (found,) = [v for v in parsed.vouchers if v.number == str(number)]
    return found


def orders(owner: Customer, item: Product, count: int, day: str = "2020-03-10") -> None:
    for _ in range(count):
        make.order(owner, day, item)


@pytest.fixture
def mixed(kommun: Customer) -> dict[str, Product]:
    """Three products at 25, 12 and 6 % whose prices make VAT and öresavrundning non-trivial."""
    etk = make.product("ETK", "eTjänstekort")
    make.price(etk, "350.35")
    bok = make.product("BOK", "Handbok")
    make.price(bok, "99.99", vat="6")
    mat = make.product("MAT", "Fika")
    make.price(mat, "33.33", vat="12")
    orders(kommun, etk, 3)
    orders(kommun, bok, 2)
    orders(kommun, mat, 1)
    return {"etk": etk, "bok": bok, "mat": mat}


def hand_built(
    owner: Customer,
    account: BillingAccount,
    item: Product,
    *,
    number: int,
    kind: str = "internal_charge",
    lines: tuple[tuple[int, str, str, str], ...] = ((2, "350.00", "0", ""),),
    vat: Decimal | None = None,
    cost_centre: str | None = "K123",
    credits: Invoice | None = None,
) -> Invoice:
    """An issued document built by hand (``lines``: quantity, unit price, VAT rate, revenue
    account), as billing will make internal charges (R17) or as a damaged invoice would look."""
    nets = [(Decimal(price) * quantity, Decimal(rate)) for quantity, price, rate, _ in lines]
    totals = compute_totals(nets)
    buyer = buyer_snapshot(account)
    if cost_centre is not None:
        buyer["cost_centre"] = cost_centre
    document = Invoice.objects.create(
        kind=kind,
        status="draft",
        account=account,
        customer=owner,
        credits=credits,
        title="Handbyggt dokument",
        period_start=D("2020-03-01"),
        period_end=D("2020-03-31"),
        net=totals.net,
        vat=totals.vat if vat is None else vat,
        rounding=totals.rounding,
        payable=totals.payable,
        buyer=buyer,
    )
    for position, ((quantity, price, rate, revenue), (net, _)) in enumerate(
        zip(lines, nets, strict=True), start=1
    ):
        InvoiceLine.objects.create(
            invoice=document,
            position=position,
            order_month=D("2020-03-01"),
            product=item,
            product_code=item.code,
            product_name=item.name,
            quantity=quantity,
            unit_price=Decimal(price),
            vat_rate=Decimal(rate),
            net=net,
            revenue_account=revenue,
        )
    Invoice.objects.filter(pk=document.pk).update(
        status="issued", number=number, ocr=f"{number}8", issue_date=today(), due_date=today()
    )
    return Invoice.objects.get(pk=document.pk)


def internal(
    owner: Customer,
    account: BillingAccount,
    item: Product,
    *,
    number: int,
    quantity: int = 2,
    **options: Any,
) -> Invoice:
    return hand_built(
        owner, account, item, number=number, lines=((quantity, "350.00", "0", ""),), **options
    )


# The writer on its own -------------------------------------------------------------------------


def test_strings_are_quoted_escaped_and_code_page_437() -> None:
    assert sie.quote('Åre "Ö" \\ é') == '"Åre \\"Ö\\" \\\\ é"'
    assert sie.clean("a\x07b\tc\nd€ŁÆ") == "abcd??Æ"
    assert sie.clean("a\u030a") == "å"  # decomposed å is composed, not lost
    assert sie.amount(Decimal("-1250.4")) == "-1250.40"
    assert sie.amount(Decimal("-0.00")) == "0.00"
    with pytest.raises(ValueError):
        sie.amount(Decimal("0.001"))


def test_fiscal_years_count_back_from_the_last() -> None:
    assert sie.fiscal_years(D("2025-03-01"), D("2026-10-31")) == [
        (0, D("2026-01-01"), D("2026-12-31")),
        (-1, D("2025-01-01"), D("2025-12-31")),
    ]
    assert sie.fiscal_years(D("2026-08-01"), D("2026-08-31"), 7) == [
        (0, D("2026-07-01"), D("2027-06-30"))
    ]
    assert sie.fiscal_years(D("2026-06-30"), D("2026-07-01"), 7)[1] == (
        -1, D("2025-07-01"), D("2026-06-30"),
    )  # fmt: skip


def test_a_voucher_that_does_not_balance_is_never_written() -> None:
    header = sie.Header("K", "1", D("2026-01-01"), "x", "2321000131", "VGR", [])
    bad = sie.Voucher("KF", 1, D("2026-01-01"), "t", [sie.Transaction("1510", Decimal("1.00"))])
    with pytest.raises(sie.UnbalancedVoucherError, match="går inte ihop"):
        sie.render(header, {}, {}, {}, [bad])


# Invoices and credit notes ---------------------------------------------------------------------


def test_an_invoice_books_receivable_revenue_vat_per_rate_and_rounding(
    tmp_path: Path, mixed: dict[str, Product]
) -> None:
    (invoice,) = issue()
    assert invoice.rounding != 0
    result, parsed = export(tmp_path)

    assert parsed.one("#FLAGGA") == ["0"]
    assert parsed.one("#FORMAT") == ["PC8"]
    assert parsed.one("#SIETYP") == ["4"]
    assert parsed.one("#ORGNR") == ["232100-0131"]
    assert parsed.one("#FNAMN") == ["Västra Götalandsregionen"]
    assert parsed.one("#PROGRAM")[0] == "Kortfaktura"
    assert parsed.one("#GEN")[0] == today().strftime("%Y%m%d")
    assert parsed.one("#RAR") == ["0", f"{today().year}0101", f"{today().year}1231"]
    assert parsed.one("#DIM") == ["1", "Kostnadsställe"]
    assert parsed.accounts == {
        "1510": "Kundfordringar",
        "2611": "Utgående moms på försäljning inom Sverige, 25 %",
        "2621": "Utgående moms på försäljning inom Sverige, 12 %",
        "2631": "Utgående moms på försäljning inom Sverige, 6 %",
        "3001": "Försäljning inom Sverige, 25 % moms",
        "3002": "Försäljning inom Sverige, 12 % moms",
        "3003": "Försäljning inom Sverige, 6 % moms",
        "3740": "Öres- och kronutjämning",
    }
    (ver,) = parsed.vouchers
    assert (ver.series, ver.number, ver.date) == ("KF", str(invoice.number), invoice.issue_date)
    assert ver.text == f"Faktura {invoice.number} Vårgårda kommun"
    # 3 × 350.35 = 1051.05 (VAT 262.76), 2 × 99.99 = 199.98 (12.00), 33.33 (4.00)
    assert ver.amounts() == {
        "1510": invoice.payable,
        "3001": Decimal("-1051.05"),
        "3002": Decimal("-33.33"),
        "3003": Decimal("-199.98"),
        "2611": Decimal("-262.76"),
        "2621": Decimal("-4.00"),
        "2631": Decimal("-12.00"),
        "3740": -invoice.rounding,
    }
    assert invoice.vat == Decimal("278.76") and invoice.payable == Decimal("1563.00")
    assert ver.balance == 0
    assert all(row.objects == [] for row in ver.rows)
    assert (
        result.debit
        == result.credit
        == parsed.debit
        == parsed.credit
        == invoice.payable + (-invoice.rounding if invoice.rounding < 0 else 0)
    )


def test_a_full_credit_note_is_exactly_the_negation_of_its_invoice(
    tmp_path: Path, mixed: dict[str, Product]
) -> None:
    (invoice,) = issue()
    assert invoice.number is not None
    note = services.credit_invoice(invoice.number, reason="fel kund")
    _, parsed = export(tmp_path)
    first, second = voucher(parsed, invoice.number), voucher(parsed, note.number or 0)
    assert (
        second.text == f"Kreditfaktura {note.number} (krediterar {invoice.number}) Vårgårda kommun"
    )
    assert [(r.account, -r.amount) for r in first.rows] == [
        (r.account, r.amount) for r in second.rows
    ]
    assert [v.number for v in parsed.vouchers] == [str(invoice.number), str(note.number)]
    for account, total in {**first.amounts(), **second.amounts()}.items():
        assert first.amounts()[account] + second.amounts()[account] == 0, (account, total)


def test_a_revenue_account_of_the_line_is_used_and_named(
    tmp_path: Path, kommun: Customer, etk: Product
) -> None:
    # Billing copies Price.revenue_account onto the line (R17 work); here the line is built so.
    hand_built(
        kommun, kommun.accounts.get(), etk, number=100001, kind="invoice",
        lines=((2, "350.00", "25", "3011"), (1, "10.00", "25", "")),
    )  # fmt: skip
    _, parsed = export(tmp_path)
    amounts = parsed.vouchers[0].amounts()
    assert (amounts["3011"], amounts["3001"], amounts["2611"]) == (
        Decimal("-700.00"), Decimal("-10.00"), Decimal("-177.50"),
    )  # fmt: skip
    assert parsed.accounts["3011"] == "Intäkter 3011"


def test_the_chart_is_changed_by_settings(
    tmp_path: Path, settings: Any, kommun: Customer, etk: Product
) -> None:
    settings.ACCOUNTS = {
        **settings.ACCOUNTS,
        "receivable": "1511",
        "revenue": {**settings.ACCOUNTS["revenue"], "25": "3051"},
    }
    settings.ACCOUNT_NAMES = {**settings.ACCOUNT_NAMES, "1511": "Kundfordringar, regioner"}
    settings.SIE_SERIES = "F"
    orders(kommun, etk, 1)
    issue()
    _, parsed = export(tmp_path)
    assert set(parsed.vouchers[0].amounts()) == {"1511", "3051", "2611", "3740"}
    assert parsed.accounts["1511"] == "Kundfordringar, regioner"
    assert parsed.vouchers[0].series == "F"
    settings.ACCOUNTS = {**settings.ACCOUNTS, "rounding": "37x"}
    with pytest.raises(SieError, match="KORTFAKTURA_ACCOUNT_ROUNDING"):
        export(tmp_path, "igen.se")


def test_swedish_letters_a_quote_and_a_backslash_survive(tmp_path: Path, etk: Product) -> None:
    name = 'Åmål "Övre" Ä\\ö å ä é kommun'
    owner = make.customer(name, number="2120001454")
    make.account(owner, "1442")
    orders(owner, etk, 1)
    (invoice,) = issue()
    result, parsed = export(tmp_path)
    assert parsed.vouchers[0].text == f"Faktura {invoice.number} {name}"
    raw = result.file.read_bytes()
    assert "Åmål".encode("cp437") in raw and b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_an_invoice_whose_vat_does_not_match_its_lines_stops_the_export(
    tmp_path: Path, kommun: Customer, etk: Product
) -> None:
    hand_built(
        kommun, kommun.accounts.get(), etk, number=100001, kind="invoice",
        lines=((1, "350.00", "25", ""),), vat=Decimal("87.49"),
    )  # fmt: skip
    with pytest.raises(SieError, match=r"Faktura 100001.*momsen") as refused:
        export_sie(today(), today(), tmp_path / "bok.se")
    assert "ingen fil skrevs" in str(refused.value)
    assert not (tmp_path / "bok.se").exists()
    assert not SieExport.objects.exists()


# Internal charges (R17) ------------------------------------------------------------------------


@pytest.fixture
def region() -> tuple[Customer, BillingAccount]:
    owner = make.customer("VGR", number="2321000131")
    return owner, make.account(owner, "Sahlgrenska", cost_centre="")


def test_internal_charges_book_on_internal_accounts_with_the_cost_centre(
    tmp_path: Path, region: tuple[Customer, BillingAccount], etk: Product
) -> None:
    owner, unit = region
    charge = internal(owner, unit, etk, number=90000001, cost_centre="K 12")
    internal(owner, unit, etk, number=90000002, quantity=-1, kind="internal_credit", credits=charge)
    result, parsed = export(tmp_path)
    first, second = parsed.vouchers
    assert first.text == "Intern debitering 90000001 VGR Sahlgrenska"
    assert [(r.account, r.objects, r.amount) for r in first.rows] == [
        ("6540", [("1", "K 12")], Decimal("700.00")),
        ("3990", [], Decimal("-700.00")),
    ]
    assert second.text == "Intern kreditering 90000002 (krediterar 90000001) VGR Sahlgrenska"
    assert [(r.account, r.amount) for r in second.rows] == [
        ("6540", Decimal("-350.00")),
        ("3990", Decimal("350.00")),
    ]
    assert not {"1510", "2611", "3740"} & set(parsed.accounts)  # no VAT, no receivable
    assert parsed.accounts["6540"] == "IT-tjänster"
    assert parsed.accounts["3990"] == "Övriga ersättningar och intäkter"
    assert parsed.objects == {("1", "K 12"): "VGR Sahlgrenska", ("1", "K123"): "VGR Sahlgrenska"}
    assert not [w for w in result.warnings if "kostnadsställe" in w]
    assert result.debit == Decimal("1050.00") == parsed.credit


def test_an_internal_charge_without_a_cost_centre_is_written_and_reported(
    tmp_path: Path, region: tuple[Customer, BillingAccount], etk: Product, cli: Cli
) -> None:
    owner, unit = region
    internal(owner, unit, etk, number=90000001, cost_centre=None)
    code, out, _ = cli("export", "sie", "--from", str(today()), "--to", str(today()),
                       "--out", str(tmp_path / "bok.se"))  # fmt: skip
    assert code == 0
    assert "Varning" in out and "kostnadsställe saknas" in out and "90000001" in out
    parsed = sie_reader.parse(tmp_path / "bok.se")
    assert parsed.vouchers[0].rows[0].objects == []
    assert parsed.objects == {}


# Totals, re-export, audit ----------------------------------------------------------------------


def test_exporting_again_gives_the_same_vouchers_and_each_export_is_audited(
    tmp_path: Path, mixed: dict[str, Product], region: tuple[Customer, BillingAccount]
) -> None:
    (invoice,) = issue()
    internal(*region, mixed["etk"], number=90000001)
    first, _ = export(tmp_path, "a.se")
    second, _ = export(tmp_path, "b.sie")

    def without_gen(path: Path) -> list[bytes]:
        # #GEN is the day of the export, #PROSA the chains' heads then (the first export's own
        # audit record is a new link of the audit trail).
        return [
            line
            for line in path.read_bytes().split(b"\r\n")
            if not line.startswith((b"#GEN", b"#PROSA"))
        ]

    assert without_gen(first.file) == without_gen(second.file)
    assert first.sha256 == hashlib.sha256(first.file.read_bytes()).hexdigest()

    records = list(AuditRecord.objects.filter(action="export.sie").order_by("id"))
    assert len(records) == 2
    details = records[0].details
    assert records[0].object == f"SIE {today()}–{today()}"
    assert details["checksum"] == first.sha256
    assert details["file"] == str(tmp_path / "a.se")
    assert (details["vouchers"], details["debit"], details["credit"]) == (
        2, str(first.debit), str(first.credit),
    )  # fmt: skip

    (saved, _) = exports_overlapping(today() - dt.timedelta(days=5), today())
    assert (saved.sha256, saved.vouchers, saved.documents, saved.debit) == (
        first.sha256, 2, 2, first.debit,
    )  # fmt: skip
    assert (saved.first_number, saved.last_number) == (invoice.number, 90000001)
    assert saved.file == str(tmp_path / "a.se") and saved.made_by
    assert exports_overlapping(today() + dt.timedelta(days=1), today() + dt.timedelta(days=9)) == []
    booked = booked_totals(today(), today())
    assert (booked.documents, booked.debit, booked.credit) == (2, first.debit, first.credit)
    assert booked.by_account["1510"] == invoice.payable


orders_strategy = st.lists(
    st.tuples(
        st.integers(0, 2),  # customer
        st.integers(0, 3),  # product
        st.integers(1, 4),  # how many orders
    ),
    min_size=1,
    max_size=6,
)
prices = st.lists(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2),
    min_size=4,
    max_size=4,
)
credits = st.lists(st.tuples(st.integers(0, 20), st.booleans()), max_size=3)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(orders_strategy, prices, credits)
def test_every_voucher_balances_and_the_totals_tie_to_the_documents(
    tmp_path: Path,
    specs: list[tuple[int, int, int]],
    unit_prices: list[Decimal],
    to_credit: list[tuple[int, bool]],
) -> None:
    with transaction.atomic():
        owners = []
        for index in range(3):
            owner = make.customer(f"Kommun {index} Åäö")
            make.account(owner, f"K{index}")
            owners.append(owner)
        products = []
        for index, (unit_price, vat) in enumerate(
            zip(unit_prices, ("25", "12", "6", "0"), strict=True)
        ):
            item = make.product(f"P{index}", f"Produkt {index}")
            make.price(item, str(unit_price), vat=vat)
            products.append(item)
        for owner_index, product_index, count in specs:
            orders(owners[owner_index], products[product_index], count)
        invoices = issue()
        for pick, whole in to_credit:
            candidates = [i for i in invoices if not i.credit_notes.exists()]
            if not candidates:
                break
            chosen = candidates[pick % len(candidates)]
            items = list(chosen.items.values_list("order__order_id", flat=True))
            chosen_orders = [] if whole or len(items) < 2 else items[:1]
            services.credit_invoice(chosen.number or 0, order_ids=chosen_orders, reason="test")
        documents = list(Invoice.objects.filter(status="issued"))

        result = export_sie(today(), today(), tmp_path / "egenskap.se")
        parsed = sie_reader.parse(result.file)

        assert len(parsed.vouchers) == len(documents) == result.vouchers
        assert all(v.balance == 0 for v in parsed.vouchers)
        assert parsed.debit == parsed.credit == result.debit == result.credit
        by_number = {str(d.number): d for d in documents}
        receivable_debits = sum(
            (r.amount for v in parsed.vouchers for r in v.rows if r.account == "1510"
             and by_number[v.number].kind == "invoice"),
            Decimal(0),
        )  # fmt: skip
        assert receivable_debits == sum(d.payable for d in documents if d.kind == "invoice")
        totals: dict[str, Decimal] = {}
        for v in parsed.vouchers:
            for account, value in v.amounts().items():
                totals[account] = totals.get(account, Decimal(0)) + value
        assert totals.get("1510", 0) == sum(d.payable for d in documents)
        vat = sum(totals.get(a, Decimal(0)) for a in ("2611", "2621", "2631"))
        assert -vat == sum(d.vat for d in documents)
        revenue = sum(totals.get(a, Decimal(0)) for a in ("3001", "3002", "3003", "3004"))
        assert -revenue == sum(d.net for d in documents)
        assert -totals.get("3740", Decimal(0)) == sum(d.rounding for d in documents)
        for rate, account in (("25", "2611"), ("12", "2621"), ("6", "2631")):
            lines = InvoiceLine.objects.filter(invoice__status="issued", vat_rate=Decimal(rate))
            per_document: dict[int, Decimal] = {}
            for line in lines:
                per_document[line.invoice_id] = per_document.get(line.invoice_id, 0) + line.net
            expected = sum(
                (base * Decimal(rate) / 100).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
                for base in per_document.values()
            )
            assert -totals.get(account, Decimal(0)) == expected, rate
        # debit = Σ positive amounts = Σ payable of invoices + Σ |debits| of credit notes …
        assert result.debit == sum(
            (r.amount for v in parsed.vouchers for r in v.rows if r.amount > 0), Decimal(0)
        )
        transaction.set_rollback(True)


# The command line ------------------------------------------------------------------------------


def test_json_shape_and_an_empty_period(
    tmp_path: Path, cli: Cli, kommun: Customer, etk: Product
) -> None:
    orders(kommun, etk, 2)
    (invoice,) = issue()
    day = str(today())
    code, out, _ = cli("export", "sie", "--from", day, "--to", day, "--out",
                       str(tmp_path / "ut" / "bok.se"), "--json")  # fmt: skip
    assert code == 0, out
    answer = json.loads(out)
    assert {"file", "vouchers", "debit", "credit", "sha256", "warnings"} <= set(answer)
    assert answer["file"] == str(tmp_path / "ut" / "bok.se")
    assert (answer["vouchers"], answer["debit"], answer["credit"]) == (1, "875.00", "875.00")
    assert (answer["first_number"], answer["last_number"]) == (invoice.number, invoice.number)

    code, out, _ = cli("export", "sie", "--from", "2019-01-01", "--to", "2019-12-31",
                       "--out", str(tmp_path / "tom.se"))  # fmt: skip
    assert code == 0
    assert "Inga dokument utfärdades" in out and "inga verifikationer" in out
    empty = sie_reader.parse(tmp_path / "tom.se")
    assert empty.vouchers == [] and empty.one("#RAR") == ["0", "20190101", "20191231"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("bok.txt", "ska sluta på .se, .si eller .sie, t.ex."),
        ("katalog.se", "ingen vanlig fil"),
    ],
)
def test_a_bad_target_is_refused_in_swedish(
    tmp_path: Path, cli: Cli, target: str, expected: str
) -> None:
    (tmp_path / "katalog.se").mkdir()
    code, out, err = cli("export", "sie", "--from", "2026-01-01", "--to", "2026-01-31",
                         "--out", str(tmp_path / target), "--json")  # fmt: skip
    assert code == 1
    assert expected in json.loads(out)["error"] and expected in " ".join(err.split())
    assert not SieExport.objects.exists()


def test_an_unwritable_directory_is_refused(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "fil").write_text("x")
    code, _, err = cli("export", "sie", "--from", "2026-01-01", "--to", "2026-01-31",
                       "--out", str(tmp_path / "fil" / "bok.se"))  # fmt: skip
    assert code == 1
    assert "kunde inte skrivas" in err


def test_a_reversed_period_and_a_bad_date_are_usage_errors(tmp_path: Path, cli: Cli) -> None:
    code, out, err = cli("export", "sie", "--from", "2026-02-01", "--to", "2026-01-31",
                         "--out", str(tmp_path / "bok.se"), "--json")  # fmt: skip
    assert code == 2
    assert "är efter --to" in json.loads(out)["error"]
    code, _, err = cli("export", "sie", "--from", "2026-02-30", "--to", "2026-03-31",
                       "--out", str(tmp_path / "bok.se"))  # fmt: skip
    assert code == 2 and "inget datum" in err
    code, _, err = cli("export", "sie", "--from", "2026-02-01")
    assert code == 2 and "följande saknas" in err
    with pytest.raises(SieUsageError):
        export_sie(D("2026-02-01"), D("2026-01-31"), tmp_path / "bok.se")
    assert not (tmp_path / "bok.se").exists()


@pytest.mark.django_db
def test_the_review_shows_each_export_against_the_documents_now(
    cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    """An export that a later document no longer matches is shown as such (issue 10)."""
    from kortfaktura.review.selectors import build_review

    etk = make.product("ETK", "eTjänstekort")
    make.price(etk, "350")
    owner = make.customer("Vårgårda kommun", number="2120001454")
    make.account(owner, "1442")
    make.order(owner, "2020-03-02", etk)
    run = services.create_run(dt.date(2020, 3, 1), dt.date(2020, 3, 31))
    services.issue_run(run.run.pk)
    today = timezone.localdate().isoformat()
    code, _, err = cli("export", "sie", "--from", today, "--to", today, "--out",
                       str(tmp_path / "a.se"))  # fmt: skip
    assert code == 0, err
    review = build_review()
    (export,) = review.exports
    assert export.matches and export.vouchers == 1 and review.unbooked_documents == []
    make.order(owner, "2020-04-02", etk)
    later = services.create_run(dt.date(2020, 4, 1), dt.date(2020, 4, 30))
    services.issue_run(later.run.pk)
    review = build_review()
    (export,) = review.exports
    assert not export.matches and export.documents_now == 2
    assert review.as_json()["exports"][0]["matches"] is False
    assert "SIE-export som inte stämmer" in review.summary()
    # Exported again, the first export is superseded and the new one matches.
    code, _, err = cli("export", "sie", "--from", today, "--to", today, "--out",
                       str(tmp_path / "b.se"))  # fmt: skip
    assert code == 0, err
    first, second = build_review().exports
    assert first.superseded_by == second.id and first.matches and second.matches


@pytest.mark.django_db
def test_an_export_booked_on_other_accounts_than_the_documents_give_is_shown(
    settings: Any, tmp_path: Path, etk: Product
) -> None:
    from kortfaktura.review.selectors import build_review

    owner = make.customer("Vårgårda kommun", number="2120001454")
    make.account(owner, "1442")
    make.order(owner, "2020-03-02", etk)
    run = services.create_run(dt.date(2020, 3, 1), dt.date(2020, 3, 31))
    services.issue_run(run.run.pk)
    settings.ACCOUNTS = {**settings.ACCOUNTS, "receivable": "1519"}
    export_sie(today(), today(), tmp_path / "a.se")
    settings.ACCOUNTS = {**settings.ACCOUNTS, "receivable": "1510"}
    (export,) = build_review().exports
    assert (export.vouchers, export.documents_now) == (1, 1) and export.debit == export.debit_now
    assert not export.balances_match and not export.matches


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("KORTFAKTURA_ACCOUNT_INTERNAL_COST", "3990", "både intern kostnad och intern intäkt"),
        ("KORTFAKTURA_ACCOUNT_RECEIVABLE", "15x0", "inget kontonummer"),
        ("KORTFAKTURA_SIE_SERIES", "", "ingen verifikationsserie"),
    ],
)
def test_a_chart_of_accounts_that_makes_no_sense_is_refused(
    settings: Any, tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    accounts = {**settings.ACCOUNTS}
    if variable == "KORTFAKTURA_ACCOUNT_INTERNAL_COST":
        accounts["internal_cost"] = value
    elif variable == "KORTFAKTURA_ACCOUNT_RECEIVABLE":
        accounts["receivable"] = value
    else:
        settings.SIE_SERIES = value
    settings.ACCOUNTS = accounts
    with pytest.raises(SieError, match=expected):
        export_sie(today(), today(), tmp_path / "x.se")
    assert not (tmp_path / "x.se").exists() and not SieExport.objects.exists()


@pytest.mark.django_db
def test_an_open_or_overlapping_period_is_exported_with_warnings(tmp_path: Path) -> None:
    first = export_sie(today(), today(), tmp_path / "a.se")
    assert any("slutar" in warning for warning in first.warnings)
    again = export_sie(today() - dt.timedelta(days=3), today(), tmp_path / "b.se")
    assert any("överlappar" in warning for warning in again.warnings)
    stored = SieExport.objects.get(pk=again.export_id)
    assert stored.chart["series"] == "KF" and stored.chart["accounts"]["receivable"] == "1510"
