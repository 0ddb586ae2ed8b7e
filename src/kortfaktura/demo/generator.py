"""Demo input files: customers, prices, orders and earlier invoicing, as others would export them.

Everything here is DEMO DATA. The 49 municipalities are real (``fixtures/``), but their
organisation numbers are invented (valid check digit, marked as demo data) except the ones
DOMAIN.md §6 names as verified. Prices are the demo prices of DOMAIN.md §6. The files are
deterministic for a given cut-off month, so running the demo twice imports nothing new.
"""

import calendar
import csv
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from stdnum import ean, luhn

from kortfaktura.imports.values import STOCKHOLM

VERIFIED_ORGNR = {
    "1480": "2120001355",  # Göteborgs Stad
    "1442": "2120001454",  # Vårgårda kommun
}
VGR_ORGNR = "2321000131"
UNKNOWN_CUSTOMER_ORGNR = "5590002282"
ORDERS_PER_YEAR = 30_000
FIRST_MONTH = dt.date(2019, 1, 1)
EARLIER_SYSTEM_LAST_DAY = dt.date(2019, 10, 31)
EARLIER_SYSTEM_COVERAGE = 0.96
MOBILE_EID_FROM = dt.date(2025, 9, 1)
MOBILE_EID_PRICED_FROM = "2026-01-01"
MISSING_BUYER_REFERENCE = "1438"  # Dals-Eds kommun: shows an incomplete billing account

# Approximate populations in thousands, used only as weights for the number of orders.
POPULATION = {
    "1440": 32,
    "1489": 42,
    "1460": 9.5,
    "1443": 9.5,
    "1490": 115,
    "1438": 4.8,
    "1445": 5.6,
    "1499": 33,
    "1439": 6.5,
    "1444": 5.7,
    "1447": 5.3,
    "1480": 600,
    "1471": 13,
    "1466": 9.5,
    "1497": 9.3,
    "1401": 39,
    "1446": 6.9,
    "1482": 48,
    "1441": 43,
    "1494": 40,
    "1462": 14,
    "1484": 14.5,
    "1493": 24,
    "1463": 35,
    "1461": 9.2,
    "1430": 10.5,
    "1481": 70,
    "1421": 15,
    "1402": 40,
    "1495": 19,
    "1496": 57,
    "1427": 9.1,
    "1415": 27,
    "1486": 13,
    "1465": 11,
    "1435": 12.5,
    "1472": 11,
    "1498": 13,
    "1419": 16,
    "1452": 12,
    "1488": 59,
    "1473": 9.2,
    "1485": 57,
    "1491": 25,
    "1470": 16,
    "1442": 12,
    "1487": 40,
    "1492": 12.5,
    "1407": 13,
}
MONTH_WEIGHT = {
    1: 1.15,
    2: 1.05,
    3: 1.05,
    4: 1.0,
    5: 1.0,
    6: 1.1,
    7: 0.45,
    8: 1.25,
    9: 1.2,
    10: 1.05,
    11: 1.0,
    12: 0.7,
}
KEEP_GENITIVE_S = {"Alingsås", "Borås", "Bengtsfors"}

FIRST_NAMES = [
    "Anna",
    "Eva",
    "Maria",
    "Karin",
    "Sara",
    "Lena",
    "Emma",
    "Kerstin",
    "Ingrid",
    "Malin",
    "Åsa",
    "Märta",
    "Linnéa",
    "Hanna",
    "Elin",
    "Johanna",
    "Sofia",
    "Ida",
    "Annika",
    "Birgitta",
    "Lars",
    "Mikael",
    "Anders",
    "Johan",
    "Per",
    "Erik",
    "Karl",
    "Peter",
    "Jonas",
    "Björn",
    "Håkan",
    "Göran",
    "Örjan",
    "Mattias",
    "Fredrik",
    "Magnus",
    "Daniel",
    "Ali",
    "Mohammed",
    "Nils",
]
LAST_NAMES = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Jönsson",
    "Lindberg",
    "Lindström",
    "Åberg",
    "Öberg",
    "Ekström",
    "Holm",
    "Sandberg",
    "Forsberg",
    "Sjöberg",
    "Wallin",
    "Engström",
    "Lundqvist",
    "Hassan",
    "Yilmaz",
]
VGR_UNITS = {
    "VGR-SU": ["SU-AKUT", "SU-MED", "SU-ORT", "SU-PSYK"],
    "VGR-SKAS": ["SKAS-KIR", "SKAS-MED"],
    "VGR-RS": ["NU-MED", "NU-KIR", "SAS-MED", "NH-VC01", "NH-VC02", "RS-IT"],
}
MUNICIPAL_UNITS = ["SOC", "HSL", "OMS", "LSS"]
STATUS_OLD = [("collected", 0.86), ("produced", 0.04), ("revoked", 0.06), ("cancelled", 0.04)]


