import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from kortfaktura.cli.main import main

CUSTOMER_HEADER = [
    "orgnr", "name", "account_code", "account_name", "unit_codes", "buyer_reference",
    "peppol_id", "email", "street", "postal_code", "city", "delivery", "cost_centre",
]  # fmt: skip
ORDER_HEADER = [
    "order_id", "ordered_at", "orgnr", "unit_code", "product_code", "holder_name",
    "holder_hsa_id", "status", "status_at",
]  # fmt: skip
PRICE_HEADER = ["product_code", "product_name", "unit_price", "vat_rate", "valid_from", "valid_to"]

GOTEBORG = "212000-1355"
VARGARDA = "212000-1454"
VGR = "232100-0131"


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    delimiter: str = ";",
    encoding: str = "utf-8",
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([["" if value is None else str(value) for value in row] for row in rows])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.fixture(autouse=True)
def documents_in_this_process(settings: object) -> None:
    """Worker processes would open the configured database, not the test database."""
    settings.DOCUMENT_WORKERS = 1  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def one_person_office(request: pytest.FixtureRequest, settings: object) -> None:
    """In this process, tests draft and issue as one person (``KORTFAKTURA_DUAL_CONTROL=0``)
    unless marked ``dual_control``: the rule itself (R25) is tested by the tests so marked,
    and processes started by tests (``fresh``) run with it on, as in production."""
    settings.DUAL_CONTROL = request.node.get_closest_marker("dual_control") is not None  # type: ignore[attr-defined]


@pytest.fixture
def csv_file(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1000))

    def make(header: Sequence[str], rows: Sequence[Sequence[object]], **options: object) -> Path:
        name = str(options.pop("name", f"file{next(counter)}.csv"))
        return write_csv(tmp_path / name, header, rows, **options)  # type: ignore[arg-type]

    return make


def customer_row(
    orgnr: str = VARGARDA,
    name: str = "Vårgårda kommun",
    account_code: str = "1442",
    *,
    unit_codes: str = "",
    buyer_reference: str = "GITS-1442",
    peppol_id: str = "0007:2120001454",
    email: str = "",
    delivery: str = "",
    account_name: str = "",
    cost_centre: str | None = None,
) -> list[str]:
    """One billing account; one of the seller's own units (VGR) gets a cost centre unless told
    otherwise, since without one its internal charges are held back (R17)."""
    if cost_centre is None:
        cost_centre = f"KS-{account_code}" if orgnr.replace("-", "") == "2321000131" else ""
    return [
        orgnr, name, account_code, account_name, unit_codes, buyer_reference, peppol_id, email,
        "Box 1", "447 80", "Vårgårda", delivery, cost_centre,
    ]  # fmt: skip


def order_row(
    order_id: str,
    ordered_at: str = "2020-03-15 10:00",
    orgnr: str = VARGARDA,
    *,
    unit_code: str = "",
    product_code: str = "ETK",
    holder_name: str = "Anna Andersson",
    holder_hsa_id: str = "",
    status: str = "collected",
    status_at: str = "",
) -> list[str]:
    return [
        order_id, ordered_at, orgnr, unit_code, product_code, holder_name, holder_hsa_id,
        status, status_at,
    ]  # fmt: skip


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Runs ``kortfaktura ARGS`` in this process, on the test database."""

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def cli_json(cli: Callable[..., tuple[int, str, str]]) -> Callable[..., tuple[int, object]]:
    def run(*args: str) -> tuple[int, object]:
        code, out, _ = cli(*args, "--json")
        return code, json.loads(out)

    return run


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """A directory and an empty database of its own, for the real console script."""
    from processes import drop_database, fresh_database_environment

    env, database = fresh_database_environment(tmp_path / "var")
    try:
        yield env, tmp_path
    finally:
        drop_database(database)


@pytest.fixture
def etk() -> Any:
    import factories as make

    item = make.product("ETK", "eTjänstekort")
    make.price(item, "350")
    return item


@pytest.fixture
def kommun() -> Any:
    import factories as make

    owner = make.customer("Vårgårda kommun", number="2120001454")
    make.account(owner, "1442")
    return owner
