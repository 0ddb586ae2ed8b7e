"""Issue 21, items 2 and 3: search, sortable columns, numbered pages and list exports.

The browser tests run against ``kortfaktura serve`` (tests/browser.py) with Debian's Chromium; a
module fixture adds what the seeded world lacks on that server's database: 240 orders of Ale
kommun (five pages of orders), a card holder with an HSA-id, and a Vårgårda order whose holder
name is a spreadsheet formula. Nothing here changes data the other tests read. The last tests
use Django's test client on the test database for what a browser cannot show (the export limit,
unknown sort keys, the amount parser).
"""

import csv
import io
import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from browser import (
    OTHER_ORGNR,
    OWN_ORGNR,
    Server,
    Visitor,
    browser,
    database_template,
    server,
)

__all__ = ["browser", "database_template", "server"]  # the fixtures this module uses

ALE_ORDERS = 240
HSA = "SE2321000131-E000000000042"
FORMULA = '=HYPERLINK("http://example.invalid","klicka")'

_SETUP = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kortfaktura.settings")
import django
django.setup()
import datetime as dt
import factories as make
from kortfaktura.billing.models import Invoice
from kortfaktura.catalog.models import Product
from kortfaktura.customers.models import Customer
etk = Product.objects.get(code="ETK")
ale = make.customer("Ale kommun", number="2120001405")
make.account(ale, "1440")
for n in range(%(count)d):
    order = make.order(ale, dt.date(2020, 6, 1) + dt.timedelta(days=n %% 28), etk,
                       order_id=f"ALE-{n:04d}")
    order.holder_name = f"Innehavare {(n * 37) %% 1000:03d}"
    order.save(update_fields=["holder_name"])
own = Customer.objects.get(orgnr="%(own)s")
hsa = make.order(own, "2020-06-03", etk, order_id="VG-HSA-1")
hsa.holder_name = "Hedda Hsasson"
hsa.holder_hsa_id = "%(hsa)s"
hsa.save(update_fields=["holder_name", "holder_hsa_id"])
formula = make.order(own, "2020-06-04", etk, order_id="VG-FORMEL")
formula.holder_name = %(formula)r
formula.save(update_fields=["holder_name"])
invoices = [
    {"number": i.number, "ocr": i.ocr, "payable": str(i.payable), "orgnr": i.customer.orgnr,
     "kind": i.kind}
    for i in Invoice.objects.filter(status="issued").select_related("customer").order_by("number")
]
print(json.dumps({"invoices": invoices}))
"""


@pytest.fixture(scope="module")
def extra(server: Server) -> dict[str, Any]:
    """Adds this module's orders to the server's database; returns the issued invoices."""
    code = _SETUP % {"count": ALE_ORDERS, "own": OWN_ORGNR, "hsa": HSA, "formula": FORMULA}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=server.env,
        cwd=server.directory,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def visitors(browser: Any, server: Server, extra: dict[str, Any]) -> Any:
    opened: list[Visitor] = []

    def open_as(role: str, **options: Any) -> Visitor:
        visitor = Visitor(browser, server, accept_downloads=True, **options).login(
            server.world["users"][role]
        )
        opened.append(visitor)
        return visitor

    yield open_as
    problems = [problem for visitor in opened for problem in visitor.take_problems()]
    for visitor in opened:
        visitor.close()
    assert not problems, "\n".join(problems)


def column(visitor: Visitor, index: int, table: str = "table") -> list[str]:
    """The texts of one column of the list's table (1-based)."""
    cells = visitor.page.locator(f"{table} tbody tr td:nth-child({index})")
    return [" ".join(text.split()) for text in cells.all_inner_texts()]


def pager(visitor: Visitor) -> str:
    return " ".join(visitor.page.locator("nav.pager span").first.inner_text().split())