@dataclass
class DemoCustomer:
    orgnr: str
    name: str
    is_demo: bool
    accounts: list[dict[str, str]] = field(default_factory=list)
    weight: float = 1.0
    hsa_prefix: str = "E"
    unmapped_units: list[str] = field(default_factory=list)

    def unit_choices(self) -> list[str]:
        units = [code for account in self.accounts for code in account["unit_codes"].split(",")]
        return [unit for unit in units if unit] + self.unmapped_units


def with_luhn(digits: str) -> str:
    return digits + luhn.calc_check_digit(digits)


def demo_gln(number: int) -> str:
    digits = f"735999{number:06d}"
    return digits + ean.calc_check_digit(digits)


def municipality_city(name: str) -> str:
    short = name.rsplit(" ", 1)[0]
    if short.endswith("s") and short not in KEEP_GENITIVE_S:
        short = short[:-1]
    return short


def load_municipalities() -> list[tuple[str, str]]:
    text = (resources.files("kortfaktura.demo") / "fixtures" / "vg-municipalities.csv").read_text(
        encoding="utf-8"
    )
    rows = list(csv.reader(text.splitlines(), delimiter=";"))
    return [(row[0], row[1]) for row in rows[1:] if row]


def demo_customers() -> list[DemoCustomer]:
    customers = []
    for code, name in load_municipalities():
        orgnr = VERIFIED_ORGNR.get(code) or with_luhn(f"2120004{code[2:]}")
        customers.append(
            DemoCustomer(
                orgnr=orgnr,
                name=name,
                is_demo=code not in VERIFIED_ORGNR,
                weight=POPULATION.get(code, 10),
                unmapped_units=[f"{code}-{unit}" for unit in MUNICIPAL_UNITS],
                accounts=[
                    {
                        "account_code": code,
                        "account_name": name,
                        "unit_codes": "",
                        "buyer_reference": ""
                        if code == MISSING_BUYER_REFERENCE
                        else f"GITS-{code}",
                        "peppol_id": f"0007:{orgnr}",
                        "email": "",
                        "street": "Box 1",
                        "postal_code": f"4{int(code) % 90 + 10:02d} 80",
                        "city": municipality_city(name),
                        "delivery": "peppol",
                    }
                ],
            )
        )
    vgr_address = {"street": "Fakturaservice, FE 200", "postal_code": "405 44", "city": "Göteborg"}
    customers.append(
        DemoCustomer(
            orgnr=VGR_ORGNR,
            name="Västra Götalandsregionen",
            is_demo=False,
            weight=1_650,
            hsa_prefix="P",
            accounts=[
                {
                    "account_code": "VGR-RS",
                    "account_name": "Västra Götalandsregionen – Koncernkontoret",
                    "unit_codes": "",
                    "buyer_reference": "GITS-RS",
                    "peppol_id": "",
                    "delivery": "email",
                    "email": "ekonomi.koncernkontoret@vgregion.example",
                    "cost_centre": "RS-1100",
                    **vgr_address,
                },
                {
                    "account_code": "VGR-SU",
                    "account_name": "Sahlgrenska Universitetssjukhuset",
                    "unit_codes": ",".join(VGR_UNITS["VGR-SU"]),
                    "buyer_reference": "SU-GITS",
                    "peppol_id": "",
                    "delivery": "email",
                    "email": "ekonomi.su@vgregion.example",
                    "cost_centre": "SU-7100",
                    **vgr_address,
                },
                {
                    "account_code": "VGR-SKAS",
                    "account_name": "Skaraborgs Sjukhus",
                    "unit_codes": ",".join(VGR_UNITS["VGR-SKAS"]),
                    "buyer_reference": "SKAS-GITS",
                    "peppol_id": "",
                    "delivery": "email",
                    "email": "ekonomi.skas@vgregion.example",
                    "cost_centre": "SKAS-7200",
                    **vgr_address,
                },
            ],
            unmapped_units=VGR_UNITS["VGR-RS"],
        )
    )
    private = [
        (
            "5561234564",
            "Sjöbacka Vård AB",
            "P-SJOB",
            "peppol",
            "Kungsgatan 12",
            "411 19",
            "Göteborg",
        ),
        (
            "5567654325",
            "Älvstrandens Omsorg AB",
            "P-ALVS",
            "email",
            "Hamngatan 3",
            "451 30",
            "Uddevalla",
        ),
        (
            "5569876543",
            "Kinnekulle Hemtjänst AB",
            "P-KINN",
            "print",
            "Storgatan 8",
            "533 30",
            "Götene",
        ),
    ]
    for orgnr_base, name, code, delivery, street, postal_code, city in private:
        orgnr = with_luhn(orgnr_base[:9])
        customers.append(
            DemoCustomer(
                orgnr=orgnr,
                name=name,
                is_demo=True,
                weight=6,
                unmapped_units=[f"{code}-1"],
                accounts=[
                    {
                        "account_code": code,
                        "account_name": name,
                        "unit_codes": "",
                        "buyer_reference": "Inköp GITS" if delivery == "peppol" else "",
                        "peppol_id": f"0007:{orgnr}" if delivery == "peppol" else "",
                        "email": "faktura@alvstranden-omsorg.example"
                        if delivery == "email"
                        else "",
                        "street": street,
                        "postal_code": postal_code,
                        "city": city,
                        "delivery": delivery,
                    }
                ],
            )
        )
    return customers


