"""A reader that stops reading (``kortfaktura … | head``) ends the command quietly with its own
exit status: 0 for output that was only being read (docs/operations.md, Slutkoder)."""

import json
import shlex
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from processes import SCRIPT, drop_database, fresh_database_environment, run

TODAY = "2026-11-28"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    """A small demo database: enough audit records and invoices that their output is larger
    than a pipe holds, so the writer meets a closed pipe whatever the timing."""
    cwd = tmp_path_factory.mktemp("pipes")
    env, database = fresh_database_environment(cwd / "var")
    try:
        made = run(env, cwd, "demo", "--orders-per-year", "100", "--today", TODAY,
                   "--no-documents")  # fmt: skip
        assert made.returncode == 0, made.stderr
        yield env, cwd
    finally:
        drop_database(database)


def piped(env: dict[str, str], cwd: Path, args: list[str], reader: str) -> tuple[int, str]:
    """``kortfaktura ARGS | READER`` in a shell; the command's own exit status and stderr."""
    command = f"set -o pipefail; {shlex.join([str(SCRIPT), *args])} 2>err.txt | {reader}"
    result = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, timeout=300, check=False
    )
    return result.returncode, (cwd / "err.txt").read_text(encoding="utf-8")


READING = [
    ["review"],
    ["review", "--json"],
    ["audit"],
    ["audit", "--json"],
    ["invoice", "list"],
    ["invoice", "list", "--json"],
    ["run", "show", "1"],
    ["run", "show", "1", "--json"],
    ["delivery", "list"],
    ["delivery", "list", "--json"],
    ["changes", "list", "--status", "all"],
    ["changes", "list", "--status", "all", "--json"],
    ["export", "sie", "--from", "2020-01-01", "--to", "2026-10-31", "--out", "bok.se"],
]


@pytest.mark.slow
@pytest.mark.parametrize("args", READING, ids=" ".join)
@pytest.mark.parametrize("reader", ["head -1", "true"])
def test_a_reader_that_stops_reading_ends_the_command_with_exit_0(
    demo: tuple[dict[str, str], Path], args: list[str], reader: str
) -> None:
    # `head -1` reads a line and goes; `true` goes before anything is written.
    env, cwd = demo
    code, err = piped(env, cwd, args, reader)
    assert code == 0, err
    assert err == "", err


@pytest.mark.slow
def test_the_output_before_the_reader_went_is_whole(demo: tuple[dict[str, str], Path]) -> None:
    env, cwd = demo
    command = f"{shlex.join([str(SCRIPT), 'audit'])} | head -3"
    result = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.stdout.splitlines()[0].strip() == "Granskningslogg"
    assert len(result.stdout.splitlines()) == 3


@pytest.mark.slow
def test_a_writing_command_whose_reader_went_still_finishes_its_work(
    demo: tuple[dict[str, str], Path],
) -> None:
    """The reader going away never stops a change half-way: the import is done and audited."""
    env, cwd = demo
    path = cwd / "kunder.csv"
    rows = [
        f"2120001454;Vårgårda kommun;P{number};;P{number};R-{number};;;Box 1;447 80;Vårgårda;print"
        for number in range(400)
    ]
    header = "orgnr;name;account_code;account_name;unit_codes;buyer_reference;peppol_id;email;"
    path.write_text(header + "street;postal_code;city;delivery\n" + "\n".join(rows) + "\n")
    code, err = piped(env, cwd, ["import", "customers", str(path)], "true")
    assert code == 0, err
    assert err == "", err
    again = run(env, cwd, "import", "customers", str(path), "--json")
    assert '"unchanged": 400' in again.stdout, again.stdout


@pytest.mark.django_db
def test_a_broken_pipe_that_is_not_the_readers_is_an_error(
    cli: Callable[..., tuple[int, str, str]],
    monkeypatch: pytest.MonkeyPatch,
    settings: object,
    tmp_path: Path,
) -> None:
    """A helper process or a server that hangs up is the command's failure, not a reader that
    went: it must not end quietly with 0."""
    from kortfaktura.billing import selectors

    def hung_up(*args: object, **kwargs: object) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    settings.DATA_DIR = tmp_path  # type: ignore[attr-defined]
    monkeypatch.setattr(selectors, "issued_documents", hung_up)
    code, out, err = cli("invoice", "list", "--json")
    assert code == 1
    assert "ett oväntat fel stoppade kommandot" in json.loads(out)["error"]
    assert "Traceback" not in err
