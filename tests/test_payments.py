"""Payments (R21) and receivables (R22) on the real database, through the command line and the
API, with hand-written BgMax and camt.054 files (tests/fixtures/payments/)."""

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.test import Client

import factories as make
import webtools
from kortfaktura.audit.models import AuditRecord
from kortfaktura.billing import services
from kortfaktura.billing.models import Invoice
from kortfaktura.customers.models import Customer
from kortfaktura.payments import selectors
from kortfaktura.payments.models import Payment, PaymentFile
from payment_files import camt, camt_entry, simple_bgmax

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures" / "payments"
MARCH = (dt.date(2020, 3, 1), dt.date(2020, 3, 31))
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def invoices(kommun: Customer, etk: make.Product) -> list[Invoice]:
    """100001: Vårgårda, 3 cards, 1 313 kr (OCR 10000180); 100002: Borås, 1 card, 438 kr
    (OCR 10000289)."""
    for _ in range(3):
        make.order(kommun, "2020-03-10", etk)
    other = make.customer("Borås Stad", number="2120002353")
    make.account(other, "BS")
    make.order(other, "2020-03-11", etk)
    run = services.create_run(*MARCH).run
    assert run.pk is not None
    issued = list(services.issue_run(run.pk).invoices.order_by("number"))
    assert [(i.number, i.ocr, i.payable) for i in issued] == [
        (100001, "10000180", Decimal("1313.00")),
        (100002, "10000289", Decimal("438.00")),
    ]
    return issued


def imported(cli: Cli, path: Path) -> tuple[int, dict[str, Any]]:
    code, out, err = cli("import", "payments", str(path), "--json")
    assert "Traceback" not in out + err
    return code, json.loads(out)


def test_a_bgmax_file_with_every_record_type_is_read_matched_and_stored(
    invoices: list[Invoice], cli: Cli
) -> None:
    code, result = imported(cli, FIXTURES / "bgmax_every_record.txt")
    assert code == 0
    assert result == {
        "file": "bgmax_every_record.txt", "format": "bgmax", "file_id": result["file_id"],
        "payments": 5, "matched": 4, "unmatched": 1, "duplicates": 0, "amount": "2075.00",
        "already_imported": False,
    }  # fmt: skip
    rows = {p.external_id[-3:]: p for p in Payment.objects.select_related("invoice")}
    first, second = invoices
    # 20 with OCR, name (26, both names), address (27, 28) and orgnr (29)
    assert rows["101"].invoice == first and rows["101"].matched_by == "ocr"
    assert rows["101"].payer == "Vårgårda kommun Ekonomiavdelningen"
    assert rows["101"].payer_orgnr == "002120001454" and rows["101"].payer_account == "9912346"
    # no reference: the document number in its information text (25)
    assert rows["102"].invoice == second and rows["102"].matched_by == "number"
    assert rows["102"].information == "Betalning av faktura 100002 okt"
    # extra references (22, 23) kept with their amounts
    assert rows["103"].extra_references == [["10000289", "150.00"], ["10000388", "-100.00"]]
    # a deduction (21) is a negative payment against its reference
    assert (rows["104"].kind, rows["104"].amount, rows["104"].invoice) == (
        "deduction", Decimal("-13.00"), first,
    )  # fmt: skip
    # a valid-looking reference that is no document of ours: unmatched, never by amount
    assert rows["105"].status == "unmatched" and rows["105"].invoice is None
    assert rows["105"].paid_on == dt.date(2026, 12, 2)
    stored = PaymentFile.objects.get()
    assert stored.deposits[0]["amount"] == "2000.00" and stored.deposits[1]["count"] == 1
    audit = AuditRecord.objects.get(action="payments.imported")
    assert audit.details["sha256"] == stored.sha256 and audit.details["payments"] == 5


