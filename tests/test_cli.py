"""The command line as scripts call it (INTERFACES.md): exit status, Swedish text, JSON."""

import argparse
import json
import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import ORDER_HEADER, order_row, write_csv
from kortfaktura.cli.main import build_parser
from kortfaktura.cli.parsing import date_argument
from kortfaktura.imports.services import IMPORTERS
from processes import SCRIPT, run


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


# Swedish everywhere (issue 8, item 12) ---------------------------------------------------------

ENGLISH_ARGPARSE = (
    "usage:", "positional arguments", "optional arguments", "options:", "show this help",
    "subcommands", "error:", "invalid", "expected", "required", "unrecognized", "choose from",
    "ambiguous", "not allowed", "argument ",
)  # fmt: skip


def every_command() -> list[tuple[list[str], argparse.ArgumentParser]]:
    """Every parser under ``kortfaktura``, with the words that reach it."""
    found: list[tuple[list[str], argparse.ArgumentParser]] = []

    def walk(words: list[str], parser: argparse.ArgumentParser) -> None:
        found.append((words, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk([*words, name], child)

    walk([], build_parser())
    return found


def test_help_of_every_command_is_swedish_with_formats_and_examples(
    cli: Callable[..., tuple[int, str, str]],
) -> None:
    commands = every_command()
    assert len(commands) >= 9
    for words, parser in commands:
        code, out, err = cli(*words, "--help")
        assert code == 0, (words, err)
        assert out.startswith("användning: kortfaktura"), words
        for phrase in ENGLISH_ARGPARSE:
            assert phrase not in out, (words, phrase)
        for action in parser._actions:
            takes_value = action.nargs != 0 and not isinstance(
                action, argparse._SubParsersAction | argparse._HelpAction
            )
            if takes_value and action.choices:  # every choice explained
                assert all(str(c) in (action.help or "") for c in action.choices), words
            elif takes_value:  # the format, with an example
                assert action.help and "t.ex." in action.help, (words, action.dest)
            if action.type is date_argument:
                assert "ÅÅÅÅ-MM-DD" in (action.help or ""), (words, action.dest)


def test_import_help_lists_the_columns_of_each_kind(
    cli: Callable[..., tuple[int, str, str]],
) -> None:
    code, out, _ = cli("import", "--help")
    assert code == 0
    text = " ".join(out.split())
    for kind, importer in IMPORTERS.items():
        assert f"{kind} (" in text
        for column in importer.required_columns:
            assert f"{column}*" in text
        for column in importer.optional_columns:
            assert column in text
    assert "docs/formats.md" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("run", "show", "abc"), "'abc' är inget positivt heltal"),
        (("bill",), "följande saknas: --from, --to"),
        (("bill", "--from"), "--from: ett värde saknas"),
        (("bill", "--from", "2026-13-01", "--to", "2026-10-31"), "'2026-13-01' är inget datum"),
        (("invoice", "export", "1", "--format", "docx", "--out", "x"), "'docx' finns inte"),
        (("init", "extra"), "okända argument: extra"),
        (("fakturera",), "'fakturera' finns inte"),
        (("credit", "1"), "följande saknas: --reason"),
    ],
)
def test_usage_errors_are_swedish(
    cli: Callable[..., tuple[int, str, str]], args: tuple[str, ...], expected: str
) -> None:
    code, _, err = cli(*args)
    assert code == 2
    assert expected in err
    assert "användning: kortfaktura" in err
    for phrase in ENGLISH_ARGPARSE:
        assert phrase not in err, phrase


# No tracebacks (item 5) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("invoice", "list", "--json"),
        ("invoice", "list"),
        ("bill", "--from", "2020-03-01", "--to", "2020-03-31", "--preview", "--json"),
        ("run", "show", "1", "--json"),
        ("--help",),
    ],
)
def test_a_reader_that_stops_reading_gets_no_traceback(
    fresh: tuple[dict[str, str], Path], args: tuple[str, ...]
) -> None:
    env, cwd = fresh
    assert run(env, cwd, "init").returncode == 0
    # The reader closes the pipe before the command writes, as `| head -0` would.
    process = subprocess.Popen(
        [str(SCRIPT), *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    code = process.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert "Exception ignored" not in err, err
    assert code in (0, 1), err


@pytest.mark.django_db
def test_an_unexpected_error_is_answered_in_swedish_and_logged(
    cli: Callable[..., tuple[int, str, str]],
    monkeypatch: pytest.MonkeyPatch,
    settings: object,
    tmp_path: Path,
) -> None:
    from kortfaktura.billing import selectors

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("ett fel som ingen väntade sig")

    settings.DATA_DIR = tmp_path  # type: ignore[attr-defined]
    monkeypatch.setattr(selectors, "issued_documents", broken)
    code, out, err = cli("invoice", "list", "--json")
    assert code == 1
    message = json.loads(out)["error"]
    assert "ett oväntat fel stoppade kommandot" in message
    assert "ett fel som ingen väntade sig" in message
    assert "Traceback" not in err
    log = (tmp_path / "log" / "kortfaktura.log").read_text()
    assert "Traceback" in log and "ValueError" in log and "invoice list --json" in log

    monkeypatch.setenv("KORTFAKTURA_DEBUG", "1")
    code, _, err = cli("invoice", "list")
    assert code == 1
    assert "Traceback" in err and "oväntat fel" in err


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="SQLite's own lock")
def test_a_locked_sqlite_database_is_answered_in_swedish(
    fresh: tuple[dict[str, str], Path],
) -> None:
    env, cwd = fresh
    assert run(env, cwd, "init").returncode == 0
    path = write_csv(cwd / "orders.csv", ORDER_HEADER, [order_row("B1")])
    holder = sqlite3.connect(cwd / "var" / "kortfaktura.sqlite3", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        result = run({**env, "KORTFAKTURA_SQLITE_TIMEOUT": "0.5"}, cwd, "import", "orders",
                     str(path), "--json")  # fmt: skip
    finally:
        holder.rollback()
        holder.close()
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    message = json.loads(result.stdout)["error"]
    assert "databasen är upptagen av en annan process – försök igen om en stund" in message.lower()


@pytest.mark.parametrize("url", ["mysqlx://nope", "postgres://postgres@127.0.0.1:1/saknas"])
def test_an_unusable_database_url_is_answered_in_swedish(tmp_path: Path, url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "KORTFAKTURA_DATA_DIR": str(tmp_path / "var")}
    result = run(env, tmp_path, "invoice", "list", "--json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    message = json.loads(result.stdout)["error"]
    assert "DATABASE_URL" in message