def last_month_end(today: dt.date) -> dt.date:
    return today.replace(day=1) - dt.timedelta(days=1)


def months(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    current = first
    while current <= last:
        yield current
        current = (current.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


@dataclass
class DemoFiles:
    directory: Path
    customers: Path
    prices: Path
    orders: Path
    billed: Path
    cutoff: dt.date
    demo_orgnrs: list[str]
    # Orders that reach the card system's export after the demo has billed (for the README's
    # walk-through): the demo writes them but does not import them.
    late_orders: Path | None = None
    # Chosen from the orders as first exported, before the story's corrections.
    order_corrections: "OrderCorrections | None" = None


def write_customers(path: Path, customers: list[DemoCustomer]) -> None:
    columns = [
        "orgnr",
        "name",
        "account_code",
        "account_name",
        "unit_codes",
        "buyer_reference",
        "peppol_id",
        "email",
        "street",
        "postal_code",
        "city",
        "delivery",
        "cost_centre",
    ]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(columns)
        for customer in customers:
            for account in customer.accounts:
                row = {"orgnr": f"{customer.orgnr[:6]}-{customer.orgnr[6:]}", "name": customer.name}
                row.update(account)
                writer.writerow([row.get(column, "") for column in columns])


def write_prices(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(
            ["product_code", "product_name", "unit_price", "vat_rate", "valid_from", "valid_to"]
        )
        writer.writerow(["ETK", "eTjänstekort", "350,00", "25", "2019-01-01", ""])
        writer.writerow(["RESERV", "Reservkort", "200,00", "25", "2019-01-01", ""])
        writer.writerow(["PUK", "PUK-kod", "150,00", "25", "2019-01-01", ""])
        # A new product whose price was decided after the first orders came in (DOMAIN.md R3).
        writer.writerow(["MOBIL", "Mobilt SITHS eID", "250,00", "25", MOBILE_EID_PRICED_FROM, ""])


def _order_times(rng: random.Random, month: dt.date, count: int) -> list[dt.datetime]:
    """``count`` order times in ``month``, mostly on weekdays in office hours, in order."""
    days = calendar.monthrange(month.year, month.month)[1]
    dates = [month.replace(day=day) for day in range(1, days + 1)]
    weights = [1.0 if date.weekday() < 5 else 0.08 for date in dates]
    chosen = rng.choices(dates, weights=weights, k=count)
    times = []
    for date in chosen:
        hour = min(max(int(rng.gauss(11, 2.5)), 6), 21)
        minute = int(rng.random() * 60)
        times.append(dt.datetime(date.year, date.month, date.day, hour, minute, tzinfo=STOCKHOLM))
    times.sort()
    return times


def _status(rng: random.Random, ordered: dt.datetime, cutoff: dt.date) -> tuple[str, str]:
    age = (cutoff - ordered.date()).days
    if age < 7:
        status = rng.choice(["ordered", "ordered", "photographed"])
    elif age < 30:
        status = rng.choice(["photographed", "produced", "collected", "collected", "cancelled"])
    else:
        roll, status = rng.random(), "collected"
        for candidate, share in STATUS_OLD:
            if roll < share:
                status = candidate
                break
            roll -= share
        if status == "collected" and age > 5 * 365:
            status = "expired"
    if status == "ordered":
        return status, ""
    reached = ordered + dt.timedelta(days=min(age, rng.randint(1, 20)))
    return status, _local_text(reached)


def _local_text(moment: dt.datetime) -> str:
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
        f"{moment.hour:02d}:{moment.minute:02d}"
    )


def _utc_text(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}Z"
    )


def _format_time(rng: random.Random, moment: dt.datetime) -> str:
    roll = rng.random()
    if roll < 0.15:
        return _utc_text(moment)
    if roll < 0.20:
        return moment.date().isoformat()
    return _local_text(moment)


def generate(
    directory: Path,
    today: dt.date,
    *,
    orders_per_year: int = ORDERS_PER_YEAR,
    corrected: bool = False,
) -> DemoFiles:
    """Write the demo files for orders from 2019-01 up to the month before ``today``.

    ``corrected``: the customer register as it stands after the story's corrections (used when
    the demo runs again, so that it does not undo them).
    """
    directory.mkdir(parents=True, exist_ok=True)
    cutoff = last_month_end(today)
    rng = random.Random(f"kortfaktura-demo-{orders_per_year}")
    customers = demo_customers()
    files = DemoFiles(
        directory=directory,
        customers=directory / "kunder.csv",
        prices=directory / "priser.csv",
        orders=directory / "bestallningar.csv",
        billed=directory / "tidigare-fakturerat.csv",
        cutoff=cutoff,
        demo_orgnrs=[customer.orgnr for customer in customers if customer.is_demo],
    )
    files.late_orders = directory / "bestallningar-sena.csv"
    _write_late_orders(files.late_orders, customers, cutoff)
    write_customers(files.customers, corrected_customers() if corrected else customers)
    write_prices(files.prices)
    weights = [customer.weight for customer in customers]
    units = {customer.orgnr: customer.unit_choices() for customer in customers}
    total_weight = sum(MONTH_WEIGHT.values())
    sequence = 0
    billed_rows: list[tuple[str, str, str]] = []
    with files.orders.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(
            [
                "order_id",
                "ordered_at",
                "orgnr",
                "unit_code",
                "product_code",
                "holder_name",
                "holder_hsa_id",
                "status",
                "status_at",
            ]
        )
        for month in months(FIRST_MONTH, cutoff):
            growth = 1 + 0.015 * (month.year - FIRST_MONTH.year)
            noise = rng.uniform(0.92, 1.08)
            count = round(
                orders_per_year * growth * noise * MONTH_WEIGHT[month.month] / total_weight
            )
            moments = _order_times(rng, month, count)
            buyers = rng.choices(customers, weights=weights, k=count)
            products = iter(
                rng.choices(["ETK", "RESERV", "PUK"], weights=[78, 12, 10], k=count + 1)
            )
            # One order at 22:30 UTC on the month's last day: the same day in winter, the first
            # of the next month in summer (DOMAIN.md R1).
            last_day = month.replace(day=calendar.monthrange(month.year, month.month)[1])
            boundary = dt.datetime(
                last_day.year, last_day.month, last_day.day, 22, 30, tzinfo=dt.UTC
            )
            for moment, customer in zip([*moments, boundary], [*buyers, buyers[0]], strict=True):
                sequence += 1
                order_id = f"B{sequence:08d}"
                product = next(products)
                local = moment.astimezone(STOCKHOLM)
                if local.date() >= MOBILE_EID_FROM and rng.random() < 0.03:
                    product = "MOBIL"
                status, status_at = _status(rng, local, cutoff)
                if local.date() > cutoff:
                    continue
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                ordered_at = _utc_text(moment) if moment is boundary else _format_time(rng, local)
                writer.writerow(
                    [
                        order_id,
                        ordered_at,
                        customer.orgnr,
                        rng.choice(units[customer.orgnr]),
                        product,
                        name,
                        f"SE{customer.orgnr}-{customer.hsa_prefix}{sequence:09d}",
                        status,
                        status_at,
                    ]
                )
                if (
                    local.date() <= EARLIER_SYSTEM_LAST_DAY
                    and status != "cancelled"
                    and rng.random() < EARLIER_SYSTEM_COVERAGE
                ):
                    number = (
                        f"GF{local.year}{local.month:02d}-{customer.accounts[0]['account_code']}"
                    )
                    invoice_date = (month + dt.timedelta(days=40)).replace(day=15)
                    billed_rows.append((order_id, number, invoice_date.isoformat()))
        _write_unknown_customer_orders(writer, rng, cutoff, sequence)
        _write_bad_rows(writer)
    with files.billed.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["order_id", "invoice_number", "invoice_date"])
        writer.writerows(billed_rows)
    files.order_corrections = order_corrections(files.orders)
    if corrected and files.order_corrections is not None:
        _apply_accepted_correction(files.orders, files.order_corrections)
    return files


