"""Concurrent and interrupted billing, in real separate processes (DOMAIN.md R4, R11).

Each test gets a database of its own (a SQLite file, or a new PostgreSQL database when the suite
runs on PostgreSQL), fills it through the command line and then runs commands side by side.
"""

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import CUSTOMER_HEADER, ORDER_HEADER, PRICE_HEADER, customer_row, order_row, write_csv
from processes import SCRIPT, drop_database, fresh_database_environment, issuer, run

VGR = "232100-0131"


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    env, database = fresh_database_environment(tmp_path / "var")
    try:
        assert run(env, tmp_path, "init").returncode == 0
        customers = write_csv(
            tmp_path / "customers.csv",
            CUSTOMER_HEADER,
            [
                customer_row(),
                customer_row("212000-1355", "Göteborgs Stad", "1480"),
                customer_row(VGR, "Västra Götalandsregionen", "VGR-RS"),
                customer_row(VGR, "Västra Götalandsregionen", "VGR-SU", unit_codes="SU-MED"),
            ],
        )
        prices = write_csv(
            tmp_path / "prices.csv",
            PRICE_HEADER,
            [["ETK", "eTjänstekort", "350", "25", "2019-01-01", ""]],
        )
        rows = []
        for month in ("03", "04", "05", "06"):
            for number, (orgnr, unit) in enumerate(
                [("212000-1454", ""), ("212000-1355", ""), (VGR, "SU-MED"), (VGR, "NU")] * 3
            ):
                rows.append(
                    order_row(f"{month}-{number}", ordered_at=f"2020-{month}-1{number % 9}",
                              orgnr=orgnr, unit_code=unit)
                )  # fmt: skip
        orders = write_csv(tmp_path / "orders.csv", ORDER_HEADER, rows)
        for kind, path in (("customers", customers), ("prices", prices), ("orders", orders)):
            assert run(env, tmp_path, "import", kind, str(path)).returncode == 0
        yield env, tmp_path
    finally:
        drop_database(database)


def start(env: dict[str, str], cwd: Path, *args: str, **pauses: str) -> subprocess.Popen[str]:
    environment = {
        **issuer(env, args),
        **{f"KORTFAKTURA_TEST_PAUSE_IN_{k.upper()}": v for k, v in pauses.items()},
    }
    return subprocess.Popen(
        [str(SCRIPT), *args],
        env=environment,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def json_of(env: dict[str, str], cwd: Path, *args: str) -> object:
    result = run(issuer(env, args), cwd, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_two_processes_issuing_at_once_give_a_gap_free_unique_series(
    filled: tuple[dict[str, str], Path],
) -> None:
    env, cwd = filled
    first = json_of(env, cwd, "bill", "--from", "2020-03-01", "--to", "2020-04-30")
    second = json_of(env, cwd, "bill", "--from", "2020-05-01", "--to", "2020-06-30")
    expected = len(first["invoices"]) + len(second["invoices"])  # type: ignore[index]
    issuing = [
        start(env, cwd, "run", "issue", str(draft["id"]), "--json", issue="1.5")  # type: ignore[index]
        for draft in (first, second)
    ]
    for process in issuing:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    documents = json_of(env, cwd, "invoice", "list")
    assert len(documents) == expected == 8 * 2  # type: ignore[arg-type]
    # Invoices and VGR's internal charges (R17) each form a gap-free series of their own.
    for kind, first in (("invoice", 100001), ("internal_charge", 90000001)):
        numbers = sorted(int(doc["number"]) for doc in documents if doc["type"] == kind)  # type: ignore[union-attr, index]
        assert numbers == list(range(first, first + 8)), kind
    internal = [doc for doc in documents if doc["type"] == "internal_charge"]  # type: ignore[union-attr, index]
    assert {doc["vat"] for doc in internal} == {"0.00"}  # type: ignore[index]
    # Each series' hash chain (R19) was extended under the series lock: one unbroken chain.
    review = json_of(env, cwd, "review")
    chains = {chain["chain"]: chain for chain in review["chains"]}  # type: ignore[index]
    assert [(chains[n]["length"], chains[n]["ok"]) for n in ("invoices", "internal")] == [
        (8, True),
        (8, True),
    ], review["discrepancies"]  # type: ignore[index]


def test_two_processes_drafting_the_same_period_cannot_both_take_an_order(
    filled: tuple[dict[str, str], Path],
) -> None:
    env, cwd = filled
    drafting = [
        start(env, cwd, "bill", "--from", "2020-03-01", "--to", "2020-06-30", "--json", draft="1.5")
        for _ in range(2)
    ]
    runs = []
    for process in drafting:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        runs.append(json.loads(out))
    taken = [{oid for inv in r["invoices"] for oid in inv["order_ids"]} for r in runs]
    assert not taken[0] & taken[1], "one order in two drafts"
    assert len(taken[0] | taken[1]) == 48
    winner, loser = (runs[0], runs[1]) if taken[0] else (runs[1], runs[0])
    assert loser["invoices"] == []
    reasons = {entry["reason"] for entry in loser["held_back"]}
    assert reasons == {"in_other_draft"}
    assert len(loser["held_back"]) == 48
    assert f"körning {winner['id']}" in loser["held_back"][0]["detail"]


def test_a_process_killed_while_issuing_leaves_nothing_half_issued(
    filled: tuple[dict[str, str], Path],
) -> None:
    env, cwd = filled
    draft = json_of(env, cwd, "bill", "--from", "2020-03-01", "--to", "2020-06-30")
    run_id = str(draft["id"])  # type: ignore[index]
    issuing = start(env, cwd, "run", "issue", run_id, issue="60")
    assert issuing.stderr is not None
    line = issuing.stderr.readline()  # the issue transaction has numbered the invoices
    assert "testpaus i issue" in line, line
    os.kill(issuing.pid, signal.SIGKILL)
    issuing.wait(timeout=30)

    after = json_of(env, cwd, "run", "show", run_id)
    assert after["status"] == "draft"  # type: ignore[index]
    assert all(invoice["number"] is None for invoice in after["invoices"])  # type: ignore[index]
    assert json_of(env, cwd, "invoice", "list") == []

    issued = json_of(env, cwd, "run", "issue", run_id)
    for kind, first in (("invoice", 100001), ("internal_charge", 90000001)):
        numbers = sorted(
            int(invoice["number"])
            for invoice in issued["invoices"]  # type: ignore[index]
            if invoice["type"] == kind
        )
        assert numbers and numbers == list(range(first, first + len(numbers))), kind