def test_the_same_file_again_and_a_repeated_payment_change_nothing(
    invoices: list[Invoice], cli: Cli
) -> None:
    imported(cli, FIXTURES / "bgmax_every_record.txt")
    before = (Payment.objects.count(), AuditRecord.objects.count(), PaymentFile.objects.count())
    code, again = imported(cli, FIXTURES / "bgmax_every_record.txt")
    assert code == 0 and again["already_imported"] and again["payments"] == 0
    assert again["duplicates"] == 5
    assert (
        Payment.objects.count(), AuditRecord.objects.count(), PaymentFile.objects.count()
    ) == before  # fmt: skip
    # A later file repeats serial 103 and brings one new payment.
    code, later = imported(cli, FIXTURES / "bgmax_repeats_103.txt")
    assert (code, later["payments"], later["duplicates"], later["amount"]) == (0, 1, 1, "250.00")
    assert Payment.objects.filter(external_id="000000000103").count() == 1


def test_the_database_refuses_a_payment_booked_twice(invoices: list[Invoice], cli: Cli) -> None:
    imported(cli, FIXTURES / "bgmax_every_record.txt")
    payment = Payment.objects.first()
    assert payment is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            file=payment.file, source="bgmax", external_id=payment.external_id,
            paid_on=payment.paid_on, amount=payment.amount, status="unmatched",
        )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            file=payment.file, source="bgmax", external_id="x", paid_on=payment.paid_on,
            amount=1, status="matched",
        )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("refused_deposit_sum.txt", "rad 4 (post 15 insättningspost): insatt belopp 99,00 kr"),
        ("refused_deposit_count.txt", "rad 4 (post 15 insättningspost): insättningen säger 2"),
        ("refused_end_counts.txt", "rad 5 (post 70 slutpost): slutposten säger 2"),
        ("refused_other_bankgiro.txt", "betalningarna gäller bankgiro 5678-1230"),
        ("refused_unknown_record.txt", "rad 4 (post 30): posttypen '30' finns inte"),
        ("refused_no_end.txt", "slutposten (70) saknas"),
        ("refused_test_file.txt", "testfil"),
        ("refused_bad_amount.txt", "rad 3 (post 20 betalningspost): beloppet"),
        ("refused_detail_without_payment.txt", "rad 3 (post 26 namnpost)"),
        ("refused_serial_twice.txt", "löpnumret 000000000007 finns redan på rad 3"),
        ("refused_currency.txt", "valutan är 'EUR'"),
        ("camt054_refused_sum.xml", "säger 1300,00 kr men posterna är 1313,00 kr"),
        ("camt054_refused_schema.xml", "följer inte ISO 20022-schemat"),
        ("camt054_refused_other_bankgiro.xml", "aviseringen gäller bankgiro 5678-1230"),
    ],
)
def test_a_refused_file_stores_nothing_and_says_why_in_swedish(
    invoices: list[Invoice], cli: Cli, name: str, expected: str
) -> None:
    audit = AuditRecord.objects.count()
    code, result = imported(cli, FIXTURES / name)
    assert code == 1
    assert expected in result["error"]
    assert "Ingenting lästes in" in result["error"]
    assert not Payment.objects.exists() and not PaymentFile.objects.exists()
    assert AuditRecord.objects.count() == audit