LATE_ORDERS = (  # (customer index, days before the cutoff, product)
    (0, 0, "ETK"), (0, 3, "ETK"), (0, 9, "RESERV"), (1, 1, "ETK"), (1, 12, "PUK"),
    (2, 2, "ETK"), (5, 20, "ETK"), (5, 40, "ETK"), (7, 5, "ETK"), (7, 70, "RESERV"),
)  # fmt: skip


def _write_late_orders(path: Path, customers: list[DemoCustomer], cutoff: dt.date) -> None:
    """A few orders of last month, and some of earlier months that arrived late (R8): billed by
    the next run, each under its own order month. Ids ``S…`` never clash with the main export."""
    municipalities = [customer for customer in customers if customer.orgnr.startswith("212")]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(
            ["order_id", "ordered_at", "orgnr", "unit_code", "product_code", "holder_name",
             "holder_hsa_id", "status", "status_at"]
        )  # fmt: skip
        for number, (index, days, product) in enumerate(LATE_ORDERS, start=1):
            day = cutoff - dt.timedelta(days=days)
            writer.writerow(
                [f"S{number:08d}", f"{day.isoformat()} 10:{number:02d}",
                 municipalities[index].orgnr, "", product,
                 f"{FIRST_NAMES[number % len(FIRST_NAMES)]} {LAST_NAMES[index % len(LAST_NAMES)]}",
                 "", "ordered", ""]
            )  # fmt: skip