def download(visitor: Visitor, name: str) -> tuple[str, bytes]:
    page = visitor.page
    with page.expect_download() as event:
        page.locator("p.export-links").get_by_role("link", name=name, exact=True).click()
    return event.value.suggested_filename, Path(event.value.path()).read_bytes()


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "CSV utan BOM öppnas fel i svenskt Excel"
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def xlsx_rows(content: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def swedish_amount(value: str) -> str:
    """``1234.50`` as people write it in Sweden: ``1 234,50``."""
    whole, cents = f"{Decimal(value):.2f}".split(".")
    groups = f"{int(whole):,}".replace(",", " ")
    return f"{groups},{cents}"


# --- Item 2: search -------------------------------------------------------------------------


def test_orders_are_found_by_holder_name_hsa_id_and_the_beginning_of_their_id(
    visitors: Any,
) -> None:
    visitor = visitors("ekonomi")
    page = visitor.page
    visitor.goto("/bestallningar/")
    page.get_by_label("Kortinnehavare (namn eller HSA-id)").fill("maja vårgårdasson")
    with page.expect_navigation():
        page.get_by_role("button", name="Sök").click()
    assert sorted(column(visitor, 1)) == ["VG-MAJ-1", "VG-MAJ-2"]
    assert pager(visitor) == "1–2 av 2"

    page.get_by_label("Kortinnehavare (namn eller HSA-id)").fill(HSA.lower())
    with page.expect_navigation():
        page.get_by_role("button", name="Sök").click()
    assert column(visitor, 1) == ["VG-HSA-1"]

    page.get_by_label("Kortinnehavare (namn eller HSA-id)").fill("")
    page.get_by_label("Beställnings-id (eller början av det)").fill("ALE-012")
    with page.expect_navigation():
        page.get_by_role("button", name="Sök").click()
    assert sorted(column(visitor, 1)) == [f"ALE-{n:04d}" for n in range(120, 130)]
    assert pager(visitor) == "1–10 av 10"


def test_a_kund_finds_only_its_own_orders_by_holder(visitors: Any, server: Server) -> None:
    visitor = visitors("kund")
    visitor.goto("/bestallningar/?innehavare=Innehavare")  # only Ale's holders are named so
    assert "Inga beställningar matchar sökningen." in visitor.text()
    visitor.goto("/bestallningar/?id=BS-")
    assert "Inga beställningar matchar sökningen." in visitor.text()
    visitor.goto("/bestallningar/?id=VG-MAJ")
    assert sorted(column(visitor, 1)) == ["VG-MAJ-1", "VG-MAJ-2"]


def test_invoices_are_found_by_ocr_amount_number_and_customer(
    visitors: Any, extra: dict[str, Any], server: Server
) -> None:
    own = next(i for i in extra["invoices"] if i["number"] == server.world["own_invoice"])
    other = next(i for i in extra["invoices"] if i["number"] == server.world["other_invoice"])
    assert own["ocr"] and own["payable"] != other["payable"]
    visitor = visitors("ekonomi")
    page = visitor.page
    search = "Sök: nummer, OCR-nummer, kund eller belopp"

    def found(text: str) -> list[str]:
        visitor.goto("/fakturor/")
        page.get_by_label(search).fill(text)
        with page.expect_navigation():
            page.get_by_role("button", name="Filtrera").click()
        return column(visitor, 1)

    assert found(own["ocr"]) == [str(own["number"])]
    assert str(own["number"]) in found(swedish_amount(own["payable"]))
    assert str(other["number"]) not in found(swedish_amount(own["payable"]))
    assert str(own["number"]) in found(f"{Decimal(own['payable']):.2f}")  # 1234.50
    assert found(str(other["number"])) == [str(other["number"])]
    by_name = found("borås")
    assert str(other["number"]) in by_name and str(own["number"]) not in by_name
    assert re.fullmatch(r"1–\d+ av \d+", pager(visitor))


def test_a_kund_searching_invoices_sees_only_its_own(
    visitors: Any, extra: dict[str, Any], server: Server
) -> None:
    other = next(i for i in extra["invoices"] if i["number"] == server.world["other_invoice"])
    visitor = visitors("kund")
    for text in (other["ocr"], str(other["number"]), "Borås", swedish_amount(other["payable"])):
        visitor.goto(f"/fakturor/?q={text}")
        assert str(other["number"]) not in column(visitor, 1), text


# --- Item 3: sorting ------------------------------------------------------------------------


def test_a_column_heading_sorts_the_list_and_a_second_click_reverses_it(
    visitors: Any,
) -> None:
    visitor = visitors("ekonomi")
    page = visitor.page
    visitor.goto("/bestallningar/?kund=Ale")
    heading = page.locator("th", has_text="Beställnings-id")
    date_heading = page.locator("th", has_text="Beställningsdag")
    assert date_heading.get_attribute("aria-sort") == "descending"  # the default order
    assert heading.get_attribute("aria-sort") is None
    with page.expect_navigation():
        heading.get_by_role("link").click()
    assert heading.get_attribute("aria-sort") == "ascending"
    assert date_heading.get_attribute("aria-sort") is None
    assert column(visitor, 1) == [f"ALE-{n:04d}" for n in range(50)]
    with page.expect_navigation():
        heading.get_by_role("link").click()
    assert heading.get_attribute("aria-sort") == "descending"
    assert column(visitor, 1) == [f"ALE-{n:04d}" for n in range(ALE_ORDERS - 1, 189, -1)]

    # Sorted by card holder; the next page continues the same order.
    holder = page.locator("th", has_text="Kortinnehavare")
    with page.expect_navigation():
        holder.get_by_role("link").click()
    first = column(visitor, 6)
    assert first == sorted(first) and holder.get_attribute("aria-sort") == "ascending"
    with page.expect_navigation():
        page.get_by_role("link", name="Nästa sida").click()
    second = column(visitor, 6)
    assert second == sorted(second) and first[-1] <= second[0]
    assert "sort=innehavare" in page.url

    # The filter keeps the sort; an unknown sort key is ignored (the default order).
    page.get_by_label("Beställnings-id (eller början av det)").fill("ALE-00")
    with page.expect_navigation():
        page.get_by_role("button", name="Sök").click()
    assert "sort=innehavare" in page.url
    ids = column(visitor, 6)
    assert ids == sorted(ids)
    visitor.goto("/bestallningar/?kund=Ale&sort=order_id;drop")
    assert date_heading.get_attribute("aria-sort") == "descending"


def test_invoices_sort_by_amount_and_customer(visitors: Any, extra: dict[str, Any]) -> None:
    visitor = visitors("ekonomi")
    page = visitor.page
    visitor.goto("/fakturor/")
    amount = page.locator("th", has_text="Att betala")
    with page.expect_navigation():
        amount.get_by_role("link").click()
    assert amount.get_attribute("aria-sort") == "ascending"
    shown = [Decimal(re.sub(r"[\s\u00a0\u202fkr]", "", t).replace(",", ".").replace("\u2212", "-"))
             for t in column(visitor, 8)]  # fmt: skip
    assert shown == sorted(shown) and len(shown) == len(extra["invoices"])
    with page.expect_navigation():
        amount.get_by_role("link").click()
    assert amount.get_attribute("aria-sort") == "descending"
    customer = page.locator("th", has_text="Kund")
    with page.expect_navigation():
        customer.get_by_role("link").click()
    names = column(visitor, 3)
    assert names == sorted(names) and names[0].startswith("Borås")


# --- Item 3: numbered pages -----------------------------------------------------------------


def test_numbered_pages_with_first_and_last(visitors: Any) -> None:
    visitor = visitors("ekonomi")
    page = visitor.page
    visitor.goto("/bestallningar/?kund=Ale&sort=id")
    assert pager(visitor) == f"1–50 av {ALE_ORDERS}"
    numbers = page.locator("nav.pager ul.page-numbers a")
    assert numbers.all_inner_texts() == ["1", "2", "3"]
    assert numbers.first.get_attribute("aria-current") == "page"
    assert page.locator("nav.pager").get_by_role("link", name="Första sidan").count() == 0
    with page.expect_navigation():
        page.get_by_role("link", name="Sista sidan").click()
    assert pager(visitor) == f"201–{ALE_ORDERS} av {ALE_ORDERS}"
    assert column(visitor, 1) == [f"ALE-{n:04d}" for n in range(200, ALE_ORDERS)]
    assert page.get_by_role("link", name="Sista sidan").count() == 0
    assert page.locator("nav.pager ul.page-numbers a").all_inner_texts() == ["3", "4", "5"]
    with page.expect_navigation():
        page.get_by_role("link", name="Sida 3", exact=True).click()
    assert pager(visitor) == f"101–150 av {ALE_ORDERS}"
    assert "sort=id" in page.url
    with page.expect_navigation():
        page.get_by_role("link", name="Första sidan").click()
    assert pager(visitor) == f"1–50 av {ALE_ORDERS}"
    assert column(visitor, 1)[0] == "ALE-0000"


@pytest.mark.parametrize("width", [1280, 320])
def test_sort_headings_page_numbers_and_export_links_are_accessible(
    visitors: Any, width: int
) -> None:
    visitor = visitors("ekonomi", width=width)
    visitor.goto("/bestallningar/?kund=Ale&sort=-innehavare&offset=100")
    visitor.check_accessibility(f"beställningar, sida 3, {width} px")
    visitor.goto("/fakturor/?sort=belopp")
    visitor.check_accessibility(f"fakturor sorterade på belopp, {width} px")
    kund = visitors("kund", width=width)
    kund.goto("/bestallningar/?sort=id")
    kund.check_accessibility(f"Kundens beställningar, {width} px")


def test_every_list_shows_its_total(visitors: Any) -> None:
    visitor = visitors("admin")
    for url in ("/bestallningar/", "/fakturor/", "/kunder/", "/granskningslogg/", "/leveranser/"):
        visitor.goto(url)
        assert re.fullmatch(r"1–\d+ av \d+", pager(visitor)), (url, pager(visitor))
    visitor.goto("/bestallningar/?tillstand=unbilled")
    assert re.fullmatch(r"1–\d+ av \d+", pager(visitor))


# --- Item 3: exports ------------------------------------------------------------------------


def test_the_orders_list_is_exported_with_its_filter_and_sort_every_row(visitors: Any) -> None:
    visitor = visitors("fakturering")
    visitor.goto("/bestallningar/?kund=Ale&sort=-id")
    name, content = download(visitor, "CSV")
    assert re.fullmatch(r"bestallningar-\d{4}-\d{2}-\d{2}\.csv", name)
    rows = csv_rows(content)
    assert rows[0][:4] == ["Beställnings-id", "Beställningsdag", "Kund", "Organisationsnummer"]
    assert [row[0] for row in rows[1:]] == [f"ALE-{n:04d}" for n in range(ALE_ORDERS - 1, -1, -1)]
    assert {(row[2], row[3]) for row in rows[1:]} == {("Ale kommun", "212000-1405")}
    assert all(row[9] for row in rows[1:])  # the state, computed for every row

    name, content = download(visitor, "Excel")
    assert re.fullmatch(r"bestallningar-\d{4}-\d{2}-\d{2}\.xlsx", name)
    sheet = xlsx_rows(content)
    assert [row[0] for row in sheet[1:]] == [row[0] for row in rows[1:]]
    assert sheet[1][1].isoformat()[:10] == rows[1][1]  # a real date


def test_a_kund_exports_only_its_own_orders_and_formulas_stay_text(visitors: Any) -> None:
    visitor = visitors("kund")
    visitor.goto("/bestallningar/")
    shown = pager(visitor)
    total = int(shown.rsplit(" ", 1)[1])
    _, content = download(visitor, "CSV")
    rows = csv_rows(content)
    assert "Kund" not in rows[0] and len(rows) - 1 == total
    ids = {row[0] for row in rows[1:]}
    assert "VG-MAJ-1" in ids and not any(i.startswith(("BS-", "ALE-")) for i in ids)
    holders = {row[0]: row[rows[0].index("Kortinnehavare")] for row in rows[1:]}
    assert holders["VG-FORMEL"] == "'" + FORMULA

    _, content = download(visitor, "Excel")
    workbook = load_workbook(io.BytesIO(content))
    sheet = workbook.active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    position = header.index("Kortinnehavare") + 1
    cells = {row[0].value: row[position - 1] for row in sheet.iter_rows(min_row=2)}
    assert set(cells) == ids
    assert cells["VG-FORMEL"].value == FORMULA and cells["VG-FORMEL"].data_type == "s"
    assert cells["VG-FORMEL"].quotePrefix


def test_a_kund_exports_only_its_own_invoices(visitors: Any, extra: dict[str, Any]) -> None:
    own = [str(i["number"]) for i in extra["invoices"] if i["orgnr"] == OWN_ORGNR]
    visitor = visitors("kund")
    visitor.goto("/fakturor/")
    _, content = download(visitor, "CSV")
    rows = csv_rows(content)
    assert sorted(row[0] for row in rows[1:]) == sorted(own)
    text = content.decode("utf-8-sig")
    assert OTHER_ORGNR not in text and f"{OTHER_ORGNR[:6]}-{OTHER_ORGNR[6:]}" not in text
    amount = rows[1][rows[0].index("Att betala")]
    assert re.fullmatch(r"-?\d+,\d\d", amount), amount  # decimal comma, no thousands space
    _, content = download(visitor, "Excel")
    sheet = xlsx_rows(content)
    assert sorted(str(row[0]) for row in sheet[1:]) == sorted(own)
    assert isinstance(sheet[1][sheet[0].index("Att betala")], int | float)


@pytest.mark.parametrize(
    ("url", "file_name", "first_heading", "table"),
    [
        ("/fakturor/?sort=belopp", "fakturor", "Nummer", "table"),
        ("/kunder/?sort=-orgnr", "kunder", "Namn", "table"),
        ("/granskningslogg/?sort=vem", "granskningslogg", "Tid", "table"),
        ("/leveranser/?sort=dokument", "leveranser", "Dokument", 'table[aria-labelledby="lista"]'),
    ],
)
def test_each_list_exports_what_it_shows(
    visitors: Any, url: str, file_name: str, first_heading: str, table: str
) -> None:
    visitor = visitors("admin")
    visitor.goto(url)
    total = int(pager(visitor).rsplit(" ", 1)[1])
    first_page = column(visitor, 1, table)
    name, content = download(visitor, "CSV")
    assert name.startswith(file_name + "-") and name.endswith(".csv")
    rows = csv_rows(content)
    assert rows[0][0] == first_heading and len(rows) - 1 == total
    name, content = download(visitor, "Excel")
    sheet = xlsx_rows(content)
    assert name.endswith(".xlsx") and len(sheet) - 1 == total
    if file_name == "kunder":
        assert [row[0] for row in rows[1 : len(first_page) + 1]] == [
            text.removesuffix(" demodata") for text in first_page
        ]
    if file_name == "fakturor":
        assert [row[0] for row in rows[1 : len(first_page) + 1]] == first_page


# --- Without a browser: what the pages cannot show -----------------------------------------


@pytest.mark.django_db
def test_an_export_over_the_limit_is_refused_with_a_message(monkeypatch: Any) -> None:
    from django.test import Client

    import webtools
    from kortfaktura.web.views import exports

    webtools.billed_world()
    client = Client()
    client.force_login(webtools.user("ekonomi"))
    monkeypatch.setitem(exports.LIMITS, "xlsx", 3)
    refused = client.get("/bestallningar/", {"format": "xlsx", "kund": "Vårgårda"}, follow=True)
    assert refused.redirect_chain[0][0] == "/bestallningar/?kund=V%C3%A5rg%C3%A5rda"
    assert "fler än 3 rader" in refused.content.decode()
    allowed = client.get("/bestallningar/", {"format": "csv", "kund": "Vårgårda"})
    assert allowed.status_code == 200
    assert "attachment" in allowed["Content-Disposition"]


@pytest.mark.django_db
def test_unknown_sort_keys_are_ignored_and_ties_break_by_primary_key() -> None:
    from django.test import RequestFactory

    from kortfaktura.orders.models import Order
    from kortfaktura.web.views.common import sortable

    keys = {"datum": ("order_date",)}
    for asked in ("password", "-order_date", "__class__", "datum;drop"):
        rows, sorting = sortable(RequestFactory().get("/", {"sort": asked}), Order.objects.all(),
                                 keys, "-datum")  # fmt: skip
        assert rows.query.order_by == ("-order_date", "-pk") and sorting.key == "datum"
    rows, sorting = sortable(RequestFactory().get("/", {"sort": "datum"}), Order.objects.all(),
                             keys, "-datum")  # fmt: skip
    assert rows.query.order_by == ("order_date", "pk") and sorting.link("datum") == "-datum"


@pytest.mark.django_db
def test_pages_past_the_middle_read_from_the_other_end_give_the_same_rows() -> None:
    from django.test import RequestFactory

    import factories as make
    from kortfaktura.orders.models import Order
    from kortfaktura.web.views.common import paginate, sortable

    etk = make.product("ETK", "eTjänstekort")
    owner = make.customer("Vårgårda kommun", number=OWN_ORGNR)
    for n in range(11):  # the same day for all: only the primary key orders them
        make.order(owner, "2020-03-02", etk, order_id=f"SAME-{n:02d}")
    keys = {"datum": ("order_date",)}
    for asked in ("datum", "-datum"):
        rows, _ = sortable(RequestFactory().get("/", {"sort": asked}), Order.objects.all(), keys)
        every = [order.order_id for order in rows]
        for offset in range(0, 12):
            request = RequestFactory().get("/", {"offset": offset})
            page = paginate(request, rows, size=3)
            assert [order.order_id for order in page.rows] == every[offset : offset + 3]
            assert page.has_next == (offset + 3 < 11)


@pytest.mark.django_db
def test_odd_searches_sorts_and_offsets_answer_pages_not_errors() -> None:
    from django.test import Client

    import webtools

    webtools.billed_world()
    client = Client()
    client.force_login(webtools.user("admin"))
    odd = ("9" * 40, "-", "1 234,567", "=1+2", "%_\\", "x" * 300, "’; DROP", "0,00")
    for text in odd:
        assert client.get("/fakturor/", {"q": text}).status_code == 200, text
        assert client.get("/bestallningar/", {"id": text, "innehavare": text}).status_code == 200
    for url in ("/bestallningar/", "/fakturor/", "/kunder/", "/granskningslogg/", "/leveranser/"):
        for params in ({"sort": "-" * 50}, {"sort": "pk"}, {"offset": "99999999"},
                       {"offset": "-5", "sort": "-"}, {"format": "pdf"}):  # fmt: skip
            assert client.get(url, params).status_code == 200, (url, params)


def test_amounts_are_read_as_people_type_them() -> None:
    from kortfaktura.web.views.invoices import amount_of

    assert amount_of("1 234,50") == Decimal("1234.50")
    assert amount_of("1234.50") == Decimal("1234.50")
    assert amount_of("1\u00a0234,5 kr") == Decimal("1234.5")
    assert amount_of("700") == Decimal("700")
    for text in ("Borås", "1.234,50", "12,345", ""):
        assert amount_of(text) is None, text