def test_a_file_that_is_neither_format_is_refused(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bank.csv"
    path.write_text("datum;belopp\n2026-12-01;100\n")
    code, result = imported(cli, path)
    assert code == 1 and "varken en BgMax-fil" in result["error"]


def test_camt054_credit_entries_are_validated_read_and_matched(
    invoices: list[Invoice], cli: Cli
) -> None:
    code, result = imported(cli, FIXTURES / "camt054_credits.xml")
    assert code == 0
    assert (result["format"], result["payments"], result["matched"], result["unmatched"]) == (
        "camt.054", 3, 2, 1,
    )  # fmt: skip
    assert result["amount"] == "1563.00"  # the debit (a fee) is no payment
    by_key = {p.external_id: p for p in Payment.objects.all()}
    assert by_key["SE-REF-1"].invoice == invoices[0] and by_key["SE-REF-1"].matched_by == "ocr"
    assert (
        by_key["SE-REF-2"].invoice == invoices[1] and by_key["SE-REF-2"].payer == "Göteborgs Stad"
    )
    assert by_key["SE-REF-3"].status == "unmatched"
    # Another notification repeating SE-REF-1 books it once.
    again = FIXTURES.parent.parent / "camt_again.xml"
    try:
        again.write_bytes(camt([camt_entry("10000180", "1313.00", "SE-REF-1")]))
        _, later = imported(cli, again)
    finally:
        again.unlink()
    assert (later["payments"], later["duplicates"]) == (0, 1)


def test_an_invalid_check_digit_falls_back_to_the_document_number_or_stays_unmatched(
    invoices: list[Invoice], cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "bg.txt"
    path.write_bytes(
        simple_bgmax(
            [("10000181", "10.00", 1), ("100002", "20.00", 2), ("100001 100002", "5.00", 3)]
        )
    )
    _, result = imported(cli, path)
    assert (result["matched"], result["unmatched"]) == (1, 2)
    statuses = dict(Payment.objects.values_list("external_id", "status"))
    assert statuses == {
        "000000000001": "unmatched", "000000000002": "matched", "000000000003": "unmatched",
    }  # fmt: skip


def test_assign_and_refund_are_audited_and_refuse_what_is_settled(
    invoices: list[Invoice], cli: Cli
) -> None:
    imported(cli, FIXTURES / "camt054_credits.xml")
    unmatched = Payment.objects.get(external_id="SE-REF-3")
    matched = Payment.objects.get(external_id="SE-REF-1")
    code, out, err = cli("payments", "assign", str(matched.pk), "100002", "--reason", "fel")
    assert code == 1 and "redan kopplad till faktura 100001" in err
    code, out, err = cli("payments", "assign", str(unmatched.pk), "999999", "--reason", "x")
    assert code == 1 and "faktura 999999 finns inte" in err
    code, out, _ = cli(
        "payments", "assign", str(unmatched.pk), "100002", "--reason", "Kunden ringde", "--json"
    )
    assert code == 0
    assigned = json.loads(out)
    assert (assigned["status"], assigned["number"], assigned["amount"]) == (
        "assigned",
        "100002",
        "50.00",
    )
    record = AuditRecord.objects.get(action="payment.assigned")
    assert (
        record.object == f"betalning {unmatched.pk}" and record.details["reason"] == "Kunden ringde"
    )
    code, _, err = cli("payments", "refund", str(unmatched.pk), "--reason", "x")
    assert code == 1 and "redan kopplad" in err
    # A payment for nobody: marked for refund, then listed with that status.
    path = FIXTURES.parent.parent / "camt_refund.xml"
    try:
        path.write_bytes(camt([camt_entry("okänd", "75.00", "SE-REF-9", structured=False)]))
        imported(cli, path)
    finally:
        path.unlink()
    stray = Payment.objects.get(external_id="SE-REF-9")
    code, _, _ = cli("payments", "refund", str(stray.pk), "--reason", "Inte vår betalning")
    assert code == 0
    code, out, _ = cli("payments", "list", "--status", "refund", "--json")
    assert [row["id"] for row in json.loads(out)] == [stray.pk]
    assert AuditRecord.objects.filter(action="payment.refund").count() == 1
    code, _, err = cli("payments", "assign", str(stray.pk), "100001", "--reason", "")
    assert code == 1 and "motivering" in err


def test_payments_list_json_has_the_interface_shape(invoices: list[Invoice], cli: Cli) -> None:
    imported(cli, FIXTURES / "bgmax_every_record.txt")
    code, out, _ = cli("payments", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 5
    assert {"id", "paid_on", "amount", "reference", "payer", "status", "number", "file"} <= set(
        rows[0]
    )
    deduction = next(row for row in rows if row["amount"].startswith("-"))
    assert deduction == {**deduction, "amount": "-13.00", "number": "100001", "status": "matched"}
    code, out, _ = cli("payments", "list")
    assert code == 0 and "Betalningar" in out


def test_receivables_statuses_ageing_and_credit_balance(invoices: list[Invoice], cli: Cli) -> None:
    first = invoices[0]
    due = first.due_date
    assert due is not None
    late = (due + dt.timedelta(days=100)).isoformat()
    # Before any payment: both open, 100 days overdue.
    _, out, _ = cli("receivables", "--at", late, "--json")
    before = json.loads(out)
    assert {item["status"] for item in before["items"]} == {"open"}
    assert before["total_open"] == "1751.00"
    assert [item["days_overdue"] for item in before["items"]] == [100, 100]
    assert before["ageing"] == {
        "not_due": "0.00", "1-30": "0.00", "31-60": "0.00", "61-90": "0.00", "90+": "1751.00",
    }  # fmt: skip
    customers = {row["orgnr"]: row for row in before["customers"]}
    assert customers["2120001454"]["open"] == "1313.00"
    assert customers["2120001454"]["overdue"] == "1313.00"
    on_due = json.loads(cli("receivables", "--at", due.isoformat(), "--json")[1])
    assert on_due["ageing"]["not_due"] == "1751.00"
    overdue_on_due = cli("receivables", "--overdue", "--at", due.isoformat(), "--json")[1]
    assert json.loads(overdue_on_due)["items"] == []
    thirty_one = (due + dt.timedelta(days=31)).isoformat()
    assert (
        json.loads(cli("receivables", "--at", thirty_one, "--json")[1])["ageing"]["31-60"]
        == "1751.00"
    )
    code, out, _ = cli("receivables", "--customer", "212000-1454", "--at", late)
    assert code == 0 and "Kundreskontra" in out and "100001" in out and "100002" not in out
    # 100001: 1313 payable; 1313 + 200 paid − 13 deducted = 1500 → overpaid by 187
    imported(cli, FIXTURES / "bgmax_every_record.txt")
    code, out, _ = cli("receivables", "--all", "--at", late, "--json")
    report = json.loads(out)
    items = {item["number"]: item for item in report["items"]}
    assert items["100001"] == {
        **items["100001"], "paid": "1500.00", "open": "-187.00", "status": "overpaid",
        "days_overdue": 0,
    }  # fmt: skip
    # 100002: 438 payable, 500 paid by number
    assert items["100002"]["status"] == "overpaid" and items["100002"]["open"] == "-62.00"
    assert report["credit_balance"] == "249.00"
    assert json.loads(cli("receivables", "--at", late, "--json")[1])["items"] == [
        *report["items"]
    ]  # overpaid items are not settled: listed by default too


def test_a_credit_note_settles_its_invoice_and_leaves_a_credit_balance_when_paid(
    invoices: list[Invoice], cli: Cli
) -> None:
    first, second = invoices
    services.credit_invoice(second.number or 0, reason="Fel kund")
    report = selectors.receivables(every_item=True)
    items = {item["number"]: item for item in report.items}
    assert items["100002"]["status"] == "credited" and items["100002"]["open"] == "0.00"
    assert items["100003"]["type"] == "credit_note"
    # paid in full, then credited in full: a credit balance of 1 313 kr
    imported(cli, FIXTURES / "camt054_credits.xml")  # 1 313 kr to 100001 by OCR
    services.credit_invoice(first.number or 0, reason="Kreditering")
    after = {i["number"]: i for i in selectors.receivables(every_item=True).items}
    assert after["100001"]["status"] == "overpaid" and after["100001"]["open"] == "-1313.00"


def test_invoice_list_json_gains_paid_open_and_payment_status(
    invoices: list[Invoice], cli: Cli
) -> None:
    imported(cli, FIXTURES / "camt054_credits.xml")
    _, out, _ = cli("invoice", "list", "--json")
    rows = {row["number"]: row for row in json.loads(out)}
    assert (rows["100001"]["paid"], rows["100001"]["open"], rows["100001"]["payment_status"]) == (
        "1313.00", "0.00", "paid",
    )  # fmt: skip
    assert rows["100002"]["payment_status"] == "partly_paid" and rows["100002"]["open"] == "238.00"


def test_the_api_answers_payments_and_receivables_to_staff_only(
    invoices: list[Invoice], cli: Cli
) -> None:
    imported(cli, FIXTURES / "camt054_credits.xml")
    staff = Client(
        HTTP_AUTHORIZATION=f"Bearer {webtools.token(webtools.user('ekonomi').get_username())}"
    )
    kund_user = webtools.user("kund", "2120001454")
    kund = Client(HTTP_AUTHORIZATION=f"Bearer {webtools.token(kund_user.get_username())}")
    answer = staff.get("/api/v1/payments", {"status": "unmatched"})
    assert answer.status_code == 200 and answer.json()["count"] == 1
    assert answer.json()["items"][0]["amount"] == "50.00"
    report = staff.get("/api/v1/receivables", {"all": "true"})
    assert report.status_code == 200
    assert {item["number"] for item in report.json()["items"]} == {"100001", "100002"}
    assert kund.get("/api/v1/payments").status_code == 403
    assert kund.get("/api/v1/receivables").status_code == 403
    own = kund.get("/api/v1/invoices").json()["items"]
    assert [(i["number"], i["paid"], i["open"], i["payment_status"]) for i in own] == [
        ("100001", "1313.00", "0.00", "paid")
    ]
    assert kund.get("/api/v1/invoices/100002").status_code == 404


def test_a_payment_stored_meanwhile_by_another_import_is_not_booked_twice(
    invoices: list[Invoice], cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code's own check of stored payments misses one (another import committed it in
    between): the database's constraint refuses the insert, and the import, read again,
    skips it."""
    from kortfaktura.payments import services as payment_services

    imported(cli, FIXTURES / "bgmax_every_record.txt")
    real = payment_services._existing_keys
    calls: list[int] = []

    def blind_first(source: str, keys: list[str]) -> set[str]:
        calls.append(1)
        return set() if len(calls) == 1 else real(source, keys)

    monkeypatch.setattr(payment_services, "_existing_keys", blind_first)
    code, later = imported(cli, FIXTURES / "bgmax_repeats_103.txt")
    assert code == 0 and (later["payments"], later["duplicates"]) == (1, 1)
    assert len(calls) == 2
    assert Payment.objects.filter(external_id="000000000103").count() == 1
    assert PaymentFile.objects.count() == 2


def test_export_sie_books_each_payment_once_bank_against_receivables(
    invoices: list[Invoice], cli: Cli, tmp_path: Path
) -> None:
    import sie_reader

    imported(cli, FIXTURES / "bgmax_every_record.txt")  # 5 payments, 2 075 kr, Dec 1 and 2
    day = invoices[0].issue_date
    assert day is not None
    period = ("--from", "2026-12-01", "--to", day.isoformat())
    code, out, err = cli("export", "sie", *period, "--out", str(tmp_path / "a.se"), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["vouchers"] == 2 + 5 and result["debit"] == result["credit"]
    assert (result["first_number"], result["last_number"]) == (100001, 100002)
    booked = sie_reader.parse(tmp_path / "a.se")
    payments = [v for v in booked.vouchers if v.series == "KFB"]
    assert len(payments) == 5 and all(v.balance == 0 for v in payments)
    bank = sum((v.amounts().get("1930", Decimal(0)) for v in payments), Decimal(0))
    assert bank == Decimal("2075.00")
    deduction = next(v for v in payments if v.amounts()["1930"] < 0)
    assert deduction.amounts() == {"1930": Decimal("-13.00"), "1510": Decimal("13.00")}
    receivable = sum((v.amounts().get("1510", Decimal(0)) for v in booked.vouchers), Decimal(0))
    assert receivable == Decimal("1751.00") - Decimal("2075.00")  # invoices − payments
    assert not Payment.objects.filter(booked_in__isnull=True).exists()
    # The same period again would book the payments twice: refused, no file, nothing saved.
    audit = AuditRecord.objects.count()
    code, out, err = cli("export", "sie", *period, "--out", str(tmp_path / "b.se"), "--json")
    assert code == 1 and "redan bokförts" in json.loads(out)["error"]
    assert not (tmp_path / "b.se").exists() and AuditRecord.objects.count() == audit
    # A later file's payment is booked by the next period's export, and the review ties.
    code, review_out, _ = cli("review", "--json")
    assert code == 0, review_out


def test_the_payment_inbox_reads_each_file_once_and_quarantines_a_refused_one(
    invoices: list[Invoice], settings: Any, tmp_path: Path
) -> None:
    from kortfaktura.cycle import steps
    from kortfaktura.cycle.models import Notification

    inbox = tmp_path / "betalningar"
    inbox.mkdir()
    settings.PAYMENT_INBOX = f"file://{inbox}"
    first, second = invoices
    (inbox / "bgmax-1.txt").write_bytes(
        simple_bgmax([(first.ocr, "1313.00", 1), ("99999999999", "50.00", 2)])
    )
    entry = camt_entry(second.ocr, "438.00", "CAMT-1")
    (inbox / "camt-1.xml").write_bytes(camt([entry]))
    other = simple_bgmax([(first.ocr, "1.00", 3)], day="2026-12-02")
    (inbox / "fel-bankgiro.txt").write_bytes(other.replace(b"1234566", b"7654321"))
    result = steps.run_step("payments", dt.datetime.now(dt.UTC))
    assert [(e["file"], e["matched"], e["unmatched"]) for e in result["imported"]] == [
        ("bgmax-1.txt", 1, 1), ("camt-1.xml", 1, 0)
    ]  # fmt: skip
    [quarantined] = result["quarantined"]
    assert quarantined["file"] == "fel-bankgiro.txt" and "bankgiro" in quarantined["reason"]
    reason = (inbox / "quarantine" / "fel-bankgiro.txt.orsak.txt").read_text(encoding="utf-8")
    assert "bankgiro" in reason and "Traceback" not in reason
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["bgmax-1.txt", "camt-1.xml"]
    assert Payment.objects.count() == 3
    assert set(PaymentFile.objects.values_list("imported_by", flat=True)) == {"system"}
    # Ekonomi is told about the unmatched payment and the refused file, once each.
    keys = sorted(Notification.objects.values_list("key", flat=True))
    assert [key.split(":")[0] for key in keys] == ["payment-quarantine", "payments-unmatched"]
    assert all(n.role == "ekonomi" for n in Notification.objects.all())

    # The same file again, under another name: filed, nothing booked twice, nobody told again.
    (inbox / "bgmax-kopia.txt").write_bytes((inbox / "processed" / "bgmax-1.txt").read_bytes())
    again = steps.payment_inbox()
    assert again["duplicates"] == ["bgmax-kopia.txt"] and not again["imported"]
    assert Payment.objects.count() == 3 and Notification.objects.count() == 2
    assert steps.payment_inbox() == {
        "imported": [], "duplicates": [], "quarantined": [], "errors": []
    }  # fmt: skip
    settings.PAYMENT_INBOX = ""
    assert steps.payment_inbox()["skipped"] == "KORTFAKTURA_PAYMENT_INBOX är inte satt"


def test_the_api_reads_a_payment_file_for_ekonomi_and_refuses_a_bad_one(
    invoices: list[Invoice], monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path / "data"  # where uploads are saved for a worker

    def client(role: str) -> Client:
        user = webtools.user(role)
        return Client(HTTP_AUTHORIZATION=f"Bearer {webtools.token(user.get_username())}")

    ekonomi = client("ekonomi")
    content = (FIXTURES / "camt054_credits.xml").read_bytes()

    def post(who: Client, data: bytes, name: str = "camt.xml") -> Any:
        upload = SimpleUploadedFile(name, data, content_type="application/octet-stream")
        return who.post("/api/v1/payments/import", {"file": upload})

    answer = post(ekonomi, content)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["format"] == "camt.054" and body["file"] == "camt.xml" and body["payments"] >= 1
    assert not body["already_imported"]
    booked = Payment.objects.count()
    assert PaymentFile.objects.get().imported_by == webtools.user("ekonomi").get_username()
    again = post(ekonomi, content, "kopia.xml")
    assert again.status_code == 200 and again.json()["already_imported"] is True
    assert Payment.objects.count() == booked
    # Not Fakturering's: payments are Ekonomi's (and the administrator's).
    assert post(client("fakturering"), content).status_code == 403
    refused = post(ekonomi, b"datum;belopp\n2026-12-01;100\n", "bank.csv")
    assert refused.status_code == 422
    assert "varken en BgMax-fil" in refused.json()["error"]
    assert Payment.objects.count() == booked

    # A large file is read by a worker (here the tests' immediate engine): 202 with the job,
    # its result the same JSON.
    monkeypatch.setattr("kortfaktura.api.routers.payments.INLINE_BYTES", 100)
    settings.TASKS = settings.IMMEDIATE_TASKS
    large = simple_bgmax([(invoices[1].ocr, "438.00", 7)])
    queued_answer = post(ekonomi, large, "stor.txt")
    assert queued_answer.status_code == 202, queued_answer.content
    job = ekonomi.get(f"/api/v1/jobs/{queued_answer.json()['id']}").json()
    assert job["status"] == "done" and job["result"]["payments"] == 1


def test_a_payment_that_arrives_after_its_period_was_exported_is_booked_by_the_next_export(
    invoices: list[Invoice], cli: Cli, tmp_path: Path
) -> None:
    import sie_reader

    first, second = invoices
    day = first.issue_date
    assert day is not None
    november = ("--from", "2026-11-01", "--to", "2026-11-30")
    december = ("--from", "2026-12-01", "--to", day.isoformat())
    code, out, err = cli("export", "sie", *december, "--out", str(tmp_path / "dec.se"), "--json")
    assert code == 0, err
    # The bank's file for 2 December comes after December's export was made.
    late = tmp_path / "sen.txt"
    late.write_bytes(simple_bgmax([(second.ocr, "438.00", 41)], day="2026-12-02"))
    assert imported(cli, late)[0] == 0
    # And one for an earlier month that nobody has exported yet: left to that month's export.
    early = tmp_path / "tidig.txt"
    early.write_bytes(simple_bgmax([(first.ocr, "13.00", 42)], day="2026-11-20"))
    assert imported(cli, early)[0] == 0
    following = ("--from", (day + dt.timedelta(days=1)).isoformat(), "--to", "2026-12-31")
    code, out, err = cli("export", "sie", *following, "--out", str(tmp_path / "nxt.se"), "--json")
    assert code == 0, err
    booked = sie_reader.parse(tmp_path / "nxt.se")
    [voucher] = [v for v in booked.vouchers if v.series == "KFB"]
    assert voucher.amounts() == {"1930": Decimal("438.00"), "1510": Decimal("-438.00")}
    assert voucher.date == day + dt.timedelta(days=1)  # in the period exported, not the closed one
    assert "betald 2026-12-02" in voucher.text
    # November's own export books November's payment; nothing is booked twice.
    code, out, err = cli("export", "sie", *november, "--out", str(tmp_path / "nov.se"), "--json")
    assert code == 0, err
    assert [v.amounts()["1930"] for v in sie_reader.parse(tmp_path / "nov.se").vouchers
            if v.series == "KFB"] == [Decimal("13.00")]  # fmt: skip
    assert not Payment.objects.filter(booked_in__isnull=True).exists()
    code, out, _ = cli("export", "sie", *december, "--out", str(tmp_path / "igen.se"), "--json")
    assert code == 1 and "redan bokförts" in json.loads(out)["error"]
    code, review_out, _ = cli("review", "--json")
    assert code == 0, review_out


def test_the_review_lists_payments_for_a_person_and_finds_a_changed_payment(
    invoices: list[Invoice], cli: Cli, tmp_path: Path
) -> None:
    from django.db import connection

    first, _ = invoices
    code, result = imported(cli, FIXTURES / "bgmax_every_record.txt")  # one unmatched
    assert code == 0 and result["unmatched"] == 1
    code, out, _ = cli("review", "--json")
    review = json.loads(out)
    assert code == 0 and review["balanced"] is True
    payments = review["payments"]
    assert (payments["files"], payments["payments"], payments["amount"]) == (1, 5, "2075.00")
    assert payments["unmatched"] == 1 and payments["refund"] == 0
    assert "1 betalning utan faktura" in review["summary"]
    report = tmp_path / "genomlysning.html"
    assert cli("review", "--html", str(report))[0] == 0
    html = report.read_text(encoding="utf-8")
    assert 'id="betalningar"' in html and "Utan faktura – koppla eller betala tillbaka" in html
    # Someone changes a stored payment in the database: the file no longer ties.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Payment._meta.db_table} SET amount = amount + 100 WHERE invoice_id = %s",
            [first.pk],
        )
    code, out, _ = cli("review", "--json")
    review = json.loads(out)
    assert code == 1 and review["balanced"] is False
    problems = " ".join(d["problem"] for d in review["discrepancies"])
    assert "betalfil" in problems and "har ändrats eller tagits bort" in problems


@pytest.mark.parametrize(
    ("payments", "expected"),
    [
        ([("10000180", "9999999999999999.99", 1)], "det största en betalning kan vara"),
        ([("10000180", "999999999999.99", n) for n in range(1, 201)], "mer än en fil kan hålla"),
    ],
)
def test_an_amount_the_database_cannot_hold_refuses_the_file(
    invoices: list[Invoice], cli: Cli, tmp_path: Path, payments: Any, expected: str
) -> None:
    path = tmp_path / "stor.txt"
    path.write_bytes(simple_bgmax(payments))
    code, result = imported(cli, path)
    assert code == 1 and expected in result["error"] and "Ingenting lästes in" in result["error"]
    assert not Payment.objects.exists() and not PaymentFile.objects.exists()
    code, out, err = cli("payments", "list")
    assert code == 0 and "oväntat" not in out + err


@pytest.mark.parametrize("reason", ["\u200b\u200b", "\u3164", "\u00ad", " \u2060 ", "ok\u202eko"])
def test_a_reason_a_reader_cannot_see_is_refused(
    invoices: list[Invoice], cli: Cli, tmp_path: Path, reason: str
) -> None:
    path = tmp_path / "okand.txt"
    path.write_bytes(simple_bgmax([("okänd", "50.00", 1)]))
    imported(cli, path)
    payment = Payment.objects.get()
    code, _, err = cli("payments", "refund", str(payment.pk), "--reason", reason)
    assert code == 1 and "motiveringen" in err and "--reason" not in err.split("motiveringen")[1]
    payment.refresh_from_db()
    assert payment.status == "unmatched"


def test_a_personnummer_in_a_payers_text_is_not_stored(
    invoices: list[Invoice], tmp_path: Path
) -> None:
    """R16: the payer's own texts may carry a personnummer; it is matched on, never kept."""
    from payment_files import bgmax, tk01, tk05, tk15, tk20, tk25, tk70

    first = invoices[0]
    records = [tk01(), tk05(), tk20(first.ocr, "1313.00", 1),
               tk25("Betalt av 19121212-1212 för 100001"), tk15("2026-12-01", "1313.00", 1),
               tk70(1)]  # fmt: skip
    from kortfaktura.payments.services import import_content

    import_content(bgmax(records), "pnr.txt")
    payment = Payment.objects.get()
    assert payment.invoice == first
    assert "1212-1212" not in payment.information and "19121212-****" in payment.information


def test_a_camt_file_with_a_doctype_is_refused_in_swedish(
    invoices: list[Invoice], cli: Cli, tmp_path: Path
) -> None:
    entry = camt_entry(invoices[0].ocr, "1313.00", "X-1")
    document = camt([entry]).decode()
    declaration = '<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    hostile = document.replace("?>\n", "?>\n" + declaration, 1).replace("X-1", "&xxe;", 1)
    path = tmp_path / "xxe.xml"
    path.write_text(hostile, encoding="utf-8")
    code, result = imported(cli, path)
    assert code == 1 and "DOCTYPE" in result["error"] and "root:" not in result["error"]
    assert not Payment.objects.exists()