def _write_unknown_customer_orders(
    writer: Any, rng: random.Random, cutoff: dt.date, sequence: int
) -> None:
    """A care provider that orders cards before GITS has its customer data (DOMAIN.md R14)."""
    first = (cutoff.replace(day=1) - dt.timedelta(days=45)).replace(day=1)
    for number in range(12):
        sequence += 1
        moment = _order_times(rng, rng.choice(list(months(first, cutoff))), 1)[0]
        writer.writerow(
            [
                f"B{sequence:08d}",
                _local_text(moment),
                UNKNOWN_CUSTOMER_ORGNR,
                "NY-1",
                "ETK",
                f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                f"SE{UNKNOWN_CUSTOMER_ORGNR}-E{number:09d}",
                "produced",
                "",
            ]
        )


def _write_bad_rows(writer: Any) -> None:
    """Rows with the mistakes that real exports contain; they end in quarantine, not lost."""
    writer.writerows(
        [
            [
                "B90000001",
                "2021-02-30 10:15",
                "2120001355",
                "1480-SOC",
                "ETK",
                "Per Holm",
                "",
                "collected",
                "",
            ],
            [
                "",
                "2021-03-04 09:00",
                "2120001355",
                "1480-SOC",
                "ETK",
                "Eva Lind",
                "",
                "collected",
                "",
            ],
            [
                "B90000003",
                "2021-03-05 11:20",
                "",
                "1480-HSL",
                "ETK",
                "Nils Ek",
                "",
                "collected",
                "",
            ],
            [
                "B90000004",
                "2021-03-08 13:45",
                "2120001356",
                "1480-OMS",
                "RESERV",
                "Åsa Berg",
                "",
                "produced",
                "",
            ],
            [
                "B90000005",
                "2021-03-09 08:30",
                "2321000131",
                "SU-MED",
                "ETK",
                "Ali Hassan",
                "",
                "tappad",
                "",
            ],
        ]
    )


