"""What the attack on issue 21's pages found, each with the test that failed before its fix.

- Searching "VÅRGÅRDA" or "vg-" found nothing on SQLite (its LIKE folds only ASCII letters).
- A price typed "1e3" was saved as 1 000 kr; digits of other scripts were taken as numbers.
- Bokföring offered to write an SIE file of 0 vouchers without a word; it now says the file
  would be empty (an empty file stays possible: some ledgers want one per closed period).
- A file without line breaks stopped the import with Python's English "field larger than field
  limit", and a later try of the web's job named a file on the server that no longer existed;
  a long first row was quoted whole in the message.
"""

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

import webtools
from kortfaktura.accounting.models import SieExport
from kortfaktura.catalog.models import Price
from kortfaktura.imports.engine import ImportFailed
from kortfaktura.imports.services import import_file
from kortfaktura.imports.values import InvalidValue, parse_decimal
from kortfaktura.web.views.imports import import_work

pytestmark = pytest.mark.django_db


def _client(role: str, orgnr: str | None = None, username: str | None = None) -> Client:
    client = Client()
    client.force_login(webtools.user(role, orgnr, username))
    return client


def _rows(response: Any) -> str:
    assert response.status_code == 200
    return str(response.content.decode())


def test_search_finds_swedish_letters_in_any_case_and_order_ids_in_small_letters() -> None:
    world = webtools.billed_world()
    staff = _client("ekonomi")
    own, other = str(world.own_invoice.number), str(world.other_invoice.number)
    for text in ("Vårgårda", "vårgårda", "VÅRGÅRDA", "vÅrgÅrda kommun"):
        page = _rows(staff.get("/fakturor/", {"q": text}))
        assert f"/fakturor/{own}/" in page and f"/fakturor/{other}/" not in page, text
    customers = _rows(staff.get("/kunder/", {"q": "BORÅS"}))
    assert "Borås stad" in customers and "Vårgårda kommun" not in customers
    orders = _rows(staff.get("/bestallningar/", {"id": "vg-"}))
    assert all(f"VG-{day}" in orders for day in (2, 3, 4)) and "BS-2" not in orders
    by_customer = _rows(staff.get("/bestallningar/", {"kund": "BORÅS"}))
    assert "BS-2" in by_customer and "VG-2" not in by_customer
    # A Kund's search stays inside its own organisation, whatever the case.
    kund = _client("kund", world.own.orgnr, username="kund-fix")
    page = _rows(kund.get("/fakturor/", {"q": "BORÅS"}))
    assert f"/fakturor/{other}/" not in page


@pytest.mark.parametrize("text", ["1e3", "1E3", "١٢٣", "１２３", "3_50", "Infinity", "0x10"])
def test_a_price_is_written_with_the_digits_0_to_9_only(text: str) -> None:
    with pytest.raises(InvalidValue, match="är inget tal"):
        parse_decimal(text, "à-pris", places=2)


@pytest.mark.parametrize(
    ("text", "value"),
    [("350", "350"), ("1 234,50", "1234.50"), ("1234.5", "1234.5"), ("350,", "350"), (",5", "0.5")],
)
def test_the_usual_ways_of_writing_a_price_still_work(text: str, value: str) -> None:
    assert parse_decimal(text, "à-pris", places=2) == Decimal(value)


def test_the_web_price_form_refuses_a_typed_exponent() -> None:
    webtools.billed_world()
    admin = _client("admin")
    answer = admin.post(
        "/priser/nytt/",
        {"product": "ETK", "unit_price": "1e3", "vat_rate": "25", "valid_from": "2030-01-01"},
    )
    assert "1e3" in answer.content.decode() and "är inget tal" in answer.content.decode()
    assert not Price.objects.filter(valid_from=dt.date(2030, 1, 1)).exists()


def test_a_preview_of_a_period_without_vouchers_says_the_file_would_be_empty() -> None:
    webtools.billed_world(with_draft=False)
    ekonomi = _client("ekonomi")
    preview = _rows(ekonomi.get("/bokforing/granska/", {"from": "2001-01-01", "to": "2001-01-31"}))
    assert "Tom period" in preview and "inga verifikationer att exportera" in preview
    assert not SieExport.objects.exists()
    # A period with vouchers has no such warning.
    today = timezone.localdate().isoformat()
    assert "Tom period" not in _rows(
        ekonomi.get("/bokforing/granska/", {"from": today, "to": today})
    )


def test_a_file_without_line_breaks_is_refused_in_swedish_and_briefly(tmp_path: Path) -> None:
    for size in (200_000, 17_000_000):  # over the header's limit; over the csv module's too
        path = tmp_path / f"utan-radbrytningar-{size}.csv"
        path.write_text("a" * size)
        with pytest.raises(ImportFailed) as refused:
            import_file("orders", path, created_by="test")
        message = str(refused.value)
        assert "ingen rubrikrad" in message and len(message) < 500, message[:600]
    # A data row taken for the header is named briefly too.
    path = tmp_path / "rad-som-rubrik.csv"
    path.write_text(";".join(f"värde{n}" for n in range(2000)) + "\n1;2\n")
    with pytest.raises(ImportFailed) as refused:
        import_file("orders", path, created_by="test")
    assert len(str(refused.value)) < 800 and "2000 kolumner" in str(refused.value)


def test_a_later_try_of_a_web_import_whose_file_went_says_so_without_a_server_path(
    tmp_path: Path,
) -> None:
    gone = tmp_path / "uploads" / "4f1c" / "bestallningar.csv"
    with pytest.raises(ImportFailed) as refused:
        import_work(lambda *_: None, kind="orders", target=str(gone), actor="test", user_id=None)
    message = str(refused.value)
    assert "bestallningar.csv" in message and "Ladda upp filen igen" in message
    assert str(tmp_path) not in message
