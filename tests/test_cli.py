"""The command line as scripts call it (INTERFACES.md): exit status, Swedish text, JSON."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ORDER_HEADER, order_row, write_csv
from processes import drop_database, fresh_database_environment, run


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    env, database = fresh_database_environment(tmp_path / "var")
    try:
        yield env, tmp_path
    finally:
        drop_database(database)


def test_init_then_import_with_json(fresh: tuple[dict[str, str], Path]) -> None:
    env, cwd = fresh
    before = run(env, cwd, "import", "orders", "x.csv")
    assert before.returncode == 1
    assert "kortfaktura init" in before.stderr

    created = run(env, cwd, "init")
    assert created.returncode == 0, created.stderr
    assert "Databasen är klar" in created.stdout
    assert "redan aktuell" in run(env, cwd, "init").stdout

    path = write_csv(
        cwd / "orders.csv",
        ORDER_HEADER,
        [order_row("B1"), order_row("B2", ordered_at="2021-02-30"), order_row("B3")],
    )
    imported = run(env, cwd, "import", "orders", str(path), "--json")
    assert imported.returncode == 0, imported.stderr
    result = json.loads(imported.stdout)
    assert {key: result[key] for key in ("imported", "updated", "unchanged", "quarantined")} == {
        "imported": 2,
        "updated": 0,
        "unchanged": 0,
        "quarantined": 1,
    }
    assert result["rows"][0]["line"] == 3
    assert "2021-02-30" in result["rows"][0]["reason"]

    again = json.loads(run(env, cwd, "import", "orders", str(path), "--json").stdout)
    assert (again["imported"], again["updated"], again["unchanged"]) == (0, 0, 2)

    human = run(env, cwd, "import", "orders", str(path))
    assert human.returncode == 0
    assert "Oförändrade" in human.stdout
    assert "rad 3:" in human.stdout


def test_unusable_input_exits_1_in_swedish(fresh: tuple[dict[str, str], Path]) -> None:
    env, cwd = fresh
    assert run(env, cwd, "init").returncode == 0
    wrong = write_csv(cwd / "wrong.csv", ["id", "datum"], [["B1", "2020-01-01"]])
    result = run(env, cwd, "import", "orders", str(wrong), "--json")
    assert result.returncode == 1
    assert "saknas i rubrikraden" in json.loads(result.stdout)["error"]
    assert "Ingenting importerades" in result.stderr
    missing = run(env, cwd, "import", "prices", str(cwd / "saknas.csv"))
    assert missing.returncode == 1
    assert "finns inte" in missing.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("import", "kunder", "x.csv"),
        ("import", "orders"),
        ("fakturera",),
        (),
        ("demo", "--orders-per-year", "noll"),
    ],
)
def test_wrong_usage_exits_2(fresh: tuple[dict[str, str], Path], args: tuple[str, ...]) -> None:
    env, cwd = fresh
    result = run(env, cwd, *args)
    assert result.returncode == 2
    assert "fel användning" in result.stderr