def _corrections() -> list[DemoCustomer]:
    """Customer data that arrives after the first runs: the care provider whose orders were held
    back as an unknown customer, and the buyer reference that Dals-Eds kommun was missing."""
    dals_ed = next(
        customer
        for customer in demo_customers()
        if customer.accounts[0]["account_code"] == MISSING_BUYER_REFERENCE
    )
    fixed = {**dals_ed.accounts[0], "buyer_reference": f"GITS-{MISSING_BUYER_REFERENCE}"}
    new_provider = DemoCustomer(
        orgnr=UNKNOWN_CUSTOMER_ORGNR,
        name="Nya Vårdbolaget i Väst AB",
        is_demo=True,
        accounts=[
            {
                "account_code": "P-NYVB",
                "account_name": "Nya Vårdbolaget i Väst AB",
                "unit_codes": "",
                "buyer_reference": "Inköp",
                "peppol_id": f"0007:{UNKNOWN_CUSTOMER_ORGNR}",
                "email": "",
                "street": "Lilla Torget 1",
                "postal_code": "411 18",
                "city": "Göteborg",
                "delivery": "peppol",
            }
        ],
    )
    return [
        DemoCustomer(dals_ed.orgnr, dals_ed.name, dals_ed.is_demo, accounts=[fixed]),
        new_provider,
    ]


def corrected_customers() -> list[DemoCustomer]:
    """The customer register after the story's corrections."""
    corrections = {customer.orgnr: customer for customer in _corrections()}
    customers = [corrections.pop(customer.orgnr, customer) for customer in demo_customers()]
    return customers + list(corrections.values())


def write_corrections(files: DemoFiles) -> Path:
    path = files.directory / "kunder-rattelser.csv"
    write_customers(path, _corrections())
    return path


# The card system's corrections of two orders that are already invoiced (DOMAIN.md R14): one moves
# an order from Skaraborg to Sahlgrenska (right: accepted, credited and billed again), the other
# turns an eTjänstekort into a reservkort by mistake (rejected: the invoice stands).
MOVED_TO_UNIT = "SU-MED"
MISTAKEN_PRODUCT = "RESERV"


@dataclass
class OrderCorrections:
    header: list[str]
    moved: list[str]  # the order as the card system reports it after the correction
    mistaken: list[str]

    @property
    def moved_order_id(self) -> str:
        return self.moved[0]

    @property
    def mistaken_order_id(self) -> str:
        return self.mistaken[0]


def order_corrections(orders: Path) -> OrderCorrections | None:
    """The latest eTjänstekort (not cancelled) of Skaraborg, moved to Sahlgrenska, and the latest
    of Sahlgrenska, turned into a reservkort; deterministic for a given orders file."""
    with orders.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=";")
        header = next(reader)
        unit, product, status = (header.index(name) for name in ("unit_code", "product_code",
                                                                  "status"))  # fmt: skip
        moved: list[str] | None = None
        mistaken: list[str] | None = None
        for row in reader:
            # Only the regular orders (B0…), not the rows that show quarantine.
            if not row[0].startswith("B0") or row[product] != "ETK" or row[status] == "cancelled":
                continue
            if row[unit] in VGR_UNITS["VGR-SKAS"]:
                moved = row
            elif row[unit] in VGR_UNITS["VGR-SU"]:
                mistaken = row
    if moved is None or mistaken is None:
        return None
    moved = [*moved]
    moved[unit] = MOVED_TO_UNIT
    mistaken = [*mistaken]
    mistaken[product] = MISTAKEN_PRODUCT
    return OrderCorrections(header, moved, mistaken)


def _apply_accepted_correction(orders: Path, corrections: OrderCorrections) -> None:
    """The orders file as the card system exports it after the story: with the moved order at
    its new unit (the rejected mistake stays in the card system's corrections file only)."""
    with orders.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    with orders.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        for row in rows:
            writer.writerow(corrections.moved if row[0] == corrections.moved_order_id else row)


def write_order_corrections(files: DemoFiles) -> tuple[Path, OrderCorrections | None]:
    path = files.directory / "bestallningar-rattelser.csv"
    corrections = files.order_corrections
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        if corrections is not None:
            writer.writerow(corrections.header)
            writer.writerows([corrections.moved, corrections.mistaken])
    return path, corrections
